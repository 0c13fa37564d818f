from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.helpers import gp_logei


@pytest.fixture(autouse=True)
def _global_rng_untouched():
    """Every test checks that nothing read or wrote the global torch and numpy RNGs."""
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()
    yield
    assert torch.equal(torch.get_rng_state(), torch_state), "global torch RNG was touched"
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1]) and after[2:] == np_state[2:], (
        "global numpy RNG was touched"
    )


@pytest.fixture(scope="session")
def logei4():
    return gp_logei()
