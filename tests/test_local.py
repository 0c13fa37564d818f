"""The local searches: the projected L-BFGS against scipy's L-BFGS-B and a dense BFGS, and the
driver's contract for every composition."""

import numpy as np
import pytest
import scipy.optimize
import torch

from acqopt.counting import CountingAcquisition, Problem
from acqopt.local import LOCAL_SEARCHES, ProjectedLBFGS
from acqopt.local.directions import two_loop
from acqopt.testing import Bumps


class Negated(torch.nn.Module):
    """``F`` on the unit cube as an acquisition to maximise (q = 1)."""

    def __init__(self, F) -> None:
        super().__init__()
        self.F = F

    def forward(self, X):
        return -self.F(X[..., 0, :])


def quadratic(d: int, seed: int):
    """A convex quadratic with condition number 100 whose minimiser lies partly outside the cube."""
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    A = Q @ torch.diag(torch.logspace(0, 2, d, dtype=torch.float64)) @ Q.T
    c = torch.rand(d, generator=g, dtype=torch.float64) * 1.6 - 0.3
    return lambda U: 0.5 * (((U - c) @ A) * (U - c)).sum(-1)


def rosenbrock(U):
    X = 4 * U - 2
    return (100 * (X[..., 1:] - X[..., :-1] ** 2) ** 2 + (1 - X[..., :-1]) ** 2).sum(-1)


def scipy_lbfgsb(F, u0):
    def value_and_grad(u):
        t = torch.tensor(u, requires_grad=True)
        v = F(t)
        v.backward()
        return float(v.detach()), t.grad.numpy()

    return scipy.optimize.minimize(value_and_grad, u0.numpy(), jac=True, method="L-BFGS-B",
                                   bounds=[(0.0, 1.0)] * u0.numel())


@pytest.mark.parametrize(
    "name, d, seed",
    [("quadratic", 5, 0), ("quadratic", 10, 1), ("quadratic", 20, 2),
     ("rosenbrock", 2, 0), ("rosenbrock", 4, 1), ("rosenbrock", 8, 2)],
)
def test_projected_lbfgs_matches_scipy_lbfgsb(name, d, seed):
    # Box-constrained problems with the same start and scipy's default tolerances: the same
    # minimiser, and iteration counts within a factor 1.5 (plus 5) of scipy's either way
    # (measured: 0.66-1.1x on these).
    F = quadratic(d, seed) if name == "quadratic" else rosenbrock
    u0 = torch.rand(d, generator=torch.Generator().manual_seed(100 + seed), dtype=torch.float64)
    reference = scipy_lbfgsb(F, u0)
    problem = Problem(CountingAcquisition(Negated(F)),
                      torch.stack([torch.zeros(d), torch.ones(d)]).double(), q=1)
    result = ProjectedLBFGS().refine(problem, u0.view(1, 1, d))
    assert np.abs(result.U.view(-1).numpy() - reference.x).max() < 1e-4
    assert -float(result.values[0]) == pytest.approx(reference.fun, abs=1e-6)
    nit = int(result.iterations[0])
    assert nit <= 1.5 * reference.nit + 5 and reference.nit <= 1.5 * nit + 5


def dense_bfgs_inverse(S, Y):
    """The BFGS inverse Hessian from ``H_0 = gamma I`` (newest pair's scaling), pair by pair."""
    D = S.shape[-1]
    gamma = (S[-1] @ Y[-1]) / (Y[-1] @ Y[-1])
    H = gamma * torch.eye(D, dtype=S.dtype)
    for s, y in zip(S, Y):
        rho = 1.0 / (s @ y)
        V = torch.eye(D, dtype=S.dtype) - rho * torch.outer(y, s)
        H = V.T @ H @ V + rho * torch.outer(s, s)
    return H


@pytest.mark.parametrize("filled", [1, 3, 5])
def test_two_loop_is_the_dense_bfgs_inverse_times_the_gradient(filled):
    g = torch.Generator().manual_seed(filled)
    D, m, b = 6, 5, 4
    A = torch.randn(D, D, generator=g, dtype=torch.float64)
    A = A @ A.T + D * torch.eye(D, dtype=torch.float64)  # SPD: every pair has s'y > 0
    S = torch.zeros(b, m, D, dtype=torch.float64)
    Y = torch.zeros_like(S)
    rho = torch.zeros(b, m, dtype=torch.float64)
    S[:, m - filled:] = torch.randn(b, filled, D, generator=g, dtype=torch.float64)
    Y[:, m - filled:] = S[:, m - filled:] @ A
    rho[:, m - filled:] = 1.0 / (S[:, m - filled:] * Y[:, m - filled:]).sum(-1)
    grad = torch.randn(b, D, generator=g, dtype=torch.float64)
    Hg = two_loop(grad, S, Y, rho)
    for i in range(b):
        H = dense_bfgs_inverse(S[i, m - filled:], Y[i, m - filled:])
        torch.testing.assert_close(Hg[i], H @ grad[i], rtol=1e-10, atol=1e-12)


def test_two_loop_with_a_different_memory_per_start():
    """Starts hold 0..m pairs (a reset start has none: H = I)."""
    g = torch.Generator().manual_seed(7)
    D, m = 5, 4
    A = torch.randn(D, D, generator=g, dtype=torch.float64)
    A = A @ A.T + D * torch.eye(D, dtype=torch.float64)
    S = torch.zeros(m + 1, m, D, dtype=torch.float64)
    Y, rho = torch.zeros_like(S), torch.zeros(m + 1, m, dtype=torch.float64)
    for i, filled in enumerate(range(m + 1)):
        if filled:
            S[i, m - filled:] = torch.randn(filled, D, generator=g, dtype=torch.float64)
            Y[i, m - filled:] = S[i, m - filled:] @ A
            rho[i, m - filled:] = 1.0 / (S[i, m - filled:] * Y[i, m - filled:]).sum(-1)
    grad = torch.randn(m + 1, D, generator=g, dtype=torch.float64)
    Hg = two_loop(grad, S, Y, rho)
    torch.testing.assert_close(Hg[0], grad[0])
    for i in range(1, m + 1):
        H = dense_bfgs_inverse(S[i, m - i:], Y[i, m - i:])
        torch.testing.assert_close(Hg[i], H @ grad[i], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("key", sorted(LOCAL_SEARCHES))
@pytest.mark.parametrize("budget", [None, 7, 40])
def test_local_search_contract(key, budget):
    # Never over budget, never worse than the start, only the evaluated starts returned; a
    # search cut short by the budget spends all of it (each needs over 100 queries unbounded).
    counter = CountingAcquisition(Bumps(), budget=budget)
    problem = Problem(counter, Bumps.bounds.double(), q=1)
    U = torch.rand(10, 1, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    start_values = Bumps()(problem.to_bounds(U))
    result = LOCAL_SEARCHES[key]().refine(problem, U)
    n = result.U.shape[0]
    assert n == (10 if budget is None else min(10, budget))
    if budget is not None:
        assert counter.queries == (min(10, budget) if key == "none" else budget)
    assert (result.values >= start_values[:n] - 1e-12).all()
    torch.testing.assert_close(result.values, Bumps()(problem.to_bounds(result.U)))
    assert result.iterations.shape == (n,)
    if key != "none" and budget != 7:
        assert int(result.iterations.sum()) > 0


@pytest.mark.parametrize("key", sorted(set(LOCAL_SEARCHES) - {"none"}))
def test_each_start_searches_as_if_alone(key):
    # The driver updates its full-width state under masks: a start's path must not depend on
    # which other starts run beside it, or when they stop (bit for bit).
    U = torch.rand(8, 1, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    U[2] = 0.0  # a start in a corner
    bounds = torch.stack([torch.zeros(4), torch.ones(4)]).double()

    def refine(starts):
        problem = Problem(CountingAcquisition(Negated(rosenbrock)), bounds, q=1)
        return LOCAL_SEARCHES[key]().refine(problem, starts)

    together = refine(U)
    for i in range(U.shape[0]):
        alone = refine(U[i:i + 1])
        assert torch.equal(alone.U[0], together.U[i]), i
        assert torch.equal(alone.values[0], together.values[i]), i
        assert int(alone.iterations[0]) == int(together.iterations[i]), i


@pytest.mark.parametrize("key", sorted(LOCAL_SEARCHES))
def test_later_starts_take_freed_rows_and_search_as_if_alone(key):
    # With a source of further starts, a batch of 3 rows searches 8 starts: each new start
    # begins in a row a finished start freed, in the same call as the others' trials, and
    # its path is what it would be alone (bit for bit); every start's result comes back.
    U = torch.rand(8, 1, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    bounds = torch.stack([torch.zeros(4), torch.ones(4)]).double()

    def problem():
        return Problem(CountingAcquisition(Negated(rosenbrock)), bounds, q=1)

    queue, asked = list(range(3, 8)), []

    def more(n):
        asked.append(n)
        take, queue[:] = queue[:n], queue[n:]
        return U[take] if take else None

    batch = problem()
    together = LOCAL_SEARCHES[key]().refine(batch, U[:3], more=more)
    assert together.U.shape[0] == 8 and not queue
    rows = [tuple(u.flatten().tolist()) for u in together.U]
    alone_calls = 0
    for i in range(8):
        single = problem()
        alone = LOCAL_SEARCHES[key]().refine(single, U[i:i + 1])
        alone_calls += single.counter.calls
        j = rows.index(tuple(alone.U[0].flatten().tolist()))
        assert torch.equal(alone.values[0], together.values[j]), i
        assert int(alone.iterations[0]) == int(together.iterations[j]), i
    if key != "none":  # never more rows than the batch has, and fewer calls than one by one
        assert max(asked) <= 3
        assert batch.counter.calls < alone_calls


@pytest.mark.parametrize("key", sorted(set(LOCAL_SEARCHES) - {"none"}))
@pytest.mark.parametrize("until", [1, 3])
def test_until_returns_before_the_slowest_starts(key, until):
    # With ``until``, the search returns once at most that many starts run: the finished
    # ones are exactly their searches alone (bit for bit), the ones still running are marked,
    # at least as good as their start, and fewer calls are spent than waiting for all.
    U = torch.rand(8, 1, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    bounds = torch.stack([torch.zeros(4), torch.ones(4)]).double()

    def refine(starts, **kwargs):
        problem = Problem(CountingAcquisition(Negated(rosenbrock)), bounds, q=1)
        return LOCAL_SEARCHES[key]().refine(problem, starts, **kwargs), problem.counter.calls

    (full, full_calls), (early, early_calls) = refine(U), refine(U, until=until)
    assert not full.running.any()
    assert int(early.running.sum()) <= until and early_calls <= full_calls
    if key == "lbfgs":  # its starts stop at different iterations here (Adam and Armijo's don't)
        assert len(set(full.iterations.tolist())) > 1
        assert early.running.any() and early_calls < full_calls
    for i in range(8):
        if early.running[i]:
            assert early.values[i] >= -rosenbrock(U[i, 0]) - 1e-12  # the unit cube is the box
            assert int(early.iterations[i]) < int(full.iterations[i])
        else:
            assert torch.equal(early.U[i], full.U[i])
            assert torch.equal(early.values[i], full.values[i])


@pytest.mark.parametrize("trailing", [0.25, 0.5])
def test_trailing_stops_the_starts_behind_the_leader(trailing):
    # Once at most ``trailing`` of the starts run, those below the best value reached stop and
    # only the leader runs on: the starts that ended before, and the leader, are their searches
    # alone (bit for bit); the stopped ones are marked ended, no worse than their starts and
    # below the leader; fewer calls are spent than waiting for all. (On Rosenbrock's valley
    # every start heads for the same minimum, and at 0.5 a stopped start would have ended
    # 6e-6 above the leader: the rule trades that for the calls.)
    U = torch.rand(8, 1, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    bounds = torch.stack([torch.zeros(4), torch.ones(4)]).double()

    def refine(local):
        problem = Problem(CountingAcquisition(Negated(rosenbrock)), bounds, q=1)
        return local.refine(problem, U), problem.counter.calls

    (full, full_calls) = refine(ProjectedLBFGS())
    (cut, cut_calls) = refine(ProjectedLBFGS(trailing=trailing))
    assert cut_calls < full_calls and not cut.running.any()
    same = (cut.iterations == full.iterations).nonzero().flatten().tolist()
    stopped = (cut.iterations < full.iterations).nonzero().flatten().tolist()
    assert stopped and len(same) + len(stopped) == 8
    assert len(stopped) <= int(trailing * 8)
    for i in same:  # ended before the trailing phase, or led it
        assert torch.equal(cut.U[i], full.U[i]) and torch.equal(cut.values[i], full.values[i]), i
    leader = int(cut.values.argmax())
    assert leader in same
    for i in stopped:
        assert -rosenbrock(U[i, 0]) - 1e-12 <= cut.values[i] < cut.values[leader]


def test_trailing_waits_for_the_later_starts():
    # With a source of further starts, nothing is stopped before the source runs out: every
    # start it hands out is searched (bit for bit as without ``trailing`` until then).
    U = torch.rand(8, 1, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    bounds = torch.stack([torch.zeros(4), torch.ones(4)]).double()

    def refine(local):
        queue = list(range(3, 8))

        def more(n):
            take, queue[:] = queue[:n], queue[n:]
            return U[take] if take else None

        problem = Problem(CountingAcquisition(Negated(rosenbrock)), bounds, q=1)
        return local.refine(problem, U[:3], more=more)

    full, cut = refine(ProjectedLBFGS()), refine(ProjectedLBFGS(trailing=0.5))
    assert cut.U.shape[0] == 8 and cut.values.max() == full.values.max()
    assert int((cut.iterations < full.iterations).sum()) <= 1  # only after the source ran out


@pytest.mark.parametrize("trailing", [-0.1, 1.0, True, "0.3", float("nan")])
def test_trailing_must_be_a_fraction(trailing):
    with pytest.raises(ValueError, match="trailing: expected a fraction in"):
        ProjectedLBFGS(trailing=trailing)


def test_lbfgs_iterations_grow_with_the_variables_searched(monkeypatch):
    """max_iter None: BoTorch's 200 up to 80 variables (q x d), 2.5 per variable beyond; an
    explicit max_iter (BoTorch's options={"maxiter": ...}) is kept; bad ones are refused."""
    import acqopt.local.searches as searches

    assert [searches.default_max_iter(v) for v in (1, 80, 81, 160)] == [200, 200, 203, 400]
    seen = []
    monkeypatch.setattr(searches, "descend", lambda *args, **kw: seen.append(args[5]))
    bounds = torch.stack([torch.zeros(20), torch.ones(20)]).double()
    for q, local in ((1, ProjectedLBFGS()), (8, ProjectedLBFGS()),
                     (8, ProjectedLBFGS(max_iter=7))):
        problem = Problem(CountingAcquisition(Negated(rosenbrock)), bounds, q=q)
        g = torch.Generator().manual_seed(0)
        local.refine(problem, torch.rand(2, q, 20, dtype=torch.float64, generator=g))
    assert seen == [200, 400, 7]
    with pytest.raises(ValueError, match="max_iter"):
        ProjectedLBFGS(max_iter=-1)
