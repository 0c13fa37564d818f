"""Shared types of acqopt: the optimizer protocol, its result, and the driver every method uses."""

from __future__ import annotations

import dataclasses
import enum
import math
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, Union, runtime_checkable

import torch
from torch import Tensor

from acqopt.constraints import NonlinearConstraints, Polytope
from acqopt.domain import Grid, normalize_grid
from acqopt.outcomes import RunInfo
from acqopt.counting import (
    BudgetExhausted,
    CountingAcquisition,
    Counts,
    Problem,
    Stalled,
    TimeLimitReached,
)

GeneratorLike = Union[int, torch.Generator, None]


class Status(str, enum.Enum):
    """How a run ended."""

    CONVERGED = "converged"
    BUDGET_EXHAUSTED = "budget exhausted"
    TIMED_OUT = "timed out"
    INFEASIBLE = "infeasible"


@dataclass(frozen=True)
class Ending:
    """How a method's run ended (what :meth:`BaseOptimizer._run` returns).

    Attributes:
        status: How it ended.
        message: A human-readable account.
        chosen: The answer ``(u, value)`` (``q x d`` in the unit cube, its value) when the
            method chose it among the evaluated points by a rule other than the highest
            value; None returns the best point evaluated.
    """

    status: Status
    message: str
    chosen: tuple[Tensor, Tensor] | None = None


class InfeasibleCandidateWarning(UserWarning):
    """No candidate satisfying the nonlinear constraints was found: the least-violating one is
    returned (``OptimizeResult.status`` is "infeasible", ``info["violation"]`` its violation)."""


@dataclass(frozen=True)
class OptimizeResult:
    """What one run of an acquisition optimizer returns.

    Attributes:
        candidates: The best ``q x d`` candidate set found, inside ``bounds``.
        acq_value: Its acquisition value (a 0-dim tensor), always finite.
        counts: Queries, gradient queries and calls, as read off the shared counter.
        trace: An ``n x 2`` tensor: queries used, best value so far (one row per call).
        wall_time: Seconds spent in ``optimize``.
        status: How the run ended.
        message: A human-readable account of the ending.
        info: The method's outcome as data: for acqopt's methods its family's
            :class:`acqopt.outcomes.RunInfo` (the evaluator, the acquisition's seconds, the
            local searches' end points; restarts, generations, ...), also readable as a mapping.
    """

    candidates: Tensor
    acq_value: Tensor
    counts: Counts
    trace: Tensor
    wall_time: float
    status: Status
    message: str
    info: Mapping[str, Any] = field(default_factory=RunInfo)


@runtime_checkable
class AcquisitionOptimizer(Protocol):
    """Anything that maximises an acquisition function within a query budget."""

    def optimize(
        self,
        acq_function: torch.nn.Module,
        bounds: Tensor,
        *,
        q: int = 1,
        budget: int | None = None,
        generator: GeneratorLike = None,
        timeout_sec: float | None = None,
    ) -> OptimizeResult: ...


def as_generator(generator: GeneratorLike) -> torch.Generator:
    """Normalises ``generator`` to a CPU ``torch.Generator``.

    Random numbers are drawn on the CPU and moved to the target device, so a seed gives the same
    answer on every device. An int or a generator never touches the global RNG. ``None`` draws
    one seed from torch's global generator, as BoTorch's ``optimize_acqf`` draws its raw samples
    from it: ``torch.manual_seed(s)`` before a call reproduces the call.
    """
    check_generator(generator)
    if isinstance(generator, torch.Generator):
        return generator
    if generator is None:
        generator = int(torch.randint(0, 2**62, (1,)))
    return torch.Generator().manual_seed(generator)


def check_generator(generator: object) -> None:
    """Raises ``ValueError`` unless ``generator`` is an int seed, a CPU generator or None."""
    if isinstance(generator, torch.Generator):
        if generator.device.type != "cpu":
            raise ValueError("generator: expected a CPU torch.Generator, an int seed or None")
        return
    if generator is None:
        return
    if isinstance(generator, bool) or not isinstance(generator, int):
        raise ValueError(
            f"generator: expected an int seed, a torch.Generator or None, got {generator!r}"
        )
    if not 0 <= generator < 2**63:
        raise ValueError(f"generator: expected an int seed in [0, 2**63), got {generator}")


def derive_seed(generator: torch.Generator) -> int:
    """Draws a seed for a numpy or pycma generator from ``generator``."""
    return int(torch.randint(0, 2**31 - 1, (1,), generator=generator))


def distinct_best(U: Tensor, values: Tensor, k: int, min_dist: float) -> Tensor:
    """Indices of up to ``k`` best finite points, each ``min_dist`` from those before it.

    Greedy: take the best remaining point, drop every point within ``min_dist`` of it, repeat.
    """
    flat = U.reshape(U.shape[0], -1)
    order = torch.argsort(values, descending=True)
    remaining = order[torch.isfinite(values[order])]
    chosen = []
    while remaining.numel() > 0 and len(chosen) < k:
        best = remaining[0]
        chosen.append(int(best))
        remaining = remaining[(flat[remaining] - flat[best]).norm(dim=-1) >= min_dist]
    return torch.tensor(chosen, dtype=torch.long, device=U.device)


def check_bounds(bounds: object) -> Tensor:
    """Returns ``bounds`` if it is a finite floating ``2 x d`` tensor with lower < upper."""
    if not isinstance(bounds, Tensor):
        raise ValueError(f"bounds: expected a 2 x d tensor, got {type(bounds).__name__}")
    if bounds.dim() != 2 or bounds.shape[0] != 2 or bounds.shape[1] < 1:
        raise ValueError(f"bounds: expected a 2 x d tensor, got shape {tuple(bounds.shape)}")
    if bounds.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"bounds: expected float32 or float64, got {bounds.dtype}")
    if not torch.isfinite(bounds).all():
        raise ValueError("bounds: expected finite values, got inf or NaN")
    if not (bounds[0] < bounds[1]).all():
        bad = (bounds[0] >= bounds[1]).nonzero().flatten().tolist()
        raise ValueError(f"bounds: lower must be below upper in every column; not so in {bad}")
    return bounds


def is_analytic(acq_function: torch.nn.Module) -> bool:
    """True when ``acq_function`` (or what it wraps) only accepts ``q = 1``."""
    from botorch.acquisition.analytic import AnalyticAcquisitionFunction

    seen = 0
    while acq_function is not None and seen < 10:
        if isinstance(acq_function, AnalyticAcquisitionFunction):
            return True
        acq_function = getattr(acq_function, "acq_function", getattr(acq_function, "acq_func", None))
        seen += 1
    return False


def check_q(q: object, acq_function: torch.nn.Module) -> int:
    if isinstance(q, bool) or not isinstance(q, int) or q < 1:
        raise ValueError(f"q: expected an int >= 1, got {q!r}")
    if q > 1 and is_analytic(acq_function):
        raise ValueError(
            f"q: {type(acq_function).__name__} is analytic and takes q=1 only, got q={q}; "
            "use its Monte-Carlo version (e.g. qLogExpectedImprovement) for q > 1"
        )
    return q


def check_matches_acquisition(bounds: Tensor, acq_function: torch.nn.Module) -> None:
    """Raises ``ValueError`` if the acquisition's tensors have another dtype or device, or its
    model takes inputs of another dimension than ``bounds`` (when that can be read: training
    inputs and no input transform that changes the dimension)."""
    model = getattr(acq_function, "model", None)
    train = getattr(model, "train_inputs", None)
    transform = getattr(model, "input_transform", None)
    if (isinstance(train, tuple) and train and isinstance(train[0], Tensor)
            and (transform is None or type(transform).__name__ == "Normalize")
            and train[0].shape[-1] != bounds.shape[-1]):
        raise ValueError(
            f"bounds: {bounds.shape[-1]} columns, but the acquisition's model takes "
            f"d={train[0].shape[-1]} inputs; pass a 2 x {train[0].shape[-1]} tensor"
        )
    for t in _floating_tensors(acq_function):
        if t.dtype != bounds.dtype or t.device != bounds.device:
            raise ValueError(
                f"bounds: dtype {bounds.dtype} on {bounds.device} differs from the acquisition "
                f"function's {t.dtype} on {t.device}; pass bounds of the model's dtype and device"
            )
        return


def _floating_tensors(module: torch.nn.Module):
    if not isinstance(module, torch.nn.Module):
        return
    for t in module.parameters():
        if t.is_floating_point():
            yield t
    for t in module.buffers():
        if t.is_floating_point():
            yield t


def positive_int(name: str, value: object, minimum: int = 1) -> None:
    """Raises ``ValueError`` unless ``value`` is an int >= ``minimum`` (for config fields)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")


def positive_float(name: str, value: object, *, upper: float | None = None) -> None:
    """Raises ``ValueError`` unless ``value`` is a finite real number > 0 (and < ``upper``)."""
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0
            or not math.isfinite(value)):
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    if upper is not None and not value < upper:
        raise ValueError(f"{name}: expected a number in (0, {upper}), got {value!r}")


@dataclass(frozen=True, kw_only=True)
class BaseOptimizer:
    """The shared driver: validation, the counter, the unit cube, and the result.

    A method is a frozen dataclass whose fields are its hyperparameters. It implements
    :meth:`_run`, which searches ``problem`` (evaluating only through it), puts its family's
    outcome fields in ``problem.info`` and returns how it ended (an :class:`Ending`); its
    ``info_type`` (:mod:`acqopt.outcomes`) is built from them. Everything else is here. The
    registry holds configured instances, so a preset is an instance of a method with other
    field values under its own ``name``.

    Attributes:
        name: The name the instance is registered (or reported) under.
        default_budget_queries: The budget used when ``budget=None``; None for methods that stop
            by their own rules (as BoTorch's L-BFGS does).
        fast: Evaluate supported analytic acquisitions through their closed-form posterior
            (:mod:`acqopt.closed_form`, checked against BoTorch on the first call);
            ``info["evaluator"]`` says which evaluator answered (and, above
            ``gpytorch.settings.max_cholesky_size`` training points, where the closed form was
            checked against BoTorch's exact answer, ``info["approximation_error"]`` the largest
            relative error of BoTorch's default, iterative answer at the check).
        patience: The stall stop every method shares: the run ends (status "converged") once
            the best value has not risen by more than a relative 1e-9 for
            ``max(patience, k)`` queries, ``k`` the queries spent when it last did; None turns
            it off. At the default budgets it never fires; it ends runs given huge budgets.
    """

    # The type of OptimizeResult.info, built from what _run put in Problem.info.
    info_type: ClassVar[type[RunInfo]] = RunInfo

    name: str = "base"
    default_budget_queries: int | None = None
    fast: bool = True
    patience: int | None = 10_000

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name: expected a non-empty str, got {self.name!r}")
        for f in dataclasses.fields(self):  # booleans must be bools ("False" is truthy)
            value = getattr(self, f.name)
            if f.type in ("bool", bool) and not isinstance(value, bool):
                raise ValueError(f"{f.name}: expected True or False, got {value!r}")
        local = getattr(self, "local", None)
        if "local" in {f.name for f in dataclasses.fields(self)} and not hasattr(local, "refine"):
            raise ValueError(
                f"local: expected a local search such as acqopt.local.ProjectedLBFGS() (see "
                f"acqopt.local.LOCAL_SEARCHES), got {local!r}"
            )
        if self.default_budget_queries is not None:
            positive_int("default_budget_queries", self.default_budget_queries)
        if self.patience is not None:
            positive_int("patience", self.patience)

    def default_budget(self, q: int, d: int) -> int | None:
        """The budget used when ``budget=None``; None means the method's own stopping rules."""
        return self.default_budget_queries

    def min_budget(self, q: int, d: int) -> int:
        """The fewest queries the method can run with."""
        return 1

    def optimize(
        self,
        acq_function: torch.nn.Module,
        bounds: Tensor,
        *,
        q: int = 1,
        budget: int | None = None,
        generator: GeneratorLike = None,
        timeout_sec: float | None = None,
        inequality_constraints: list | None = None,
        equality_constraints: list | None = None,
        batch_initial_conditions: Tensor | None = None,
        num_best: int = 0,
        discrete_dims: Mapping[int, list[float]] | None = None,
        cat_dims: Mapping[int, list[float]] | None = None,
        nonlinear_inequality_constraints: list | None = None,
    ) -> OptimizeResult:
        """Maximises ``acq_function`` over ``bounds``.

        Args:
            acq_function: Called on ``b x q x d`` tensors, returns ``b`` values.
            bounds: A ``2 x d`` tensor; the result has its device and dtype.
            q: The number of candidates chosen jointly.
            budget: The most acquisition queries to spend; None for the method's default.
            generator: An int seed, a CPU ``torch.Generator``, or None.
            timeout_sec: Stop (with status "timed out") once this many seconds have passed.
            inequality_constraints, equality_constraints: Linear constraints in BoTorch's
                ``[(indices, coefficients, rhs)]`` form (intra-point); every evaluated and
                returned candidate satisfies them (:mod:`acqopt.constraints`).
            batch_initial_conditions: ``b x q x d`` warm starts inside ``bounds``: the
                starts of the first round (repeated L-BFGS), among the raw samples that choose
                the first mean (CMA-ES, the ES family), or evaluated first (GENNES).
            num_best: When > 0, ``info["best_points"]`` (``num_best x q x d``) and
                ``info["best_values"]`` hold BoTorch's ``return_best_only=False`` rows, best
                first (see ``_best_points``): the end points of restart methods, else the
                best distinct candidates evaluated.
            discrete_dims, cat_dims: Mixed spaces, as BoTorch 0.18 writes them:
                ``{column: allowed values}`` for ordered (integer, ordinal) and categorical
                columns (:mod:`acqopt.domain`). Every evaluated and returned candidate takes
                allowed values there; each method searches them as its docstring says.
            nonlinear_inequality_constraints: BoTorch's ``[(callable, True)]``,
                ``callable(x) >= 0`` for each of the ``q`` points (intra-point; inter-point
                ones are a ``ValueError``). No feasible start is needed: every candidate is
                restored onto the constraints before it is evaluated
                (:class:`acqopt.constraints.NonlinearConstraints`) and every returned one
                satisfies them to 1e-6; if none was found, the least-violating candidate is
                returned with status "infeasible", ``info["violation"]`` and an
                :class:`InfeasibleCandidateWarning`.

        Returns:
            An :class:`OptimizeResult` with the best candidate set ever evaluated.
        """
        start = time.perf_counter()
        bounds = check_bounds(bounds)
        q = check_q(q, acq_function)
        check_matches_acquisition(bounds, acq_function)
        check_generator(generator)
        d = bounds.shape[-1]
        if budget is None:
            budget = self.default_budget(q, d)
        elif isinstance(budget, bool) or not isinstance(budget, int):
            raise ValueError(f"budget: expected an int number of queries or None, got {budget!r}")
        if budget is not None and budget < self.min_budget(q, d):
            raise ValueError(
                f"budget: method {self.name!r} needs at least {self.min_budget(q, d)} queries "
                f"with this configuration, got {budget}"
            )
        if timeout_sec is not None and (isinstance(timeout_sec, bool)
                                        or not isinstance(timeout_sec, (int, float))
                                        or not timeout_sec > 0):
            raise ValueError(f"timeout_sec: expected a number > 0 or None, got {timeout_sec!r}")
        polytope = Polytope(bounds, inequality_constraints, equality_constraints)
        grid = Grid(bounds, *normalize_grid(discrete_dims, cat_dims, bounds))
        check_constraints_off_grid(polytope, grid)
        nonlinear = NonlinearConstraints(nonlinear_inequality_constraints, bounds,
                                         frozen=grid.mask if grid else None)
        initial = check_initial_conditions(batch_initial_conditions, bounds, q)
        gen = as_generator(generator)  # last: None draws from the global RNG
        counter = CountingAcquisition(acq_function, budget=budget, timeout_sec=timeout_sec,
                                      fast=self.fast)
        problem = Problem(counter, bounds, q, polytope=polytope, initial=initial,
                          patience=self.patience, grid=grid, nonlinear=nonlinear)
        if initial is not None and (polytope or grid or nonlinear):
            problem.initial = problem.feasible(initial)
        seen: list[tuple[Tensor, Tensor]] = []
        record = (lambda U, v: seen.append((U.detach(), v.detach()))) if num_best > 0 else None
        try:
            with problem.observing(record):
                ending = self._run(problem, gen)
        except BudgetExhausted as e:
            if e.counter is not counter:  # raised inside the acquisition: not our budget
                raise
            ending = Ending(Status.BUDGET_EXHAUSTED, "the budget was spent")
        except TimeLimitReached:
            ending = Ending(Status.TIMED_OUT, f"stopped after {timeout_sec} s")
        except Stalled as e:
            ending = Ending(Status.CONVERGED, f"stalled: {e}")
        if problem.best_u is None and ending.status == Status.TIMED_OUT:
            raise TimeoutError(
                f"timeout_sec={timeout_sec} passed before the first acquisition call; "
                "give the method more time"
            )
        if ((problem.best_u is None or not torch.isfinite(problem.best_value))
                and problem.least_violating_u is not None
                and torch.isfinite(problem.least_violating_value)):
            return self._infeasible(problem, counter, start, num_best)
        if problem.best_u is None or not torch.isfinite(problem.best_value):
            raise RuntimeError(
                f"method {self.name!r} found no candidate with a finite acquisition value in "
                f"{counter.queries} queries; check that the acquisition function is finite "
                "somewhere inside bounds"
            )
        u, value = ending.chosen or (problem.best_u, problem.best_value)
        candidates = problem.to_bounds(u).clamp(bounds[0], bounds[1])
        if num_best > 0:
            _best_points(problem, seen, num_best, (u, value))
        return OptimizeResult(
            candidates=candidates.detach(),
            acq_value=value.detach(),
            counts=counter.counts,
            trace=torch.tensor(problem.trace, dtype=torch.float64).reshape(-1, 2),
            wall_time=time.perf_counter() - start,
            status=ending.status,
            message=ending.message,
            info=self.info_type(**problem.info, evaluator=counter.evaluator,
                                acq_seconds=counter.seconds,
                                approximation_error=counter.approximation_error),
        )

    def _run(self, problem: Problem, generator: torch.Generator) -> Ending:
        raise NotImplementedError

    def _infeasible(self, problem: Problem, counter: CountingAcquisition, start: float,
                    num_best: int) -> OptimizeResult:
        """The result when no candidate met the nonlinear constraints: the least-violating one,
        with a warning."""
        message = (
            f"nonlinear_inequality_constraints: no feasible candidate found in "
            f"{counter.queries} queries; returning the least-violating one (largest "
            f"violation {problem.least_violation:.3g})"
        )
        warnings.warn(message, InfeasibleCandidateWarning, stacklevel=3)
        candidates = problem.to_bounds(problem.least_violating_u).clamp(problem.bounds[0],
                                                                        problem.bounds[1])
        value = problem.least_violating_value.detach()
        rows = {} if num_best <= 0 else {"best_points": candidates.expand(num_best, -1, -1),
                                         "best_values": value.expand(num_best)}
        return OptimizeResult(
            candidates=candidates.detach(),
            acq_value=value,
            counts=counter.counts,
            trace=torch.tensor(problem.trace, dtype=torch.float64).reshape(-1, 2),
            wall_time=time.perf_counter() - start,
            status=Status.INFEASIBLE,
            message=message,
            info=self.info_type(**{**problem.info, **rows}, evaluator=counter.evaluator,
                                acq_seconds=counter.seconds,
                                approximation_error=counter.approximation_error,
                                violation=problem.least_violation),
        )

    def botorch_setting(self, num_restarts: int | None, raw_samples: int | None) -> dict:
        """Config fields for BoTorch's ``num_restarts`` and ``raw_samples`` (None: not given).

        The default maps them onto fields of the same name where the method has them; methods
        override it where another field is the closest meaning (README, "BoTorch's arguments").
        """
        names = {f.name for f in dataclasses.fields(self)} - {"name"}
        return {k: v for k, v in (("num_restarts", num_restarts), ("raw_samples", raw_samples))
                if v is not None and k in names}

    def config(self) -> dict:
        """The method's hyperparameters as a plain dict (for benchmark records)."""
        fields = dataclasses.asdict(self)
        del fields["name"]
        return {"method": self.name, **fields}

    def converges(self) -> bool:
        """True when the method stops by itself without a budget (as BoTorch's L-BFGS does)."""
        return self.default_budget(1, 1) is None


# BoTorch's optimize_acqf spends this many queries per restart (median over 144 landscape runs at
# 10x512 and 20x1024, benchmarks/results/landscapes-full.jsonl; IQR 23-65). A budget-driven method
# called with num_restarts and raw_samples and no budget gets raw_samples + this * num_restarts.
QUERIES_PER_RESTART = 50


def check_constraints_off_grid(polytope: Polytope, grid: Grid) -> None:
    """Raises ``ValueError`` if a linear constraint involves a grid column (rounding a column a
    constraint involves could leave the constraint; such spaces are not supported)."""
    if not (polytope and grid):
        return
    for kind, a, _ in polytope.rows:
        on_grid = (a.abs() > 0) & grid.mask.to(a.device)
        if bool(on_grid.any()):
            name = "inequality_constraints" if kind == "ineq" else "equality_constraints"
            raise ValueError(
                f"{name}: a constraint involves the integer/categorical column(s) "
                f"{on_grid.nonzero().flatten().tolist()}; acqopt supports linear constraints "
                "on continuous columns only in mixed spaces"
            )


def check_initial_conditions(X: object, bounds: Tensor, q: int) -> Tensor | None:
    """``batch_initial_conditions`` (``b x q x d`` inside ``bounds``) in the unit cube, or None."""
    if X is None:
        return None
    d = bounds.shape[-1]
    if not isinstance(X, Tensor) or X.dim() != 3 or X.shape[1:] != (q, d) or X.shape[0] < 1:
        shape = tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__
        raise ValueError(f"batch_initial_conditions: expected a b x {q} x {d} tensor, got {shape}")
    X = X.detach().to(bounds)
    if not torch.isfinite(X).all():
        raise ValueError("batch_initial_conditions: expected finite values")
    U = (X - bounds[0]) / (bounds[1] - bounds[0])
    if bool(((U < -1e-9) | (U > 1 + 1e-9)).any()):
        raise ValueError("batch_initial_conditions: every point must lie inside bounds")
    return U.clamp(0.0, 1.0)


def _best_points(problem: Problem, seen: list[tuple[Tensor, Tensor]], k: int,
                 answer: tuple[Tensor, Tensor]) -> None:
    """Fills ``info["best_points"]``/``["best_values"]`` with exactly ``k`` rows, best first,
    as BoTorch's ``return_best_only=False`` returns one row per restart: the local searches'
    end points (repeats kept, as two restarts may end at one optimum), then, if there were
    fewer than ``k`` of them (or none: population methods), the best distinct evaluated points
    not yet taken, then the best row repeated (budgets too small for ``k`` points). A row at
    the ``answer``'s point carries the answer's value: a point evaluated twice, in batches of
    other sizes, may differ in the last bits."""
    rows: list[tuple[Tensor, Tensor]] = []
    optima, values = problem.info.get("local_optima"), problem.info.get("local_values")
    if optima is not None and values.numel() > 0:
        finite = torch.isfinite(values)
        U, v = problem.to_unit(optima)[finite], values[finite]
        order = torch.argsort(v, descending=True, stable=True)[:k]
        rows.append((U[order], v[order]))
    taken = sum(v.shape[0] for _, v in rows)
    if taken < k and seen:
        U = torch.cat([u for u, _ in seen])
        v = torch.cat([w for _, w in seen])
        idx = distinct_best(U, v, k, 1e-6)
        U, v = U[idx], v[idx]
        if taken:
            chosen = rows[0][0].reshape(taken, -1)
            new = torch.cdist(U.reshape(U.shape[0], -1), chosen).min(dim=-1).values >= 1e-6
            U, v = U[new], v[new]
        rows.append((U[: k - taken], v[: k - taken]))
    if not rows or sum(v.shape[0] for _, v in rows) == 0:
        return
    U = torch.cat([u for u, _ in rows])
    v = torch.cat([w for _, w in rows])
    at_answer = (U == answer[0]).flatten(1).all(-1)
    v = torch.where(at_answer, answer[1].to(v), v)
    order = torch.argsort(v, descending=True, stable=True)
    U, v = U[order], v[order]
    if U.shape[0] < k:  # the best row repeated, right after itself
        repeat = torch.ones(U.shape[0], dtype=torch.long, device=U.device)
        repeat[0] += k - U.shape[0]
        U, v = U.repeat_interleave(repeat, dim=0), v.repeat_interleave(repeat)
    problem.info["best_points"] = problem.to_bounds(U).clamp(problem.bounds[0],
                                                             problem.bounds[1])
    problem.info["best_values"] = v
