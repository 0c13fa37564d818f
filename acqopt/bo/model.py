"""The GP (ARD Matern-5/2) and the acquisition functions (EI, LogEI) acqopt targets."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from botorch.optim.closures import get_loss_closure_with_grads

from botorch.acquisition import ExpectedImprovement, LogExpectedImprovement
from botorch.acquisition.analytic import AnalyticAcquisitionFunction
from botorch.fit import fit_gpytorch_mll
from botorch.models import MixedSingleTaskGP, SingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms import Normalize, Standardize
from gpytorch.kernels import MaternKernel, ScaleKernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.means import ConstantMean
from gpytorch.priors import LogNormalPrior
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from acqopt.closed_form import agrees, correlation, radial_slope, softplus_slope

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
    if mll is None:
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    else:
        fit_gpytorch_mll(mll, closure=mll.closure)
    return model.eval()


class ClosedFormMLL(ExactMarginalLogLikelihood):
    """``ExactMarginalLogLikelihood`` of :func:`fit_gp`'s ``SingleTaskGP`` with a loss closure
    for BoTorch's ``fit_gpytorch_mll`` (:meth:`closure`) that computes the loss and its
    gradient in closed form: one Cholesky factor of ``K = s C + noise I`` and

    ``loss = (r' K^-1 r / 2 + log|K| / 2 + n log(2 pi) / 2 - log p(noise)) / n``, ``r = y - c``,

    with ``dloss/dtheta = tr(W dK/dtheta) / 2n``, ``W = K^-1 - a a'``, ``a = K^-1 r``:
    ``tr(W) / 2n`` for the noise, ``sum(W * C) / 2n`` for the scale ``s``, ``-sum(a) / n`` for
    the constant, and for lengthscale ``l_k``, with scaled inputs ``z = x / l`` and
    ``dC_ij/dl_k = -c'(r_ij) / r_ij (z_ik - z_jk)^2 / l_k``, the sum
    ``sum_ij M_ij (z_ik - z_jk)^2 = 2 z_k' diag(M 1) z_k - 2 z_k' M z_k`` of
    ``M = W * c'(r) / r``; the noise's log-normal prior and the constraints' softplus are
    differentiated by hand too, so no autograd graph is built.

    Most of a GPyTorch evaluation is its machinery, not this arithmetic: a value and gradient
    take 3.1-4.8 ms through GPyTorch at n = 20-100 (6 inputs, one thread), the arithmetic above
    0.4-0.8 ms. Where the Cholesky factor fails (GPyTorch would add jitter, or raise for the fit to
    retry) that evaluation is GPyTorch's.

    Raises:
        ValueError: For a model of another structure (kernel, mean, likelihood, priors or
            constraints than :func:`fit_gp` builds without ``cat_dims``).
    """

    # the raw parameters in the order BoTorch's fit passes them, and where each one lives
    NAMES = ("likelihood.noise_covar.raw_noise", "model.mean_module.raw_constant",
             "model.covar_module.raw_outputscale", "model.covar_module.base_kernel.raw_lengthscale")

    def __init__(self, likelihood, model) -> None:
        super().__init__(likelihood, model)
        kernel = model.covar_module
        if type(model) is not SingleTaskGP or type(kernel) is not ScaleKernel \
                or type(kernel.base_kernel) is not MaternKernel \
                or type(model.mean_module) is not ConstantMean \
                or type(likelihood) is not GaussianLikelihood:
            raise ValueError("model: expected fit_gp's SingleTaskGP (a scaled Matern kernel, "
                             "a constant mean, a Gaussian likelihood)")
        noise = likelihood.noise_covar
        priors = [(name, prior) for name, _, prior, _, _ in model.named_priors()]
        if [name for name, _ in priors] != ["likelihood.noise_covar.noise_prior"] \
                or type(priors[0][1]) is not LogNormalPrior:
            raise ValueError("model: expected one prior, log-normal on the noise")
        self.noise_prior = priors[0][1]
        self.constraints = (noise.raw_noise_constraint, None, kernel.raw_outputscale_constraint,
                            kernel.base_kernel.raw_lengthscale_constraint)
        if tuple(n for n, p in self.named_parameters() if p.requires_grad) != self.NAMES \
                or not all(c is None or _softplus_or_none(c) for c in self.constraints):
            raise ValueError("model: expected fit_gp's parameters and constraints")
        training = model.training
        model.train()  # BoTorch keeps the untransformed inputs in train mode
        with torch.no_grad():
            self.inputs = model.transform_inputs(model.train_inputs[0])
        model.train(training)
        self.nu = kernel.base_kernel.nu
        self.gpytorch_closure = get_loss_closure_with_grads(
            ExactMarginalLogLikelihood(likelihood, model), dict(self.named_parameters()))

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
            ours, theirs = mll.closure(), mll.gpytorch_closure()
        except RuntimeError:  # GPyTorch's own evaluation failed: the fit will say so
            return None
        pairs = zip((ours[0], *ours[1]), (theirs[0], *theirs[1]))
        return mll if all(b is not None and agrees(b.detach().reshape(-1), a.reshape(-1))
                          for a, b in pairs) else None

    def closure(self, **kwargs) -> tuple[Tensor, tuple[Tensor, ...]]:
        """The negative marginal log likelihood per point with the prior, as BoTorch's loss
        closure for ``ExactMarginalLogLikelihood`` returns it, and its gradients with respect
        to the raw parameters (``NAMES``), for ``fit_gpytorch_mll(mll, closure=...)``."""
        model = self.model
        raws = (model.likelihood.noise_covar.raw_noise, model.mean_module.raw_constant,
                model.covar_module.raw_outputscale,
                model.covar_module.base_kernel.raw_lengthscale)
        with torch.no_grad():
            values = [raw if c is None else c.transform(raw)
                      for raw, c in zip(raws, self.constraints)]
            noise, constant, scale, lengthscale = (v.reshape(-1) for v in values)
            out = self._value_and_grad(noise, scale, lengthscale, constant)
        if out is None:  # not positive definite: GPyTorch's evaluation
            return self.gpytorch_closure(**kwargs)
        with torch.no_grad():
            loss, (d_noise, d_scale, d_lengthscale, d_constant) = out
            n = self.inputs.shape[0]
            # the prior: log p(x) = log N(log x; loc, scale) - log x, as GPyTorch's log_prob
            loc, sd = self.noise_prior.loc, self.noise_prior.scale
            log_noise = noise.log()
            z = (log_noise - loc) / sd
            log_prior = -0.5 * z.pow(2) - sd.log() - 0.5 * math.log(2 * math.pi) - log_noise
            loss = loss - log_prior.sum() / n
            d_noise = d_noise + (1 + z / sd) / (noise * n)
            grads = tuple(
                (d if c is None or not c.enforced else d * softplus_slope(raw)).reshape(raw.shape)
                for d, raw, c in zip((d_noise, d_constant, d_scale, d_lengthscale), raws,
                                     self.constraints))
        return loss, grads

    def _value_and_grad(self, noise, scale, lengthscale, constant):
        """The loss without the prior and its gradients with respect to the noise, the scale,
        the lengthscales and the constant; None if ``K`` has no Cholesky factor."""
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
        return value, (W.diagonal().sum() / (2 * n), (W * C).sum() / (2 * n),
                       -scale * S / lengthscale / (2 * n), -a.sum() / n)


def _softplus_or_none(constraint) -> bool:
    """Whether a GPyTorch constraint maps raw values by softplus (beta 1, threshold 20: the
    slope :func:`acqopt.closed_form.softplus_slope` takes) or not at all."""
    transform = constraint._transform
    return transform is None or (isinstance(transform, torch.nn.Softplus)
                                 and transform.beta == 1 and transform.threshold == 20)


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
