"""Zero-order ES family: sNES, es-grad, vo (Havtorn 2018; Greydanus 2020; Schaul 2011)."""

from __future__ import annotations


import pytest
import torch

import acqopt
from acqopt.methods.nes import antithetic_normal, centred_ranks, rank_utilities
from acqopt.testing import Bumps, IntegerSpike, NegatedFunction


def himmelblau(x):
    return (x[..., 0] ** 2 + x[..., 1] - 11) ** 2 + (x[..., 0] + x[..., 1] ** 2 - 7) ** 2


HIMMELBLAU_BOUNDS = torch.tensor([[-5.0, -5.0], [5.0, 5.0]], dtype=torch.float64)


def test_antithetic_sampling_reduces_gradient_variance_on_a_quadratic():
    """Score-function estimate of d/dmu E[f(mu + sigma eps)] for f = -||w - c||^2."""
    g = torch.Generator().manual_seed(0)
    mu = torch.tensor([0.2, -0.4, 0.1], dtype=torch.float64)
    c, sigma, n = torch.tensor([1.0, 0.5, -0.3], dtype=torch.float64), 0.3, 20

    def estimates(antithetic: bool) -> torch.Tensor:
        out = []
        for _ in range(400):
            eps = antithetic_normal(n, 3, g, antithetic)
            f = -((mu + sigma * eps - c) ** 2).sum(-1)
            out.append((f @ eps) / (n * sigma))
        return torch.stack(out)

    iid, anti = estimates(False), estimates(True)
    truth = -2 * (mu - c)
    assert torch.allclose(anti.mean(0), truth, atol=0.1)
    assert (anti.var(0) < 0.5 * iid.var(0)).all()  # about 0.3 here


def test_antithetic_pairs_mirror():
    eps = antithetic_normal(6, 4, torch.Generator().manual_seed(0))
    assert torch.equal(eps[:3], -eps[3:])


def test_fitness_shaping():
    u = rank_utilities(torch.tensor([0.1, 5.0, -3.0, 2.0]))
    assert u.sum().abs() < 1e-12 and int(u.argmax()) == 1 and int(u.argmin()) in (0, 2)
    r = centred_ranks(torch.tensor([0.1, 5.0, -3.0]))
    assert r.tolist() == [0.0, 0.5, -0.5]


def test_havtorn_natural_gradient_converges_where_the_regular_one_stalls():
    """Havtorn's Himmelblau example: with natural gradients sigma shrinks as the mean reaches a
    minimum; with regular gradients in (mu, sigma^2) the variance collapses first (its gradient
    grows as 1/sigma^2) and the mean stops short of the minimum."""
    for seed in range(3):
        nat = acqopt.get_optimizer("vo", natural=True).optimize(
            NegatedFunction(himmelblau), HIMMELBLAU_BOUNDS, budget=3000, generator=seed)
        reg = acqopt.get_optimizer("vo", natural=False).optimize(
            NegatedFunction(himmelblau), HIMMELBLAU_BOUNDS, budget=3000, generator=seed)
        assert -float(nat.acq_value) < 1e-3
        assert nat.info.final_sigma < 1e-2
        assert reg.info.final_sigma < 1e-10  # collapsed to the floor
        assert -float(reg.acq_value) > 1e-2 and -float(reg.acq_value) > 1e3 * -float(nat.acq_value)


def test_vo_finds_the_integer_optimum_that_rounding_lbfgs_misses():
    acq, bounds = IntegerSpike(), IntegerSpike.bounds.double()
    # L-BFGS-B on the continuous relaxation, then rounding: it lands on the bump.
    for seed in range(5):
        x, _ = acqopt.optimize_acqf(acq, bounds, method="lbfgs", budget=1000, generator=seed)
        x_rounded = x.clone()
        x_rounded[0, 0] = x_rounded[0, 0].round()
        assert int(x_rounded[0, 0]) == 7 and float(acq(x_rounded)) < 0.65
    hits = 0
    for seed in range(5):
        xv, v = acqopt.optimize_acqf(acq, bounds, method="vo", integer_dims=(0,), budget=1000,
                                     generator=seed)
        assert float(xv[0, 0]) == round(float(xv[0, 0]))  # always an integer
        hits += float(xv[0, 0]) == 2.0 and float(v) > 0.99
    assert hits >= 4


@pytest.mark.parametrize("method", ["snes", "es-grad", "vo"])
def test_uses_no_acquisition_gradients(method):
    r = acqopt.get_optimizer(method).optimize(Bumps(), Bumps.bounds.double(), budget=600,
                                              generator=0)
    assert r.counts.grad_queries == 0


def test_bad_nes_config():
    for name, kwargs, match in [("snes", {"population": 1}, "population"),
                                ("vo", {"integer_dims": (-1,)}, "integer_dims"),
                                ("es-grad", {"lr": 0.0}, "lr")]:
        with pytest.raises(ValueError, match=match):
            acqopt.get_optimizer(name, **kwargs)
    with pytest.raises(ValueError, match="integer_dims"):
        acqopt.optimize_acqf(Bumps(), Bumps.bounds.double(), method="vo", integer_dims=(5,),
                             budget=600, generator=0)
