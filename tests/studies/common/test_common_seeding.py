import random

import numpy as np
import torch

from studies.common.seeding import seed_everything


def _draws(seed: int) -> tuple:
    generator = seed_everything(seed)
    return random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=generator).item()


def test_same_seed_same_draws_from_every_rng():
    assert _draws(3) == _draws(3)
    assert _draws(3) != _draws(4)
