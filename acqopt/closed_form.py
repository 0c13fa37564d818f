"""A closed-form posterior for the common BoTorch models, and the fast evaluator built on it.

Most of the time of evaluating an analytic acquisition through BoTorch goes to GPyTorch's
machinery (lazy kernel tensors, linear operators, prediction caches) rather than to the
mathematics: for one ``SingleTaskGP`` the posterior mean and variance at ``b`` points are a
kernel row against the training inputs, one product with the cached weights
``(K + noise)^-1 (y - m)`` and one triangular solve with the cached Cholesky factor.

:func:`closed_form_acquisition` rebuilds the user's acquisition (BoTorch's own class and
formula, a deep copy) on :class:`ClosedFormGP`, a module whose ``posterior`` computes exactly
that, when the model is one it knows:

- ``SingleTaskGP`` with one output and no batch shape, of any size (it used to stop at
  ``gpytorch.settings.max_cholesky_size``, 4096 under BoTorch 0.18). BoTorch 0.18 turns
  GPyTorch's fast solves off, so its answer, the check's reference, is exact at any size; if
  they are turned on, above that size its answer is an iterative approximation, and the check
  compares the closed form with BoTorch's exact answer instead
  (:class:`acqopt.counting.CountingAcquisition`);
- kernel ``ScaleKernel(base)`` or ``base``, with ``base`` a ``MaternKernel`` (nu 1.5, 2.5) or
  ``RBFKernel``, ARD or not, without ``active_dims``. Matern-1/2 is left to BoTorch: GPyTorch's
  training covariance for it depends on whether gradients were on when its cache was built (a
  diagonal distance of about 1e-8 instead of 0, through the kernel's kink), so no closed form
  can match both;
- ``ConstantMean`` or ``ZeroMean``; Gaussian likelihood, homoskedastic or fixed noise;
- input transform ``Normalize`` or none; outcome transform ``Standardize`` or none;
- acquisitions that read only the posterior's mean and variance: ``ExpectedImprovement``,
  ``LogExpectedImprovement``, ``UpperConfidenceBound``, ``ProbabilityOfImprovement``,
  ``LogProbabilityOfImprovement``, ``PosteriorMean``, without a posterior transform;
- MC acquisitions over q points, ``qExpectedImprovement``, ``qLogExpectedImprovement`` and
  ``qUpperConfidenceBound`` with the identity objective, once their sampler exists: the copy
  keeps the sampler (its seed and base samples), and :meth:`ClosedFormGP.joint_posterior`
  gives BoTorch's sampler the joint Gaussian it would get from GPyTorch, so the samples, the
  values and their autograd gradients are BoTorch's (to rounding).

Other kernels built from those pieces get :class:`ClosedFormKernelGP`: the same cached factors,
the kernel rows computed by :func:`compile_kernel` on dense tensors from a tree of
``ScaleKernel``, ``AdditiveKernel``, ``ProductKernel``, ``MaternKernel`` (nu 1.5, 2.5),
``RBFKernel`` and BoTorch's ``CategoricalKernel``, with ``active_dims``: among them BoTorch's
``MixedSingleTaskGP`` (a categorical kernel beside the continuous one, summed and multiplied),
whose GPyTorch path costs 7-17 ms a call. Its gradients come from autograd.

EI and LogEI with a scalar ``best_f`` on a radial kernel also get their gradient in closed form
(:class:`ClosedFormImprovement`): the derivatives of the moments and of BoTorch's formula,
computed with the value, instead of autograd through a few dozen small operations; the values
are BoTorch's formula on the same moments. So does qLogEI (:class:`ClosedFormQLogEI`): at
single points without pending points its samples are the mean plus the standard deviation
times the sampler's fixed base samples, so BoTorch's reduction runs on them and the gradient
goes back through the moments; q-batches and pending points are sampled from their joint
posterior with the same base samples and their gradient goes back by hand through the
reduction, the Cholesky factor and the kernel rows. The others are differentiated by autograd.

Anything else returns None and the caller keeps BoTorch's path. The caller also checks the
rebuilt acquisition against BoTorch's on a few points (:func:`agrees`) before using it: on the
model itself, or, where BoTorch's first call there would build GPyTorch's caches at ``O(n^3)``,
on a copy conditioned on a few of its training points (:func:`on_training_subset`).
"""

from __future__ import annotations

import copy
import functools
import math

import torch
from botorch.acquisition.analytic import (
    ExpectedImprovement,
    LogExpectedImprovement,
    LogProbabilityOfImprovement,
    PosteriorMean,
    ProbabilityOfImprovement,
    UpperConfidenceBound,
)
from botorch.acquisition.logei import qLogExpectedImprovement, qLogNoisyExpectedImprovement
from botorch.acquisition.monte_carlo import qExpectedImprovement, qUpperConfidenceBound
from botorch.acquisition.objective import IdentityMCObjective
from botorch.models import MixedSingleTaskGP, SingleTaskGP
from botorch.models.kernels.categorical import CategoricalKernel
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from botorch.posteriors.gpytorch import GPyTorchPosterior
from botorch.sampling.normal import NormalMCSampler
from botorch.utils.probability.utils import log_ndtr, ndtr, phi
from botorch.utils.safe_math import ALPHA, TAU, fatmax
from gpytorch.distributions import MultivariateNormal
from gpytorch.kernels import AdditiveKernel, MaternKernel, ProductKernel, RBFKernel, ScaleKernel
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood, GaussianLikelihood
from gpytorch.means import ConstantMean, ZeroMean
from linear_operator.operators import DenseLinearOperator
from linear_operator.utils.errors import CachingError
from linear_operator.utils.memoize import get_from_cache
from torch import Tensor

try:  # BoTorch's own EI/LogEI formula (private helpers: without them, autograd on its class)
    from botorch.acquisition.analytic import _ei_helper, _log_ei_helper, _scaled_improvement
except ImportError:  # pragma: no cover - a BoTorch that renamed them
    _ei_helper = _log_ei_helper = _scaled_improvement = None

SUPPORTED_ACQUISITIONS = (ExpectedImprovement, LogExpectedImprovement, UpperConfidenceBound,
                          ProbabilityOfImprovement, LogProbabilityOfImprovement, PosteriorMean)
MC_ACQUISITIONS = (qExpectedImprovement, qLogExpectedImprovement, qUpperConfidenceBound,
                   qLogNoisyExpectedImprovement)
RELATIVE_TOLERANCE = 1e-9
MIN_VARIANCE = 1e-12  # BoTorch's analytic acquisitions clamp the variance here


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
        joint: Answer ``posterior`` with the joint posterior of each q-batch (for MC
            acquisitions) instead of per-point moments (for analytic ones).

    Raises:
        Unsupported: For any model outside the supported set (see the module docstring).
    """

    def __init__(self, model: torch.nn.Module, joint: bool = False) -> None:
        super().__init__()
        self.joint = joint
        X, y, constant, noise, transform, outcome = _exact_gp(model, (SingleTaskGP,))
        kernel, outputscale = model.covar_module, None
        if isinstance(kernel, ScaleKernel):
            kernel, outputscale = kernel.base_kernel, kernel.outputscale.detach()
        if type(kernel) not in (MaternKernel, RBFKernel) or kernel.active_dims is not None:
            raise Unsupported("kernel")
        if isinstance(kernel, MaternKernel) and kernel.nu not in (1.5, 2.5):
            raise Unsupported("Matern smoothness")
        self.input_transform = _Affine(transform) if transform is not None else None
        self.nu = kernel.nu if isinstance(kernel, MaternKernel) else None
        one = torch.ones((), dtype=X.dtype, device=X.device)
        self.register_buffer("lengthscale", kernel.lengthscale.detach().reshape(1, -1))
        self.register_buffer("outputscale", one if outputscale is None else outputscale)
        self.register_buffer("train_scaled", X.detach() / self.lengthscale)
        _factorise(self, model, X, y, constant, noise, outcome, covariance=functools.partial(
            _train_covariance, self.train_scaled, self.nu, self.outputscale))

    def posterior(self, X: Tensor, posterior_transform=None,
                  **kwargs) -> MeanAndVariance | GPyTorchPosterior:
        """Mean and variance of the latent function at ``X`` (``b x q x d``), per point; or,
        when built ``joint``, the joint posterior of each ``q x d`` set (:meth:`joint_posterior`)."""
        if posterior_transform is not None or kwargs.get("observation_noise"):
            raise Unsupported("posterior transform or observation noise")
        if self.joint:
            return self.joint_posterior(X)
        U = self.scaled(X)
        mean, variance, _, _ = self.moments(U)
        shape = (*X.shape[:-1], 1)
        return MeanAndVariance(mean.reshape(shape), variance.reshape(shape))

    def joint_posterior(self, X: Tensor) -> GPyTorchPosterior:
        """The joint Gaussian posterior of the points of each ``q x d`` set in ``X``
        (``batch x q x d``), as BoTorch's MC acquisitions sample it: the mean, and the
        covariance ``k(X, X) - v'v`` with ``v = L^-1 k(train, X)``, in the outcome's units."""
        Z = self.input_transform(X) if self.input_transform is not None else X
        Z = Z / self.lengthscale
        k = self.outputscale * correlation(torch.cdist(Z, self.train_scaled), self.nu)  # ... x q x n
        mean = self.constant + (k @ self.weights).squeeze(-1)
        # one triangular solve for all points (broadcasting L over the batch would copy it)
        v = torch.linalg.solve_triangular(self.cholesky, k.reshape(-1, k.shape[-1]).T,
                                          upper=False).T.reshape(k.shape)  # ... x q x n
        covariance = self.outputscale * correlation(torch.cdist(Z, Z), self.nu) \
            - v @ v.transpose(-1, -2)
        if self.y_std is not None:
            mean, covariance = self.y_mean + self.y_std * mean, self.y_std.pow(2) * covariance
        # lazy, as GPyTorch's own: factored when sampled, with its jitter if need be
        return GPyTorchPosterior(MultivariateNormal(mean, DenseLinearOperator(covariance)))

    def scaled(self, X: Tensor) -> Tensor:
        """Points ``... x d`` as the kernel sees them, flat (``m x d``): input-transformed and
        divided by the lengthscales (all points as one matrix: one cdist, one solve)."""
        Z = self.input_transform(X) if self.input_transform is not None else X
        return Z.reshape(-1, Z.shape[-1]) / self.lengthscale

    def input_grad(self, G: Tensor) -> Tensor:
        """A gradient with respect to :meth:`scaled`'s points (``m x d``) taken back to the
        points it was given, by the same operations as autograd's backward pass."""
        G = G / self.lengthscale
        return G if self.input_transform is None else self.input_transform.pullback(G)

    def moments(self, U: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Posterior mean and variance (``m``) at scaled points ``U`` (``m x d``), in the
        outcome's units, and for :meth:`moments_grad` the distances ``r`` (``m x n``) and
        ``v = L^-1 k`` (``n x m``)."""
        r, _, mean, v = self.kernel_rows(U)
        variance = self.outputscale - v.pow(2).sum(0)
        if self.y_std is not None:
            mean = self.y_mean + self.y_std * mean
            variance = self.y_std.pow(2) * variance
        return mean, variance, r, v

    def kernel_rows(self, U: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """For scaled points ``U`` (``m x d``): their distances ``r`` to the training points
        (``m x n``), the kernel rows ``k = s c(r)`` (``m x n``), the latent posterior mean
        ``m + k w`` (``m``) and ``v = L^-1 k'`` (``n x m``)."""
        r = torch.cdist(U, self.train_scaled)
        k = self.outputscale * correlation(r, self.nu)  # m x n
        mean = self.constant + (k @ self.weights).squeeze(-1)
        v = torch.linalg.solve_triangular(self.cholesky, k.T, upper=False)  # n x m
        return r, k, mean, v

    def moments_grad(self, U: Tensor, r: Tensor, v: Tensor, d_mean: Tensor,
                     d_variance: Tensor) -> Tensor:
        """``d_mean * dmean/dU + d_variance * dvariance/dU`` (``m x d``) at scaled points ``U``,
        from :meth:`moments`' ``r`` and ``v``, for per-point weights ``d_mean``, ``d_variance``.

        With ``k_j = s c(r_j)`` and ``dk_j/du = s c'(r_j) / r_j (u - t_j)``: ``dmean/du =
        sum_j w_j dk_j/du`` and ``dvariance/du = -2 sum_j a_j dk_j/du`` with ``a = K^-1 k``.
        """
        if self.y_std is not None:
            d_mean, d_variance = d_mean * self.y_std, d_variance * self.y_std.pow(2)
        a = torch.linalg.solve_triangular(self.cholesky.T, v, upper=True)  # n x m: K^-1 k
        return self.rows_grad(U, r, d_mean[:, None] * self.weights.T
                              - 2.0 * d_variance[:, None] * a.T)

    def rows_grad(self, U: Tensor, r: Tensor, d_rows: Tensor) -> Tensor:
        """``sum_j d_rows_j dk_j/du`` (``m x d``) at scaled points ``U`` (``m x d``) for weights
        ``d_rows`` (``m x n``) on the kernel rows ``k_j = s c(r_j)`` against the training
        points: ``dk_j/du = s c'(r_j) / r_j (u - t_j)``."""
        G = self.outputscale * radial_slope(r, self.nu) * d_rows
        return G.sum(-1, keepdim=True) * U - G @ self.train_scaled


def correlation(r: Tensor, nu: float | None) -> Tensor:
    """A radial kernel at scaled distances ``r``: Matern with smoothness ``nu`` (1.5 or 2.5),
    or RBF for None; as GPyTorch's, which clamps a Matern's distances at 1e-15."""
    if nu is None:  # RBF
        return torch.exp(-0.5 * r.pow(2))
    r = r.clamp_min(1e-15)
    exp = torch.exp(-math.sqrt(2 * nu) * r)
    if nu == 1.5:
        return (math.sqrt(3) * r + 1) * exp
    return (math.sqrt(5) * r + 1 + 5.0 / 3.0 * r**2) * exp


def _train_covariance(U: Tensor, nu: float | None, outputscale: Tensor) -> Tensor:
    """``outputscale * correlation(cdist(U, U), nu)`` (``n x n``) for scaled training points
    ``U``, by the same formula in place: the ``n x n`` temporaries are the cost at large n
    (0.17 instead of 0.46 s at n = 3000)."""
    r = torch.cdist(U, U)
    if nu is None:
        return r.square_().mul_(-0.5).exp_().mul_(outputscale)
    r.clamp_min_(1e-15)
    exp = torch.mul(r, -math.sqrt(2 * nu)).exp_()
    if nu == 1.5:
        return r.mul_(math.sqrt(3)).add_(1).mul_(exp).mul_(outputscale)
    return r.mul(5.0 / 3.0).add_(math.sqrt(5)).mul_(r).add_(1).mul_(exp).mul_(outputscale)


def radial_slope(r: Tensor, nu: float | None) -> Tensor:
    """``c'(r) / r`` of :func:`correlation`'s ``c``: ``dc/dr`` divided by ``r``, finite at 0."""
    if nu is None:
        return -torch.exp(-0.5 * r.pow(2))
    r = r.clamp_min(1e-15)
    exp = torch.exp(-math.sqrt(2 * nu) * r)
    if nu == 1.5:
        return -3.0 * exp
    return -5.0 / 3.0 * (1 + math.sqrt(5) * r) * exp


def softplus_slope(x: Tensor) -> Tensor:
    """``d softplus(x) / dx`` as torch's backward computes it: 1 above softplus's threshold
    (20), else ``sigmoid(x)``."""
    return torch.where(x > 20.0, 1.0, torch.sigmoid(x))


def compile_kernel(kernel: torch.nn.Module, call: bool = True):
    """A function ``(A, B) -> m x n`` covariance between (input-transformed) points ``A``
    (``m x d``) and ``B`` (``n x d``) under a tree of supported kernels, on dense tensors, with
    the hyperparameters read once (module docstring).

    ``call`` follows GPyTorch: a kernel's ``active_dims`` select columns when the kernel is
    called (the root, and the parts of a sum or product), not when a ``ScaleKernel`` runs its
    base kernel's ``forward``.

    Raises:
        Unsupported: For any other kernel, a batched one, or a Matern smoothness other than
            1.5 and 2.5.
    """
    kind = type(kernel)
    if kernel.batch_shape != torch.Size([]):
        raise Unsupported("batched kernel")
    dims = getattr(kernel, "active_dims", None) if call else None
    if kind is ScaleKernel:
        scale, base = kernel.outputscale.detach().reshape(()), compile_kernel(kernel.base_kernel,
                                                                               call=False)
        body = lambda A, B: scale * base(A, B)  # noqa: E731
    elif kind in (AdditiveKernel, ProductKernel):
        parts = [compile_kernel(k) for k in kernel.kernels]
        add = kind is AdditiveKernel

        def body(A, B):
            out = parts[0](A, B)
            for part in parts[1:]:
                out = out + part(A, B) if add else out * part(A, B)
            return out
    elif kind is CategoricalKernel:
        lengthscale = kernel.lengthscale.detach().reshape(-1)
        body = lambda A, B: torch.exp(  # noqa: E731
            -((A.unsqueeze(-2) != B.unsqueeze(-3)) / lengthscale).mean(-1))
    elif kind in (MaternKernel, RBFKernel):
        lengthscale = kernel.lengthscale.detach().reshape(1, -1)
        nu = getattr(kernel, "nu", None)
        if kind is MaternKernel and nu not in (1.5, 2.5):
            raise Unsupported("Matern smoothness")

        def body(A, B):
            return correlation(torch.cdist(A / lengthscale, B / lengthscale), nu)
    else:
        raise Unsupported(f"kernel {kind.__name__}")
    if dims is None:
        return body
    return lambda A, B: body(A[..., dims], B[..., dims])


class ClosedFormKernelGP(torch.nn.Module):
    """The posterior of a ``SingleTaskGP`` or ``MixedSingleTaskGP`` whose kernel is a tree of
    supported kernels (:func:`compile_kernel`), in closed form with cached factors.

    The same model checks, factors and moments as :class:`ClosedFormGP`; only the kernel rows
    differ (and the gradients are autograd's). Every supported kernel is stationary, so the
    prior variance is one number, read off the kernel at one training point.

    Raises:
        Unsupported: For any model outside the supported set.
    """

    def __init__(self, model: torch.nn.Module, joint: bool = False) -> None:
        super().__init__()
        self.joint = joint
        X, y, constant, noise, transform, outcome = _exact_gp(model,
                                                              (SingleTaskGP, MixedSingleTaskGP))
        self.kernel = compile_kernel(model.covar_module)
        self.input_transform = _Affine(transform) if transform is not None else None
        self.register_buffer("train_inputs", X.detach())
        with torch.no_grad():
            self.register_buffer("prior_variance", self.kernel(X[:1], X[:1]).reshape(()))
        _factorise(self, model, X, y, constant, noise, outcome)

    def posterior(self, X: Tensor, posterior_transform=None,
                  **kwargs) -> MeanAndVariance | GPyTorchPosterior:
        """Per-point mean and variance at ``X`` (``b x q x d``), or, when built ``joint``, the
        joint posterior of each ``q x d`` set."""
        if posterior_transform is not None or kwargs.get("observation_noise"):
            raise Unsupported("posterior transform or observation noise")
        Z = self.input_transform(X) if self.input_transform is not None else X
        flat = Z.reshape(-1, Z.shape[-1])
        k = self.kernel(flat, self.train_inputs)  # m x n
        mean = self.constant + (k @ self.weights).squeeze(-1)
        v = torch.linalg.solve_triangular(self.cholesky, k.T, upper=False)  # n x m
        if self.joint:
            q = X.shape[-2]
            Zq = Z.reshape(-1, q, Z.shape[-1])
            V = v.T.reshape(-1, q, v.shape[0])
            covariance = torch.stack([self.kernel(z, z) for z in Zq]) \
                - V @ V.transpose(-1, -2)
            mean = mean.reshape(-1, q)
            if self.y_std is not None:
                mean, covariance = self.y_mean + self.y_std * mean, self.y_std.pow(2) * covariance
            mvn = MultivariateNormal(mean.reshape(*X.shape[:-1]),
                                     DenseLinearOperator(covariance.reshape(
                                         *X.shape[:-1], q)))
            return GPyTorchPosterior(mvn)
        variance = self.prior_variance - v.pow(2).sum(0)
        if self.y_std is not None:
            mean, variance = self.y_mean + self.y_std * mean, self.y_std.pow(2) * variance
        shape = (*X.shape[:-1], 1)
        return MeanAndVariance(mean.reshape(shape), variance.reshape(shape))


def _exact_gp(model, types: tuple) -> tuple:
    """The parts of a supported exact GP (module docstring): training inputs and targets, the
    constant mean, the per-point noise and the input and outcome transforms.

    Raises:
        Unsupported: Naming the first part that is not supported.
    """
    if type(model) not in types or model.num_outputs != 1:
        raise Unsupported(f"not a single-output {' or '.join(t.__name__ for t in types)}")
    X, y = model.train_inputs[0], model.train_targets
    if X.dim() != 2 or y.dim() != 1:
        raise Unsupported("batched model")
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
    return X, y, constant, noise, transform, outcome


class _Affine(torch.nn.Module):
    """A model's ``Normalize`` input transform in eval mode, ``(X - offset) / coefficient`` on
    its ``indices`` (all columns when None), as BoTorch computes it, without its per-call
    checks and copies (0.2 ms a call, a quarter of a small closed-form evaluation)."""

    def __init__(self, transform: Normalize) -> None:
        super().__init__()
        self.indices = getattr(transform, "indices", None)  # set only when given
        if self.indices is not None and len(transform.batch_shape) > 0:
            raise Unsupported("input transform (a batch of Normalize on some columns)")
        self.d = transform._d
        self.register_buffer("offset", transform.offset.detach().clone())
        self.register_buffer("coefficient", transform.coefficient.detach().clone())

    def forward(self, X: Tensor) -> Tensor:
        if X.shape[-1] != self.d:
            raise ValueError(f"X: expected {self.d} columns (the model's input transform's), "
                             f"got {tuple(X.shape)}")
        offset, coefficient = self.offset.to(X), self.coefficient.to(X)
        if self.indices is None:
            return (X - offset) / coefficient
        Y = X.clone()
        Y[..., self.indices] = (X[..., self.indices] - offset) / coefficient
        return Y

    def pullback(self, G: Tensor) -> Tensor:
        """A gradient with respect to the transformed points taken back to the points given,
        as autograd's backward pass through :meth:`forward` computes it."""
        if self.indices is None:
            return G / self.coefficient
        G = G.clone()
        G[..., self.indices] = G[..., self.indices] / self.coefficient
        return G


def _factorise(gp: torch.nn.Module, model, X: Tensor, y: Tensor, constant: Tensor, noise: Tensor,
               outcome, covariance=None) -> None:
    """Registers on ``gp`` the cached factors every closed form shares: the constant, the
    Cholesky factor of the training covariance plus noise (GPyTorch's own when its prediction
    cache holds it, else factored here: the covariance from ``covariance()``, or from the
    model's kernel), the weights ``(K + noise)^-1 (y - m)`` and the outcome transform's mean and
    scale."""
    gp.register_buffer("constant", constant)
    L = _cached_cholesky(model, X)
    if L is None:
        with torch.no_grad():
            K = covariance() if covariance is not None \
                else model.covar_module(X.detach()).to_dense()
            K.diagonal().add_(noise)
        L, info = torch.linalg.cholesky_ex(K)
        if int(info) != 0:
            raise Unsupported("training covariance is not positive definite")
    gp.register_buffer("cholesky", L)
    gp.register_buffer("weights", torch.cholesky_solve((y.detach() - constant)[:, None], L))
    if outcome is not None:
        gp.register_buffer("y_mean", outcome.means.detach().reshape(()))
        gp.register_buffer("y_std", outcome.stdvs.detach().reshape(()))
    else:
        gp.y_mean = gp.y_std = None


def _cached_cholesky(model, X: Tensor) -> Tensor | None:
    """The Cholesky factor of the training covariance plus noise that GPyTorch's prediction
    cache holds for ``model``'s training inputs ``X`` (it is there once BoTorch has answered a
    call, as it has unless the check ran on a subset), or None: the same factor (the same
    operations on the same matrix, or GPyTorch's jitter where it needed it), without the
    ``O(n^3)`` of factoring again (0.9 of 1.9 s of a maximisation at n = 3000)."""
    strategy = getattr(model, "prediction_strategy", None)
    covariance = getattr(strategy, "lik_train_train_covar", None)
    inputs = getattr(strategy, "train_inputs", None)
    if covariance is None or not inputs or inputs[0].shape != X.shape \
            or not torch.equal(inputs[0], X):
        return None
    try:
        factor = get_from_cache(covariance, "cholesky", upper=False)
    except CachingError:
        return None
    L = factor.to_dense().detach()
    if L.shape != (X.shape[0], X.shape[0]) or getattr(factor, "upper", False):
        return None
    return L


class _WithGradient(torch.autograd.Function):
    """Values (``b``) computed with their gradients (``b x ...``) in closed form, for
    autograd: the backward pass multiplies the saved gradients instead of differentiating a
    few dozen small operations."""

    @staticmethod
    def forward(ctx, X, value, grad):
        ctx.save_for_backward(grad)
        return value.clone()

    @staticmethod
    def backward(ctx, grad_value):
        (grad,) = ctx.saved_tensors
        return grad_value.reshape(-1, *([1] * (grad.dim() - 1))) * grad, None, None


def improvement(U: Tensor, gp: ClosedFormGP, best_f: Tensor, maximize: bool, log: bool,
                with_grad: bool) -> tuple[Tensor, Tensor | None]:
    """EI or LogEI (``m``) at scaled points ``U`` (``m x d``) and, if ``with_grad``, its
    gradient with respect to ``U`` (``m x d``; else None).

    The value is BoTorch's formula on the closed-form moments (the same operations as BoTorch's
    ``forward``, so the same numbers); the gradient comes from the derivatives of the moments
    and of the formula. With ``z = +-(mean - best_f) / sigma``: EI ``= sigma psi(z)``,
    ``psi = phi + z Phi``, ``dEI/dmean = +-Phi(z)``, ``dEI/dsigma = phi(z)``; LogEI
    ``= log psi(z) + log sigma``, ``dLogEI/dmean = +-h'(z) / sigma``,
    ``dLogEI/dsigma = (1 - z h'(z)) / sigma`` with ``h'(z) = Phi(z) / psi(z)`` taken in logs.
    """
    mean, variance, r, v = gp.moments(U)
    sigma = variance.clamp_min(MIN_VARIANCE).sqrt()
    z = _scaled_improvement(mean, sigma, best_f, maximize)
    if log:
        h = _log_ei_helper(z)
        value = h + sigma.log()
    else:
        value = sigma * _ei_helper(z)
    if not with_grad:
        return value, None
    sign = 1.0 if maximize else -1.0
    if log:
        slope = torch.exp(log_ndtr(z) - h)  # h'(z)
        d_mean, d_sigma = sign * slope / sigma, (1.0 - z * slope) / sigma
    else:
        d_mean, d_sigma = sign * ndtr(z), phi(z)
    d_variance = torch.where(variance >= MIN_VARIANCE, 0.5 * d_sigma / sigma, 0.0)
    return value, gp.moments_grad(U, r, v, d_mean, d_variance)


class _OnCopy(torch.nn.Module):
    """A wrapper of the copy of the user's acquisition (on a closed-form model) that answers
    some inputs itself; ``model`` and ``set_X_pending`` are the copy's."""

    def __init__(self, acquisition: torch.nn.Module) -> None:
        super().__init__()
        self.acquisition = acquisition

    @property
    def model(self) -> ClosedFormGP:
        return self.acquisition.model

    def set_X_pending(self, X_pending: Tensor | None = None) -> None:
        self.acquisition.set_X_pending(X_pending)


class ClosedFormImprovement(_OnCopy):
    """EI or LogEI (BoTorch's, copied onto a :class:`ClosedFormGP`) evaluated by
    :func:`improvement`: the same values, the gradient without autograd's graph. On a
    :class:`ClosedFormKernelGP`, BoTorch's formula on its moments, differentiated by autograd
    (without BoTorch's per-call decorators and device moves).

    Attributes:
        acquisition: The copy of the user's acquisition it evaluates (``best_f``,
            ``maximize``, ``model``).
    """

    def __init__(self, acquisition: torch.nn.Module) -> None:
        super().__init__(acquisition)
        self.log = isinstance(acquisition, LogExpectedImprovement)

    def forward(self, X: Tensor) -> Tensor:
        if X.dim() < 3 or X.shape[-2] != 1:  # q x d, or q > 1: BoTorch's checks and errors
            return self.acquisition(X)
        gp = self.acquisition.model
        if gp.cholesky.dtype != X.dtype or gp.cholesky.device != X.device:
            self.acquisition.to(X)  # as BoTorch's forward does, only when needed
        best_f = self.acquisition.best_f
        if isinstance(gp, ClosedFormKernelGP):  # BoTorch's formula on the moments; autograd
            posterior = gp.posterior(X)
            mean, variance = posterior.mean.reshape(-1), posterior.variance.reshape(-1)
            sigma = variance.clamp_min(MIN_VARIANCE).sqrt()
            z = _scaled_improvement(mean, sigma, best_f, self.acquisition.maximize)
            value = _log_ei_helper(z) + sigma.log() if self.log else sigma * _ei_helper(z)
            return value.reshape(X.shape[:-2])
        U = gp.scaled(X)
        value, grad = improvement(U.detach(), gp, best_f, self.acquisition.maximize, self.log,
                                  U.requires_grad)
        if grad is not None:
            value = _WithGradient.apply(U, value, grad)
        return value.reshape(X.shape[:-2])

    def value_and_grad(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Values (``b``) and their gradients with respect to ``X`` (``b x 1 x d``), without
        autograd: the same numbers as ``forward`` and a backward pass of the sum (by autograd
        on a :class:`ClosedFormKernelGP`, and for other shapes, which BoTorch's forward judges)."""
        gp = self.acquisition.model
        if isinstance(gp, ClosedFormKernelGP) or X.dim() != 3 or X.shape[-2] != 1:
            X = X.detach().requires_grad_(True)
            with torch.enable_grad():
                value = self(X)
                (grad,) = torch.autograd.grad(value.sum(), X)
            return value.detach(), grad
        if gp.cholesky.dtype != X.dtype or gp.cholesky.device != X.device:
            self.acquisition.to(X)
        value, grad = improvement(gp.scaled(X), gp, self.acquisition.best_f,
                                  self.acquisition.maximize, self.log, True)
        return value, gp.input_grad(grad).reshape(X.shape)


class _ClosedFormMC(_OnCopy):
    """An MC acquisition's copy answered by ``_evaluate`` (values and, if asked, gradients)
    where ``_covers`` says so, and by the copy's own forward elsewhere."""

    def forward(self, X: Tensor) -> Tensor:
        out = self._evaluate(X.detach(), X.requires_grad) if self._covers(X) else None
        if out is None:
            return self.acquisition(X)
        value, grad = out
        return value if grad is None else _WithGradient.apply(X, value, grad)

    def value_and_grad(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Values (``b``) and their gradients with respect to ``X`` (``b x q x d``): the
        numbers of ``forward`` and a backward pass of the sum."""
        out = self._evaluate(X.detach(), True) if self._covers(X) else None
        if out is not None:
            return out
        X = X.detach().requires_grad_(True)
        with torch.enable_grad():
            value = self.acquisition(X)
            (grad,) = torch.autograd.grad(value.sum(), X)
        return value.detach(), grad

    def _covers(self, X: Tensor) -> bool:
        raise NotImplementedError

    def _evaluate(self, X: Tensor, with_grad: bool) -> tuple[Tensor, Tensor | None] | None:
        raise NotImplementedError


class ClosedFormQLogEI(_ClosedFormMC):
    """BoTorch's ``qLogExpectedImprovement`` (copied onto a joint :class:`ClosedFormGP`)
    evaluated with its gradient in closed form, for any ``b x q x d`` batch and pending points.

    Single points without pending points (``b x 1 x d``) come from the marginal moments: the
    sample of a point's posterior is ``mean + sd * z_s`` with the sampler's fixed base samples
    ``z_s``, so BoTorch's own reduction (log fat-plus of the improvement per sample, the fat max
    over the points, the log-mean-exp over samples) is applied to those samples and its
    gradient is taken back through the moments, as :func:`improvement` does for LogEI. With
    ``w_s`` the samples' weights in the log-mean-exp and ``h_s`` the derivative of the log
    fat-plus at sample ``s``: ``dvalue/dmean = sum_s w_s h_s``, ``dvalue/dsd = sum_s w_s h_s
    z_s``.

    A q-batch, with the pending points after it as BoTorch appends them, is sampled from its
    joint posterior ``mean + chol(cov) z_s`` (the pending points' kernel rows and covariance
    computed once); the same reduction runs on the samples, and the gradient goes back by
    hand through the fat max, the Cholesky factor (torch's formula), the covariance
    ``k(X, X') - v'v`` and the kernel rows, instead of autograd through GPyTorch's posterior
    and BoTorch's sampler (:meth:`_joint`).

    Points whose covariance is not positive definite (where GPyTorch would add jitter), and
    options outside BoTorch's defaults (constraints, ``fat=False``), go to the copy's own
    forward.
    """

    def __init__(self, acquisition: torch.nn.Module) -> None:
        super().__init__(acquisition)
        self._pending_cache: tuple | None = None

    def _covers(self, X: Tensor) -> bool:
        acq = self.acquisition
        pending = acq.X_pending
        reduction = acq._q_reduction
        return (X.dim() == 3 and (pending is None or pending.dim() == 2)
                and getattr(acq, "_constraints", 0) is None and getattr(acq, "_fat", False)
                and isinstance(reduction, functools.partial) and reduction.func is fatmax
                and set(reduction.keywords) <= {"tau", "dim", "alpha"})

    def _base_samples(self, X: Tensor) -> Tensor:
        """The sampler's base samples for ``X``'s q points and the pending ones (``S x q'``),
        built as BoTorch builds them."""
        sampler, pending = self.acquisition.sampler, self.acquisition.X_pending
        size = X.shape[-2] + (0 if pending is None else pending.shape[-2])
        base = sampler.base_samples
        if base is None or base.shape[-2:] != (1, size) or base.dtype != X.dtype \
                or base.device != X.device:
            first = X[:1] if pending is None else torch.cat([X[:1], pending.to(X)[None]], -2)
            sampler(self.model.joint_posterior(first))  # (re)builds them
            base = sampler.base_samples
        return base.reshape(-1, size)

    def _evaluate(self, X: Tensor, with_grad: bool) -> tuple[Tensor, Tensor | None] | None:
        """Values and, ``with_grad``, gradients; None where a covariance is not positive
        definite (GPyTorch would add jitter there: the copy's forward answers)."""
        gp, acq = self.model, self.acquisition
        if gp.cholesky.dtype != X.dtype or gp.cholesky.device != X.device:
            acq.to(X)
        if X.shape[-2] != 1 or acq.X_pending is not None:
            return self._joint(X, with_grad)
        U = gp.scaled(X)
        mean, variance, r, v = gp.moments(U)
        if not bool((variance > 0).all()):
            return None
        sd = variance.sqrt()
        z = self._base_samples(X).reshape(-1)
        obj = (mean + sd * z.unsqueeze(-1)).unsqueeze(-1)  # S x b x 1, as BoTorch's samples
        reduced = _log_ei_reduction(acq, obj, with_grad)
        if reduced is None:
            return None
        value, dY = reduced
        if not with_grad:
            return value, None
        dY = dY.squeeze(-1)  # S x b
        d_mean = dY.sum(0)
        d_variance = (dY * z.unsqueeze(-1)).sum(0) / (2 * sd)
        return value, gp.input_grad(gp.moments_grad(U, r, v, d_mean, d_variance)).reshape(X.shape)

    def _pending(self, X: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor] | None:
        """The pending points' scaled inputs (``p x d``), ``v = L^-1 k`` (``n x p``), latent
        mean (``p``) and covariance (``p x p``), computed once per set of pending points."""
        pending = self.acquisition.X_pending
        if pending is None:
            return None
        gp = self.model
        cached = self._pending_cache  # per set of pending points and model (its dtype, device)
        if cached is None or cached[0] is not pending or cached[1] is not gp.cholesky:
            U = gp.scaled(pending.to(X))
            _, _, mean, v = gp.kernel_rows(U)
            covariance = gp.outputscale * correlation(torch.cdist(U, U), gp.nu) - v.T @ v
            self._pending_cache = (pending, gp.cholesky, (U, v, mean, covariance))
        return self._pending_cache[2]

    def _joint(self, X: Tensor, with_grad: bool) -> tuple[Tensor, Tensor | None] | None:
        """:meth:`_evaluate` for q-batches (``b x q x d``) and pending points.

        The joint posterior of the ``q`` points and the ``p`` pending ones is ``mean`` and
        ``cov = s C(Z, Z') - V'V`` (``V = L^-1 k``); the samples are ``mean + R z_s`` with
        ``R = chol(cov)``. Backward: the reduction gives ``dvalue/dY_sj``; then
        ``dmean_j = sum_s dY_sj``, ``dR_jk = sum_s dY_sj z_sk``, ``dcov`` by torch's Cholesky
        formula (symmetric), and the candidates' kernel rows get ``dmean_i w - 2 L^-T (V dcov)_i``
        and their covariances with the other points ``2 dcov_il`` (each entry and its mirror).
        """
        gp, acq = self.model, self.acquisition
        b, q, d = X.shape
        U = gp.scaled(X)  # bq x d
        r, _, mean, v = gp.kernel_rows(U)  # v: n x bq
        mean = mean.reshape(b, q)
        Ub, Vb = U.reshape(b, q, d), v.T.reshape(b, q, -1)
        r_xx = torch.cdist(Ub, Ub)
        cov = gp.outputscale * correlation(r_xx, gp.nu) - Vb @ Vb.transpose(-1, -2)
        pending = self._pending(X)
        if pending is not None:
            U_p, v_p, mean_p, cov_p = pending
            p = U_p.shape[0]
            r_xp = torch.cdist(U, U_p).reshape(b, q, p)
            cross = gp.outputscale * correlation(r_xp, gp.nu) - Vb @ v_p  # b x q x p
            cov = torch.cat([torch.cat([cov, cross], -1),
                             torch.cat([cross.transpose(-1, -2), cov_p.expand(b, p, p)], -1)], -2)
            mean = torch.cat([mean, mean_p.expand(b, p)], -1)
        if gp.y_std is not None:
            mean, cov = gp.y_mean + gp.y_std * mean, gp.y_std.pow(2) * cov
        R, info = torch.linalg.cholesky_ex(cov)
        if bool((info != 0).any()):
            return None
        z = self._base_samples(X)  # S x q'
        Y = mean + torch.einsum("bjk,sk->sbj", R, z)  # S x b x q', as BoTorch's samples
        reduced = _log_ei_reduction(acq, Y, with_grad)
        if reduced is None:  # an improvement of 0 in some sample: BoTorch's reduction
            if with_grad:
                return None
            with torch.no_grad():
                return acq._sample_reduction(acq._q_reduction(acq._sample_forward(Y))), None
        value, dY = reduced
        if not with_grad:
            return value, None
        d_mean = dY.sum(0)  # b x q'
        d_cov = _cholesky_grad(R, torch.einsum("sbj,sk->bjk", dY, z))
        if gp.y_std is not None:
            d_mean, d_cov = d_mean * gp.y_std, d_cov * gp.y_std.pow(2)
        VG = Vb.transpose(-1, -2) @ d_cov[:, :q, :q]  # b x n x q: (V dcov) at the candidates
        if pending is not None:
            VG = VG + v_p @ d_cov[:, q:, :q]
        a = torch.linalg.solve_triangular(gp.cholesky.T, VG.permute(1, 0, 2).reshape(-1, b * q),
                                          upper=True)  # n x bq
        grad = gp.rows_grad(U, r, d_mean[:, :q].reshape(-1, 1) * gp.weights.T - 2.0 * a.T)
        # each covariance entry between candidates, or with a pending point, and its mirror
        grad = grad + _pair_grad(gp, Ub, Ub, r_xx, 2.0 * d_cov[:, :q, :q]).reshape(b * q, d)
        if pending is not None:
            grad = grad + _pair_grad(gp, Ub, U_p, r_xp, 2.0 * d_cov[:, :q, q:]).reshape(b * q, d)
        return value, gp.input_grad(grad).reshape(X.shape)


class ClosedFormQLogNEI(_ClosedFormMC):
    """BoTorch's ``qLogNoisyExpectedImprovement`` (copied onto a joint :class:`ClosedFormGP`,
    with its cached baseline) evaluated with its gradient in closed form at single points
    (``b x 1 x d``).

    BoTorch samples a point jointly with the baseline by updating the baseline's cached
    Cholesky factor ``L_B``: with ``c = L_B^-1 cov(B, x)`` and ``sd = sqrt(var(x) - |c|^2)``, a
    sample is ``mean + c . e_s + sd z_s`` for the baseline's base samples ``e_s`` and the
    point's ``z_s``, and each sample's improvement is over that sample's best baseline value.
    Here the cross-covariance comes from the cached kernel rows of the baseline, BoTorch's
    reduction runs on the samples, and the gradient goes back by hand through ``sd``, ``c``
    and the kernel rows. q-batches, pending points that are not in the baseline
    (``incremental=False``), constraints, and points whose ``sd`` is not positive (where
    GPyTorch would add jitter) go to the copy's own forward.

    Args:
        acquisition: The copy of ``source`` on the closed-form model.
        source: The user's acquisition. New pending points are set on it (BoTorch rebuilds
            its baseline with the user's model: on the copy's model BoTorch would turn the
            cached root off, which changes the samples) and the copy is made again.
    """

    def __init__(self, acquisition: torch.nn.Module, source: torch.nn.Module) -> None:
        super().__init__(acquisition)
        self._source = (source,)  # held, not registered: not this module's parameter or buffer
        self._baseline_cache: tuple | None = None

    def set_X_pending(self, X_pending: Tensor | None = None) -> None:
        (source,) = self._source
        source.set_X_pending(X_pending)
        self.acquisition = copy.deepcopy(source, memo={id(source.model): self.model})

    def _covers(self, X: Tensor) -> bool:
        acq = self.acquisition
        return (X.dim() == 3 and X.shape[-2] == 1 and acq.X_pending is None
                and getattr(acq, "_constraints", 0) is None and getattr(acq, "_fat", False)
                and acq._cache_root and getattr(acq, "_baseline_L", None) is not None)

    def _baseline(self) -> tuple[Tensor, Tensor]:
        """The baseline's scaled inputs (``m x d``) and ``V_B = L^-1 k(train, B)``
        (``n x m``), computed once per baseline (BoTorch rebuilds it for new pending points)."""
        acq, gp = self.acquisition, self.model
        key = (acq.X_baseline, acq._baseline_L, gp.cholesky)  # the model: its dtype, device
        cached = self._baseline_cache
        if cached is None or any(a is not b for a, b in zip(cached[0], key)):
            U = gp.scaled(acq.X_baseline)
            self._baseline_cache = (key, (U, gp.kernel_rows(U)[3]))
        return self._baseline_cache[1]

    def _evaluate(self, X: Tensor, with_grad: bool) -> tuple[Tensor, Tensor | None] | None:
        gp, acq = self.model, self.acquisition
        if gp.cholesky.dtype != X.dtype or gp.cholesky.device != X.device:
            acq.to(X)
        U_b, V_b = self._baseline()
        m = U_b.shape[0]
        base = acq.sampler.base_samples
        L_b = acq._baseline_L
        if base is None or base.shape[-2:] != (1, m + 1) or base.dtype != X.dtype \
                or base.device != X.device or L_b.dtype != X.dtype:
            return None  # not drawn for a single point yet (the copy's forward draws them)
        e, z = base.reshape(-1, m + 1).split([m, 1], dim=-1)  # S x m, S x 1
        scale = 1.0 if gp.y_std is None else gp.y_std.pow(2)
        U = gp.scaled(X)  # b x d
        mean, variance, r, v = gp.moments(U)
        r_b = torch.cdist(U, U_b)
        cross = scale * (gp.outputscale * correlation(r_b, gp.nu) - v.T @ V_b)  # b x m
        c = torch.linalg.solve_triangular(L_b, cross.T, upper=False).T  # b x m
        rest = variance - c.pow(2).sum(-1)
        if not bool((rest > 0).all()):
            return None
        sd = rest.sqrt()
        Y = (mean + e @ c.T + z * sd).unsqueeze(-1)  # S x b x 1, as BoTorch's samples
        # the improvement of each sample is over that sample's best baseline value
        reduced = _log_ei_reduction(acq, Y, with_grad, best_f=acq.compute_best_f(Y))
        if reduced is None:
            return None
        value, dY = reduced
        if not with_grad:
            return value, None
        dY = dY.squeeze(-1)  # S x b
        d_sd = (dY * z).sum(0)
        d_variance = d_sd / (2 * sd)
        d_c = dY.T @ e - 2.0 * d_variance[:, None] * c  # b x m
        d_cross = scale * torch.linalg.solve_triangular(L_b.T, d_c.T, upper=True).T  # b x m
        # the latent moments: mean = m + k w, variance = s - |v|^2, cross = s c(x, B) - v'V_B
        d_mean = dY.sum(0)
        if gp.y_std is not None:
            d_mean, d_variance = d_mean * gp.y_std, d_variance * gp.y_std.pow(2)
        d_v = -2.0 * d_variance * v - V_b @ d_cross.T  # n x b
        d_rows = d_mean[:, None] * gp.weights.T \
            + torch.linalg.solve_triangular(gp.cholesky.T, d_v, upper=True).T
        grad = gp.rows_grad(U, r, d_rows) + _pair_grad(gp, U, U_b, r_b, d_cross)
        return value, gp.input_grad(grad).reshape(X.shape)


def _log_ei_reduction(acq: torch.nn.Module, Y: Tensor, with_grad: bool,
                      best_f: Tensor | None = None) -> tuple[Tensor, Tensor | None] | None:
    """BoTorch's qLogEI (or qLogNEI) reduction of the samples ``Y`` (``S x b x q'``),
    operation for operation as ``acq`` computes it (log fat-plus of the improvement over
    ``best_f``, ``acq.best_f`` by default; the fat max over the points; the log-mean-exp over
    the samples: so the same numbers), sharing its terms with the gradient: the values (``b``)
    and, ``with_grad``, ``dvalue/dY``. None where an improvement's log is not finite
    (BoTorch's reduction handles infinities; its gradient there is not taken here)."""
    tau, keywords = acq.tau_relu, acq._q_reduction.keywords
    tau_max, alpha = keywords.get("tau", TAU), keywords.get("alpha", ALPHA)
    best_f = acq.best_f if best_f is None else best_f
    u = (Y - best_f.unsqueeze(-1).to(Y)) / tau
    softplus = torch.nn.functional.softplus(u)
    cauchy = 1 / (1 + u.square())
    fat = softplus + 1e-1 * cauchy  # fatplus(u): the improvement's fat-plus over tau
    li = (tau * fat).log()  # S x b x q'
    if not bool(torch.isfinite(li).all()):
        return None
    if li.shape[-1] == 1:  # the fat max of one point is the point (M + tau_max log 1)
        best, d_li = li.squeeze(-1), None
    else:
        best, d_li = _fatmax(li, tau_max, alpha, with_grad)
    # the log-mean-exp over the samples
    top = best.amax(dim=(0,), keepdim=True)
    value = (top + torch.logsumexp(best - top, dim=(0,), keepdim=True)).sum(dim=(0,)) \
        - math.log(best.shape[0])
    if not with_grad:
        return value, None
    slope = (softplus_slope(u) - 0.2 * u * cauchy.square()) / fat / tau
    dY = torch.softmax(best, dim=0).unsqueeze(-1) * slope
    return value, dY if d_li is None else dY * d_li


def _fatmax(x: Tensor, tau: float, alpha: float,
            with_grad: bool) -> tuple[Tensor, Tensor | None]:
    """BoTorch's ``fatmax(x, dim=-1, tau, alpha)`` of finite ``x``, operation for operation:
    ``M + tau log sum_j p((M - x_j) / tau)`` with ``M = max_j x_j`` and ``p`` BoTorch's
    ``_pareto``; and, ``with_grad``, its gradient as autograd takes it (the part through ``M``
    goes to the maximal entries, shared evenly)."""
    M = x.amax(-1, keepdim=True)
    t = -(x - M) / tau
    a = alpha / 2
    beta1 = 2 * a
    beta0 = a * beta1
    den = beta0 + beta1 * t + t.square()
    p = (beta0 / den).pow(a)
    total = p.sum(-1, keepdim=True)
    value = (M + tau * total.log()).sum(-1)
    if not with_grad:
        return value, None
    dp = -a * p * (beta1 + 2 * t) / den  # dp/dt
    at_max = (x == M).to(x)
    return value, -dp / total + at_max / at_max.sum(-1, keepdim=True) \
        * (1 + dp.sum(-1, keepdim=True) / total)


def _cholesky_grad(R: Tensor, dR: Tensor) -> Tensor:
    """The gradient with respect to ``A`` of a function of ``R = chol(A)`` (lower), given its
    gradient ``dR`` with respect to ``R``: torch's formula, ``R^-T Phi(R'dR) R^-1`` with
    ``Phi`` the lower triangle, mirrored, the diagonal halved (a symmetric matrix)."""
    g = (R.transpose(-1, -2) @ dR).tril()
    g = 0.5 * (g + g.tril(-1).transpose(-1, -2))
    g = torch.linalg.solve_triangular(R.transpose(-1, -2), g, upper=True, left=True)
    return torch.linalg.solve_triangular(R, g, upper=False, left=False)


def _pair_grad(gp: ClosedFormGP, U: Tensor, V: Tensor, r: Tensor, weights: Tensor) -> Tensor:
    """``sum_l weights_il dk(u_i, v_l)/du_i`` (``... x d``) for the kernel ``k = s c(r)``
    between scaled points ``U`` (``... x q x d``) and ``V`` (``... x m x d`` or ``m x d``) at
    distances ``r``."""
    G = gp.outputscale * radial_slope(r, gp.nu) * weights
    return G.sum(-1, keepdim=True) * U - G @ V


def covered(acq_function: torch.nn.Module) -> bool:
    """Whether the acquisition's class is one the closed form may rebuild (its model and
    options are checked by :func:`closed_form_acquisition`)."""
    return type(acq_function) in SUPPORTED_ACQUISITIONS or type(acq_function) in MC_ACQUISITIONS


def closed_form_acquisition(acq_function: torch.nn.Module) -> torch.nn.Module | None:
    """A copy of ``acq_function`` on :class:`ClosedFormGP`, or None if it is not supported."""
    if not covered(acq_function):
        return None
    mc = type(acq_function) in MC_ACQUISITIONS
    if getattr(acq_function, "posterior_transform", None) is not None:
        return None
    if mc and (type(getattr(acq_function, "objective", None)) is not IdentityMCObjective
               or acq_function.sampler is None):  # no base samples to share yet
        return None
    try:
        model = ClosedFormGP(acq_function.model, joint=mc)
    except Unsupported:
        try:
            model = ClosedFormKernelGP(acq_function.model, joint=mc)
        except (Unsupported, AttributeError, RuntimeError):
            return None
    except (AttributeError, RuntimeError):
        return None
    acquisition = copy.deepcopy(acq_function, memo={id(acq_function.model): model})
    if type(acq_function) in (ExpectedImprovement, LogExpectedImprovement) \
            and acquisition.best_f.numel() == 1 and _log_ei_helper is not None:
        return ClosedFormImprovement(acquisition)
    sampler = acquisition.sampler if mc else None
    # fixed base samples along one sample dimension
    one_sample_dim = isinstance(sampler, NormalMCSampler) and len(sampler.sample_shape) == 1
    if type(acq_function) is qLogNoisyExpectedImprovement:  # only its own closed form
        if isinstance(model, ClosedFormGP) and one_sample_dim and acquisition._cache_root:
            return ClosedFormQLogNEI(acquisition, acq_function)
        return None
    if type(acq_function) is qLogExpectedImprovement and isinstance(model, ClosedFormGP) \
            and acquisition.best_f.numel() == 1 and one_sample_dim:
        return ClosedFormQLogEI(acquisition)
    return acquisition


def on_training_subset(acq_function: torch.nn.Module, m: int) -> torch.nn.Module | None:
    """A copy of ``acq_function`` whose model is the same GP (hyperparameters, transforms)
    conditioned on only its first ``m`` training points, for checking the closed form's
    reading of a model whose own first posterior call would cost ``O(n^3)``: GPyTorch's
    prediction caches. None when the model's prediction caches are already built (the check on
    the model itself is then cheap), when it has at most ``m`` points, or when the acquisition
    or the model is not one this copy is made for (one-output ``SingleTaskGP`` or
    ``MixedSingleTaskGP`` without batch shape; acquisitions without a cached baseline)."""
    model = getattr(acq_function, "model", None)
    if type(model) not in (SingleTaskGP, MixedSingleTaskGP) \
            or getattr(model, "prediction_strategy", None) is not None \
            or hasattr(acq_function, "X_baseline"):
        return None
    X, y = model.train_inputs[0], model.train_targets
    if X.dim() != 2 or y.dim() != 1 or X.shape[0] <= m:
        return None
    likelihood = model.likelihood
    if type(likelihood) not in (GaussianLikelihood, FixedNoiseGaussianLikelihood):
        return None
    small = copy.deepcopy(model)
    small.set_train_data(X[:m], y[:m], strict=False)  # also drops any prediction cache
    if type(likelihood) is FixedNoiseGaussianLikelihood:
        small.likelihood.noise_covar.initialize(noise=likelihood.noise_covar.noise[..., :m])
    return copy.deepcopy(acq_function, memo={id(model): small})


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
