"""The GP (ARD Matern-5/2) and the acquisition functions (EI, LogEI) acqopt targets."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from botorch.acquisition import ExpectedImprovement, LogExpectedImprovement
from botorch.acquisition.analytic import AnalyticAcquisitionFunction
from botorch.fit import fit_gpytorch_mll
from botorch.models import MixedSingleTaskGP, SingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms import Normalize, Standardize
from gpytorch.kernels import MaternKernel, ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

ACQUISITIONS = ("ei", "logei")


def fit_gp(train_X: Tensor, train_Y: Tensor, bounds: Tensor | None = None,
           cat_dims: Sequence[int] = (), *, warm_start: Model | None = None) -> SingleTaskGP:
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
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model.eval()


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
