"""``AcqoptSampler``: an Optuna sampler of acqopt's own (no optuna-integration needed)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import optuna
import torch
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState
from torch import Tensor

from acqopt.api import get_optimizer, optimize_acqf, optimize_acqf_mixed_alternating

try:  # Optuna 3.x-5.x keep a trial's constraint values under this system attribute
    from optuna.samplers._base import _CONSTRAINTS_KEY, _process_constraints_after_trial
except ImportError:  # pragma: no cover - a later Optuna moved them
    _CONSTRAINTS_KEY, _process_constraints_after_trial = "constraints", None


class _Column:
    """One parameter as one column of the box the GP sees: a real in ``[0, 1]`` (log scale
    for log distributions), the allowed values of an integer or stepped real as that column's
    grid, a categorical as the index of its choice (a ``cat_dims`` column)."""

    def __init__(self, name: str, distribution: BaseDistribution) -> None:
        self.name, self.distribution = name, distribution
        self.categorical = isinstance(distribution, CategoricalDistribution)
        self.values: list[float] | None = None  # grid values in box coordinates
        if self.categorical:
            self.upper = float(len(distribution.choices) - 1)
            self.values = [float(i) for i in range(len(distribution.choices))]
            return
        self.upper = 1.0
        low, high, step = distribution.low, distribution.high, distribution.step
        self.log = distribution.log
        self.low, self.high = (math.log(low), math.log(high)) if self.log else (low, high)
        if isinstance(distribution, IntDistribution) or step is not None:
            step = step or 1
            count = int(round((high - low) / step)) + 1
            self.values = sorted({self.encode(low + k * step) for k in range(count)})

    def encode(self, value: Any) -> float:
        if self.categorical:
            return float(self.distribution.choices.index(value))
        x = math.log(value) if self.log else float(value)
        return (x - self.low) / (self.high - self.low)

    def decode(self, u: float) -> Any:
        if self.categorical:
            return self.distribution.choices[int(round(u))]
        if self.values is not None:  # the nearest allowed value
            u = min(self.values, key=lambda v: abs(v - u))
        x = self.low + min(max(u, 0.0), 1.0) * (self.high - self.low)
        x = math.exp(x) if self.log else x
        d = self.distribution
        if isinstance(d, IntDistribution):
            return int(min(max(round((x - d.low) / d.step) * d.step + d.low, d.low), d.high))
        if d.step is not None:
            k = round((x - d.low) / d.step)
            return float(min(max(d.low + k * d.step, d.low), d.high))
        return float(min(max(x, d.low), d.high))


class AcqoptSampler(BaseSampler):
    """Bayesian optimisation for Optuna studies with an acqopt method as the maximiser.

    A relative sampler, as Optuna's ``GPSampler``: the parameters every finished trial has
    (Optuna's intersection search space) are modelled jointly; a parameter outside it is
    drawn by ``independent_sampler`` (with a warning once past the startup trials, as Optuna's
    GP samplers do). The model is BoTorch's default: ``SingleTaskGP`` (its dimension-scaled
    lengthscale prior), or ``MixedSingleTaskGP`` when there are categorical parameters
    (categories compared only for equality), one per objective and per constraint, its
    hyperparameters warm-started from the previous trial's fit. Integers, stepped floats and categoricals are
    searched natively on their grid (``discrete_dims``/``cat_dims``), log distributions on a
    log scale. The acquisition:

    - one objective: LogEI; with running trials (pending points) qLogEI with them as
      ``X_pending``; with constraints (``constraints_func``, or ``trial.set_constraint`` in
      Optuna 5), qLogEI whose samples are weighted by their feasibility (BoTorch's
      constraint handling; feasible means every constraint value <= 0, as in Optuna);
    - two or more objectives: qLogNEHVI (Daulton et al. 2021) with the reference point BoTorch
      infers from the observed Pareto front, running trials pending, constraints as above.

    Args:
        method: The acqopt method that maximises the acquisition (a registered name).
        seed: Seeds the independent sampler, the model fits and the maximiser; a study run
            twice with the same seed proposes the same trials.
        n_startup_trials: Finished trials drawn by ``independent_sampler`` before the model
            is used.
        independent_sampler: For the startup trials and for parameters outside the relative
            search space; ``RandomSampler(seed)`` if None.
        constraints_func: ``trial -> sequence of floats``, each <= 0 when satisfied (Optuna's
            convention); stored after each trial as Optuna's samplers do.
        budget: Acquisition queries per suggestion; None for the method's default.
        warn_independent_sampling: Warn when a parameter is drawn by ``independent_sampler``
            after the startup trials.
        **method_options: Fields of the method's config.
    """

    def __init__(self, *, method: str = "lbfgs", seed: int | None = None,
                 n_startup_trials: int = 10, independent_sampler: BaseSampler | None = None,
                 constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
                 budget: int | None = None, warn_independent_sampling: bool = True,
                 **method_options: Any) -> None:
        if isinstance(n_startup_trials, bool) or not isinstance(n_startup_trials, int) or \
                n_startup_trials < 1:
            raise ValueError(f"n_startup_trials: expected an int >= 1, got {n_startup_trials!r}")
        if constraints_func is not None and not callable(constraints_func):
            raise ValueError("constraints_func: expected a callable trial -> sequence of floats")
        self._optimizer = get_optimizer(method, **method_options)  # bad names fail here
        self._method, self._budget = method, budget
        self._rng = np.random.RandomState(seed)
        self._independent_sampler = independent_sampler or optuna.samplers.RandomSampler(seed)
        self._n_startup_trials = n_startup_trials
        self._constraints_func = constraints_func
        self._warn_independent_sampling = warn_independent_sampling
        self._search_space = optuna.search_space.IntersectionSearchSpace()
        self._models: dict[tuple, list] = {}  # the last fits, where the next ones start

    def reseed_rng(self) -> None:
        self._rng.seed()
        self._independent_sampler.reseed_rng()

    def infer_relative_search_space(self, study: Study,
                                    trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {name: d for name, d in self._search_space.calculate(study).items()
                if not d.single()}

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:
            return {}
        trials = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE,
                                                           TrialState.RUNNING))
        done = [t for t in trials if t.state == TrialState.COMPLETE
                and search_space.keys() <= t.params.keys()]
        if len(done) < self._n_startup_trials:
            return {}
        running = [t for t in trials if t.state == TrialState.RUNNING
                   and t.number != trial.number and search_space.keys() <= t.params.keys()]
        seed = int(self._rng.randint(0, 2**31 - 1))
        with torch.random.fork_rng():  # model fits must not move the global RNG
            torch.manual_seed(seed)
            return self._propose(study, search_space, done, running, seed)

    def _propose(self, study, search_space, done, running, seed) -> dict[str, Any]:
        columns = [_Column(name, d) for name, d in sorted(search_space.items())]
        encode = lambda t: [c.encode(t.params[c.name]) for c in columns]  # noqa: E731
        X = torch.tensor([encode(t) for t in done], dtype=torch.float64)
        signs = [1.0 if d == StudyDirection.MAXIMIZE else -1.0 for d in study.directions]
        Y = torch.tensor([[s * v for s, v in zip(signs, t.values)] for t in done],
                         dtype=torch.float64)
        constraints = self._constraint_values(done)
        bounds = torch.tensor([[0.0] * len(columns), [c.upper for c in columns]],
                              dtype=torch.float64)
        cat_dims = [j for j, c in enumerate(columns) if c.categorical]
        outputs = [Y[:, i:i + 1] for i in range(Y.shape[1])]
        if constraints is not None:
            outputs += [constraints[:, j:j + 1] for j in range(constraints.shape[1])]
        key = (tuple((c.name, type(c.distribution).__name__) for c in columns), len(outputs))
        previous = self._models.get(key, [None] * len(outputs))
        models = []
        for y, warm in zip(outputs, previous):
            finite = torch.isfinite(y).reshape(-1)
            models.append(_fit(X[finite], y[finite], bounds, cat_dims, warm))
        self._models[key] = models
        pending = torch.tensor([encode(t) for t in running], dtype=torch.float64) \
            if running else None
        acq = _acquisition(models, Y, constraints, X, pending)
        discrete = {j: c.values for j, c in enumerate(columns)
                    if c.values is not None and not c.categorical}
        categorical = {j: c.values for j, c in enumerate(columns) if c.categorical}
        if discrete or categorical:
            x, _ = optimize_acqf_mixed_alternating(
                acq, bounds, discrete_dims=discrete or None, cat_dims=categorical or None,
                method=self._method, budget=self._budget, generator=seed)
        else:
            x, _ = optimize_acqf(acq, bounds, 1, method=self._method, budget=self._budget,
                                 generator=seed)
        x = x.reshape(-1).tolist()
        return {c.name: c.decode(u) for c, u in zip(columns, x)}

    def _constraint_values(self, trials: list[FrozenTrial]) -> Tensor | None:
        values = [t.system_attrs.get(_CONSTRAINTS_KEY) for t in trials]
        if all(v is None for v in values):
            return None
        if any(v is None for v in values) or len({len(v) for v in values}) != 1:
            raise ValueError("constraints_func: every finished trial needs the same number of "
                             "constraint values")
        return torch.tensor(values, dtype=torch.float64)

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        if self._warn_independent_sampling:
            finished = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if len(finished) >= self._n_startup_trials:
                warnings.warn(
                    f"AcqoptSampler: parameter {param_name!r} of trial {trial.number} is "
                    "outside the relative search space (a dynamic search space); it is drawn "
                    f"by {type(self._independent_sampler).__name__}", stacklevel=2)
        return self._independent_sampler.sample_independent(study, trial, param_name,
                                                            param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._independent_sampler.before_trial(study, trial)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        if self._constraints_func is not None:
            if _process_constraints_after_trial is None:  # pragma: no cover
                raise RuntimeError("constraints_func: this Optuna version keeps constraints "
                                   "where AcqoptSampler cannot store them")
            _process_constraints_after_trial(self._constraints_func, study, trial, state)
        self._independent_sampler.after_trial(study, trial, state, values)


def _fit(X: Tensor, y: Tensor, bounds: Tensor, cat_dims: list[int], warm):
    """BoTorch's default model: ``SingleTaskGP`` with its dimension-scaled lengthscale prior
    (Hvarfner et al. 2024), or ``MixedSingleTaskGP``; warm-started from ``warm`` when it has
    the same structure. (acqopt's own ``fit_gp`` has no lengthscale prior: with a few points,
    all infeasible, on the constrained Hartmann-6 study it ended at -0.06 where this model
    reached -2.43, seed 0.)"""
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import MixedSingleTaskGP, SingleTaskGP
    from botorch.models.transforms import Normalize, Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from acqopt.bo.model import _copy_hyperparameters

    normalize = Normalize(X.shape[-1], bounds=bounds)
    if cat_dims:
        model = MixedSingleTaskGP(X, y, cat_dims=cat_dims, input_transform=normalize,
                                  outcome_transform=Standardize(m=1))
    else:
        model = SingleTaskGP(X, y, input_transform=normalize, outcome_transform=Standardize(m=1))
    if warm is not None:
        try:
            _copy_hyperparameters(warm, model)
        except ValueError:  # the previous model's structure differs: start from the defaults
            pass
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model.eval()


def _acquisition(models: list, Y: Tensor, constraints: Tensor | None, X: Tensor,
                 pending: Tensor | None):
    """LogEI, qLogEI (pending points, constraints) or qLogNEHVI (several objectives)."""
    from botorch.acquisition import LogExpectedImprovement, qLogExpectedImprovement
    from botorch.acquisition.multi_objective.logei import (
        qLogNoisyExpectedHypervolumeImprovement,
    )
    from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
    from botorch.acquisition.objective import GenericMCObjective
    from botorch.models import ModelListGP
    from botorch.utils.multi_objective.hypervolume import infer_reference_point
    from botorch.utils.multi_objective.pareto import is_non_dominated

    m = Y.shape[1]
    count = 0 if constraints is None else constraints.shape[1]
    feasible = torch.ones(Y.shape[0], dtype=torch.bool) if constraints is None else \
        (constraints <= 0).all(-1)
    feasible &= torch.isfinite(Y).all(-1)
    rules = [(lambda Z, j=j: Z[..., m + j]) for j in range(count)] or None
    if m == 1 and constraints is None:
        best = Y[torch.isfinite(Y[:, 0]), 0].max()
        if pending is None:
            return LogExpectedImprovement(models[0], best_f=best)
        return qLogExpectedImprovement(models[0], best_f=best, X_pending=pending)
    model = ModelListGP(*models)
    if m == 1:
        finite = Y[torch.isfinite(Y[:, 0]), 0]
        best = Y[feasible, 0].max() if bool(feasible.any()) else finite.min()
        return qLogExpectedImprovement(
            model, best_f=best, objective=GenericMCObjective(lambda Z, X=None: Z[..., 0]),
            constraints=rules, X_pending=pending)
    front = Y[feasible] if bool(feasible.any()) else Y[torch.isfinite(Y).all(-1)]
    front = front[is_non_dominated(front)]
    return qLogNoisyExpectedHypervolumeImprovement(
        model, ref_point=infer_reference_point(front).tolist(), X_baseline=X,
        objective=IdentityMCMultiOutputObjective(outcomes=list(range(m))),
        constraints=rules, X_pending=pending, prune_baseline=True)
