"""The BoTorch call shapes real code uses, for every registered method (the compatibility matrix).

Each case calls ``acqopt.optimize_acqf`` as BoTorch's tutorials, Ax and Optuna call
``botorch.optim.optimize_acqf``, and checks shapes, bounds, feasibility and budgets.
"""

from __future__ import annotations

import pytest
import torch
from botorch.acquisition import qKnowledgeGradient, qLogExpectedImprovement
from botorch.sampling import SobolQMCNormalSampler

import acqopt
from acqopt import CountingAcquisition
from acqopt.base import QUERIES_PER_RESTART
from acqopt.constraints import Polytope
from tests.helpers import METHODS, Spy, gp_logei

D = 3
BOUNDS = torch.tensor([[0.0] * D, [1.0] * D], dtype=torch.float64)
INEQ = [(torch.tensor([0, 1]), torch.tensor([-1.0, -1.0], dtype=torch.float64), -0.6)]
EQ = [(torch.tensor([1, 2]), torch.tensor([1.0, 2.0], dtype=torch.float64), 1.0)]


@pytest.fixture(scope="module")
def logei():
    return gp_logei(d=D, n=12)


def qlogei(model, seed=0):
    sampler = SobolQMCNormalSampler(torch.Size([32]), seed=seed)
    return qLogExpectedImprovement(model, best_f=model.train_targets.max(), sampler=sampler)


@pytest.mark.parametrize("method", METHODS)
def test_positional_call_spends_botorch_budget(method, logei):
    counter = CountingAcquisition(logei)
    x, v = acqopt.optimize_acqf(counter, BOUNDS, 1, 4, 64, method=method, generator=0)
    assert x.shape == (1, D) and v.shape == ()
    assert ((x >= 0) & (x <= 1)).all() and torch.isfinite(v)
    if not acqopt.get_optimizer(method).converges():
        assert counter.queries <= 64 + QUERIES_PER_RESTART * 4


@pytest.mark.parametrize("method", METHODS)
def test_tutorial_call_with_options_and_global_seed(method, logei):
    call = dict(q=1, num_restarts=4, raw_samples=64, options={"batch_limit": 5, "maxiter": 200},
                method=method)
    with torch.random.fork_rng():
        torch.manual_seed(3)
        x1, v1 = acqopt.optimize_acqf(logei, BOUNDS, **call)
        torch.manual_seed(3)
        x2, v2 = acqopt.optimize_acqf(logei, BOUNDS, **call)
    assert torch.equal(x1, x2) and torch.equal(v1, v2)


@pytest.mark.parametrize("method", METHODS)
def test_linear_constraints_hold_for_every_evaluated_point(method, logei):
    spy = Spy(logei)
    x, v = acqopt.optimize_acqf(spy, BOUNDS, 1, 4, 64, inequality_constraints=INEQ,
                                equality_constraints=EQ, method=method, generator=0)
    polytope = Polytope(BOUNDS, INEQ, EQ)
    assert float(polytope.violation(x)) <= 1e-6
    assert float(polytope.violation(torch.cat(spy.seen)).max()) <= 1e-6
    assert float(v) == pytest.approx(float(logei(x.unsqueeze(0))), abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_warm_starts_are_used(method, logei):
    # A warm start at the best point of a dense grid: the answer is at least as good.
    grid = torch.stack(torch.meshgrid(*[torch.linspace(0, 1, 9, dtype=torch.float64)] * D,
                                      indexing="ij"), -1).reshape(-1, 1, D)
    with torch.no_grad():
        best = grid[int(logei(grid).argmax())]
    warm = torch.cat([best.unsqueeze(0), torch.full((1, 1, D), 0.5, dtype=torch.float64)])
    x, v = acqopt.optimize_acqf(logei, BOUNDS, 1, 2, 16, batch_initial_conditions=warm,
                                method=method, generator=0)
    with torch.no_grad():
        assert float(v) >= float(logei(best.unsqueeze(0))) - 1e-12


@pytest.mark.parametrize("method", METHODS)
def test_return_best_only_false(method, logei):
    """Exactly num_restarts rows, best first, as BoTorch returns one row per restart, each
    valued at its own point; also when the budget holds fewer distinct points than rows."""
    X, V = acqopt.optimize_acqf(logei, BOUNDS, 1, 4, 64, return_best_only=False,
                                method=method, generator=0)
    assert X.shape == (4, 1, D) and V.shape == (4,)
    assert torch.equal(V, V.sort(descending=True).values)
    assert ((X >= BOUNDS[0]) & (X <= BOUNDS[1])).all()
    with torch.no_grad():
        assert torch.allclose(V, logei(X), atol=1e-9)
    # more rows than the smallest budget evaluates points: filled with the best repeated
    optimizer = acqopt.get_optimizer(method)
    budget = optimizer.min_budget(1, D)
    result = optimizer.optimize(logei, BOUNDS, generator=0, budget=budget, num_best=budget + 5)
    rows, values = result.info["best_points"], result.info["best_values"]
    assert rows.shape == (budget + 5, 1, D) and torch.equal(values,
                                                            values.sort(descending=True).values)
    assert torch.equal(rows[5], rows[0]) and float(values[0]) == float(result.acq_value)


def test_return_best_only_false_rows_are_the_restarts_end_points(logei):
    """A restart method's rows are its local searches' end points (repeats kept), not only the
    distinct optima, which stay in info["local_optima"]."""
    result = acqopt.get_optimizer("lbfgs").optimize(logei, BOUNDS, generator=0, num_best=3)
    optima, values = result.info["local_optima"], result.info["local_values"]
    assert optima.shape[0] >= 3
    rows = result.info["best_points"]
    assert rows.shape == (3, 1, D)
    assert torch.equal(result.info["best_values"], values.sort(descending=True).values[:3])
    for row in rows:
        assert (optima - row).flatten(1).norm(dim=-1).min() == 0


@pytest.mark.parametrize("method", METHODS)
def test_sequential_q2_conditions_on_pending(method, logei):
    acq = qlogei(logei.model)
    x, v = acqopt.optimize_acqf(acq, BOUNDS, 2, 2, 32, sequential=True, method=method,
                                generator=0, budget=400)
    assert x.shape == (2, D) and v.shape == (2,)
    assert acq.X_pending is None  # restored


@pytest.mark.parametrize("method", METHODS)
def test_joint_q2_and_negative_fixed_feature(method, logei):
    acq = qlogei(logei.model)
    x, v = acqopt.optimize_acqf(acq, BOUNDS, 2, 2, 32, fixed_features={-1: 0.25}, method=method,
                                generator=0, budget=400)
    assert x.shape == (2, D) and torch.all(x[:, -1] == 0.25)
    with torch.no_grad():
        assert float(v) == pytest.approx(float(acq(x.unsqueeze(0))), abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_one_shot_knowledge_gradient(method, logei):
    with torch.random.fork_rng():  # its sampler draws a seed from the global RNG
        kg = qKnowledgeGradient(logei.model, num_fantasies=4)
    x, v = acqopt.optimize_acqf(kg, BOUNDS, 1, 2, 32, method=method, generator=0, budget=300)
    assert x.shape == (1, D) and torch.isfinite(v)
    X, _ = acqopt.optimize_acqf(kg, BOUNDS, 1, 2, 32, method=method, generator=0, budget=300,
                                return_full_tree=True)
    assert X.shape == (5, D)


def test_post_processing_is_applied_and_revalued(logei):
    x, v = acqopt.optimize_acqf(logei, BOUNDS, 1, 4, 64, generator=0,
                                post_processing_func=lambda X: X.round(decimals=1))
    assert torch.equal(x, x.round(decimals=1))
    with torch.no_grad():
        assert float(v) == pytest.approx(float(logei(x.unsqueeze(0))))


@pytest.mark.parametrize("kwargs, match", [
    (dict(options={"nonsense": 1}), "options: unknown key 'nonsense'"),
    (dict(nonlinear_inequality_constraints=[(lambda x: x.sum(), False)]),
     r"nonlinear_inequality_constraints\[0\]: inter-point"),
    (dict(gen_candidates=object()), "gen_candidates"),
    (dict(sequential="yes"), "sequential: expected a bool"),
    (dict(inequality_constraints=[(torch.tensor([[0, 0], [1, 1]]), torch.ones(2), 0.0)]),
     "inter-point"),
    (dict(inequality_constraints=[(torch.tensor([0]), torch.tensor([1.0]), 2.0)]),
     "no point inside bounds"),
    (dict(batch_initial_conditions=torch.zeros(2, D)), "batch_initial_conditions"),
    (dict(fixed_features={-4: 0.1}), "fixed_features"),
    (dict(generator=2**70), "generator"),
])
def test_unsupported_combinations_are_named_errors(kwargs, match, logei):
    with pytest.raises(ValueError, match=match):
        acqopt.optimize_acqf(logei, BOUNDS, 1, 4, 64, **{"generator": 0, **kwargs})


def test_options_map_onto_fields(logei):
    from acqopt.api import OptimizeAcqfInputs

    def configured(method, restarts, raw, options):
        inputs = OptimizeAcqfInputs(acq_function=logei, bounds=BOUNDS, num_restarts=restarts,
                                    raw_samples=raw, options=options, method=method)
        optimizer, generator, _ = inputs.configure()
        return optimizer, generator

    opt, seed = configured("lbfgs", 7, 300, {"maxiter": 30, "sample_around_best": False,
                                             "seed": 5, "batch_limit": 2})
    assert (opt.num_restarts, opt.raw_samples, opt.local.max_iter, opt.design, seed) == (
        7, 300, 30, "sobol", 5)
    opt, _ = configured("cma-lbfgs", 4, 100, {"maxiter": 20})
    assert (opt.max_restarts, opt.raw_samples, opt.local.max_iter) == (3, 100, 20)


@pytest.mark.parametrize("method", METHODS)
def test_botorch_setting_budget_covers_what_the_method_needs(method, logei):
    """``num_restarts`` without ``raw_samples`` (as with warm starts), and sequential steps that
    each get BoTorch's spend: no budget error for any method."""
    warm = torch.full((2, 1, D), 0.5, dtype=torch.float64)
    x, v = acqopt.optimize_acqf(logei, BOUNDS, 1, 2, batch_initial_conditions=warm,
                                method=method, generator=0)
    assert x.shape == (1, D)
    with torch.no_grad():  # the answer is valued where it is, and no worse than a warm start
        assert float(v) == pytest.approx(float(logei(x.unsqueeze(0))), rel=1e-9)
        assert float(v) >= float(logei(warm[:1])) - 1e-12
    acq = qlogei(logei.model)
    x, v = acqopt.optimize_acqf(acq, BOUNDS, 2, 2, 16, sequential=True, method=method,
                                generator=0)
    assert x.shape == (2, D) and v.shape == (2,) and torch.isfinite(v).all()
    assert ((x >= BOUNDS[0]) & (x <= BOUNDS[1])).all() and not torch.equal(x[0], x[1])
