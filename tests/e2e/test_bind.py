"""Services the CLI starts listen on 127.0.0.1 unless told otherwise: read from the kernel's socket table, not
from our own flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import BIN, project_env
from tests.reliability import record
from tests.services import free_port, service

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

LISTEN = "0A"


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket in LISTEN on `port`, from /proc/net/tcp and tcp6 (hex, little-endian
    IPv4)."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == LISTEN and int(hex_port, 16) == port:
                out.add(
                    ".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0))
                    if len(address) == 8
                    else address
                )
    return out


@pytest.mark.parametrize("command,health", [("server", "/api/health"), ("ui", "/health")])
def test_cli_services_bind_loopback_by_default(project: Path, command: str, health: str) -> None:
    port = free_port()
    env = project_env(project)
    with service(
        [str(BIN / "studies"), command, "--port", str(port)],
        f"http://127.0.0.1:{port}{health}",
        project / f"{command}.log",
        env,
    ):
        assert listening_addresses(port) == {"127.0.0.1"}
    record("security", f"`studies {command}` listens on 127.0.0.1 only by default", inputs=1)
