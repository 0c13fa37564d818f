"""The GP (ARD Matern-5/2) and the acquisition functions (EI, LogEI) acqopt targets."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from botorch.optim.closures import get_loss_closure, get_loss_closure_with_grads

from botorch.acquisition import ExpectedImprovement, LogExpectedImprovement
from botorch.acquisition.analytic import AnalyticAcquisitionFunction
from botorch.fit import fit_gpytorch_mll
from botorch.models import MixedSingleTaskGP, SingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms import Normalize, Standardize
from gpytorch.kernels import MaternKernel, ScaleKernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.means import ConstantMean
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from acqopt.closed_form import _WithGradient, agrees, correlation, radial_slope

ACQUISITIONS = ("ei", "logei")


def fit_gp(train_X: Tensor, train_Y: Tensor, bounds: Tensor | None = None,
           cat_dims: Sequence[int] = (), *, warm_start: Model | None = None,
           closed_form: bool = True) -> SingleTaskGP:
    """Fits ``SingleTaskGP`` with ``ScaleKernel(MaternKernel(nu=2.5, ard_num_dims=d))``, or,
    with ``cat_dims``, BoTorch's ``MixedSingleTaskGP`` (a categorical kernel on those columns,
    which compares categories only for equality, and its default Matern-5/2 on the others).

    Args:
        train_X: ``n x d`` inputs, best in the unit cube.
        train_Y: ``n x 1`` observations to be *maximised*; standardised by the model.
        bounds: ``2 x d`` box of ``train_X``: when given, a fixed ``Normalize`` input transform
            maps it to the unit cube (the same model as fitting the normalised inputs, but it
            takes inputs in the box's coordinates); None applies no input transform.
        cat_dims: Categorical columns (each value a category; only equality matters).
        warm_start: A model fitted by ``fit_gp`` with the same ``d`` and ``cat_dims`` (on
            other data, e.g. the previous BO step's): the fit starts from its hyperparameters
            instead of GPyTorch's defaults, as Ax's ``warm_start_refit`` does. On a BO loop's
            next step that takes 5-10x fewer marginal-likelihood evaluations to a fit of
            about the same likelihood (see :func:`acqopt.bo.minimize`'s ``refit``).
        closed_form: Compute the marginal likelihood and its gradient in closed form
            (:class:`ClosedFormMLL`, checked against GPyTorch's at the fit's start; the same
            objective, optimiser and retries as BoTorch's ``fit_gpytorch_mll``, 2-3x less time
            per evaluation). False, or a model it does not cover (``cat_dims``), fits through
            GPyTorch. Which one fitted is the model's ``fitted_by`` ("closed_form" or
            "gpytorch").

    Returns:
        The fitted model in eval mode (hyperparameters by maximum marginal likelihood).
    """
    if train_X.dim() != 2 or train_Y.shape != (train_X.shape[0], 1):
        raise ValueError(
            f"train_X, train_Y: expected n x d and n x 1, got {tuple(train_X.shape)} and "
            f"{tuple(train_Y.shape)}"
        )
    d = train_X.shape[-1]
    if bounds is not None and (bounds.shape != (2, d) or not bool((bounds[1] > bounds[0]).all())):
        raise ValueError(f"bounds: expected 2 x {d} with lower < upper, got "
                         f"{tuple(bounds.shape)}")
    normalize = None if bounds is None else Normalize(d, bounds=bounds.to(train_X))
    if cat_dims:
        model = MixedSingleTaskGP(train_X, train_Y, cat_dims=list(cat_dims),
                                  outcome_transform=Standardize(m=1), input_transform=normalize)
    else:
        covar = ScaleKernel(MaternKernel(nu=2.5, ard_num_dims=d))
        model = SingleTaskGP(
            train_X, train_Y, covar_module=covar, outcome_transform=Standardize(m=1),
            input_transform=normalize,
        )
    if warm_start is not None:
        _copy_hyperparameters(warm_start, model)
    mll = ClosedFormMLL.if_it_agrees(model) if closed_form and not cat_dims else None
    model.fitted_by = "gpytorch" if mll is None else "closed_form"
    fit_gpytorch_mll(mll or ExactMarginalLogLikelihood(model.likelihood, model))
    return model.eval()


class ClosedFormMLL(ExactMarginalLogLikelihood):
    """``ExactMarginalLogLikelihood`` of :func:`fit_gp`'s ``SingleTaskGP`` whose loss for
    BoTorch's fit (``compute_custom_loss``, which ``fit_gpytorch_mll`` calls instead of the
    GPyTorch model) comes in closed form: one Cholesky factor of ``K = s C + noise I`` and

    ``loss = (r' K^-1 r / 2 + log|K| / 2 + n log(2 pi) / 2 - log prior) / n``, ``r = y - c``,

    with the gradient ``dloss/dtheta = tr(W dK/dtheta) / 2n``, ``W = K^-1 - a a'``,
    ``a = K^-1 r``: ``tr(W) / 2n`` for the noise, ``sum(W * C) / 2n`` for the scale ``s``,
    ``-sum(a) / n`` for the constant, and for lengthscale ``l_k``, with scaled inputs
    ``z = x / l`` and ``dC_ij/dl_k = -c'(r_ij) / r_ij (z_ik - z_jk)^2 / l_k``, the sum
    ``sum_ij M_ij (z_ik - z_jk)^2 = 2 z_k' diag(M 1) z_k - 2 z_k' M z_k`` of
    ``M = W * c'(r) / r``. The priors' terms are GPyTorch's own, through autograd.

    Most of a GPyTorch evaluation is its machinery, not this arithmetic: a value and gradient
    take 3.9-4.8 ms through GPyTorch at n = 20-100 (6 inputs, one thread) and 1.7-1.9 ms here,
    0.5-0.7 of it the arithmetic above and most of the rest autograd through the constraints
    and priors; a warm-started fit takes about half the time. Where the Cholesky factor fails
    (GPyTorch would add jitter, or raise for the fit to retry) that evaluation is GPyTorch's.
    """

    def __init__(self, likelihood, model) -> None:
        super().__init__(likelihood, model)
        kernel = model.covar_module
        if type(model) is not SingleTaskGP or type(kernel) is not ScaleKernel \
                or type(kernel.base_kernel) is not MaternKernel \
                or type(model.mean_module) is not ConstantMean \
                or type(likelihood) is not GaussianLikelihood:
            raise ValueError("model: expected fit_gp's SingleTaskGP (a scaled Matern kernel, "
                             "a constant mean, a Gaussian likelihood)")
        training = model.training
        model.train()  # BoTorch keeps the untransformed inputs in train mode
        with torch.no_grad():
            self.inputs = model.transform_inputs(model.train_inputs[0])
        model.train(training)
        self.nu = kernel.base_kernel.nu
        self.gpytorch_loss = get_loss_closure(ExactMarginalLogLikelihood(likelihood, model))

    @classmethod
    def if_it_agrees(cls, model: SingleTaskGP) -> ClosedFormMLL | None:
        """The closed form for ``model`` if its loss and gradient at the model's current
        hyperparameters equal GPyTorch's (to 1e-9 relative); None otherwise."""
        try:
            mll = cls(model.likelihood, model)
        except ValueError:
            return None
        mll.train()
        try:
            ours, theirs = (get_loss_closure_with_grads(m, dict(mll.named_parameters()))()
                            for m in (mll, ExactMarginalLogLikelihood(model.likelihood, model)))
        except RuntimeError:  # GPyTorch's own evaluation failed: the fit will say so
            return None
        pairs = zip((ours[0], *ours[1]), (theirs[0], *theirs[1]))
        return mll if all(a is not None and b is not None
                          and agrees(b.detach().reshape(-1), a.detach().reshape(-1))
                          for a, b in pairs) else None

    def compute_custom_loss(self, **kwargs) -> Tensor:
        """The negative marginal log likelihood per point with the priors, as BoTorch's loss
        closure for ``ExactMarginalLogLikelihood`` returns it."""
        model = self.model
        kernel = model.covar_module
        noise, scale = model.likelihood.noise.reshape(-1), kernel.outputscale.reshape(-1)
        lengthscale = kernel.base_kernel.lengthscale.reshape(-1)
        constant = model.mean_module.constant.reshape(-1)
        theta = torch.cat([noise, scale, lengthscale, constant])
        with torch.no_grad():
            value_grad = self._value_and_grad(noise, scale, lengthscale, constant)
        if value_grad is None:  # not positive definite: GPyTorch's evaluation
            return self.gpytorch_loss(**kwargs)
        loss = _WithGradient.apply(theta, *value_grad)
        n = self.inputs.shape[0]
        for _, module, prior, closure, _ in model.named_priors():
            loss = loss - prior.log_prob(closure(module)).sum() / n
        return loss

    def _value_and_grad(self, noise, scale, lengthscale, constant):
        Z = self.inputs / lengthscale
        n = Z.shape[0]
        r = torch.cdist(Z, Z)
        C = correlation(r, self.nu)
        L, info = torch.linalg.cholesky_ex(scale * C + torch.diag_embed(noise.expand(n)))
        if int(info) != 0:
            return None
        residual = (self.model.train_targets - constant).unsqueeze(-1)
        a = torch.cholesky_solve(residual, L)
        value = (0.5 * (residual * a).sum() + L.diagonal().log().sum()
                 + 0.5 * n * math.log(2 * math.pi)) / n
        W = torch.cholesky_inverse(L) - a @ a.T
        M = W * radial_slope(r, self.nu)
        S = 2.0 * (Z.pow(2) * M.sum(-1, keepdim=True)).sum(0) - 2.0 * ((M @ Z) * Z).sum(0)
        grad = torch.cat([W.diagonal().sum().reshape(1), (W * C).sum().reshape(1),
                          -scale * S / lengthscale, -2.0 * a.sum().reshape(1)]) / (2 * n)
        return value, grad


def _copy_hyperparameters(source: Model, target: Model) -> None:
    """Sets ``target``'s hyperparameters (its parameters: the raw lengthscales, scales, noise
    and constant mean) to ``source``'s; ValueError if the two models differ in structure."""
    theirs = dict(source.named_parameters())
    ours = dict(target.named_parameters())
    if type(source) is not type(target) or theirs.keys() != ours.keys() or any(
            theirs[k].shape != ours[k].shape for k in ours):
        raise ValueError(
            f"warm_start: expected a model fitted by fit_gp with the same dimension and "
            f"cat_dims ({type(target).__name__} with parameters "
            f"{ {k: tuple(v.shape) for k, v in ours.items()} }), got {type(source).__name__} "
            f"with { {k: tuple(v.shape) for k, v in theirs.items()} }")
    with torch.no_grad():
        for k, p in ours.items():
            p.copy_(theirs[k].to(p))


def log_marginal_likelihood(model: Model) -> float:
    """The fitted model's marginal log likelihood on its training data per data point (with the
    hyperparameters' log prior, as ``ExactMarginalLogLikelihood`` computes it for the fit):
    what the fit maximised, so two fits of the same data compare by it."""
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    model.train()
    try:
        with torch.no_grad():
            out = model(*model.train_inputs)
            value = float(mll(out, model.train_targets, *model.train_inputs))
    finally:
        model.eval()
    return value


def make_acquisition(model: SingleTaskGP, kind: str = "logei") -> AnalyticAcquisitionFunction:
    """EI or LogEI with ``best_f`` the best observed value."""
    if kind not in ACQUISITIONS:
        raise ValueError(f"acquisition: expected one of {ACQUISITIONS}, got {kind!r}")
    best_f = model.train_targets.max() if model.outcome_transform is None else None
    if best_f is None:
        Y = model.outcome_transform.untransform(model.train_targets.unsqueeze(-1))[0]
        best_f = Y.max()
    cls = LogExpectedImprovement if kind == "logei" else ExpectedImprovement
    return cls(model, best_f=best_f)
