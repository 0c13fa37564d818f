"""A closed-form posterior for the common BoTorch models, and the fast evaluator built on it.

Most of the time of evaluating an analytic acquisition through BoTorch goes to GPyTorch's
machinery (lazy kernel tensors, linear operators, prediction caches) rather than to the
mathematics: for one ``SingleTaskGP`` the posterior mean and variance at ``b`` points are a
kernel row against the training inputs, one product with the cached weights
``(K + noise)^-1 (y - m)`` and one triangular solve with the cached Cholesky factor.

:func:`closed_form_acquisition` rebuilds the user's acquisition (BoTorch's own class and
formula, a deep copy) on :class:`ClosedFormGP`, a module whose ``posterior`` computes exactly
that, when the model is one it knows:

- ``SingleTaskGP`` with one output and no batch shape, at most
  ``gpytorch.settings.max_cholesky_size`` training points (where GPyTorch itself uses Cholesky);
- kernel ``ScaleKernel(base)`` or ``base``, with ``base`` a ``MaternKernel`` (nu 1.5, 2.5) or
  ``RBFKernel``, ARD or not, without ``active_dims``. Matern-1/2 is left to BoTorch: GPyTorch's
  training covariance for it depends on whether gradients were on when its cache was built (a
  diagonal distance of about 1e-8 instead of 0, through the kernel's kink), so no closed form
  can match both;
- ``ConstantMean`` or ``ZeroMean``; Gaussian likelihood, homoskedastic or fixed noise;
- input transform ``Normalize`` or none; outcome transform ``Standardize`` or none;
- acquisitions that read only the posterior's mean and variance: ``ExpectedImprovement``,
  ``LogExpectedImprovement``, ``UpperConfidenceBound``, ``ProbabilityOfImprovement``,
  ``LogProbabilityOfImprovement``, ``PosteriorMean``, without a posterior transform.

Anything else returns None and the caller keeps BoTorch's path. The caller also checks the
rebuilt acquisition against BoTorch's on a few points (:func:`agrees`) before using it.
"""

from __future__ import annotations

import copy
import math

import gpytorch
import torch
from botorch.acquisition.analytic import (
    ExpectedImprovement,
    LogExpectedImprovement,
    LogProbabilityOfImprovement,
    PosteriorMean,
    ProbabilityOfImprovement,
    UpperConfidenceBound,
)
from botorch.models import SingleTaskGP
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from gpytorch.kernels import MaternKernel, RBFKernel, ScaleKernel
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood, GaussianLikelihood
from gpytorch.means import ConstantMean, ZeroMean
from torch import Tensor

SUPPORTED_ACQUISITIONS = (ExpectedImprovement, LogExpectedImprovement, UpperConfidenceBound,
                          ProbabilityOfImprovement, LogProbabilityOfImprovement, PosteriorMean)
RELATIVE_TOLERANCE = 1e-9


class Unsupported(Exception):
    """The model or acquisition is not one the closed form covers."""


class MeanAndVariance:
    """The two moments BoTorch's analytic acquisitions read from a posterior (``b x q x 1``)."""

    def __init__(self, mean: Tensor, variance: Tensor) -> None:
        self.mean = mean
        self.variance = variance


class ClosedFormGP(torch.nn.Module):
    """The posterior of a supported ``SingleTaskGP`` in closed form, with cached factors.

    Args:
        model: The fitted model (read once; later changes to it are not seen).

    Raises:
        Unsupported: For any model outside the supported set (see the module docstring).
    """

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        if type(model) is not SingleTaskGP or model.num_outputs != 1:
            raise Unsupported("not a single-output SingleTaskGP")
        X, y = model.train_inputs[0], model.train_targets
        if X.dim() != 2 or y.dim() != 1:
            raise Unsupported("batched model")
        if X.shape[0] > gpytorch.settings.max_cholesky_size.value():
            raise Unsupported("more training points than GPyTorch factors by Cholesky")
        kernel, outputscale = model.covar_module, None
        if isinstance(kernel, ScaleKernel):
            kernel, outputscale = kernel.base_kernel, kernel.outputscale.detach()
        if type(kernel) not in (MaternKernel, RBFKernel) or kernel.active_dims is not None:
            raise Unsupported("kernel")
        if isinstance(kernel, MaternKernel) and kernel.nu not in (1.5, 2.5):
            raise Unsupported("Matern smoothness")
        if type(model.mean_module) is ConstantMean:
            constant = model.mean_module.constant.detach().reshape(())
        elif type(model.mean_module) is ZeroMean:
            constant = torch.zeros((), dtype=X.dtype, device=X.device)
        else:
            raise Unsupported("mean")
        likelihood = model.likelihood
        if type(likelihood) is GaussianLikelihood:
            noise = likelihood.noise.detach().reshape(-1).expand(X.shape[0])
        elif type(likelihood) is FixedNoiseGaussianLikelihood:
            noise = likelihood.noise.detach().reshape(-1)
        else:
            raise Unsupported("likelihood")
        transform = getattr(model, "input_transform", None)
        if transform is not None and (type(transform) is not Normalize
                                      or transform.transform_on_eval is False):
            raise Unsupported("input transform")
        outcome = getattr(model, "outcome_transform", None)
        if outcome is not None and type(outcome) is not Standardize:
            raise Unsupported("outcome transform")

        self.input_transform = copy.deepcopy(transform) if transform is not None else None
        self.nu = kernel.nu if isinstance(kernel, MaternKernel) else None
        one = torch.ones((), dtype=X.dtype, device=X.device)
        self.register_buffer("lengthscale", kernel.lengthscale.detach().reshape(1, -1))
        self.register_buffer("outputscale", one if outputscale is None else outputscale)
        self.register_buffer("constant", constant)
        self.register_buffer("train_scaled", X.detach() / self.lengthscale)
        with torch.no_grad():  # the training covariance exactly as GPyTorch computes it
            K = model.covar_module(X.detach()).to_dense()
        L, info = torch.linalg.cholesky_ex(K + torch.diag_embed(noise))
        if int(info) != 0:
            raise Unsupported("training covariance is not positive definite")
        self.register_buffer("cholesky", L)
        self.register_buffer("weights", torch.cholesky_solve((y.detach() - constant)[:, None], L))
        if outcome is not None:
            self.register_buffer("y_mean", outcome.means.detach().reshape(()))
            self.register_buffer("y_std", outcome.stdvs.detach().reshape(()))
        else:
            self.y_mean = self.y_std = None

    def posterior(self, X: Tensor, posterior_transform=None, **kwargs) -> MeanAndVariance:
        """Mean and variance of the latent function at ``X`` (``b x q x d``), per point."""
        if posterior_transform is not None or kwargs.get("observation_noise"):
            raise Unsupported("posterior transform or observation noise")
        Z = self.input_transform(X) if self.input_transform is not None else X
        flat = Z.reshape(-1, Z.shape[-1])  # all points as one matrix: one cdist, one solve
        k = self.outputscale * self.correlation(flat / self.lengthscale)  # (b q) x n
        mean = self.constant + (k @ self.weights).squeeze(-1)
        v = torch.linalg.solve_triangular(self.cholesky, k.T, upper=False)  # n x (b q)
        variance = self.outputscale - v.pow(2).sum(0)
        if self.y_std is not None:
            mean = self.y_mean + self.y_std * mean
            variance = self.y_std.pow(2) * variance
        shape = (*Z.shape[:-1], 1)
        return MeanAndVariance(mean.reshape(shape), variance.reshape(shape))

    def correlation(self, Z: Tensor) -> Tensor:
        """The base kernel between scaled points ``Z`` (``m x d``) and the training inputs."""
        r = torch.cdist(Z, self.train_scaled)
        if self.nu is None:  # RBF
            return torch.exp(-0.5 * r.pow(2))
        r = r.clamp_min(1e-15)  # as GPyTorch's distance
        exp = torch.exp(-math.sqrt(2 * self.nu) * r)
        if self.nu == 1.5:
            return (math.sqrt(3) * r + 1) * exp
        return (math.sqrt(5) * r + 1 + 5.0 / 3.0 * r**2) * exp


def closed_form_acquisition(acq_function: torch.nn.Module) -> torch.nn.Module | None:
    """A copy of ``acq_function`` on :class:`ClosedFormGP`, or None if it is not supported."""
    if type(acq_function) not in SUPPORTED_ACQUISITIONS:
        return None
    if getattr(acq_function, "posterior_transform", None) is not None:
        return None
    try:
        model = ClosedFormGP(acq_function.model)
    except (Unsupported, AttributeError, RuntimeError):
        return None
    return copy.deepcopy(acq_function, memo={id(acq_function.model): model})


def agrees(reference: Tensor, fast: Tensor, tolerance: float = RELATIVE_TOLERANCE) -> bool:
    """True when ``fast`` matches ``reference`` to ``tolerance`` relative (plus 1e-15 absolute,
    for values that are zero up to rounding) and their infinities are alike."""
    if reference.shape != fast.shape:
        return False
    finite = torch.isfinite(reference)
    if not torch.equal(finite, torch.isfinite(fast)):
        return False
    if not torch.equal(reference[~finite], fast[~finite]):
        return False
    r, f = reference[finite].double(), fast[finite].double()
    return bool(((r - f).abs() <= tolerance * r.abs() + 1e-15).all())


# Unit-cube points of the construction check: the centre and two opposite corners of the
# central half of the box (no random draw, so a run's random stream is the same either way).
CHECK_POINTS = (0.5, (0.25, 0.75), (0.75, 0.25))


def check_points(d: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``3 x 1 x d`` unit-cube points for comparing an evaluator with BoTorch's."""
    rows = []
    for p in CHECK_POINTS:
        pattern = (p, p) if isinstance(p, float) else p
        rows.append([pattern[i % 2] for i in range(d)])
    return torch.tensor(rows, dtype=dtype, device=device).unsqueeze(1)
