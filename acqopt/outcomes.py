"""What a run reports beside its answer: ``OptimizeResult.info``, one type per method family.

Every family's type extends :class:`RunInfo`, the common core (the evaluator that answered, the
acquisition's share of the time, the local searches' end points, BoTorch's
``return_best_only=False`` rows, the violation of an infeasible answer). The fields are
attributes (``result.info.evaluator``); for code written against the earlier dictionaries a
type is also a read-only mapping of the fields that are set (``result.info["evaluator"]``,
``"violation" in result.info``, ``result.info.get("local_optima")``).

A method fills its family's fields during the run (``Problem.info``, a dictionary) and
``BaseOptimizer.optimize`` builds the type from them, so a misspelt field is a ``TypeError`` at
once rather than a key that drifts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

from torch import Tensor


@dataclass(frozen=True, kw_only=True, eq=False)
class RunInfo(Mapping):
    """The outcome every method reports.

    Attributes:
        evaluator: What answered the acquisition's queries: "closed-form", "botorch", or
            "botorch (the closed form disagreed)" (:mod:`acqopt.closed_form`); None (unset)
            only in an info made by hand.
        acq_seconds: Seconds spent evaluating the acquisition (forward and backward passes);
            the rest of ``OptimizeResult.wall_time`` is the method's own work.
        approximation_error: Above GPyTorch's ``max_cholesky_size`` with fast computations
            on, the largest relative error of BoTorch's approximate answer at the check (the
            closed form answered exactly); None otherwise.
        violation: The largest constraint violation of an infeasible answer (status
            "infeasible"); None when the answer is feasible.
        local_optima: Where the local searches ended (``k x q x d``, in ``bounds``), for the
            methods that run them as restarts; None otherwise.
        local_values: Their acquisition values (``k``).
        local_iterations: Iterations of the local searches, summed.
        best_points: BoTorch's ``return_best_only=False`` rows (``num_best x q x d``, best
            first) when ``num_best > 0`` was asked for.
        best_values: Their values.
    """

    evaluator: str | None = None
    acq_seconds: float | None = None
    approximation_error: float | None = None
    violation: float | None = None
    local_optima: Tensor | None = None
    local_values: Tensor | None = None
    local_iterations: int | None = None
    best_points: Tensor | None = None
    best_values: Tensor | None = None

    def __getitem__(self, key: str) -> Any:
        value = getattr(self, key, None) if key in self._names() else None
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._names() if getattr(self, name) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    @classmethod
    def _names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True, kw_only=True, eq=False)
class MultiStartInfo(RunInfo):
    """Multi-start L-BFGS (``lbfgs`` and its presets, ``lbfgs-uniform``).

    Attributes:
        rounds: Rounds of ``num_restarts`` starts (warm starts count as one).
        batches: Batches the rounds ran in (rounds side by side share one; ``lbfgs`` only).
        extra_starts: Starts beyond the rounds' own, taken from their scored raw samples
            while budget remained (``lbfgs`` only).
        near_equal_chosen: Whether ``near_equal="far_from_data"`` returned another local
            optimum than the best-valued one.
    """

    rounds: int = 0
    batches: int | None = None
    extra_starts: int | None = None
    near_equal_chosen: bool = False


@dataclass(frozen=True, kw_only=True, eq=False)
class CMAESInfo(RunInfo):
    """CMA-ES and its gradient-refined variants (``cma``, ``cma-lbfgs``, ...).

    Attributes:
        generations: Generations over all restarts.
        restarts: IPOP restarts after the first run.
        final_popsize: The last run's population size.
        final_sigma: The last run's global step size.
    """

    generations: int = 0
    restarts: int = 0
    final_popsize: int = 0
    final_sigma: float = float("nan")


@dataclass(frozen=True, kw_only=True, eq=False)
class SearchDistributionInfo(RunInfo):
    """Methods that move a factorised search distribution (``snes``, ``es-grad``, ``vo``).

    Attributes:
        generations: Generations of the evolution strategy (``snes``); None for the others.
        restarts: Its restarts (``snes``); None for the others.
        steps: Gradient steps on the distribution (``es-grad``, ``vo``); None for ``snes``.
        final_sigma: The largest coordinate's standard deviation at the end (``snes``,
            ``vo``); None for ``es-grad``, whose sigma is fixed.
    """

    generations: int | None = None
    restarts: int | None = None
    steps: int | None = None
    final_sigma: float | None = None


@dataclass(frozen=True, kw_only=True, eq=False)
class GeneratorInfo(RunInfo):
    """Methods that train a generator or a surrogate of the acquisition (``gennes``,
    ``gennes-polish``, ``lgso``).

    Attributes:
        steps: Training steps.
        polish_starts: Points the L-BFGS polish started from (``gennes-polish``); None for
            the others.
    """

    steps: int = 0
    polish_starts: int | None = None
