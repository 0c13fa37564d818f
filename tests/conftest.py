from __future__ import annotations

import numpy as np
import pytest
import torch

import acqopt
from acqopt.bo import fit_gp, make_acquisition

METHODS = acqopt.available_methods()
DTYPES = [torch.float32, torch.float64]


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


def gp_logei(d: int = 4, n: int = 20, seed: int = 0, kind: str = "logei", dtype=torch.float64):
    """A LogEI (or EI) on a GP fitted to a multimodal function in the unit cube."""
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=g, dtype=dtype)
    Y = (torch.sin(6 * X).sum(-1) - ((X - 0.6) ** 2).sum(-1)).unsqueeze(-1)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = fit_gp(X, Y)
    return make_acquisition(model, kind)


@pytest.fixture(scope="session")
def logei4():
    return gp_logei()
