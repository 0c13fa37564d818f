"""Search directions for the local-search driver (:func:`acqopt.local.driver.descend`).

The driver minimises ``h = -acquisition`` over the unit cube. A direction rule turns the
gradient ``g`` of ``h`` at a start's point into a direction ``d`` along which ``h`` falls, and
may keep per-start state (one row per start). All arguments are full width (``b`` rows); a
``b`` bool ``mask`` says which starts the call is about, and rows outside it must not change:

- ``init(x)``: the state for ``b`` starts at ``x`` (``b x D``).
- ``compute(state, mask, x, g)``: the direction ``d`` (``b x D``), its slope ``g . d`` (``b``)
  and a suggested first step length (``b``) for the starts in ``mask`` at ``x``, ``g`` (other
  rows are computed and ignored).
- ``update(state, mask, s, y)``: the starts in ``mask`` moved by ``s`` and their gradient
  changed by ``y``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from acqopt.adam import adam_step
from acqopt.base import positive_float, positive_int


@dataclass(frozen=True)
class Gradient:
    """Steepest descent on ``h`` (steepest ascent on the acquisition): ``d = -g``. Stateless."""

    def init(self, x: Tensor) -> None:
        return None

    def compute(self, state: None, mask: Tensor, x: Tensor, g: Tensor) -> tuple[Tensor, ...]:
        d = -g
        return d, (d * g).sum(-1), torch.ones_like(d[:, 0])

    def update(self, state: None, mask: Tensor, s: Tensor, y: Tensor) -> None:
        return None


@dataclass
class LBFGSMemory:
    """Per-start L-BFGS memory: the last ``m`` curvature pairs, newest last.

    Attributes:
        S: ``b x m x D`` steps ``s = x_new - x``.
        Y: ``b x m x D`` gradient changes ``y = g_new - g`` (zero on coordinates that did not move).
        rho: ``b x m`` values ``1 / s.y``; 0 marks an empty slot.
    """

    S: Tensor
    Y: Tensor
    rho: Tensor


@dataclass(frozen=True)
class LBFGS:
    """Projected limited-memory BFGS direction in the unit cube (Kim, Sra & Dhillon 2010).

    Coordinates held at a bound by the gradient (at 0 with ``g > 0``, at 1 with ``g < 0``) are
    fixed; the two-loop recursion acts on the free ones. A direction that is not a descent
    direction clears the start's memory and falls back to the projected gradient. Without
    curvature pairs the suggested first step has unit length at most (as scipy's L-BFGS-B);
    with them, the quasi-Newton step itself (length 1).

    Attributes:
        memory: Curvature pairs kept per start (scipy's ``maxcor``).
    """

    memory: int = 10

    def __post_init__(self) -> None:
        positive_int("memory", self.memory)

    def init(self, x: Tensor) -> LBFGSMemory:
        b, D = x.shape
        return LBFGSMemory(x.new_zeros(b, self.memory, D), x.new_zeros(b, self.memory, D),
                           x.new_zeros(b, self.memory))

    def compute(self, state: LBFGSMemory, mask: Tensor, x: Tensor,
                g: Tensor) -> tuple[Tensor, ...]:
        free = ~(((x <= 0) & (g > 0)) | ((x >= 1) & (g < 0)))
        gf = g * free
        d = -two_loop(gf, state.S, state.Y, state.rho) * free
        slope = (d * g).sum(-1)
        reset = mask & ((slope >= 0) | ~torch.isfinite(slope))
        if bool(reset.any()):  # not a descent direction: forget the memory, use the gradient
            r3 = reset[:, None, None]
            state.S, state.Y = torch.where(r3, 0.0, state.S), torch.where(r3, 0.0, state.Y)
            state.rho = torch.where(reset[:, None], 0.0, state.rho)
            d = torch.where(reset[:, None], -gf, d)
            slope = torch.where(reset, -(gf * gf).sum(-1), slope)
        no_memory = (state.rho == 0).all(-1)
        first = (1.0 / d.norm(dim=-1).clamp_min(1e-12)).clamp(max=1.0)
        return d, slope, torch.where(no_memory, first, torch.ones_like(slope))

    def update(self, state: LBFGSMemory, mask: Tensor, s: Tensor, y: Tensor) -> None:
        # Curvature on the coordinates that moved: a coordinate held at a bound has s = 0, and
        # its gradient change would only shrink the scaling s'y / y'y.
        y = y * (s != 0)
        sy = (s * y).sum(-1)
        good = mask & (sy > 1e-10 * (y * y).sum(-1).clamp_min(1e-30))
        g3 = good[:, None, None]
        state.S = torch.where(g3, torch.cat([state.S[:, 1:], s[:, None]], dim=1), state.S)
        state.Y = torch.where(g3, torch.cat([state.Y[:, 1:], y[:, None]], dim=1), state.Y)
        state.rho = torch.where(good[:, None], torch.cat([state.rho[:, 1:], 1.0 / sy[:, None]], dim=1),
                                state.rho)


def two_loop(g: Tensor, S: Tensor, Y: Tensor, rho: Tensor) -> Tensor:
    """Batched L-BFGS product ``H g`` for each start (``b x D``), in compact form.

    ``H`` is the BFGS inverse-Hessian approximation built from the pairs in ``S``, ``Y``
    (``b x m x D``, newest last) on ``H_0 = gamma I`` with ``gamma = s'y / y'y`` of the newest
    pair: the two-loop recursion's result (Nocedal & Wright, Algorithm 7.4), computed with the
    compact representation of Byrd, Nocedal & Schnabel (1994, eq. 2.6),
    ``H = gamma I + [S gamma Y] [[R^-T (D + gamma Y'Y) R^-1, -R^-T], [-R^-1, 0]] [S'; gamma Y']``
    with ``R`` the upper triangle of ``S'Y`` and ``D`` its diagonal: a dozen batched matrix
    operations instead of ``2m`` sequential steps. ``rho`` is ``b x m`` with zeros for empty
    slots (zero pairs, which then leave the product unchanged).
    """
    empty = (rho == 0).to(g.dtype)
    StY = S @ Y.transpose(1, 2)  # [i, j] = s_i . y_j
    R = torch.triu(StY) + torch.diag_embed(empty)  # an empty slot's row is e_i: solvable
    D = torch.diagonal(StY, dim1=1, dim2=2)
    yy = (Y[:, -1] * Y[:, -1]).sum(-1)
    gamma = torch.where(rho[:, -1] > 0, D[:, -1] / yy.clamp_min(1e-30), torch.ones_like(yy))
    gam = gamma[:, None, None]
    z = torch.linalg.solve_triangular(R, S @ g[..., None], upper=True)
    Yz = Y.transpose(1, 2) @ z
    v = D[..., None] * z + gam * (Y @ Yz) - gam * (Y @ g[..., None])
    p = torch.linalg.solve_triangular(R.transpose(1, 2), v, upper=False)
    return gamma[:, None] * g + (S.transpose(1, 2) @ p - gam * Yz)[..., 0]


@dataclass
class AdamMoments:
    """Per-start Adam state: first and second moments of the ascent gradient, and step count."""

    m: Tensor
    v: Tensor
    t: Tensor


@dataclass(frozen=True)
class Adam:
    """Adam's step as the direction (Kingma & Ba 2015, arXiv:1412.6980); take it with
    :class:`acqopt.local.steps.FullStep`.

    Attributes:
        lr: Learning rate, in unit-cube lengths.
        betas: Decay rates of the moments.
        eps: Denominator guard.
    """

    lr: float = 0.02
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8

    def __post_init__(self) -> None:
        positive_float("lr", self.lr)
        for b in self.betas:
            positive_float("betas", b, upper=1.0)
        positive_float("eps", self.eps)

    def init(self, x: Tensor) -> AdamMoments:
        return AdamMoments(torch.zeros_like(x), torch.zeros_like(x),
                           torch.zeros(x.shape[0], dtype=torch.long, device=x.device))

    def compute(self, state: AdamMoments, mask: Tensor, x: Tensor, g: Tensor) -> tuple[Tensor, ...]:
        state.t = state.t + mask
        m, v, d = adam_step(state.m, state.v, -g, state.t[:, None].to(x.dtype), self.lr,
                            self.betas, self.eps)
        state.m, state.v = torch.where(mask[:, None], m, state.m), torch.where(mask[:, None], v, state.v)
        return d, (d * g).sum(-1), torch.ones_like(d[:, 0])

    def update(self, state: AdamMoments, mask: Tensor, s: Tensor, y: Tensor) -> None:
        return None
