"""acqopt inside optuna-integration's ``BoTorchSampler``.

:func:`swap_optimizer` keeps Optuna's own candidates functions (its model, acquisition,
constraints, multi-objective handling, running trials) and swaps only the acquisition
maximiser for an acqopt method:

    >>> import optuna
    >>> from optuna_integration import BoTorchSampler
    >>> from acqopt.integrations.optuna import swap_optimizer
    >>> sampler = BoTorchSampler(candidates_func=swap_optimizer("cma-lbfgs"))
    >>> study = optuna.create_study(sampler=sampler)

:func:`candidates_func` replaces the model too (acqopt's ARD Matern-5/2 GP and LogEI/EI;
single objective, no constraints). Both need the ``optuna`` extra (``pip install
"acqopt[optuna]"``).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

import torch
from torch import Tensor

from acqopt.api import get_optimizer
from acqopt.bo.model import ACQUISITIONS, fit_gp, make_acquisition


def candidates_func(
    method: str = "lbfgs",
    *,
    acquisition: str = "logei",
    budget: int | None = None,
    seed: int = 0,
    **method_options: Any,
) -> Callable[[Tensor, Tensor, Tensor | None, Tensor, Tensor | None], Tensor]:
    """Builds ``candidates_func(train_x, train_obj, train_con, bounds, pending_x)``.

    Args:
        method: The acqopt method that maximises the acquisition.
        acquisition: "logei" or "ei".
        budget: Acquisition queries per suggestion; None for the method's default.
        seed: Base seed; each call adds the number of observed trials.
        **method_options: Fields of the method's config.
    """
    if acquisition not in ACQUISITIONS:
        raise ValueError(f"acquisition: expected one of {ACQUISITIONS}, got {acquisition!r}")
    optimizer = get_optimizer(method, **method_options)

    def func(train_x: Tensor, train_obj: Tensor, train_con: Tensor | None, bounds: Tensor,
             pending_x: Tensor | None) -> Tensor:
        if train_obj.shape[-1] != 1:
            raise ValueError("train_obj: acqopt's candidates_func handles one objective")
        if train_con is not None:
            raise ValueError("train_con: acqopt's candidates_func does not handle constraints")
        if pending_x is not None:
            raise ValueError("pending_x: running trials are not supported; create the sampler "
                             "with consider_running_trials=False")
        d = train_x.shape[-1]
        X = (train_x - bounds[0]) / (bounds[1] - bounds[0])
        with torch.random.fork_rng():  # model fitting must not move the global RNG
            torch.manual_seed(seed + train_x.shape[0])
            model = fit_gp(X.double(), train_obj.double())  # optuna passes values to maximise
        acq = make_acquisition(model, acquisition)
        unit = torch.stack([torch.zeros(d), torch.ones(d)]).double()
        result = optimizer.optimize(acq, unit, budget=budget, generator=seed + train_x.shape[0])
        return (bounds[0] + result.candidates * (bounds[1] - bounds[0])).to(train_x)

    return func


def swap_optimizer(method: str = "lbfgs", candidates_func: Callable | None = None,
                   **options: Any) -> Callable:
    """Optuna's candidates function with its ``optimize_acqf`` call answered by acqopt.

    Args:
        method: The acqopt method.
        candidates_func: One of ``optuna_integration.botorch``'s candidates functions (or any
            function that calls BoTorch's ``optimize_acqf`` through a module-level name);
            None picks Optuna's default per call, as ``BoTorchSampler`` does: LogEI for one
            objective, qEI when running trials are considered, qEHVI for 2-3 objectives, EHVI
            or qParEGO beyond.
        **options: Keyword arguments for :func:`acqopt.optimize_acqf` (``budget``, method fields).

    Returns:
        ``candidates_func(train_x, train_obj, train_con, bounds, pending_x)`` for
        ``BoTorchSampler``. The swap holds for the duration of each call (not thread-safe).
    """
    from acqopt.api import optimize_acqf

    get_optimizer(method)  # an unknown name fails here, not at the first BO trial
    maximiser = functools.partial(optimize_acqf, method=method, **options)

    def func(train_x, train_obj, train_con, bounds, pending_x):
        base = candidates_func or _optuna_default(train_obj.shape[-1], train_con is not None,
                                                  pending_x is not None)
        names = inspect.unwrap(base).__globals__  # Optuna's decorators wrap its functions
        if "optimize_acqf" not in names:
            raise ValueError(f"candidates_func: {base.__name__} does not call optimize_acqf "
                             "through a module-level name, so it cannot be swapped")
        original = names["optimize_acqf"]
        names["optimize_acqf"] = maximiser
        try:
            return base(train_x, train_obj, train_con, bounds, pending_x)
        finally:
            names["optimize_acqf"] = original

    return func


def _optuna_default(n_objectives: int, has_constraint: bool, running: bool) -> Callable:
    """The candidates function ``BoTorchSampler`` picks by default (optuna-integration 4-5)."""
    from optuna_integration import botorch as ob

    if n_objectives > 3:
        return ob.qparego_candidates_func if has_constraint or running else \
            ob.ehvi_candidates_func
    if n_objectives > 1:
        return ob.qehvi_candidates_func
    return ob.qei_candidates_func if running else ob.logei_candidates_func
