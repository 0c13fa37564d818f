"""Adam (Kingma & Ba 2015, arXiv:1412.6980): the one update every acqopt method takes.

:func:`adam_step` is the arithmetic: the per-start Adam direction of the local searches
(:class:`acqopt.local.directions.Adam`), the ES-gradient and L-GSO searches' steps on their
mean, and :class:`Adam`'s updates of network weights (GENNES's generator, L-GSO's surrogates).
"""

from __future__ import annotations

import torch
from torch import Tensor


def adam_step(m: Tensor, v: Tensor, grad: Tensor, t: int | Tensor, lr: float,
              betas: tuple[float, float], eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """One Adam update for ascent: the new moments and the step ``lr m_hat / (sqrt(v_hat) + eps)``
    at step ``t`` (from 1; a number or a tensor broadcasting against ``m``)."""
    b1, b2 = betas
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    return m, v, lr * (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + eps)


class Adam:
    """Adam descent on a list of tensors (a network's weights), by :func:`adam_step`.

    Args:
        params: The tensors, updated in place.
        lr: Learning rate.
        betas: Decay rates of the moments.
        eps: Denominator guard.
    """

    def __init__(self, params: list[Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params, self.lr, self.betas, self.eps, self.t = list(params), lr, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    def step(self, grads: list[Tensor]) -> None:
        """One step down the gradients ``grads`` (one per tensor)."""
        self.t += 1
        with torch.no_grad():
            for i, (p, g) in enumerate(zip(self.params, grads)):
                self.m[i], self.v[i], step = adam_step(self.m[i], self.v[i], -g, self.t, self.lr,
                                                       self.betas, self.eps)
                p.add_(step)

    def minimise(self, loss: Tensor) -> None:
        """One step down the gradient of ``loss`` with respect to the tensors."""
        self.step(list(torch.autograd.grad(loss, self.params)))
