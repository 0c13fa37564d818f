"""L-GSO (Shirobokov et al. 2020) and the stall stop every method shares."""

from __future__ import annotations

import pytest
import torch

import acqopt
from acqopt.base import Status
from acqopt.methods.lgso import _CramerGAN, _Gaussian
from acqopt.testing import Bumps, IntegerSpike, NegatedFunction


def sphere(x):
    return ((x - 0.3) ** 2).sum(-1)


SPHERE_BOUNDS = torch.tensor([[-1.0] * 6, [1.0] * 6], dtype=torch.float64)


@pytest.mark.parametrize("surrogate, steps", [(_Gaussian, 200), (_CramerGAN, 600)])
def test_surrogates_learn_the_local_mean_and_its_gradient(surrogate, steps):
    """A noisy linear function y = 2 c_0 - c_1 + 0.1 eps in the box: the expected-value
    gradient of the trained surrogate points along (2, -1)."""
    g = torch.Generator().manual_seed(0)
    C = torch.rand(400, 2, generator=g, dtype=torch.float64) * 2 - 1
    y = 2 * C[:, 0] - C[:, 1] + 0.1 * torch.randn(400, generator=g, dtype=torch.float64)
    model = surrogate(2, 32, g)
    model.fit(C, (y - y.mean()) / y.std(), steps, g)
    c = torch.zeros(1, 2, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(model.expected(c, g).sum(), c)
    direction = grad[0] / grad[0].norm()
    truth = torch.tensor([2.0, -1.0], dtype=torch.float64) / 5 ** 0.5
    assert float(direction @ truth) > 0.95


def test_lgso_climbs_with_values_only():
    acq = NegatedFunction(sphere)
    start = float(-sphere(torch.zeros(6, dtype=torch.float64)))
    for seed in range(3):
        r = acqopt.get_optimizer("lgso", raw_samples=1).optimize(
            acq, SPHERE_BOUNDS, budget=3000, generator=seed,
            batch_initial_conditions=torch.zeros(1, 1, 6, dtype=torch.float64))
        assert r.counts.grad_queries == 0
        assert -float(r.acq_value) < 0.05 * -start  # from 0.54 to below 0.03
        assert r.info["steps"] > 100


def test_lgso_with_the_gan_surrogate_runs_within_budget():
    r = acqopt.get_optimizer("lgso", surrogate="gan", train_steps=5).optimize(
        Bumps(), Bumps.bounds.double(), budget=500, generator=0)
    assert r.counts.queries <= 500 and torch.isfinite(r.acq_value)


def test_lgso_rounds_integer_dims():
    acq, bounds = IntegerSpike(), IntegerSpike.bounds.double()
    for seed in range(3):
        x, _ = acqopt.optimize_acqf(acq, bounds, method="lgso", integer_dims=(0,), budget=1000,
                                    generator=seed)
        assert float(x[0, 0]) == round(float(x[0, 0]))


def test_bad_lgso_config():
    for kwargs, match in [({"surrogate": "flow"}, "surrogate"), ({"neighbourhood": 0.0},
                          "neighbourhood"), ({"repeats": 0}, "repeats"),
                          ({"lr": float("inf")}, "lr")]:
        with pytest.raises(ValueError, match=match):
            acqopt.get_optimizer("lgso", **kwargs)


@pytest.mark.parametrize("method", acqopt.available_methods())
def test_every_method_stops_by_itself_under_a_huge_budget(method):
    """The stall stop: no improvement for max(patience, queries at the last improvement)."""
    opt = acqopt.get_optimizer(method, patience=300)
    r = opt.optimize(Bumps(), Bumps.bounds.double(), budget=10**9, generator=0)
    assert r.status == Status.CONVERGED, r.message
    assert r.counts.queries < 50_000
    last = max(q for q, v in r.trace.tolist() if v >= float(r.acq_value) - 1e-9)
    assert r.counts.queries <= 2 * last + 300 + 5000  # + at most one step of the method


def test_patience_none_spends_the_budget():
    r = acqopt.get_optimizer("snes", patience=None).optimize(
        Bumps(), Bumps.bounds.double(), budget=20_000, generator=0)
    assert r.counts.queries > 20_000 - 20 and r.status == Status.BUDGET_EXHAUSTED
    with pytest.raises(ValueError, match="patience"):
        acqopt.get_optimizer("snes", patience=0)


@pytest.mark.parametrize("method", ["cma-linesearch", "cma-lbfgs"])
def test_cma_with_a_local_search_survives_a_collapsed_covariance(method):
    """Refining a whole population onto one optimum once made pycma's variances negative."""
    r = acqopt.get_optimizer(method, patience=None).optimize(
        Bumps(), Bumps.bounds.double(), budget=12_000, generator=0)
    assert torch.isfinite(r.acq_value)
