"""acqopt inside Ax's modular BoTorch generator (ax-platform 1.3).

Ax keeps its model, acquisition, transforms and parameter constraints; only the acquisition
maximiser changes. Ax's ``Acquisition.optimize`` calls BoTorch's ``optimize_acqf`` (for
continuous and integer-relaxed spaces) with Ax's linear constraints and fixed features; the
class built by :func:`acquisition_class` answers that call with ``acqopt.optimize_acqf``.

    >>> from ax.api.client import Client
    >>> from acqopt.integrations.ax import generation_strategy
    >>> client = Client()
    >>> client.configure_experiment(...)
    >>> client.configure_optimization(...)
    >>> client.set_generation_strategy(generation_strategy("cma-lbfgs", initial_trials=5))

Needs the ``ax`` extra (``pip install "acqopt[ax]"``). Ax's API moves between versions; this
module is the only place that knows it. Mixed and fully discrete spaces keep Ax's own
optimisers (``optimize_acqf_mixed``/``_discrete``), which acqopt does not replace.
"""

from __future__ import annotations

import functools
from typing import Any


def acquisition_class(method: str = "lbfgs", **options: Any) -> type:
    """An Ax ``Acquisition`` subclass whose ``optimize_acqf`` call is answered by acqopt.

    Args:
        method: The acqopt method.
        **options: Keyword arguments for :func:`acqopt.optimize_acqf` (``budget``, fields).
    """
    from ax.generators.torch.botorch_modular import acquisition as ax_acquisition

    from acqopt.api import get_optimizer, optimize_acqf

    get_optimizer(method)  # an unknown name fails here, not inside Ax
    maximiser = functools.partial(optimize_acqf, method=method, **options)

    def optimize(self, *args, **kwargs):
        original = ax_acquisition.optimize_acqf
        ax_acquisition.optimize_acqf = maximiser  # for this call only (not thread-safe)
        try:
            return ax_acquisition.Acquisition.optimize(self, *args, **kwargs)
        finally:
            ax_acquisition.optimize_acqf = original

    name = f"AcqoptAcquisition_{method.replace('-', '_')}"
    return type(name, (ax_acquisition.Acquisition,), {"optimize": optimize,
                                                       "acqopt_method": method})


def generation_strategy(method: str | None = "lbfgs", *, initial_trials: int = 5,
                        **options: Any):
    """A ``GenerationStrategy`` for an Ax ``Client``: Sobol for ``initial_trials`` trials, then
    Ax's modular BoTorch generator (its default model and acquisition) with acqopt's ``method``
    maximising the acquisition; ``method=None`` keeps Ax's own maximiser (the same strategy
    otherwise, for paired comparisons)."""
    from ax.adapter.registry import Generators
    from ax.generation_strategy.generation_node import GenerationStep
    from ax.generation_strategy.generation_strategy import GenerationStrategy

    if isinstance(initial_trials, bool) or not isinstance(initial_trials, int) or \
            initial_trials < 1:
        raise ValueError(f"initial_trials: expected an int >= 1, got {initial_trials!r}")
    if method is None and options:
        raise ValueError(f"options {sorted(options)} need an acqopt method; method is None")
    kwargs = {} if method is None else {"acquisition_class": acquisition_class(method, **options)}
    return GenerationStrategy(
        name=f"Sobol+BoTorch+{'acqopt-' + method if method else 'Ax'}",
        nodes=[
            GenerationStep(generator=Generators.SOBOL, num_trials=initial_trials),
            GenerationStep(generator=Generators.BOTORCH_MODULAR, num_trials=-1,
                           generator_kwargs=kwargs),
        ],
    )
