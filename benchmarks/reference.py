"""BoTorch's own ``optimize_acqf`` (and, for mixed spaces, ``optimize_acqf_mixed_alternating``)
behind acqopt's optimizer protocol: the baseline of every table.

It runs through the same query counter as acqopt's methods, so its queries, calls and wall time
are measured by the same rule. BoTorch draws its raw samples from torch's global generator; the
call seeds it inside ``torch.random.fork_rng`` so the caller's global state is left as it was.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from botorch.optim import optimize_acqf
from botorch.optim.optimize_mixed import optimize_acqf_mixed_alternating
from torch import Tensor

from acqopt import CountingAcquisition, OptimizeResult, Status
from acqopt.base import as_generator, derive_seed

SETTINGS = {"10x512": (10, 512), "20x1024": (20, 1024), "100x5000": (100, 5000)}


@dataclass(frozen=True, kw_only=True)
class BoTorchOptimizer:
    """``botorch.optim.optimize_acqf`` at ``num_restarts x raw_samples``, with its defaults.

    ``info`` holds every restart's end point (``local_optima``, ``num_restarts x q x d``) and
    value (``local_values``), from ``return_best_only=False``.
    """

    num_restarts: int = 10
    raw_samples: int = 512

    @property
    def name(self) -> str:
        setting = f"{self.num_restarts}x{self.raw_samples}"
        return "botorch" if setting == "10x512" else f"botorch-{setting}"

    @classmethod
    def from_name(cls, name: str) -> BoTorchOptimizer:
        """``"botorch"`` (10x512) or ``"botorch-RxN"`` (e.g. ``botorch-20x1024``)."""
        setting = "10x512" if name == "botorch" else name.split("-", 1)[1]
        restarts, raw = (int(v) for v in setting.split("x"))
        return cls(num_restarts=restarts, raw_samples=raw)

    def optimize(self, acq_function, bounds: Tensor, *, q: int = 1, budget: int | None = None,
                 generator=None, timeout_sec: float | None = None, discrete_dims=None,
                 cat_dims=None) -> OptimizeResult:
        """``discrete_dims``/``cat_dims`` are taken and not used: BoTorch's standard loop runs
        ``optimize_acqf`` on the relaxed space and the caller rounds (``botorch-mixed`` is its
        mixed path)."""
        counter = CountingAcquisition(acq_function)
        seed = generator if isinstance(generator, int) else derive_seed(as_generator(generator))
        start = time.perf_counter()
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            X, values = optimize_acqf(counter, bounds, q=q, num_restarts=self.num_restarts,
                                      raw_samples=self.raw_samples, return_best_only=False)
        wall = time.perf_counter() - start
        values = values.reshape(-1).detach()
        best = int(values.argmax())
        return OptimizeResult(
            candidates=X[best].detach(), acq_value=values[best], counts=counter.counts,
            trace=torch.empty(0, 2, dtype=torch.float64), wall_time=wall,
            status=Status.CONVERGED, message=f"BoTorch optimize_acqf {self.name}",
            info={"local_optima": X.detach(), "local_values": values},
        )


@dataclass(frozen=True, kw_only=True)
class BoTorchMixedOptimizer:
    """``botorch.optim.optimize_acqf_mixed_alternating`` at its defaults (1024 raw samples,
    20 restarts): BoTorch's mixed path, the reference of the mixed-space tables."""

    name: str = "botorch-mixed"

    def optimize(self, acq_function, bounds: Tensor, *, q: int = 1, budget: int | None = None,
                 generator=None, timeout_sec: float | None = None, discrete_dims=None,
                 cat_dims=None) -> OptimizeResult:
        counter = CountingAcquisition(acq_function)
        seed = generator if isinstance(generator, int) else derive_seed(as_generator(generator))
        start = time.perf_counter()
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            X, value = optimize_acqf_mixed_alternating(
                counter, bounds, discrete_dims=discrete_dims or {}, cat_dims=cat_dims or {}, q=q)
        return OptimizeResult(
            candidates=X.detach(), acq_value=value.detach().reshape(-1)[0] if q == 1 else
            value.detach().sum(), counts=counter.counts,
            trace=torch.empty(0, 2, dtype=torch.float64), wall_time=time.perf_counter() - start,
            status=Status.CONVERGED, message="BoTorch optimize_acqf_mixed_alternating",
            info={"evaluator": counter.evaluator},
        )
