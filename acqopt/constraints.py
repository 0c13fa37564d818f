"""Feasibility shared by every method: fixed features and linear constraints.

Linear constraints come in BoTorch's form, a list of ``(indices, coefficients, rhs)``:
``sum_i X[indices[i]] * coefficients[i] >= rhs`` (inequality) or ``= rhs`` (equality), applied to
each of the ``q`` points (intra-point; inter-point constraints, with 2-d ``indices``, are refused).

One mechanism serves all methods: :class:`Polytope` projects every candidate onto the feasible set
(the box intersected with the constraints) before the acquisition sees it, by Dykstra's
alternating projections, batched over candidates and differentiable by autograd. A method then
maximises ``acq(P(x))``: every evaluated point is feasible, the best one is what is returned, and a
gradient step that leaves the polytope slides along its face (the projection's Jacobian removes the
normal component).

References:
    Boyle & Dykstra. A method for finding projections onto the intersection of convex sets in
    Hilbert spaces. Lecture Notes in Statistics 37, 1986.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

Constraint = tuple[Tensor, Tensor, float]

FEASIBILITY_TOL = 1e-6


def normalize_fixed_features(fixed_features: object, bounds: Tensor) -> dict[int, float]:
    """``{column: value}`` with columns in ``[0, d)`` (negative ones count from the end, as in
    BoTorch) and float values inside ``bounds``; raises ``ValueError`` naming what is wrong."""
    d = bounds.shape[-1]
    if fixed_features is None:
        return {}
    if not isinstance(fixed_features, Mapping):
        raise ValueError(
            f"fixed_features: expected a mapping {{column: value}}, got "
            f"{type(fixed_features).__name__}"
        )
    out: dict[int, float] = {}
    for c, v in fixed_features.items():
        if isinstance(c, bool) or not isinstance(c, int) or not -d <= c < d:
            raise ValueError(f"fixed_features: columns must be ints in [-{d}, {d}), got {c!r}")
        if isinstance(v, Tensor) and v.numel() == 1:
            v = float(v)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(
                f"fixed_features: the value of column {c} must be a real number (per-restart "
                f"tensors are not supported), got {v!r}"
            )
        col = c % d
        if col in out:
            raise ValueError(f"fixed_features: column {col} is given twice ({c!r})")
        if not float(bounds[0, col]) <= v <= float(bounds[1, col]):
            raise ValueError(f"fixed_features: value {v} of column {c} is outside bounds")
        out[col] = float(v)
    if len(out) == d:
        raise ValueError("fixed_features: every column is fixed; there is nothing to optimise")
    return out


def parse_constraints(constraints: object, name: str, d: int, bounds: Tensor) -> list[tuple[Tensor, float]]:
    """BoTorch's ``[(indices, coefficients, rhs), ...]`` -> dense ``(a, b)`` rows with
    ``a . x (>= or =) b`` in ``bounds`` coordinates."""
    if constraints is None:
        return []
    if not isinstance(constraints, Sequence) or isinstance(constraints, (str, Tensor)):
        raise ValueError(f"{name}: expected a list of (indices, coefficients, rhs) tuples")
    rows = []
    for k, item in enumerate(constraints):
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            raise ValueError(f"{name}[{k}]: expected a tuple (indices, coefficients, rhs)")
        indices, coefficients, rhs = item
        indices = torch.as_tensor(indices)
        coefficients = torch.as_tensor(coefficients, dtype=bounds.dtype)
        if indices.dim() == 2:
            raise ValueError(
                f"{name}[{k}]: inter-point constraints (2-d indices) are not supported; "
                "give intra-point constraints with 1-d indices"
            )
        if (indices.dim() != 1 or indices.dtype in (torch.float32, torch.float64)
                or coefficients.shape != indices.shape or indices.numel() == 0):
            raise ValueError(
                f"{name}[{k}]: expected 1-d integer indices and coefficients of the same length"
            )
        if not ((indices >= 0) & (indices < d)).all():
            raise ValueError(f"{name}[{k}]: indices must lie in [0, {d})")
        try:
            rhs = float(rhs)
        except (TypeError, ValueError):
            raise ValueError(f"{name}[{k}]: rhs must be a real number, got {rhs!r}") from None
        if not (torch.isfinite(coefficients).all() and abs(rhs) < float("inf")):
            raise ValueError(f"{name}[{k}]: coefficients and rhs must be finite")
        a = torch.zeros(d, dtype=bounds.dtype)
        a.index_add_(0, indices.long().cpu(), coefficients.cpu())
        if not a.abs().max() > 0:
            raise ValueError(f"{name}[{k}]: all coefficients are zero")
        rows.append((a.to(bounds.device), rhs))
    return rows


class Polytope:
    """The feasible set ``{u in [0, 1]^d : A_in u >= b_in, A_eq u = b_eq}`` in the unit cube.

    Built from BoTorch-form constraints in ``bounds`` coordinates; :meth:`project` maps
    ``... x d`` unit-cube points onto it (Euclidean projection, by Dykstra's algorithm).

    Args:
        bounds: ``2 x d`` box the constraints' coordinates refer to.
        inequality_constraints: BoTorch's ``[(indices, coefficients, rhs)]``, ``>= rhs``.
        equality_constraints: The same form, ``= rhs``.
        max_iter: Dykstra sweeps at most.
        tol: Stop once every constraint holds within this (unit-cube units).
    """

    def __init__(self, bounds: Tensor, inequality_constraints=None, equality_constraints=None,
                 *, max_iter: int = 2000, tol: float = 1e-9) -> None:
        d = bounds.shape[-1]
        lower, scale = bounds[0], bounds[1] - bounds[0]
        self.max_iter, self.tol = max_iter, tol
        rows = []
        # a . (lower + scale u) >= b  <=>  (a * scale) . u >= b - a . lower
        for kind, cons in (("ineq", inequality_constraints), ("eq", equality_constraints)):
            name = f"{'in' if kind == 'ineq' else ''}equality_constraints"
            for a, b in parse_constraints(cons, name, d, bounds):
                a_u = a * scale
                b_u = b - float((a * lower).sum())
                norm = float(a_u.norm())
                rows.append((kind, a_u / norm, b_u / norm))  # unit normals: distances in u
        self.rows = rows

    def __bool__(self) -> bool:
        return bool(self.rows)

    def violation(self, U: Tensor) -> Tensor:
        """Largest violation of any constraint or bound per point (``...``), in unit-cube units."""
        v = torch.maximum((-U).amax(-1), (U - 1).amax(-1)).clamp_min(0.0)
        for kind, a, b in self.rows:
            r = b - (U * a).sum(-1)
            v = torch.maximum(v, r.clamp_min(0.0) if kind == "ineq" else r.abs())
        return v

    def project(self, U: Tensor) -> Tensor:
        """Maps ``... x d`` points onto the polytope (differentiable): the Euclidean projection
        of the point clamped into the cube, which leaves every feasible point where it is.

        Raises:
            ValueError: If the projection does not reach the constraints within ``tol``
                (the constraints and bounds admit no point).
        """
        x = U.clamp(0.0, 1.0)  # far-away points (long line-search trials) converge slowly
        if not self.rows:
            return x
        # Dykstra: one correction term per set (the box and each constraint).
        corrections = [torch.zeros_like(U) for _ in range(len(self.rows) + 1)]
        for sweep in range(self.max_iter):
            y = (x + corrections[0]).clamp(0.0, 1.0)
            corrections[0] = x + corrections[0] - y
            x = y
            for k, (kind, a, b) in enumerate(self.rows, start=1):
                z = x + corrections[k]
                gap = b - (z * a).sum(-1, keepdim=True)
                if kind == "ineq":
                    gap = gap.clamp_min(0.0)
                y = z + gap * a
                corrections[k] = z - y
                x = y
            if sweep % 5 == 4 and float(self.violation(x.detach()).max()) <= self.tol:
                return x.clamp(0.0, 1.0)
        if float(self.violation(x).max()) > max(self.tol, FEASIBILITY_TOL):
            raise ValueError(
                "inequality_constraints, equality_constraints: no point inside bounds satisfies "
                "them (the projection did not converge)"
            )
        return x.clamp(0.0, 1.0)
