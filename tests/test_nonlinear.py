"""Nonlinear inequality constraints (BoTorch's ``[(callable, True)]``, ``callable(x) >= 0``)
without feasible starts, for every method."""

from __future__ import annotations

import warnings

import pytest
import torch
from botorch.acquisition import qLogExpectedImprovement
from botorch.sampling import SobolQMCNormalSampler

import acqopt
from acqopt import CountingAcquisition
from acqopt.base import InfeasibleCandidateWarning, Status
from acqopt.constraints import NonlinearConstraints
from tests.helpers import METHODS, Spy, gp_logei

D = 3
BOUNDS = torch.tensor([[0.0] * D, [1.0] * D], dtype=torch.float64)
# Outside the unit ball (a non-convex feasible set) and above a plane: the unconstrained
# optimum of this landscape, near (0.30, 0.12, 0), violates both.
OUTSIDE = (lambda x: (x**2).sum() - 1.0, True)
ABOVE = (lambda x: x[1] - x[0], True)
CONSTRAINTS = [OUTSIDE, ABOVE]
BALL = (lambda x: 0.5 - (x**2).sum(), True)


def violation(X: torch.Tensor, constraints=CONSTRAINTS) -> float:
    return max(float(-f(x)) for f, _ in constraints for x in X.reshape(-1, X.shape[-1]))


@pytest.fixture(scope="module")
def logei():
    return gp_logei(d=D, n=12)


def test_the_unconstrained_optimum_is_infeasible(logei):
    x, _ = acqopt.optimize_acqf(logei, BOUNDS, 1, 4, 64, generator=0)
    assert min(float(-f(x[0])) for f, _ in CONSTRAINTS) > 0.1  # else the tests below would not test the constraints


@pytest.mark.parametrize("method", METHODS)
def test_every_method_returns_a_feasible_point_without_feasible_starts(method, logei):
    counter = CountingAcquisition(logei)
    x, v = acqopt.optimize_acqf(counter, BOUNDS, 1, 4, 64, method=method, generator=0,
                                budget=400, nonlinear_inequality_constraints=CONSTRAINTS)
    assert x.shape == (1, D) and torch.isfinite(v)
    assert violation(x) <= 1e-6
    assert ((x >= 0) & (x <= 1)).all()
    assert counter.queries <= 400
    with torch.no_grad():
        assert float(v) == pytest.approx(float(logei(x.unsqueeze(0))), abs=1e-9)


def test_restored_candidates_are_what_is_evaluated(logei):
    spy = Spy(logei)
    acqopt.optimize_acqf(spy, BOUNDS, 1, 4, 64, generator=0,
                         nonlinear_inequality_constraints=CONSTRAINTS)
    X = torch.cat(spy.seen)
    feasible = torch.tensor([violation(x) <= 1e-6 for x in X])
    assert feasible.float().mean() > 0.99  # raw samples included: they were restored first


def test_at_least_as_good_as_botorch_with_feasible_starts(logei):
    from botorch.optim import optimize_acqf

    starts = torch.tensor([[[0.2, 0.9, 0.5]]], dtype=torch.float64).repeat(4, 1, 1)
    _, v_botorch = optimize_acqf(logei, BOUNDS, 1, 4, nonlinear_inequality_constraints=CONSTRAINTS,
                                 batch_initial_conditions=starts)
    _, v = acqopt.optimize_acqf(logei, BOUNDS, 1, 4, 64, generator=0,
                                nonlinear_inequality_constraints=CONSTRAINTS)
    assert float(v) >= float(v_botorch) - 1e-4


def test_joint_q_and_sequential_keep_every_point_feasible(logei):
    acq = qLogExpectedImprovement(logei.model, best_f=logei.best_f,
                                  sampler=SobolQMCNormalSampler(torch.Size([32]), seed=0))
    for sequential in (False, True):
        X, _ = acqopt.optimize_acqf(acq, BOUNDS, 2, 4, 64, generator=0, sequential=sequential,
                                    nonlinear_inequality_constraints=CONSTRAINTS)
        assert X.shape == (2, D) and violation(X) <= 1e-6


def test_return_best_only_false_rows_are_feasible(logei):
    X, v = acqopt.optimize_acqf(logei, BOUNDS, 1, 4, 64, generator=0, return_best_only=False,
                                nonlinear_inequality_constraints=CONSTRAINTS)
    assert X.shape == (4, 1, D) and torch.isfinite(v).all() and violation(X) <= 1e-6


def test_fixed_features_constraints_see_every_column(logei):
    shapes = set()

    def ball(x):  # infeasible everywhere unless column 2 arrives with its fixed value
        shapes.add(tuple(x.shape))
        return torch.where(x[..., 2] == 0.4, 0.5 - (x**2).sum(-1), -1.0)

    with warnings.catch_warnings():
        warnings.simplefilter("error", InfeasibleCandidateWarning)
        x, _ = acqopt.optimize_acqf(logei, BOUNDS, 1, 4, 64, generator=0,
                                    fixed_features={2: 0.4},
                                    nonlinear_inequality_constraints=[(ball, True)])
    assert {s[-1] for s in shapes} == {D}  # every column, the fixed one included
    assert float(x[0, 2]) == 0.4 and violation(x, [BALL]) <= 1e-6


def test_a_callable_vmap_cannot_run_is_called_point_by_point(logei):
    def ball(x):
        if x[0].item() > 2.0:  # data-dependent control flow: vmap refuses it
            return x.sum()
        return 0.5 - (x**2).sum()

    x1, v1 = acqopt.optimize_acqf(logei, BOUNDS, 1, 4, 64, generator=0,
                                  nonlinear_inequality_constraints=[(ball, True)])
    x2, v2 = acqopt.optimize_acqf(logei, BOUNDS, 1, 4, 64, generator=0,
                                  nonlinear_inequality_constraints=[BALL])
    assert violation(x1, [BALL]) <= 1e-6
    assert float(v1) == pytest.approx(float(v2), abs=1e-6)


def test_grid_columns_keep_their_values(logei):
    opt = acqopt.get_optimizer("lbfgs")
    result = opt.optimize(logei, BOUNDS, budget=300, generator=0,
                          discrete_dims={2: [0.0, 0.5, 1.0]},
                          nonlinear_inequality_constraints=CONSTRAINTS)
    x = result.candidates
    assert float(x[0, 2]) in (0.0, 0.5, 1.0) and violation(x) <= 1e-6


def test_no_feasible_point_is_said_clearly(logei):
    never = [(lambda x: -1.0 - x.sum(), True)]
    with pytest.warns(InfeasibleCandidateWarning, match="no feasible candidate"):
        result = acqopt.get_optimizer("lbfgs").optimize(
            logei, BOUNDS, budget=400, generator=0, nonlinear_inequality_constraints=never)
    assert result.status == Status.INFEASIBLE
    assert result.info["violation"] == pytest.approx(1.0)  # at the origin, the least violation
    assert torch.isfinite(result.acq_value)
    with pytest.warns(InfeasibleCandidateWarning):
        x, _ = acqopt.optimize_acqf(logei, BOUNDS, 1, 4, 64, generator=0,
                                    nonlinear_inequality_constraints=never)
    assert torch.allclose(x, torch.zeros(1, D, dtype=torch.float64))


def test_mixed_combinations_prefer_a_feasible_answer_and_stay_quiet(logei):
    # x2 = 1 admits no point of the ball; x2 = 0 does
    with warnings.catch_warnings():
        warnings.simplefilter("error", InfeasibleCandidateWarning)
        x, _ = acqopt.optimize_acqf_mixed(logei, BOUNDS, 1, 4, [{2: 1.0}, {2: 0.0}],
                                          raw_samples=64, generator=0,
                                          nonlinear_inequality_constraints=[BALL])
    assert float(x[0, 2]) == 0.0 and violation(x, [BALL]) <= 1e-6


@pytest.mark.parametrize("constraints, match", [
    ([(lambda x: x.sum(), False)], r"\[0\]: inter-point"),
    ([(lambda x: x, True)], r"\[0\]: expected a scalar"),
    ([lambda x: x.sum()], r"\[0\]: expected a tuple"),
    ([(3.0, True)], r"\[0\]: the first element must be callable"),
    ([(lambda x: x.sum(), 1)], r"\[0\]: is_intrapoint must be a bool"),
    ("x >= 0", ": expected a list"),
    ([(lambda x: x.undefined(), True)], r"\[0\]: calling it on one point"),
])
def test_bad_constraints_are_named_errors(constraints, match, logei):
    with pytest.raises(ValueError, match="nonlinear_inequality_constraints" + match):
        acqopt.optimize_acqf(logei, BOUNDS, 1, 4, 64, generator=0,
                             nonlinear_inequality_constraints=constraints)


def test_restoration_moves_infeasible_points_only():
    bounds = torch.tensor([[-2.0, -2.0], [2.0, 2.0]], dtype=torch.float64)
    ring = NonlinearConstraints([(lambda x: 1.0 - (x**2).sum(), True)], bounds)
    U = torch.rand(200, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    R = ring.restore(U, lambda V: V.clamp(0.0, 1.0))
    X, XR = -2 + 4 * U, -2 + 4 * R
    inside = (X**2).sum(-1) <= 1.0
    assert inside.any() and (~inside).any()
    assert torch.equal(R[inside], U[inside])
    assert ((XR**2).sum(-1) <= 1.0 + 1e-9).all()
    # the restored points are the nearest on the circle: along the ray to the origin
    cosine = torch.nn.functional.cosine_similarity(X[~inside], XR[~inside], dim=-1)
    assert (cosine > 1 - 1e-6).all()


def test_tangent_removes_the_normal_component_at_the_boundary():
    bounds = torch.tensor([[-2.0, -2.0], [2.0, 2.0]], dtype=torch.float64)
    ring = NonlinearConstraints([(lambda x: 1.0 - (x**2).sum(), True)], bounds)
    F = torch.tensor([[0.5 + 0.25, 0.5]], dtype=torch.float64)  # (1, 0) on the circle
    grad = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    projected = ring.tangent(F, grad, torch.tensor([True]))
    assert torch.allclose(projected, torch.tensor([[0.0, 1.0]], dtype=torch.float64))
    assert torch.equal(ring.tangent(F, grad, torch.tensor([False])), grad)


def test_how_a_callable_is_batched():
    bounds = torch.tensor([[0.0] * D, [1.0] * D], dtype=torch.float64)
    calls = [
        (lambda x: 1.0 - (x**2).sum(-1), "batch"),  # maps N x d to N
        (lambda x: x[0] - x[1], "vmap"),  # one point only: on N x d it would answer rows
        (lambda x: x.sum() if x[0].item() < 2 else x[0], "loop"),  # vmap refuses .item()
    ]
    checks = NonlinearConstraints([(f, True) for f, _ in calls], bounds)
    U = torch.rand(5, D, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    C = checks.values(U)
    assert checks._batched == [how for _, how in calls]
    expected = torch.stack([torch.stack([f(u) for u in U]) for f, _ in calls], dim=-1)
    assert torch.allclose(C, expected)


def test_the_drop_in_bounds_a_converging_method_with_nonlinear_constraints(logei):
    from acqopt.api import OptimizeAcqfInputs
    from acqopt.base import QUERIES_PER_RESTART

    call = dict(acq_function=logei, bounds=BOUNDS, num_restarts=4, raw_samples=64)
    assert OptimizeAcqfInputs(**call).configure()[2] is None  # lbfgs stops by itself
    _, _, budget = OptimizeAcqfInputs(**call,
                                      nonlinear_inequality_constraints=CONSTRAINTS).configure()
    assert budget == 64 + QUERIES_PER_RESTART * 4
    counter = CountingAcquisition(logei)
    acqopt.optimize_acqf(counter, BOUNDS, 1, 4, 64, generator=0,
                         nonlinear_inequality_constraints=CONSTRAINTS)
    assert counter.queries <= budget


def test_steer_removes_only_the_outward_normal_component():
    bounds = torch.tensor([[-2.0, -2.0], [2.0, 2.0]], dtype=torch.float64)
    ring = NonlinearConstraints([(lambda x: 1.0 - (x**2).sum(-1), True)], bounds)
    X = torch.tensor([[0.75, 0.5], [0.75, 0.5], [0.5, 0.5]], dtype=torch.float64)
    D = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    steered = ring.steer(X, D)
    assert torch.allclose(steered[0], torch.tensor([0.0, 1.0], dtype=torch.float64))  # outward
    assert torch.equal(steered[1:], D[1:])  # inward, and inside the set: unchanged


@pytest.mark.parametrize("how", ["batch", "vmap", "loop"])
def test_a_point_on_a_face_of_the_box_slides_along_it_onto_the_constraint(how):
    """From (1, 0.1) the least-norm step onto x0 + x1 >= 1.5 leaves the box along x0; cut by
    the projection it makes half its progress per step (about 30 steps to 1e-9). Holding x0 at
    its face reaches the constraint in one."""

    def c(x):
        if how != "batch" and x.dim() > 1:
            raise ValueError("one point at a time")
        if how == "loop" and bool(x[0] > 5.0):  # data-dependent control flow: no vmap
            raise AssertionError("outside the box")
        return x[..., 0] + x[..., 1] - 1.5

    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    nl = NonlinearConstraints([(c, True)], bounds, max_iter=3)
    U, violation = nl.restored(torch.tensor([[1.0, 0.1]], dtype=torch.float64),
                               lambda V: V.clamp(0.0, 1.0))
    assert nl._batched == [how]
    assert float(violation) == 0.0 and float(U[0, 0]) == 1.0
    assert float(U[0, 1]) == pytest.approx(0.5, abs=1e-8)
