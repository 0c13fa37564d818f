"""A small BO loop: ARD Matern-5/2 GP, EI or LogEI, any acqopt method choosing the points."""

from __future__ import annotations

import inspect
import math
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import Tensor

from acqopt.api import get_optimizer
from acqopt.base import AcquisitionOptimizer
from acqopt.bo.model import ACQUISITIONS, fit_gp, log_marginal_likelihood, make_acquisition
from acqopt.bo.space import Space
from acqopt.design import sobol


@dataclass
class History:
    """Everything a run did, one entry per objective evaluation.

    Attributes:
        params: The parameters evaluated (integers rounded).
        values: Objective values (NaN where the evaluation failed).
        errors: None, or the failure's message.
        best: Best finite value so far (the objective is minimised).
        queries: Acquisition queries spent choosing that point (0 for the initial design).
        wall_time: Seconds spent on that step (model fit, acquisition, objective).
        fit_time: Seconds of that step spent fitting the GP (0 for the initial design).
        acq_time: Seconds of that step spent maximising the acquisition.
        proposals: None for the initial design; else the proposal's diagnostics in the unit
            cube of the space: ``fit`` (how the GP was fitted: "scratch", "warm", or
            "both:warm"/"both:scratch", the one kept named; see ``minimize``'s ``refit``),
            ``fitted_by`` (which evaluated the kept fit's likelihood: "closed_form" or
            "gpytorch"), ``evaluator`` (which answered the acquisition, see
            :mod:`acqopt.closed_form`), ``acq_value``, ``dist_incumbent`` (to the best point so
            far), ``dist_data`` (to the nearest evaluated point), ``dist_centre`` (to the middle
            of the space), and, when the optimiser reports where its local searches ended,
            ``near_equal`` (how many of them reached the best value within ``NEAR_EQUAL_TOL``)
            and ``near_equal_far`` (those of them farther than ``FAR`` from the returned point).
        method: The acquisition optimiser's name.
        seed: The run's seed (its initial design); None if not recorded.
        fit_state: None before the first model step; else ``{"model": the last fitted GP,
            "lml": its marginal log likelihood per point, "scratch_n": data points at the last
            fit from scratch, "gap": new points due before the next one}``, from which a
            resumed run warm-starts as the uninterrupted one would.
    """

    method: str
    seed: int | None = None
    params: list[dict[str, Any]] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)
    best: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    wall_time: list[float] = field(default_factory=list)
    fit_time: list[float] = field(default_factory=list)
    acq_time: list[float] = field(default_factory=list)
    proposals: list[dict[str, float] | None] = field(default_factory=list)
    fit_state: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def best_params(self) -> dict[str, Any] | None:
        finite = [(v, i) for i, v in enumerate(self.values) if math.isfinite(v)]
        return self.params[min(finite)[1]] if finite else None

    @property
    def best_value(self) -> float:
        return self.best[-1] if self.best else math.nan

    def records(self) -> list[dict[str, Any]]:
        """One flat dict per evaluation (easy to plot or to build a DataFrame from)."""
        cumulative = 0
        out = []
        for i in range(len(self)):
            cumulative += self.queries[i]
            out.append({"evaluation": i + 1, **self.params[i], "value": self.values[i],
                        "error": self.errors[i], "best": self.best[i],
                        "acq_queries": self.queries[i], "acq_queries_total": cumulative,
                        "wall_time": self.wall_time[i], "method": self.method})
        return out

    def to_dataframe(self):
        """``records()`` as a pandas DataFrame. pandas is optional (the ``pandas`` extra:
        ``pip install "acqopt[pandas]"``); without it this raises ``ImportError`` saying so."""
        try:
            import pandas as pd  # optional: not a core dependency
        except ImportError:
            raise ImportError("History.to_dataframe needs pandas: pip install pandas (or "
                              "pip install 'acqopt[pandas]'; History.records() gives the same "
                              "rows as a list of dicts)") from None

        return pd.DataFrame(self.records())

    def append(self, params, value, error, queries, wall_time, fit_time=0.0, acq_time=0.0,
               proposal=None) -> None:
        self.fit_time.append(fit_time)
        self.acq_time.append(acq_time)
        self.proposals.append(proposal)
        self.params.append(params)
        self.values.append(value)
        self.errors.append(error)
        prev = self.best[-1] if self.best else math.inf
        self.best.append(min(prev, value) if math.isfinite(value) else prev)
        self.queries.append(queries)
        self.wall_time.append(wall_time)


def minimize(
    objective: Callable[[dict[str, Any]], float],
    space: Space,
    *,
    n_init: int,
    n_iter: int,
    method: str | AcquisitionOptimizer = "lbfgs",
    acquisition: str = "logei",
    budget: int | None = None,
    seed: int | None = None,
    callback: Callable[[History], None] | None = None,
    progress: bool = True,
    history: History | None = None,
    method_options: dict[str, Any] | None = None,
    refit: str = "warm",
    closed_form_fit: bool = True,
) -> History:
    """Minimises ``objective`` over ``space`` by Bayesian optimisation.

    Args:
        objective: Takes ``{name: value}``, returns a float to minimise. Exceptions and NaN are
            recorded as failures and left out of the model; the loop goes on.
        space: The search space.
        n_init: Initial points (scrambled Sobol) before the model is used.
        n_iter: BO steps after the initial design.
        method: The acqopt method that maximises the acquisition: a registered name, or an
            optimizer object (anything with acqopt's ``optimize`` signature).
        acquisition: "logei" or "ei".
        budget: Acquisition queries per step; None for the method's default.
        seed: Seeds the design, the model fits and the acquisition optimiser.
        callback: Called with the history after every evaluation.
        progress: Show a progress bar (tqdm).
        history: A previous run's history to resume; its evaluations count towards
            ``n_init + n_iter``.
        method_options: Fields of the method's config.
        refit: How each step fits the GP's hyperparameters. "warm" (default): from the
            previous step's (5-10x fewer likelihood evaluations) and also from GPyTorch's
            defaults, keeping the fit of higher likelihood, whenever the data has grown by a
            gap since the last such fit (``FIRST_GAP`` of the data, at least 1 point; doubled
            after each fit from scratch that did not beat the warm one by ``WIN`` nats per
            point, back to the first gap after one that did), or the warm fit's marginal log
            likelihood per point has fallen more than ``DEGRADED`` below the previous step's.
            "scratch": from the defaults at every step (BoTorch's tutorials' loop).
            Ax's ``warm_start_refit`` does the same as "warm" without the checks.
        closed_form_fit: Evaluate the marginal likelihood during fits in closed form (the
            same fit as GPyTorch's to rounding, 2-3x faster; see :func:`acqopt.bo.fit_gp`'s
            ``closed_form``); False fits through GPyTorch, as BoTorch's loop does.

    A space with ``Integer`` or ``Categorical`` parameters is searched natively: the method
    gets them as ``discrete_dims`` and ``cat_dims`` (every point it evaluates is on the grid),
    and categoricals make the model BoTorch's ``MixedSingleTaskGP``. An optimizer object whose
    ``optimize`` takes neither gets the relaxed space, its answer rounded (with a warning).

    Returns:
        The :class:`History`.
    """
    if acquisition not in ACQUISITIONS:
        raise ValueError(f"acquisition: expected one of {ACQUISITIONS}, got {acquisition!r}")
    if refit not in REFITS:
        raise ValueError(f"refit: expected one of {REFITS}, got {refit!r}")
    for arg, value, least in (("n_init", n_init, 1), ("n_iter", n_iter, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{arg}: expected an int >= {least}, got {value!r}")
    if isinstance(method, str):
        options = dict(method_options or {})
        optimizer = get_optimizer(method, **options)
    elif hasattr(method, "optimize") and not method_options:
        optimizer = method
    else:
        raise ValueError(
            "method: expected a registered name (with method_options) or an optimizer object "
            f"with an optimize() method (without method_options), got {method!r}"
        )
    name = getattr(optimizer, "name", type(optimizer).__name__)
    seed = 0 if seed is None else seed
    if history is None:
        history = History(method=name, seed=seed)
    else:
        _check_resume(history, space, name, seed)
    design = sobol(n_init, 1, space.d, torch.Generator().manual_seed(seed)).reshape(n_init, -1)
    total = n_init + n_iter
    from tqdm import tqdm

    bar = tqdm(total=total, initial=len(history), disable=not progress, desc=f"BO ({method})")
    fits = _Fits(refit, history, closed_form_fit)
    while len(history) < total:
        step = len(history)
        start = time.perf_counter()
        queries, times, proposal = 0, (0.0, 0.0), None
        if step < n_init:
            u = space.round_unit(design[step])
        else:
            try:
                u, queries, times, proposal = _propose(history, space, optimizer, acquisition,
                                                       budget, seed + step, fits)
            except Exception as exc:  # noqa: BLE001 - recorded; the loop goes on
                u = _random_point(space, seed + step)
                proposal = {"failed": "".join(traceback.format_exception_only(type(exc), exc))
                            .strip() + "; a random point was evaluated instead"}
        params = space.to_params(u)
        value, error = _evaluate(objective, params)
        history.append(params, value, error, queries, time.perf_counter() - start, *times,
                       proposal)
        bar.update()
        bar.set_postfix(best=f"{history.best_value:.4g}")
        if callback is not None:
            callback(history)
    bar.close()
    return history


# A proposal's near-equal maximisers: local optima within this of the best value (absolute,
# in the acquisition's units: nats for LogEI), farther than FAR (unit-cube distance) apart.
NEAR_EQUAL_TOL = 1e-3
FAR = 0.1


def _check_resume(history: History, space: Space, name: str, seed: int) -> None:
    """Raises ``ValueError`` saying what differs when ``history`` is not a run of this loop."""
    if history.method != name:
        raise ValueError(f"history: it was made with method {history.method!r}, not {name!r}")
    if history.seed is not None and history.seed != seed:
        raise ValueError(f"history: it was made with seed {history.seed}, not {seed} (its "
                         "initial design would be mixed with another)")
    names = set(space.names)
    for params in history.params:
        if set(params) != names:
            raise ValueError(f"history: its parameters {sorted(params)} differ from the "
                             f"space's {sorted(names)}")


def _random_point(space: Space, seed: int) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return space.round_unit(torch.rand(space.d, generator=g, dtype=torch.float64))


REFITS = ("warm", "scratch")
# refit="warm": a fit from scratch as well once the data has grown by the current gap since
# the last one, or when the warm fit's marginal log likelihood per point is more than DEGRADED
# nats below the previous step's (a surprising point, or a fit stuck where the data no longer
# puts it). The gap starts at FIRST_GAP of the data (at least 1 point); it doubles after each
# fit from scratch that did not beat the warm fit by more than WIN nats per point, and starts
# again after one that did. Warm fits alone stay in worse optima of the likelihood and the BO
# result leans worse: with a fixed period of 5 points Rosenbrock-8D lost to BoTorch's loop
# (1/0/9, p = 0.006, 10 seeds), with both fits at every step it did not (6/0/4, p = 0.85).
# Making both at every step (3 seeds each), the fit from scratch beat the warm one by more
# than WIN at 9-14 of 49 steps on Rosenbrock-8D and 7-8 on Hartmann-6, nearly all below 45
# points, at 1-2 of 29 on digits (where both fits at every step cost 0.55x BoTorch's whole
# step), and from 600 points (Hartmann-6, 4 seeds x 9 steps) never by even 1e-3: a new point
# changes the data by 1/n, so the first gap is a fraction of it (FINDINGS).
DEGRADED = 0.1
WIN = 0.01
FIRST_GAP = 1 / 64


def _first_gap(n: int) -> int:
    return max(1, math.ceil(n * FIRST_GAP))


class _Fits:
    """The loop's GP fits: from scratch, or warm-started from the previous step's model."""

    def __init__(self, refit: str, history: History, closed_form: bool = True) -> None:
        self.refit = refit
        self.history = history  # its fit_state: where the next warm fit starts
        self.closed_form = closed_form

    def fit(self, X: Tensor, Y: Tensor, bounds: Tensor | None, cat_dims, seed: int):
        """The fitted model and how it was fitted: "scratch", "warm", or "both:warm" /
        "both:scratch" (both fits made; the named one had the higher likelihood)."""
        def one(warm):
            with torch.random.fork_rng():  # random restarts must not touch the global RNG
                torch.manual_seed(seed)
                model = fit_gp(X, Y, bounds=bounds, cat_dims=cat_dims, warm_start=warm,
                               closed_form=self.closed_form)
            return model, log_marginal_likelihood(model)

        n, state = X.shape[0], self.history.fit_state
        if self.refit == "scratch" or state is None:
            best, how, scratch_n, gap = one(None), "scratch", n, _first_gap(n)
        else:
            best, how = one(state["model"]), "warm"
            scratch_n, gap = state["scratch_n"], state.get("gap", _first_gap(n))
            if n >= scratch_n + gap or best[1] < state["lml"] - DEGRADED:
                scratch = one(None)
                how = "both:scratch" if scratch[1] > best[1] else "both:warm"
                gap = _first_gap(n) if scratch[1] > best[1] + WIN else 2 * gap
                best, scratch_n = max(best, scratch, key=lambda fit: fit[1]), n
        self.history.fit_state = dict(model=best[0], lml=best[1], scratch_n=scratch_n, gap=gap)
        return best[0], how


def _propose(history, space, optimizer, acquisition, budget, seed, fits):
    ok = [i for i, v in enumerate(history.values) if math.isfinite(v)]
    if len(ok) < 2:  # nothing to model yet: a random point
        return _random_point(space, seed), 0, (0.0, 0.0), None
    X = torch.stack([space.to_unit(history.params[i]) for i in ok])
    Y = -torch.tensor([history.values[i] for i in ok], dtype=torch.float64).unsqueeze(-1)
    start = time.perf_counter()
    # The optimiser works in space coordinates (integers in their units, so that a method can
    # round them); a fixed Normalize maps them to the unit cube the GP is fitted in, which
    # keeps the acquisition a plain BoTorch one that the closed-form evaluator recognises.
    bounds = space.space_bounds()
    model, how = fits.fit(space.unit_to_space(X), Y, bounds if space.on_grid else None,
                          space.cat_dims, seed)
    fitted = time.perf_counter()
    acq = make_acquisition(model, acquisition)
    result = optimizer.optimize(acq, bounds, budget=budget, generator=seed,
                                **_grid_arguments(optimizer, space))
    times = (fitted - start, time.perf_counter() - fitted)
    raw = space.space_to_unit(result.candidates[0]).reshape(-1)
    u = space.round_unit(raw)
    incumbent = X[int(Y.argmax())]
    proposal = {
        "fit": how,
        "fitted_by": model.fitted_by,
        "evaluator": result.info.get("evaluator"),
        "acq_value": float(result.acq_value),
        "dist_incumbent": float((raw - incumbent).norm()),
        "dist_data": float((X - raw).norm(dim=-1).min()),
        "dist_centre": float((raw - 0.5).norm()),
    }
    optima, values = result.info.get("local_optima"), result.info.get("local_values")
    if optima is not None and values is not None and values.numel() > 0:
        U = space.space_to_unit(optima.reshape(optima.shape[0], -1, space.d)[:, 0])
        near = values >= float(result.acq_value) - NEAR_EQUAL_TOL
        far = (U - raw).norm(dim=-1) > FAR
        proposal["near_equal"] = int(near.sum())
        proposal["near_equal_far"] = int((near & far).sum())
    return u, result.counts.queries, times, proposal


def _grid_arguments(optimizer, space: Space) -> dict:
    """``discrete_dims``/``cat_dims`` for the optimizer's ``optimize``, if the space has a grid
    and the optimizer takes them; otherwise nothing (with a warning for a grid)."""
    if not space.on_grid:
        return {}
    try:
        parameters = inspect.signature(optimizer.optimize).parameters
    except (TypeError, ValueError):
        parameters = {}
    takes = {"discrete_dims", "cat_dims"} <= set(parameters) or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    if not takes:
        warnings.warn(
            f"method: {type(optimizer).__name__}.optimize takes no discrete_dims/cat_dims; it "
            "searches the relaxed space and its answer is rounded", stacklevel=3)
        return {}
    return space.grid()


def _evaluate(objective, params) -> tuple[float, str | None]:
    try:
        raw = objective(params)
        if raw is None or isinstance(raw, (bool, str, bytes)):
            return math.nan, f"objective returned {raw!r}, not a real number"
        value = float(raw)
    except Exception as exc:  # noqa: BLE001 - any failure of the user's objective is recorded
        return math.nan, "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if not math.isfinite(value):
        return math.nan, f"objective returned {value}"
    return value, None
