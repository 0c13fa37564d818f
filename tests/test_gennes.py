"""GENNES (Faury et al. 2018): generator, initialisation, annealing, training, q-batches."""

from __future__ import annotations

import math

import pytest
import torch
from botorch.acquisition import qLogExpectedImprovement
from botorch.sampling import SobolQMCNormalSampler

import acqopt
from acqopt.adam import Adam
from acqopt.counting import CountingAcquisition, Problem
from acqopt.methods.gennes import GENNES, distinct_best
from acqopt.testing import Bumps


@pytest.mark.parametrize("out_dim", [2, 20, 60])
@pytest.mark.parametrize("width,depth", [(128, 6), (32, 4)])
def test_initial_output_covers_the_box(out_dim, width, depth):
    """Appendix B: per-coordinate std of the initial output within a factor 2 of beta."""
    g = GENNES(width=width, depth=depth)
    gen = torch.Generator().manual_seed(0)
    net = g.build_generator(out_dim, gen, torch.float64, torch.device("cpu"))
    u = g.sample_noise(4000, out_dim, 0, gen, torch.zeros((), dtype=torch.float64))
    with torch.no_grad():
        std = net(u).std(0)
    assert (std > g.beta / 2).all() and (std < 2 * g.beta).all(), std
    # Centred on the box centre by the output bias.
    with torch.no_grad():
        assert net(u).mean(0).abs().max() < 0.1


def test_paper_initialisation_sets_the_average_variance():
    """Without calibration, eq. (9) still gets the average pre-tanh std within a factor 2."""
    g = GENNES(calibrate=False)
    gen = torch.Generator().manual_seed(0)
    for out_dim in (2, 20, 60):
        net = g.build_generator(out_dim, gen, torch.float64, torch.device("cpu"))
        u = g.sample_noise(4000, out_dim, 0, gen, torch.zeros((), dtype=torch.float64))
        with torch.no_grad():
            std = net[:-1](u).std(0).mean()
        assert g.beta / 2 < std < 2 * g.beta


def test_annealing_schedule():
    g = GENNES(noise_scale=2.0, anneal=0.9)
    gen = torch.Generator().manual_seed(0)
    like = torch.zeros((), dtype=torch.float64)
    for t in (0, 1, 10, 50):
        u = g.sample_noise(5000, 3, t, gen, like)
        support = 2.0 * 0.9**t
        assert u.abs().max() <= support
        assert u.abs().max() > 0.99 * support


def test_gradients_reach_every_parameter():
    g = GENNES()
    problem = Problem(CountingAcquisition(Bumps()), Bumps.bounds.double(), q=1)
    gen = torch.Generator().manual_seed(0)
    net = g.build_generator(2, gen, torch.float64, torch.device("cpu"))
    before = [p.detach().clone() for p in net.parameters()]
    optimizer, seen = Adam(list(net.parameters()), lr=g.lr), []
    step = optimizer.step
    optimizer.step = lambda grads: seen.append(grads) or step(grads)
    g.train_step(net, optimizer, problem, 0, gen)
    assert problem.counter.queries == g.population
    assert problem.counter.grad_queries == g.population
    (grads,) = seen
    assert len(grads) == len(before)
    for p, p0, grad in zip(net.parameters(), before, grads):
        assert grad.abs().sum() > 0
        assert not torch.equal(p.detach(), p0)


def test_steps_follow_the_budget():
    acq = Bumps()
    r = acqopt.get_optimizer("gennes", population=20).optimize(
        acq, Bumps.bounds.double(), budget=1013, generator=0
    )
    assert r.counts.queries == 1000 and r.counts.calls == 50  # T = budget // N


def test_finds_global_maximum_of_a_multimodal_2d_function():
    """Five seeds, 800 queries (80 steps of N=10) on the five-bump function."""
    for seed in range(5):
        r = acqopt.get_optimizer("gennes").optimize(
            Bumps(), Bumps.bounds.double(), budget=800, generator=seed
        )
        assert torch.allclose(r.candidates[0], Bumps.argmax.double(), atol=0.05), seed


def test_q3_with_qlogei(logei4):
    sampler = SobolQMCNormalSampler(torch.Size([64]), seed=0)
    acq = qLogExpectedImprovement(logei4.model, best_f=logei4.best_f, sampler=sampler)
    bounds = torch.stack([torch.zeros(4), torch.ones(4)]).double()
    for method in ("gennes", "gennes-polish"):
        r = acqopt.get_optimizer(method).optimize(acq, bounds, q=3, budget=300, generator=0)
        assert r.candidates.shape == (3, 4) and torch.isfinite(r.acq_value)
        assert r.counts.queries <= 300


def test_polish_is_never_worse_than_its_gennes_phase(logei4):
    bounds = torch.stack([torch.zeros(4), torch.ones(4)]).double()
    plain = acqopt.get_optimizer("gennes").optimize(logei4, bounds, budget=700, generator=0)
    polished = acqopt.get_optimizer("gennes-polish").optimize(
        logei4, bounds, budget=1000, generator=0
    )
    # Same seed and 700 GENNES queries in both: the polish starts from what plain reached.
    assert float(polished.acq_value) >= float(plain.acq_value) - 1e-9


def test_distinct_best():
    U = torch.tensor([[[0.0, 0.0]], [[0.001, 0.0]], [[0.5, 0.5]], [[1.0, 1.0]]])
    values = torch.tensor([3.0, 2.9, 1.0, float("-inf")])
    assert distinct_best(U, values, 3, 0.05).tolist() == [0, 2]


def test_bad_gennes_config():
    for kwargs, match in [({"population": 0}, "population"), ({"anneal": 1.5}, "anneal"),
                          ({"depth": 1}, "depth"), ({"lr": -1.0}, "lr")]:
        with pytest.raises(ValueError, match=match):
            acqopt.get_optimizer("gennes", **kwargs)
    assert math.isclose(GENNES().beta, 1 / math.sqrt(3))
