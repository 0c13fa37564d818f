"""Shared conformance: every registered method, float32 and float64."""

from __future__ import annotations

import math

import pytest
import torch

import acqopt
from acqopt.testing import Bumps
from tests.helpers import DTYPES, METHODS, gp_logei

BUDGET = 1500


def run(method: str, dtype: torch.dtype, seed: int = 0, budget: int = BUDGET, q: int = 1):
    acq = Bumps()
    bounds = Bumps.bounds.to(dtype)
    result = acqopt.get_optimizer(method).optimize(acq, bounds, q=q, budget=budget, generator=seed)
    return acq, bounds, result


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("method", METHODS)
def test_shape_bounds_budget_and_optimum(method, dtype):
    acq, bounds, result = run(method, dtype)
    assert result.candidates.shape == (1, 2)
    assert result.candidates.dtype == dtype and result.acq_value.dtype == dtype
    assert result.acq_value.shape == ()
    assert ((result.candidates >= bounds[0]) & (result.candidates <= bounds[1])).all()
    # Budget: the method's counter and an independent count inside the acquisition agree.
    assert result.counts.queries == acq.queries <= BUDGET
    assert 0 <= result.counts.grad_queries <= result.counts.queries
    assert result.counts.calls >= 1
    # The reported value is the acquisition's value at the candidates.
    value = acq(result.candidates.unsqueeze(0))
    assert math.isclose(float(value), float(result.acq_value), rel_tol=1e-5, abs_tol=1e-6)
    # Finds the global maximum of the multimodal test acquisition (local maxima are <= 0.8).
    assert torch.allclose(result.candidates[0].double(), Bumps.argmax.double(), atol=0.05)
    assert float(result.acq_value) > acq.max_value() - 0.01
    # Trace: queries used are non-decreasing, best-so-far is non-decreasing, ends at the answer.
    assert result.trace.shape[1] == 2
    assert (result.trace[1:, 0] >= result.trace[:-1, 0]).all()
    assert (result.trace[1:, 1] >= result.trace[:-1, 1]).all()
    assert result.trace[-1, 0] == result.counts.queries
    assert math.isclose(float(result.trace[-1, 1]), float(result.acq_value), rel_tol=1e-6)
    assert result.wall_time > 0 and isinstance(result.status, acqopt.Status) and result.message


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_answer(method):
    _, _, a = run(method, torch.float64, seed=3, budget=700)
    _, _, b = run(method, torch.float64, seed=3, budget=700)
    assert torch.equal(a.candidates, b.candidates)
    assert a.counts == b.counts


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("budget", [1, 37, 611])
def test_never_exceeds_budget(method, budget):
    opt = acqopt.get_optimizer(method)
    if budget < opt.min_budget(1, 2):
        with pytest.raises(ValueError, match="budget"):
            opt.optimize(Bumps(), Bumps.bounds.double(), budget=budget, generator=0)
        return
    acq = Bumps()
    result = opt.optimize(acq, Bumps.bounds.double(), budget=budget, generator=0)
    assert result.counts.queries == acq.queries <= budget


@pytest.mark.parametrize("method", METHODS)
def test_q_batch(method):
    acq, bounds, result = run(method, torch.float64, q=2, budget=600)
    assert result.candidates.shape == (2, 2)
    assert result.counts.queries == acq.queries <= 600


@pytest.mark.parametrize("method", METHODS)
def test_nan_values_are_never_returned(method):
    class HalfNaN(Bumps):
        def forward(self, X):
            v = super().forward(X)
            Xb = X if X.dim() == 3 else X.unsqueeze(0)
            return torch.where(Xb[..., 0].amax(-1) > 1.0, torch.nan, v)

    result = acqopt.get_optimizer(method).optimize(
        HalfNaN(), Bumps.bounds.double(), budget=600, generator=0
    )
    assert torch.isfinite(result.acq_value)
    assert float(result.candidates[0, 0]) <= 1.0


@pytest.mark.parametrize("method", METHODS)
def test_all_nan_raises_clearly(method):
    class AllNaN(Bumps):
        def forward(self, X):
            return super().forward(X) * torch.nan

    with pytest.raises(RuntimeError, match="finite"):
        acqopt.get_optimizer(method).optimize(AllNaN(), Bumps.bounds.double(), budget=600, generator=0)


@pytest.fixture(scope="module")
def logei_by_dtype():
    return {dtype: gp_logei(dtype=dtype) for dtype in DTYPES}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("method", METHODS)
def test_logei_on_gp(method, dtype, logei_by_dtype):
    """Every method runs on a real LogEI (d=4) of either dtype and stays within budget."""
    bounds = torch.stack([torch.zeros(4), torch.ones(4)]).to(dtype)
    result = acqopt.get_optimizer(method).optimize(
        logei_by_dtype[dtype], bounds, budget=800, generator=1
    )
    assert result.counts.queries <= 800
    assert torch.isfinite(result.acq_value)
    assert result.candidates.dtype == dtype


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
@pytest.mark.parametrize("method", METHODS)
def test_cuda_device_follows_bounds(method):
    acq, bounds = Bumps(), Bumps.bounds.double().cuda()
    result = acqopt.get_optimizer(method).optimize(acq, bounds, budget=600, generator=0)
    assert result.candidates.device.type == "cuda"
