"""Mixed spaces: the grid as part of the domain, every method, the drop-ins, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from botorch.acquisition import LogExpectedImprovement, qLogExpectedImprovement
from botorch.models import MixedSingleTaskGP
from botorch.optim import optimize_acqf_discrete as botorch_discrete

import acqopt
from acqopt.domain import Grid, normalize_grid
from acqopt.local import ProjectedLBFGS
from acqopt.testing import MixedBumps
from tests.helpers import METHODS

BUDGET = 1500
GRID = dict(discrete_dims=MixedBumps.discrete_dims, cat_dims=MixedBumps.cat_dims)
# Methods that find MixedBumps' global maximum at this budget (seed 0; the others are checked
# for the contract only): the gradient methods through their alternating discrete moves, the
# value-only ones through the rounding floor, their margins and vo's categorical factor.
FINDS_MAXIMUM = ["lbfgs", "cma-lbfgs", "snes", "vo"]


def on_grid(X: torch.Tensor) -> bool:
    integers = X[..., 1]
    categories = X[..., 2]
    return bool(((integers == integers.round()) & (integers >= 0) & (integers <= 5)
                 & torch.isin(categories, torch.tensor([0.0, 1.0, 2.0], dtype=X.dtype))).all())


@pytest.mark.parametrize("q", [1, 2])
@pytest.mark.parametrize("method", METHODS)
def test_every_method_evaluates_and_returns_grid_points_only(method, q):
    acq = MixedBumps()
    bounds = MixedBumps.bounds.double()
    seen = []
    original = acq.forward
    acq.forward = lambda X: (seen.append(X.detach().clone()), original(X))[1]
    budget = 600 if method in ("gennes", "lgso") else BUDGET  # the slow ones, kept short
    result = acqopt.get_optimizer(method).optimize(acq, bounds, q=q, budget=budget, generator=0,
                                                   num_best=3, **GRID)
    assert acq.off_grid == 0 and all(on_grid(X) for X in seen)
    assert on_grid(result.candidates) and on_grid(result.info["best_points"])
    assert result.counts.queries == acq.queries <= budget
    assert math.isclose(float(original(result.candidates.unsqueeze(0))),
                        float(result.acq_value), rel_tol=1e-9)
    if q == 1 and method in FINDS_MAXIMUM:
        assert float(result.acq_value) > MixedBumps.max_value - 1e-3
        assert torch.allclose(result.candidates[0], MixedBumps.argmax.double(), atol=1e-2)


@pytest.mark.parametrize("method", ["lbfgs", "cma-lbfgs"])
def test_relax_then_round_misses_what_the_native_search_finds(method):
    """Without the grid the relaxed optimum's categorical column is never moved by gradients
    (MixedBumps has none there); rounding the relaxed answer is worse than searching the grid."""
    bounds = MixedBumps.bounds.double()
    native = acqopt.get_optimizer(method).optimize(MixedBumps(), bounds, budget=BUDGET,
                                                   generator=1, **GRID)
    relaxed = acqopt.get_optimizer(method).optimize(MixedBumps(), bounds, budget=BUDGET,
                                                    generator=1)
    assert float(native.acq_value) == pytest.approx(MixedBumps.max_value, abs=1e-3)
    # The relaxed search sees the grid anyway (MixedBumps rounds inside), but its gradient
    # steps never move x1, x2: it ends where its best start's table cell was.
    assert float(relaxed.acq_value) <= float(native.acq_value) + 1e-12


def test_gradients_along_grid_columns_are_zero_and_points_are_rounded(logei4):
    bounds = torch.tensor([[0.0] * 4, [1.0, 4.0, 1.0, 2.0]], dtype=torch.float64)
    grid = Grid(bounds, {1: [0.0, 1.0, 2.0, 3.0, 4.0]}, {3: [0.0, 1.0, 2.0]})
    U = torch.tensor([[[0.3, 0.4, 0.2, 0.8]]], dtype=torch.float64, requires_grad=True)
    R = grid.round(U)
    assert R.tolist() == [[[0.3, 0.5, 0.2, 1.0]]]
    (R * torch.arange(1.0, 5.0, dtype=torch.float64)).sum().backward()
    assert U.grad.tolist() == [[[1.0, 0.0, 3.0, 0.0]]]


def test_neighbours_move_one_column_one_value_and_categories_to_every_value():
    bounds = torch.tensor([[0.0] * 3, [1.0, 4.0, 3.0]], dtype=torch.float64)
    grid = Grid(bounds, {1: [0.0, 1.0, 2.0, 3.0, 4.0]}, {2: [0.0, 1.0, 2.0, 3.0]})
    U = torch.tensor([[[0.5, 0.0, 1 / 3]], [[0.5, 0.5, 0.0]]], dtype=torch.float64)
    X, parent = grid.neighbours(U)
    r = lambda *x: tuple(round(v, 6) for v in x)  # noqa: E731
    moves = {(int(p), r(*x[0].tolist())) for p, x in zip(parent, X)}
    assert moves == {
        (0, r(0.5, 0.25, 1 / 3)), (0, r(0.5, 0.0, 0.0)), (0, r(0.5, 0.0, 2 / 3)),
        (0, r(0.5, 0.0, 1.0)),
        (1, r(0.5, 0.25, 0.0)), (1, r(0.5, 0.75, 0.0)), (1, r(0.5, 0.5, 1 / 3)),
        (1, r(0.5, 0.5, 2 / 3)), (1, r(0.5, 0.5, 1.0)),
    }
    assert X.shape == (9, 1, 3)
    changed = (X != U[parent]).sum(-1).squeeze(-1)
    assert (changed == 1).all()


def test_a_wide_ordered_column_also_moves_in_powers_of_two():
    # more than WIDE values: +-1, 2, 4, ... (inside the range), every neighbour on the grid;
    # at WIDE values or fewer, +-1 only
    from acqopt.domain import WIDE

    bounds = torch.tensor([[0.0, 5.0], [1.0, 50.0]], dtype=torch.float64)
    grid = Grid(bounds, {1: [float(v) for v in range(5, 51)]}, {})  # 46 values
    U = torch.tensor([[[0.5, 10 / 45]]], dtype=torch.float64)  # n_iter = 15, index 10
    X, _ = grid.neighbours(U)
    index = sorted(round(float(x) * 45) for x in X[:, 0, 1])
    assert index == [2, 6, 8, 9, 11, 12, 14, 18, 26, 42]  # 10 -8, -4, -2, -1, +1, ..., +32
    assert torch.equal(grid.round(X), X)
    narrow = Grid(torch.tensor([[0.0], [float(WIDE - 1)]], dtype=torch.float64),
                  {0: [float(v) for v in range(WIDE)]}, {})
    X, _ = narrow.neighbours(torch.tensor([[[10 / (WIDE - 1)]]], dtype=torch.float64))
    assert sorted(round(float(x) * (WIDE - 1)) for x in X[:, 0, 0]) == [9, 11]


def test_a_wide_integer_is_searched_to_its_best_value():
    # the mixed local search on a GP with a 46-value integer column ends at the best value of
    # that column at its continuous coordinates (checked against every value)
    from botorch.acquisition import LogExpectedImprovement

    from acqopt.bo.model import fit_gp

    g = torch.Generator().manual_seed(0)
    X = torch.rand(30, 3, generator=g, dtype=torch.float64)
    X[:, 2] = torch.round(X[:, 2] * 45) / 45
    Y = (torch.sin(5 * X[:, :2]).sum(-1) - 3 * (X[:, 2] - 0.7) ** 2).unsqueeze(-1)
    acq = LogExpectedImprovement(fit_gp(X, Y, closed_form=False), best_f=Y.max())
    bounds = torch.stack([torch.zeros(3), torch.ones(3)]).double()
    values = [i / 45 for i in range(46)]
    x, v = acqopt.optimize_acqf_mixed_alternating(acq, bounds, discrete_dims={2: values}, q=1,
                                                   num_restarts=10, raw_samples=512, generator=0)
    every = x.reshape(1, 1, 3).repeat(46, 1, 1)
    every[:, 0, 2] = torch.tensor(values, dtype=torch.float64)
    with torch.no_grad():
        assert float(v) >= float(acq(every).max()) - 1e-9


def test_sample_takes_every_value_equally_often():
    bounds = torch.tensor([[0.0], [4.0]], dtype=torch.float64)
    grid = Grid(bounds, {0: [0.0, 1.0, 2.0, 3.0, 4.0]}, {})
    U = torch.linspace(0, 1, 1001, dtype=torch.float64)[:-1].reshape(-1, 1)
    counts = torch.bincount((grid.sample(U)[:, 0] * 4).round().long())
    assert counts.tolist() == [200] * 5


@pytest.mark.parametrize("discrete, categorical, match", [
    ({1: [0.0, 6.0]}, None, r"discrete_dims\[1\]: values .* leave"),
    ({1: [2.0, 1.0]}, None, r"discrete_dims\[1\]: expected sorted, distinct"),
    ({1: [1.0, 1.0, 2.0]}, None, r"discrete_dims\[1\]: expected sorted, distinct"),
    ({1: [1.0]}, None, r"discrete_dims\[1\]: expected at least two"),
    (None, {2: [0.0, 0.0, 1.0]}, r"cat_dims\[2\]: expected sorted, distinct"),
    (None, {2: [1.0]}, r"cat_dims\[2\]: expected at least two"),
    ({2: [0.0, 1.0]}, {2: [0.0, 1.0, 2.0]}, r"discrete_dims, cat_dims: column\(s\) \[2\]"),
    ({7: [0.0, 1.0]}, None, r"discrete_dims: columns must be ints in \[-4, 4\)"),
    ({1: "abc"}, None, r"discrete_dims\[1\]: expected a list"),
    ({1: [0.0, float("nan")]}, None, r"discrete_dims\[1\]: expected finite"),
    ([1.5], None, r"discrete_dims: columns must be ints"),
    ("1", None, r"discrete_dims: expected a mapping"),
])
def test_bad_grids_are_value_errors_naming_the_argument(discrete, categorical, match):
    bounds = MixedBumps.bounds.double()
    with pytest.raises(ValueError, match=match):
        acqopt.optimize_acqf_mixed_alternating(MixedBumps(), bounds, discrete_dims=discrete,
                                               cat_dims=categorical, budget=100)


def test_a_grid_column_in_fixed_features_is_a_value_error():
    with pytest.raises(ValueError, match=r"discrete_dims: column\(s\) \[1\] are also in "
                                         "fixed_features"):
        acqopt.optimize_acqf_mixed_alternating(MixedBumps(), MixedBumps.bounds.double(),
                                               fixed_features={1: 2.0}, budget=100, **GRID)


def test_constraints_on_grid_columns_are_a_value_error_and_on_continuous_ones_hold():
    bounds = MixedBumps.bounds.double()
    on_int = [(torch.tensor([0, 1]), torch.tensor([1.0, 1.0], dtype=torch.float64), 1.0)]
    with pytest.raises(ValueError, match=r"inequality_constraints: a constraint involves the "
                                         r"integer/categorical column\(s\) \[1\]"):
        acqopt.optimize_acqf_mixed_alternating(MixedBumps(), bounds, budget=300,
                                               inequality_constraints=on_int, **GRID)
    # x0 + x3 >= 1.2 excludes the unconstrained maximum (x0 + x3 = 1.0).
    cons = [(torch.tensor([0, 3]), torch.tensor([1.0, 1.0], dtype=torch.float64), 1.2)]
    X, value = acqopt.optimize_acqf_mixed_alternating(MixedBumps(), bounds, budget=1500,
                                                      inequality_constraints=cons, generator=0,
                                                      **GRID)
    assert float(X[0, 0] + X[0, 3]) >= 1.2 - 1e-6 and on_grid(X)


def test_list_form_of_discrete_dims_takes_every_integer_in_the_bounds():
    a = acqopt.optimize_acqf_mixed_alternating(MixedBumps(), MixedBumps.bounds.double(),
                                               discrete_dims=[1], cat_dims=MixedBumps.cat_dims,
                                               budget=800, generator=0)
    b = acqopt.optimize_acqf_mixed_alternating(MixedBumps(), MixedBumps.bounds.double(),
                                               budget=800, generator=0, **GRID)
    assert torch.equal(a[0], b[0])
    assert normalize_grid([1], None, MixedBumps.bounds.double())[0] == {
        1: [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]}


def mixed_gp(seed: int = 0, n: int = 24):
    """LogEI on a MixedSingleTaskGP over MixedBumps' space (column 2 categorical)."""
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 4, generator=g, dtype=torch.float64)
    X[:, 1] = torch.randint(0, 6, (n,), generator=g).double()
    X[:, 2] = torch.randint(0, 3, (n,), generator=g).double()
    Y = MixedBumps()(X.unsqueeze(1)).unsqueeze(-1)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = MixedSingleTaskGP(X, Y, cat_dims=[2])
        from botorch.fit import fit_gpytorch_mll
        from gpytorch.mlls import ExactMarginalLogLikelihood

        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model, X, Y


def seeded_qlogei(model, Y):
    """qLogEI whose sampler is seeded (an unseeded one draws from the global RNG)."""
    from botorch.sampling import SobolQMCNormalSampler

    return qLogExpectedImprovement(model, best_f=Y.max(),
                                   sampler=SobolQMCNormalSampler(torch.Size([64]), seed=0))


def test_drop_in_shapes_on_a_mixed_gp_and_sequential_q():
    model, X, Y = mixed_gp()
    bounds = MixedBumps.bounds.double()
    acq = LogExpectedImprovement(model, best_f=Y.max())
    x, value = acqopt.optimize_acqf_mixed_alternating(acq, bounds, generator=0, **GRID)
    assert x.shape == (1, 4) and value.shape == () and on_grid(x)
    assert torch.isfinite(value)
    qacq = seeded_qlogei(model, Y)
    x, values = acqopt.optimize_acqf_mixed_alternating(qacq, bounds, q=2, generator=0, **GRID)
    assert x.shape == (2, 4) and values.shape == (2,) and on_grid(x)
    assert qacq.X_pending is None
    x, values = acqopt.optimize_acqf_mixed_alternating(qacq, bounds, q=2, sequential=False,
                                                       generator=0, return_acq_values=False,
                                                       **GRID)
    assert x.shape == (2, 4) and values is None and on_grid(x)


def test_mixed_with_fixed_features_keeps_them_and_the_grid():
    bounds = MixedBumps.bounds.double()
    x, value = acqopt.optimize_acqf_mixed_alternating(
        MixedBumps(), bounds, discrete_dims=MixedBumps.discrete_dims, fixed_features={2: 2.0},
        budget=1000, generator=0)
    assert float(x[0, 2]) == 2.0 and on_grid(x)
    assert float(value) == pytest.approx(0.7 + 0.5, abs=1e-3)  # category 2's best: integer 1


def test_optimize_acqf_mixed_takes_the_best_combination_and_splits_the_budget():
    acq = MixedBumps()
    bounds = MixedBumps.bounds.double()
    combos = [{1: float(k), 2: float(c)} for k in (1, 4) for c in (0, 1)]
    x, value = acqopt.optimize_acqf_mixed(acq, bounds, 1, 4, combos, raw_samples=32,
                                          budget=800, generator=0)
    assert x[0, 1:3].tolist() == [4.0, 1.0] and float(value) == pytest.approx(1.5, abs=1e-3)
    assert acq.queries <= 800
    x, values = acqopt.optimize_acqf_mixed(acq, bounds, 1, 2, combos, raw_samples=32,
                                           return_best_only=False, budget=800, generator=0)
    assert x.dim() == 3 and x.shape[1:] == (1, 4) and (values[:-1] >= values[1:]).all()
    with pytest.raises(ValueError, match="fixed_features_list: expected a non-empty list"):
        acqopt.optimize_acqf_mixed(acq, bounds, 1, 2, [])


def test_optimize_acqf_discrete_matches_botorch_and_counts_queries():
    model, X, Y = mixed_gp()
    g = torch.Generator().manual_seed(1)
    choices = torch.rand(300, 4, generator=g, dtype=torch.float64)
    choices[:, 1:3] = choices[:, 1:3].mul(3).round()
    acq = seeded_qlogei(model, Y)
    ours, v1 = acqopt.optimize_acqf_discrete(acq, 3, choices, max_batch_size=64)
    theirs, v2 = botorch_discrete(acq, 3, choices, max_batch_size=64)
    assert torch.equal(ours, theirs) and torch.allclose(v1, v2)
    avoid = theirs[:1]
    ours, _ = acqopt.optimize_acqf_discrete(acq, 1, choices, X_avoid=avoid)
    assert not (ours == avoid).all(-1).any()
    # Under a budget a random subset of the choices is valued, reproducibly.
    a = acqopt.optimize_acqf_discrete(acq, 1, choices, budget=50, generator=3)
    b = acqopt.optimize_acqf_discrete(acq, 1, choices, budget=50, generator=3)
    assert torch.equal(a[0], b[0])
    cons = [(torch.tensor([0]), torch.tensor([1.0], dtype=torch.float64), 0.9)]
    x, _ = acqopt.optimize_acqf_discrete(acq, 1, choices, inequality_constraints=cons)
    assert float(x[0, 0]) >= 0.9
    with pytest.raises(ValueError, match="choices: expected a non-empty n x d tensor"):
        acqopt.optimize_acqf_discrete(acq, 1, choices[:0])
    with pytest.raises(ValueError, match="q: LogExpectedImprovement cannot condition"):
        acqopt.optimize_acqf_discrete(LogExpectedImprovement(model, best_f=Y.max()), 2, choices)


def test_inputs_are_one_validated_dataclass_that_derived_calls_replace():
    import dataclasses

    inputs = acqopt.OptimizeAcqfInputs(acq_function=MixedBumps(),
                                       bounds=MixedBumps.bounds.double(), **GRID)
    with pytest.raises(ValueError, match=r"cat_dims\[2\]: expected at least two"):
        dataclasses.replace(inputs, cat_dims={2: [1.0]})
    with pytest.raises(ValueError, match="sequential: expected a bool"):
        dataclasses.replace(inputs, sequential="yes")
    with pytest.raises(dataclasses.FrozenInstanceError):
        inputs.q = 2


def test_the_closed_form_answers_a_mixed_gp_as_botorch_does():
    from acqopt.closed_form import ClosedFormKernelGP, closed_form_acquisition

    model, X, Y = mixed_gp()
    points = torch.rand(40, 1, 4, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    points[..., 1] = (points[..., 1] * 5).round()
    points[..., 2] = (points[..., 2] * 2).round()
    for acq in (LogExpectedImprovement(model, best_f=Y.max()), seeded_qlogei(model, Y)):
        with torch.no_grad():
            reference = acq(points)  # an MC acquisition draws its base samples here
            fast = closed_form_acquisition(acq)
            assert isinstance(getattr(fast, "model", None) or fast.acquisition.model,
                              ClosedFormKernelGP)
            assert torch.allclose(fast(points), reference, rtol=1e-9, atol=1e-12)
    pairs = points.reshape(20, 2, 4)  # joint q = 2
    with torch.no_grad():
        acq = seeded_qlogei(model, Y)
        reference = acq(pairs)
        assert torch.allclose(closed_form_acquisition(acq)(pairs), reference, rtol=1e-9)
    counter = acqopt.CountingAcquisition(LogExpectedImprovement(model, best_f=Y.max()),
                                         fast=True)
    counter(points)
    assert counter.evaluator == "closed-form"


def _svc_like_history():
    """Six evaluations (x, kernel, n) with their values."""
    from acqopt.bo import History

    h = History(method="lbfgs", seed=0)
    rows = [(0.1, "rbf", 3, 0.30), (0.5, "poly", 1, 0.10), (0.9, "sigmoid", 4, 0.70),
            (0.3, "rbf", 0, 0.25), (0.7, "poly", 2, 0.15), (0.2, "sigmoid", 5, 0.60)]
    for x, k, n, v in rows:
        h.append({"x": x, "kernel": k, "n": n}, v, None, 0, 0.0)
    return h


@pytest.mark.parametrize("labels", [("rbf", "poly", "sigmoid"), ("sigmoid", "rbf", "poly"),
                                    ("poly", "sigmoid", "rbf")])
def test_reordering_the_categories_does_not_change_the_model(labels):
    from acqopt.bo import Categorical, Integer, Real, Space
    from acqopt.bo.model import fit_gp

    def predictions(order):
        space = Space([Real("x", 0.0, 1.0), Categorical("kernel", order), Integer("n", 0, 5)])
        h = _svc_like_history()
        X = torch.stack([space.to_unit(p) for p in h.params])
        Y = -torch.tensor(h.values, dtype=torch.float64).unsqueeze(-1)
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = fit_gp(space.unit_to_space(X), Y, bounds=space.space_bounds(),
                           cat_dims=space.cat_dims)
        grid = [{"x": x, "kernel": k, "n": n} for x in (0.05, 0.45, 0.8)
                for k in ("rbf", "poly", "sigmoid") for n in (0, 3)]
        Z = space.unit_to_space(torch.stack([space.to_unit(p) for p in grid]))
        with torch.no_grad():
            post = model.posterior(Z.unsqueeze(1))
        return post.mean.reshape(-1), post.variance.reshape(-1)

    m0, v0 = predictions(("rbf", "poly", "sigmoid"))
    m1, v1 = predictions(labels)
    assert torch.allclose(m0, m1, rtol=1e-6, atol=1e-8)
    assert torch.allclose(v0, v1, rtol=1e-6, atol=1e-8)


def test_minimize_searches_categories_and_integers_on_the_grid():
    from acqopt.bo import Categorical, Integer, Real, Space, minimize

    space = Space([Real("x", 0.0, 1.0), Categorical("k", ("a", "b", "c")), Integer("n", 0, 6)])
    seen = []

    def objective(p):
        seen.append(p)
        return (p["x"] - 0.3) ** 2 + {"a": 0.5, "b": 0.0, "c": 1.0}[p["k"]] + 0.1 * abs(p["n"] - 3)

    h = minimize(objective, space, n_init=5, n_iter=4, progress=False, seed=0, budget=600)
    assert all(p["k"] in ("a", "b", "c") and isinstance(p["n"], int) for p in seen)
    assert all(q["evaluator"] == "closed-form" for q in h.proposals if q)
    assert h.best_params["k"] == "b"


def test_a_categorical_needs_two_distinct_choices():
    from acqopt.bo import Categorical

    with pytest.raises(ValueError, match="k: choices must be distinct"):
        Categorical("k", ("a", "b", "a"))
    with pytest.raises(ValueError, match="k: expected at least two choices"):
        Categorical("k", ("a",))
    with pytest.raises(ValueError, match="k: expected a list of choices"):
        Categorical("k", "abc")


def test_lbfgs_runs_every_continuous_search_to_its_end_on_a_mixed_problem():
    # ``trailing`` (lbfgs stops the starts behind the leader once few still run) is off on a
    # mixed problem: each alternation starts from a finished search, as without it (bit for bit).
    bounds = MixedBumps.bounds.double()

    def run(**options):
        return acqopt.get_optimizer("lbfgs", **options).optimize(
            MixedBumps(), bounds, generator=0, **GRID)

    default, off = run(), run(local=ProjectedLBFGS())
    assert acqopt.get_optimizer("lbfgs").local.trailing > 0
    assert torch.equal(default.info["local_optima"], off.info["local_optima"])
    assert default.counts.queries == off.counts.queries
