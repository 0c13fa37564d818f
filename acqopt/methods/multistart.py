"""Repeated L-BFGS: the papers' baseline and a strong multi-start variant.

``"lbfgs-uniform"`` (the baseline of Faury et al. 2018 and Qiu et al. 2020) starts L-BFGS
from points drawn uniformly in the box, round after round while budget remains.

``"lbfgs"`` follows BoTorch's ``optimize_acqf``: score ``raw_samples`` quasi-random points,
pick ``num_restarts`` starts by Boltzmann sampling on the standardised values (always keeping
the best), and run the batched projected L-BFGS from each with its own state and stopping;
under a budget, the rows that finished starts free take further raw samples in the same batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from acqopt.base import BaseOptimizer, Ending, Status, positive_float, positive_int
from acqopt.counting import Problem
from acqopt.design import best_training_points, check_design, initial_points
from acqopt.local import mixed
from acqopt.local.base import LocalResult
from acqopt.local.searches import ProjectedLBFGS
from acqopt.outcomes import MultiStartInfo
from acqopt.registry import register

# Most rounds one batch of ``lbfgs`` runs side by side under a budget (4096 raw samples and
# 256 starts at the defaults); beyond it, rounds follow one another.
MAX_WIDTH = 16
# Once 30% of a batch's starts still run, those below the best value reached stop and the leader
# runs on (ProjectedLBFGS.trailing): the last starts' calls evaluate a point or two each, at the
# driver's fixed cost per call. On the scaling grid (12 points x 3 seeds, 10 x 512) this took
# 0-36% off a maximisation, most on sequential batches, with every best value unchanged to 4e-6.
TRAILING = 0.3


def boltzmann_starts(values: Tensor, n: int, eta: float, generator: torch.Generator) -> Tensor:
    """Indices of ``n`` starts drawn without replacement with weights ``exp(eta * z)``.

    ``z`` are the standardised finite values; the best point is always included (as in
    BoTorch's ``initialize_q_batch``).
    """
    finite = torch.isfinite(values)
    if int(finite.sum()) <= n:
        order = torch.argsort(torch.where(finite, values, -torch.inf), descending=True)
        return order[:n]
    weights = boltzmann_weights(values, eta)
    if int((weights > 0).sum()) < n:  # extreme values underflow: fall back to the top n
        weights[finite.cpu()] = weights[finite.cpu()].clamp_min(1e-300)
    idx = torch.multinomial(weights, n, replacement=False, generator=generator)
    best = int(torch.argmax(weights))
    if best not in idx.tolist():
        idx[-1] = best
    return idx.to(values.device)


def boltzmann_weights(values: Tensor, eta: float) -> Tensor:
    """``exp(eta * (z - max z))`` for the standardised finite values (float64 on the CPU),
    0 for the others."""
    finite = torch.isfinite(values).cpu()
    v = values.detach().cpu().double()[finite]
    z = (v - v.mean()) / v.std().clamp_min(1e-12) if v.numel() > 1 else torch.zeros_like(v)
    weights = torch.zeros(values.shape[0], dtype=torch.float64)
    weights[finite] = torch.exp(eta * (z - z.max())) if v.numel() else v
    return weights


class LaterStarts:
    """The raw samples not chosen as starts, handed out as rows of the batch free up.

    Their order is one Boltzmann draw of all of them (the weights BoTorch's rule draws the
    first starts with), so a start that ends early is followed, in the same batch, by the next
    start the rule would have chosen, rather than a round of extra starts waiting for the
    slowest start. Each start handed out is marked used (its value set to ``-inf``) in
    ``values``.

    Attributes:
        given: Starts handed out so far.
    """

    def __init__(self, U: Tensor, values: Tensor, chosen: Tensor, eta: float,
                 generator: torch.Generator) -> None:
        rest = values.clone()
        rest[chosen] = float("-inf")
        weights = boltzmann_weights(rest, eta)
        finite = torch.isfinite(rest).cpu()
        weights[finite] = weights[finite].clamp_min(1e-300)
        count = int(finite.sum())
        self.order = torch.multinomial(weights, count, replacement=False, generator=generator) \
            if count else torch.zeros(0, dtype=torch.long)
        self.order = self.order.to(values.device)
        self.U, self.values, self.given = U, values, 0

    def __call__(self, n: int) -> Tensor | None:
        take = self.order[self.given: self.given + n]
        if take.numel() == 0:
            return None
        self.given += take.numel()
        self.values[take] = float("-inf")
        return self.U[take]


def record_local_optima(problem: Problem, results: list[LocalResult]) -> None:
    """Stores where the local searches ended (in ``bounds``) and their values in ``info``."""
    if not results:
        return
    U = torch.cat([r.U for r in results])
    problem.info["local_optima"] = problem.to_bounds(U).detach()
    problem.info["local_values"] = torch.cat([r.values[: r.U.shape[0]] for r in results]).detach()
    problem.info["local_iterations"] = int(sum(int(r.iterations.sum()) for r in results))


NEAR_EQUAL = ("best", "far_from_data")


def choose_among_near_equal(problem: Problem,
                            tolerance: float) -> tuple[Tensor, Tensor] | None:
    """Returns, among the local optima within ``tolerance`` of the best value, the one farthest
    from the model's training inputs (largest distance to the nearest, in the unit cube), as
    ``(u, value)``; None when that is the best point evaluated, or there is no choice.

    Maximisers of EI often form ridges or clusters of equal value; which one a multi-start
    search returns is then decided by where its starts were, and near the incumbent it tends to
    propose near-duplicates of evaluated points. The returned value is within ``tolerance`` of
    the best found (``info.near_equal_chosen`` says whether another point was chosen).
    """
    optima, values = problem.info.get("local_optima"), problem.info.get("local_values")
    data = best_training_points(problem, None)
    if optima is None or data is None or problem.q != 1:
        return None
    U = problem.to_unit(optima).reshape(-1, problem.d).cpu().double()
    values = values.cpu().double()
    near = torch.isfinite(values) & (values >= problem.best_value.cpu().double() - tolerance)
    if int(near.sum()) < 2:
        return None
    spread = torch.cdist(U[near], data).amin(-1)
    i = int(near.nonzero().flatten()[int(spread.argmax())])
    chosen = U[i].to(problem.bounds).reshape(1, problem.d)
    if torch.equal(chosen, problem.best_u.reshape(1, problem.d)):
        return None
    return chosen, values[i].to(problem.bounds)


def refine_warm_starts(problem: Problem, local: ProjectedLBFGS) -> list[LocalResult]:
    """BoTorch's ``batch_initial_conditions`` as the first round's starts: ``[]`` or one result."""
    warm = problem.take_initial()
    if warm is None:
        return []
    return [mixed.refine(local, problem, warm[: problem.affordable(warm.shape[0])])]


@dataclass(frozen=True, kw_only=True)
class RepeatedLBFGS(BaseOptimizer):
    """Multi-start L-BFGS from Boltzmann-chosen raw samples, repeated while budget remains.

    Attributes:
        num_restarts: L-BFGS starts per round (BoTorch's ``num_restarts``).
        raw_samples: Candidates scored to choose the starts (BoTorch's ``raw_samples``).
        design: Where raw samples come from: "sobol", "uniform", "around_best" or "mix".
        eta: Boltzmann temperature on standardised values (BoTorch's default 1.0).
        rounds: Rounds when ``budget`` is None; with a budget, rounds go on while one fits,
            as many side by side in one batch as the budget is expected to pay for
            (:meth:`width`), and a start that ends frees its row for the next raw sample in
            Boltzmann order (:class:`LaterStarts`) while the budget lasts.
        queries_per_start: Expected queries of one L-BFGS start, for sizing the first batch
            under a budget (48: the median of an unbudgeted run over the 24 landscape
            snapshot/acquisition pairs); later batches use the measured cost.
        local: The batched projected L-BFGS component (its starts below the best stop once
            ``TRAILING`` of them still run).
        near_equal: Which maximiser to return: "best" (the highest value found) or
            "far_from_data" (among the local optima within ``near_equal_tol`` of the best, the
            one farthest from the training inputs; :func:`choose_among_near_equal`).
        near_equal_tol: The tolerance of "far_from_data", in acquisition units.
    """

    info_type = MultiStartInfo

    # Defaults measured on the landscape benchmark at budgets matched to BoTorch 10x512:
    # fewer raw samples, more starts and 20% of raw samples around the best training points
    # found BoTorch's value more often than 512 Sobol points and 10 starts (README).
    name: str = "lbfgs"
    num_restarts: int = 16
    raw_samples: int = 256
    design: str = "mix"
    eta: float = 1.0
    rounds: int = 1
    queries_per_start: int = 48
    local: ProjectedLBFGS = field(default_factory=lambda: ProjectedLBFGS(trailing=TRAILING))
    near_equal: str = "best"
    near_equal_tol: float = 1e-3

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.near_equal not in NEAR_EQUAL:
            raise ValueError(f"near_equal: expected one of {NEAR_EQUAL}, got {self.near_equal!r}")
        positive_float("near_equal_tol", self.near_equal_tol)
        positive_int("num_restarts", self.num_restarts)
        positive_int("raw_samples", self.raw_samples)
        positive_int("rounds", self.rounds)
        positive_int("queries_per_start", self.queries_per_start)
        check_design(self.design)
        positive_float("eta", self.eta)
        if self.raw_samples < self.num_restarts:
            raise ValueError(
                f"raw_samples: expected at least num_restarts={self.num_restarts}, "
                f"got {self.raw_samples}"
            )

    def min_budget(self, q: int, d: int) -> int:
        return self.raw_samples + self.num_restarts

    def width(self, remaining: int, per_start: float) -> int:
        """Rounds to run side by side in the next batch: as many as ``remaining`` queries are
        expected to pay for when a start costs ``per_start`` queries (at least 1; no more than
        can score their raw samples and evaluate their starts, nor than ``MAX_WIDTH``, so a huge
        budget cannot ask for a batch beyond memory), so a larger budget buys more starts in
        about the same number of calls rather than more calls."""
        expected = self.raw_samples + self.num_restarts * per_start
        return max(1, min(round(remaining / expected), MAX_WIDTH,
                          remaining // (self.raw_samples + self.num_restarts)))

    def _run(self, problem: Problem, generator: torch.Generator) -> Ending:
        budgeted = problem.remaining is not None
        rounds = extra = batches = 0
        U = values = None
        optima = refine_warm_starts(problem, self.local)
        rounds += len(optima)
        # With a budget, the first batch is sized by the expected cost of a start, the next
        # by the cost the last batch's starts had.
        # On a mixed domain a start's cost is unknown until one has alternated: one round first.
        width = self.width(problem.remaining, self.queries_per_start) \
            if budgeted and problem.grid is None else 1
        while (budgeted and problem.remaining >= width * self.min_budget(problem.q, problem.d)) \
                or (not budgeted and rounds < self.rounds):
            U = initial_points(self.design, problem, width * self.raw_samples, generator)
            values = problem.value(U)
            starts = boltzmann_starts(values, width * self.num_restarts, self.eta, generator)
            before = problem.counter.queries
            more = LaterStarts(U, values, starts, self.eta, generator) if budgeted else None
            optima.append(mixed.refine(self.local, problem, U[starts], values[starts], more=more))
            values[starts] = float("-inf")  # used
            rounds, batches = rounds + width, batches + 1
            if budgeted:
                extra += more.given
                spent = problem.counter.queries - before
                width = self.width(problem.remaining, spent / (len(starts) + more.given))
        # A budget too small for a new round still buys starts from the scored raw points.
        while budgeted and U is not None and problem.remaining > 0 and torch.isfinite(values).any():
            n = min(self.num_restarts, int(torch.isfinite(values).sum()), problem.remaining)
            starts = boltzmann_starts(values, n, self.eta, generator)
            optima.append(mixed.refine(self.local, problem, U[starts], values[starts]))
            values[starts] = float("-inf")
            extra += n
        record_local_optima(problem, optima)
        chosen = choose_among_near_equal(problem, self.near_equal_tol) \
            if self.near_equal == "far_from_data" else None
        problem.info.update(rounds=rounds, batches=batches, extra_starts=extra,
                            near_equal_chosen=chosen is not None)
        status = Status.BUDGET_EXHAUSTED if budgeted else Status.CONVERGED
        return Ending(status, f"{rounds} round(s) of {self.num_restarts} L-BFGS starts in "
                      f"{batches} batch(es) and {extra} extra start(s)", chosen)


@dataclass(frozen=True, kw_only=True)
class UniformLBFGS(BaseOptimizer):
    """Repeated L-BFGS from uniformly drawn starts: the papers' baseline.

    Attributes:
        num_restarts: Starts per round, refined as one batch.
        rounds: Rounds when ``budget`` is None; with a budget, rounds go on while one fits.
        local: The batched projected L-BFGS component.
    """

    info_type = MultiStartInfo

    name: str = "lbfgs-uniform"
    num_restarts: int = 10
    rounds: int = 1
    local: ProjectedLBFGS = field(default_factory=ProjectedLBFGS)

    def __post_init__(self) -> None:
        super().__post_init__()
        positive_int("num_restarts", self.num_restarts)
        positive_int("rounds", self.rounds)

    def min_budget(self, q: int, d: int) -> int:
        return 1

    def _run(self, problem: Problem, generator: torch.Generator) -> Ending:
        budgeted = problem.remaining is not None
        rounds = 0
        optima = refine_warm_starts(problem, self.local)
        rounds += len(optima)
        while (budgeted and problem.remaining > 0) or (not budgeted and rounds < self.rounds):
            n = problem.affordable(self.num_restarts)
            U = initial_points("uniform", problem, n, generator)
            optima.append(mixed.refine(self.local, problem, U))
            rounds += 1
        record_local_optima(problem, optima)
        problem.info.update(rounds=rounds)
        status = Status.BUDGET_EXHAUSTED if budgeted else Status.CONVERGED
        return Ending(status, f"{rounds} round(s) of {self.num_restarts} uniform starts")


register(RepeatedLBFGS())
register(UniformLBFGS())
