"""A ``candidates_func`` for optuna-integration's ``BoTorchSampler`` that uses any acqopt method.

Example:
    >>> import optuna
    >>> from optuna_integration import BoTorchSampler
    >>> from acqopt.integrations.optuna import candidates_func
    >>> sampler = BoTorchSampler(candidates_func=candidates_func("cma-lbfgs", budget=1000))
    >>> study = optuna.create_study(sampler=sampler)

Needs the ``optuna`` extra (``pip install "acqopt[optuna]"``). Single objective without
constraints; the GP is acqopt's ARD Matern-5/2 on inputs normalised to the unit cube.
"""

from __future__ import annotations

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
