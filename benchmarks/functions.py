"""Objectives of the global-optimisation suite beyond ``acqopt.bo.functions``: Qiu's 2-D set.

Qiu (2020) ranges and formulas, with the errata of the project design:
- Bukin N.6: ``100 sqrt(|x2 - 0.01 x1^2|) + 0.01 |x1 + 10|`` on ``[-15, -5] x [-3, 3]``
  (the textbook domain), minimum 0 at ``(-10, 1)``.
- Eggholder: the paper's text restricts to ``[-550, 550] x [-550, 500]`` but its formula and
  minimiser ``(512, 404.2319)`` belong to the textbook domain ``[-512, 512]^2``; we use the
  textbook domain, with Qiu's offset ``+959.6407`` so that the minimum is about 0.
- Tuned Ackley (Qiu's eq. 2.2.4) is not included: as printed, its term
  ``-0.1 (-0.2 r)^4 exp(...)`` is unbounded below, so on ``[-22, 22]^2`` the minimum sits in the
  corners (about -42), not at the origin with ``f* = e`` as the paper states. The formula is
  evidently mis-transcribed and the intended one cannot be recovered from the text, so the
  paper's tuned-Ackley numbers cannot be checked.
"""

from __future__ import annotations

import torch
from torch import Tensor

from acqopt.bo.functions import ackley


def bukin6(x: Tensor) -> Tensor:
    x1, x2 = x[..., 0], x[..., 1]
    return 100.0 * torch.sqrt((x2 - 0.01 * x1**2).abs()) + 0.01 * (x1 + 10.0).abs()


def eggholder(x: Tensor) -> Tensor:
    x1, x2 = x[..., 0], x[..., 1]
    a = -(x2 + 47.0) * torch.sin(torch.sqrt((x1 / 2.0 + x2 + 47.0).abs()))
    b = -x1 * torch.sin(torch.sqrt((x1 - (x2 + 47.0)).abs()))
    return a + b + 959.6407


QIU = {
    "ackley": (ackley, [[-32.768, -32.768], [32.768, 32.768]], (0.0, 0.0)),
    "bukin6": (bukin6, [[-15.0, -3.0], [-5.0, 3.0]], (-10.0, 1.0)),
    "eggholder": (eggholder, [[-512.0, -512.0], [512.0, 512.0]], (512.0, 404.2319)),
}
