"""Credentials never reach what is printed or stored: service URLs are shown without their passwords.

A team points the pipeline at servers through URLs that may carry a password (`postgresql://user:pw@host/db`)
or a token in the query string; summaries, links, reports and console lines use `redact_url` instead.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SECRET_KEYS = re.compile(r"pass|secret|token|key|signature|credential", re.IGNORECASE)
MASK = "***"


def redact_url(url: str) -> str:
    """`url` with its password and secret-looking query values replaced by ***; anything else unchanged."""
    parts = urlsplit(url)
    if not parts.netloc:  # sqlite:///path, file paths: nothing secret in them
        return url
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else (parts.hostname or "")
    netloc = host + (f":{parts.port}" if parts.port else "")
    if parts.username:
        netloc = f"{parts.username}{':' + MASK if parts.password is not None else ''}@{netloc}"
    query = urlencode(
        [
            (k, MASK if SECRET_KEYS.search(k) else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))
