"""One call that makes a study run repeatable: seed every RNG the studies use."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch, ask torch for deterministic kernels, and return a seeded generator.

    Studies draw their own randomness (augmentations, batches) from the returned
    generator so that a run does not depend on what else consumed the global RNG.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # cuBLAS needs this for deterministic GEMMs on GPU; harmless on CPU.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator
