"""The closed-form evaluator: the same values and gradients as BoTorch on every supported
model, transform and acquisition; BoTorch's path for everything else."""

import contextlib

import pytest
import torch
from botorch.acquisition import (
    qExpectedImprovement,
    qLogExpectedImprovement,
    qLogNoisyExpectedImprovement,
    qUpperConfidenceBound,
)
from botorch.acquisition.analytic import (
    ExpectedImprovement,
    LogExpectedImprovement,
    LogProbabilityOfImprovement,
    PosteriorMean,
    ProbabilityOfImprovement,
    UpperConfidenceBound,
)
from botorch.acquisition.objective import GenericMCObjective, ScalarizedPosteriorTransform
from botorch.models import ModelListGP, SingleTaskGP
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Log, Standardize
from botorch.sampling import SobolQMCNormalSampler
from gpytorch.kernels import MaternKernel, PeriodicKernel, RBFKernel, ScaleKernel

import acqopt
from acqopt.closed_form import (
    ClosedFormGP,
    ClosedFormImprovement,
    ClosedFormQLogEI,
    ClosedFormQLogNEI,
    Unsupported,
    closed_form_acquisition,
)

D = 3
KERNELS = {
    "scale-matern52-ard": lambda: ScaleKernel(MaternKernel(nu=2.5, ard_num_dims=D)),
    "matern32": lambda: MaternKernel(nu=1.5),
    "rbf-ard": lambda: RBFKernel(ard_num_dims=D),
    "scale-rbf": lambda: ScaleKernel(RBFKernel()),
}
ACQUISITIONS = {
    "ei": lambda m, best: ExpectedImprovement(m, best_f=best),
    "logei": lambda m, best: LogExpectedImprovement(m, best_f=best),
    "logei-min": lambda m, best: LogExpectedImprovement(m, best_f=-best, maximize=False),
    "ucb": lambda m, best: UpperConfidenceBound(m, beta=2.0),
    "pi": lambda m, best: ProbabilityOfImprovement(m, best_f=best),
    "logpi": lambda m, best: LogProbabilityOfImprovement(m, best_f=best),
    "mean": lambda m, best: PosteriorMean(m),
}


def make_model(kernel="scale-matern52-ard", transforms=True, fixed_noise=False, n=25, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = 2.0 + 3.0 * torch.rand(n, D, generator=g, dtype=torch.float64)  # box [2, 5]^3
    Y = torch.sin(2 * X).sum(-1, keepdim=True) * 4.0 + 1.0
    kwargs = {"train_Yvar": torch.full_like(Y, 0.01)} if fixed_noise else {}
    model = SingleTaskGP(
        X, Y, covar_module=KERNELS[kernel](),
        input_transform=Normalize(D) if transforms else None,
        outcome_transform=Standardize(1) if transforms else None, **kwargs,
    )
    with torch.no_grad():  # hyperparameters of a plausible fit, not the defaults
        base = model.covar_module.base_kernel if hasattr(model.covar_module, "base_kernel") \
            else model.covar_module
        base.lengthscale = torch.linspace(0.2, 0.6, base.lengthscale.shape[-1],
                                          dtype=torch.float64)
        if hasattr(model.covar_module, "outputscale"):
            model.covar_module.outputscale = torch.tensor(1.7, dtype=torch.float64)
        if not fixed_noise:
            model.likelihood.noise = torch.tensor([1e-3], dtype=torch.float64)
    model.eval()
    return model, float(Y.max())


def compare(acq, fast, seed=1, q=1, device="cpu"):
    X = 2.0 + 3.0 * torch.rand(64, q, D, generator=torch.Generator().manual_seed(seed),
                               dtype=torch.float64).to(device)
    X_ref, X_fast = X.clone().requires_grad_(True), X.clone().requires_grad_(True)
    ref, got = acq(X_ref), fast(X_fast)
    torch.testing.assert_close(got, ref, rtol=1e-9, atol=1e-12)
    ref.sum().backward()
    got.sum().backward()
    torch.testing.assert_close(X_fast.grad, X_ref.grad, rtol=1e-7, atol=1e-10)
    if isinstance(fast, (ClosedFormImprovement, ClosedFormQLogEI)):  # its direct path:
        values, grad = fast.value_and_grad(X.clone())  # autograd's numbers, exactly
        assert torch.equal(values, got.detach()) and torch.equal(grad, X_fast.grad)


@pytest.mark.parametrize("acquisition", sorted(ACQUISITIONS))
@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_matches_botorch_for_every_kernel_and_acquisition(kernel, acquisition):
    model, best = make_model(kernel)
    acq = ACQUISITIONS[acquisition](model, best)
    fast = closed_form_acquisition(acq)
    assert fast is not None
    # EI and LogEI come with their gradient in closed form, the rest by autograd
    assert type(getattr(fast, "acquisition", fast)) is type(acq)
    assert isinstance(fast, ClosedFormImprovement) == (acquisition in ("ei", "logei", "logei-min"))
    compare(acq, fast)


MC_ACQUISITIONS = {
    "qei": lambda m, best, sampler: qExpectedImprovement(m, best_f=best, sampler=sampler),
    "qlogei": lambda m, best, sampler: qLogExpectedImprovement(m, best_f=best, sampler=sampler),
    "qucb": lambda m, best, sampler: qUpperConfidenceBound(m, beta=2.0, sampler=sampler),
}


@pytest.mark.parametrize("transforms", [True, False])
@pytest.mark.parametrize("acquisition", sorted(MC_ACQUISITIONS))
@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_mc_acquisitions_match_botorch_with_the_same_base_samples(kernel, acquisition, transforms):
    # q = 3 points jointly: the closed form's joint posterior, sampled by BoTorch's own sampler
    # with the acquisition's fixed base samples, gives BoTorch's values and gradients
    model, best = make_model(kernel, transforms=transforms)
    sampler = SobolQMCNormalSampler(sample_shape=torch.Size([64]), seed=0)
    acq = MC_ACQUISITIONS[acquisition](model, best - 1.0, sampler)
    fast = closed_form_acquisition(acq)
    copy = getattr(fast, "acquisition", fast)  # qLogEI's single points have their own path
    assert fast is not None and type(copy) is type(acq) and copy.model.joint
    compare(acq, fast, q=3)


@pytest.mark.parametrize("transforms", [True, False])
@pytest.mark.parametrize("kernel", ["scale-matern52-ard", "matern32", "rbf-ard"])
def test_qlogei_is_answered_in_closed_form_with_and_without_pending_points(kernel, transforms):
    # single points from the marginal moments, q-batches and pending points from the joint
    # posterior sampled with BoTorch's base samples, the gradients taken back by hand:
    # BoTorch's values and gradients, whichever pending points are set
    model, best = make_model(kernel, transforms=transforms)
    acq = qLogExpectedImprovement(model, best_f=best - 1.0,
                                  sampler=SobolQMCNormalSampler(torch.Size([64]), seed=0))
    fast = closed_form_acquisition(acq)
    assert isinstance(fast, ClosedFormQLogEI)
    compare(acq, fast, q=1)
    compare(acq, fast, q=2)
    for seed, size in [(5, 2), (6, 3)]:  # new pending points: new cached factors
        pending = 2.0 + 3.0 * torch.rand(size, D, generator=torch.Generator().manual_seed(seed),
                                         dtype=torch.float64)
        acq.set_X_pending(pending)
        fast.set_X_pending(pending)
        compare(acq, fast, q=1)
        compare(acq, fast, q=3)
    acq.set_X_pending(None)
    fast.set_X_pending(None)
    compare(acq, fast, q=2)


@pytest.mark.parametrize("transforms", [True, False])
@pytest.mark.parametrize("kernel", ["scale-matern52-ard", "matern32", "rbf-ard"])
def test_qlognei_single_points_are_answered_in_closed_form(kernel, transforms):
    # a point sampled jointly with the cached baseline (BoTorch's low-rank update of its
    # Cholesky factor, its base samples), BoTorch's reduction over each sample's best baseline
    # value, the gradient by hand: BoTorch's values and gradients, also after pending points
    # join the baseline; q-batches are the copy's (on the closed-form joint posterior)
    model, _ = make_model(kernel, transforms=transforms)
    X_baseline = model.train_inputs[0][:6]
    if transforms:
        X_baseline = model.input_transform.untransform(X_baseline)
    acq = qLogNoisyExpectedImprovement(model, X_baseline, prune_baseline=False,
                                       sampler=SobolQMCNormalSampler(torch.Size([64]), seed=0))
    fast = closed_form_acquisition(acq)
    assert isinstance(fast, ClosedFormQLogNEI)
    X = 2.0 + 3.0 * torch.rand(5, 1, D, generator=torch.Generator().manual_seed(3),
                               dtype=torch.float64)
    assert fast._evaluate(X, False) is None  # base samples for one point not drawn yet
    compare(acq, fast, q=1)  # the copy draws them, as BoTorch's forward
    assert fast._evaluate(X, False) is not None
    compare(acq, fast, q=1, seed=2)
    pending = 2.0 + 3.0 * torch.rand(2, D, generator=torch.Generator().manual_seed(5),
                                     dtype=torch.float64)
    acq.set_X_pending(pending)
    fast.set_X_pending(pending)
    compare(acq, fast, q=1)
    compare(acq, fast, q=1, seed=2)
    assert fast._evaluate(X, False) is not None
    compare(acq, fast, q=2)


def test_qlogei_batch_that_is_not_positive_definite_goes_to_botorch_jitter():
    # a q-batch repeating a point has a singular covariance: GPyTorch factors it with jitter,
    # so the copy's own forward answers it, as BoTorch (to the jitter's rounding: GPyTorch's
    # covariance of the repeated point differs from the closed form's in the last digits)
    model, best = make_model()
    acq = qLogExpectedImprovement(model, best_f=best - 1.0,
                                  sampler=SobolQMCNormalSampler(torch.Size([64]), seed=0))
    fast = closed_form_acquisition(acq)
    X = 2.0 + 3.0 * torch.rand(4, 1, D, generator=torch.Generator().manual_seed(2),
                               dtype=torch.float64)
    X = torch.cat([X, X], dim=-2)
    assert fast._evaluate(X, True) is None
    torch.testing.assert_close(fast(X), acq(X), rtol=1e-4, atol=1e-9)
    values, grad = fast.value_and_grad(X)
    assert values.shape == (4,) and torch.isfinite(grad).all()


@pytest.mark.parametrize("transforms", [True, False])
@pytest.mark.parametrize("fixed_noise", [True, False])
def test_matches_botorch_with_and_without_transforms_and_fixed_noise(transforms, fixed_noise):
    model, best = make_model(transforms=transforms, fixed_noise=fixed_noise)
    for name in ("logei", "ucb"):
        acq = ACQUISITIONS[name](model, best)
        compare(acq, closed_form_acquisition(acq))


def test_the_users_acquisition_is_left_untouched():
    model, best = make_model()
    acq = LogExpectedImprovement(model, best_f=best)
    fast = closed_form_acquisition(acq)
    assert acq.model is model and fast.model is not model
    assert fast.acquisition.best_f == acq.best_f


def test_unsupported_models_and_acquisitions_take_botorch_path():
    model, best = make_model()
    X_baseline = torch.rand(4, D, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    sampler = SobolQMCNormalSampler(sample_shape=torch.Size([16]), seed=0)
    assert closed_form_acquisition(qLogNoisyExpectedImprovement(  # no cached baseline root
        model, X_baseline, sampler=sampler, prune_baseline=False, cache_root=False)) is None
    objective = GenericMCObjective(lambda samples, X=None: samples[..., 0])
    assert closed_form_acquisition(
        qLogExpectedImprovement(model, best_f=best, objective=objective, sampler=sampler)) is None
    weights = torch.ones(1, dtype=torch.float64)
    transformed = LogExpectedImprovement(
        model, best_f=best, posterior_transform=ScalarizedPosteriorTransform(weights))
    assert closed_form_acquisition(transformed) is None
    g = torch.Generator().manual_seed(0)
    X = torch.rand(10, D, generator=g, dtype=torch.float64)
    Y = X.sum(-1, keepdim=True)
    for other in (
        SingleTaskGP(X, Y, covar_module=PeriodicKernel()),
        SingleTaskGP(X, Y, covar_module=MaternKernel(nu=0.5)),
        SingleTaskGP(X, Y.exp(), outcome_transform=Log()),
    ):
        assert closed_form_acquisition(PosteriorMean(other)) is None
    for multi in (SingleTaskGP(X, torch.cat([Y, -Y], -1)),
                  ModelListGP(SingleTaskGP(X, Y), SingleTaskGP(X, -Y))):
        with pytest.raises(Unsupported):
            ClosedFormGP(multi)


@pytest.mark.parametrize("fast", [True, False])
def test_optimize_reports_the_evaluator_and_fast_false_turns_it_off(fast):
    model, best = make_model()
    acq = LogExpectedImprovement(model, best_f=best)
    bounds = torch.tensor([[2.0] * D, [5.0] * D], dtype=torch.float64)
    r = acqopt.get_optimizer("lbfgs", fast=fast).optimize(acq, bounds, generator=0)
    assert r.info["evaluator"] == ("closed-form" if fast else "botorch")
    assert float(r.acq_value) == pytest.approx(float(acq(r.candidates.unsqueeze(0))), rel=1e-9)
    x, v = acqopt.optimize_acqf(acq, bounds, q=1, num_restarts=4, raw_samples=64, fast=fast,
                                generator=0)
    assert float(v) == pytest.approx(float(acq(x.unsqueeze(0))), rel=1e-9)


def bias_the_closed_form(monkeypatch):
    """A wrong closed-form posterior (its mean 1e-6 off): the check must catch it."""
    import acqopt.closed_form as cf

    original = cf.ClosedFormGP.moments

    def biased(self, U):
        mean, *rest = original(self, U)
        return mean + 1e-6, *rest

    monkeypatch.setattr(cf.ClosedFormGP, "moments", biased)


def test_a_disagreeing_closed_form_is_not_used(monkeypatch):
    bias_the_closed_form(monkeypatch)
    model, best = make_model()
    acq = LogExpectedImprovement(model, best_f=best)
    bounds = torch.tensor([[2.0] * D, [5.0] * D], dtype=torch.float64)
    r = acqopt.get_optimizer("lbfgs").optimize(acq, bounds, generator=0)
    assert r.info["evaluator"] == "botorch (the closed form disagreed)"
    assert float(r.acq_value) == pytest.approx(float(acq(r.candidates.unsqueeze(0))), rel=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda():
    model, best = make_model()
    acq = LogExpectedImprovement(model.cuda(), best_f=best)
    compare(acq.cuda(), closed_form_acquisition(acq), device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_mc_closed_forms_run_on_cuda():
    # qLogEI's joint path with pending points and qLogNEI's baseline update, on the device
    model, best = make_model()
    model = model.cuda()
    sampler = SobolQMCNormalSampler(torch.Size([64]), seed=0)
    acq = qLogExpectedImprovement(model, best_f=best - 1.0, sampler=sampler)
    acq.set_X_pending(2.0 + 3.0 * torch.rand(2, D, dtype=torch.float64, device="cuda"))
    acq(2.0 + 3.0 * torch.rand(4, 2, D, dtype=torch.float64, device="cuda"))  # base samples
    fast = closed_form_acquisition(acq)
    assert isinstance(fast, ClosedFormQLogEI)
    compare(acq, fast, q=2, device="cuda")
    baseline = model.input_transform.untransform(model.train_inputs[0][:6])
    nei = qLogNoisyExpectedImprovement(model, baseline, prune_baseline=False,
                                       sampler=SobolQMCNormalSampler(torch.Size([64]), seed=0))
    nei(2.0 + 3.0 * torch.rand(4, 1, D, dtype=torch.float64, device="cuda"))
    fast = closed_form_acquisition(nei)
    assert isinstance(fast, ClosedFormQLogNEI)
    compare(nei, fast, q=1, device="cuda")
    assert fast._evaluate(2.0 + 3.0 * torch.rand(4, 1, D, dtype=torch.float64, device="cuda"),
                          False) is not None


@pytest.mark.parametrize("kernel", ["scale-matern52-ard", "matern32", "rbf-ard"])
@pytest.mark.parametrize("shift", [5.0, 50.0])
def test_the_closed_form_gradient_holds_far_below_the_incumbent(kernel, shift):
    # LogEI's gradient is taken in logs: it must agree with autograd through BoTorch's
    # _log_ei_helper where EI itself underflows (values of -40 to -17000 here).
    model, best = make_model(kernel)
    for cls in (LogExpectedImprovement, ExpectedImprovement):
        acq = cls(model, best_f=best + shift)
        fast = closed_form_acquisition(acq)
        assert isinstance(fast, ClosedFormImprovement)
        compare(acq, fast)


def test_the_direct_gradient_follows_a_normalize_on_some_inputs_only():
    g = torch.Generator().manual_seed(3)
    X = 2.0 + 3.0 * torch.rand(20, D, generator=g, dtype=torch.float64)
    Y = torch.sin(2 * X).sum(-1, keepdim=True)
    model = SingleTaskGP(X, Y, input_transform=Normalize(D, indices=[0, 2]),
                         outcome_transform=Standardize(1)).eval()
    acq = LogExpectedImprovement(model, best_f=float(Y.max()))
    fast = closed_form_acquisition(acq)
    assert isinstance(fast, ClosedFormImprovement)
    compare(acq, fast)


def test_an_mc_acquisition_without_a_sampler_takes_the_closed_form_after_its_first_call():
    # BoTorch's default qLogEI draws its sampler (and base samples) on its first call: the
    # closed-form copy is made after it, shares them and answers every later call
    model, best = make_model()
    acq = qLogExpectedImprovement(model, best_f=best)
    bounds = torch.tensor([[2.0] * D, [5.0] * D], dtype=torch.float64)
    with torch.random.fork_rng():
        torch.manual_seed(0)  # BoTorch seeds its sampler from the global RNG
        r = acqopt.get_optimizer("lbfgs").optimize(acq, bounds, q=2, budget=600, generator=0)
        assert acq.sampler is not None
        value = acq(r.candidates.unsqueeze(0))
    assert r.info["evaluator"] == "closed-form"
    assert float(r.acq_value) == pytest.approx(float(value), rel=1e-9)


def approximate_above_the_cholesky_size(monkeypatch):
    """BoTorch's LogEI on a SingleTaskGP answering as an iterative approximation would, off by
    1e-6 relative, when the model has more points than max_cholesky_size (BoTorch 0.18 turns
    GPyTorch's fast solves off, so its own posteriors stay exact; a user may turn them on)."""
    import gpytorch

    original = LogExpectedImprovement.forward

    def forward(self, X):
        value = original(self, X)
        n = self.model.train_inputs[0].shape[-2] if isinstance(self.model, SingleTaskGP) else 0
        if n > gpytorch.settings.max_cholesky_size.value():
            value = value * (1 + 1e-6)
        return value

    monkeypatch.setattr(LogExpectedImprovement, "forward", forward)


def test_above_the_cholesky_size_the_closed_form_is_checked_against_botorchs_exact_answer(
        monkeypatch):
    """With more training points than gpytorch.settings.max_cholesky_size, an approximate
    BoTorch answer does not refuse the closed form: it is checked against BoTorch's exact
    answer instead, used, and the approximation's error at the check reported."""
    import gpytorch

    approximate_above_the_cholesky_size(monkeypatch)
    model, best = make_model(n=60)
    acq = LogExpectedImprovement(model, best_f=best)
    bounds = torch.tensor([[2.0] * D, [5.0] * D], dtype=torch.float64)
    with gpytorch.settings.max_cholesky_size(40):
        r = acqopt.get_optimizer("lbfgs").optimize(acq, bounds, generator=0, budget=300)
    assert r.info["evaluator"] == "closed-form"
    assert r.info["approximation_error"] == pytest.approx(1e-6, rel=1e-3)
    exact = float(acq(r.candidates.unsqueeze(0)))  # outside the context: no approximation
    assert float(r.acq_value) == pytest.approx(exact, rel=1e-9)
    r = acqopt.get_optimizer("lbfgs").optimize(acq, bounds, generator=0, budget=300)
    assert r.info["evaluator"] == "closed-form" and "approximation_error" not in r.info


def test_a_wrong_closed_form_is_refused_above_the_cholesky_size_too(monkeypatch):
    import gpytorch

    bias_the_closed_form(monkeypatch)
    approximate_above_the_cholesky_size(monkeypatch)
    model, best = make_model(n=60)
    acq = LogExpectedImprovement(model, best_f=best)
    bounds = torch.tensor([[2.0] * D, [5.0] * D], dtype=torch.float64)
    with gpytorch.settings.max_cholesky_size(40):
        r = acqopt.get_optimizer("lbfgs").optimize(acq, bounds, generator=0, budget=300)
    assert r.info["evaluator"] == "botorch (the closed form disagreed)"


def test_large_raw_sample_batches_are_chunked_under_the_memory_bound(monkeypatch):
    """A batch too large for the memory bound is evaluated in chunks: the same values, counted
    as one call of all its queries."""
    import acqopt.counting as counting

    model, best = make_model(n=40)
    acq = LogExpectedImprovement(model, best_f=best)
    X = torch.rand(50, 1, D, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    whole = acqopt.CountingAcquisition(acq)
    with torch.no_grad():
        expected = whole(X)
    monkeypatch.setattr(counting, "CPU_MEMORY_BOUND", 8 * 40 * (D + 4) * 7)  # 7 rows a chunk
    seen = []
    original = LogExpectedImprovement.forward
    monkeypatch.setattr(LogExpectedImprovement, "forward",
                        lambda self, Z: seen.append(Z.shape[0]) or original(self, Z))
    chunked = acqopt.CountingAcquisition(acq)
    with torch.no_grad():
        values = chunked(X)
    assert seen == [7] * 7 + [1]
    assert torch.allclose(values, expected, rtol=1e-12) and chunked.counts.calls == 1
    assert chunked.counts.queries == 50


@pytest.mark.parametrize("biased", [False, True])
def test_a_first_large_batch_is_checked_on_its_first_rows(monkeypatch, biased):
    """The first batch of raw samples: BoTorch answers only its first CHECK_ROWS rows; the
    closed form, if it agrees there, answers the rest (BoTorch's values to 1e-9), else BoTorch
    answers every row. Counted as one call of all its queries."""
    from acqopt.counting import CHECK_ROWS

    if biased:
        bias_the_closed_form(monkeypatch)
    model, best = make_model()
    acq = LogExpectedImprovement(model, best_f=best)
    X = 2.0 + 3.0 * torch.rand(100, 1, D, generator=torch.Generator().manual_seed(0),
                               dtype=torch.float64)
    with torch.no_grad():
        expected = acq(X)
    seen = []
    original = LogExpectedImprovement.forward
    monkeypatch.setattr(LogExpectedImprovement, "forward",
                        lambda self, Z: seen.append(Z.shape[0]) or original(self, Z))
    counter = acqopt.CountingAcquisition(acq, fast=True)
    with torch.no_grad():
        values = counter(X)
    if biased:
        assert counter.evaluator == "botorch (the closed form disagreed)"
        assert seen == [CHECK_ROWS, 100 - CHECK_ROWS]
        torch.testing.assert_close(values, expected, rtol=1e-12, atol=0.0)
    else:
        assert counter.evaluator == "closed-form"
        assert seen == [CHECK_ROWS]  # the rest went to the closed form (not BoTorch's class)
        torch.testing.assert_close(values, expected, rtol=1e-9, atol=1e-12)
    assert counter.counts.calls == 1 and counter.counts.queries == 100


@pytest.mark.parametrize("kernel,fixed_noise,acquisition", [
    ("scale-matern52-ard", False, "logei"), ("matern32", True, "ei"),
    ("rbf-ard", False, "qlogei"), ("scale-rbf", True, "ucb"),
])
def test_a_large_model_without_caches_is_checked_on_a_training_subset(
        monkeypatch, kernel, fixed_noise, acquisition):
    """With more than SUBSET_ABOVE training points and no GPyTorch prediction caches, the check
    runs on a copy conditioned on the first CHECK_TRAIN points: BoTorch is never called on the
    model itself (its caches stay unbuilt), the closed form answers every call, and its values
    are BoTorch's on the whole model."""
    from acqopt.counting import CHECK_TRAIN, SUBSET_ABOVE

    model, best = make_model(kernel, fixed_noise=fixed_noise, n=SUBSET_ABOVE + 30)
    if acquisition == "qlogei":
        acq = qLogExpectedImprovement(model, best_f=best,
                                      sampler=SobolQMCNormalSampler(torch.Size([64]), seed=3))
    else:
        acq = ACQUISITIONS[acquisition](model, best)
    seen = []
    original = type(acq).forward
    monkeypatch.setattr(type(acq), "forward", lambda self, Z: isinstance(
        self.model, SingleTaskGP) and seen.append(self.model.train_inputs[0].shape[0])
        or original(self, Z))  # BoTorch's class on a GPyTorch model (not the closed form's)
    bounds = torch.tensor([[2.0] * D, [5.0] * D], dtype=torch.float64)
    r = acqopt.get_optimizer("lbfgs").optimize(acq, bounds, q=2 if acquisition == "qlogei"
                                               else 1, budget=400, generator=0)
    assert r.info["evaluator"] == "closed-form"
    assert seen == [CHECK_TRAIN]  # BoTorch answered the check's copy only
    assert model.prediction_strategy is None
    monkeypatch.undo()
    with torch.no_grad():
        expected = acq(r.candidates.unsqueeze(0))
    assert float(r.acq_value) == pytest.approx(float(expected), rel=1e-9)


def test_a_wrong_closed_form_is_refused_by_the_subset_check(monkeypatch):
    from acqopt.counting import SUBSET_ABOVE

    bias_the_closed_form(monkeypatch)
    model, best = make_model(n=SUBSET_ABOVE + 10)
    acq = LogExpectedImprovement(model, best_f=best)
    bounds = torch.tensor([[2.0] * D, [5.0] * D], dtype=torch.float64)
    r = acqopt.get_optimizer("lbfgs").optimize(acq, bounds, generator=0, budget=400)
    assert r.info["evaluator"] == "botorch (the closed form disagreed)"
    assert float(r.acq_value) == pytest.approx(float(acq(r.candidates.unsqueeze(0))), rel=1e-12)


def test_the_subset_check_is_made_only_where_the_full_check_would_be_costly():
    """No copy for a small model, a model whose prediction caches exist (the check on it is
    cheap), or an acquisition holding a baseline computed on the whole model."""
    from acqopt.closed_form import on_training_subset
    from acqopt.counting import CHECK_TRAIN

    small, best = make_model(n=CHECK_TRAIN)
    assert on_training_subset(LogExpectedImprovement(small, best_f=best), CHECK_TRAIN) is None
    model, best = make_model(n=CHECK_TRAIN + 1)
    acq = LogExpectedImprovement(model, best_f=best)
    copy = on_training_subset(acq, CHECK_TRAIN)
    assert copy.model.train_inputs[0].shape[0] == CHECK_TRAIN and copy.model is not model
    assert model.train_inputs[0].shape[0] == CHECK_TRAIN + 1
    nei = qLogNoisyExpectedImprovement(model, X_baseline=model.train_inputs[0][:5],
                                       sampler=SobolQMCNormalSampler(torch.Size([8]), seed=0),
                                       prune_baseline=False)
    model.prediction_strategy = None
    assert on_training_subset(nei, CHECK_TRAIN) is None
    with torch.no_grad():
        acq(torch.rand(2, 1, D, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    assert on_training_subset(acq, CHECK_TRAIN) is None


def _sequential_run(monkeypatch, session: bool, sequence: bool = False, agree: bool = True):
    """A sequential qLogEI selection of 4 through acqopt.optimize_acqf; the candidates, the
    calls BoTorch's own forward answered, and each step's counter's evaluator when made
    ("botorch (checking)": it checks)."""
    import acqopt.api as api
    import acqopt.counting as counting

    model, best = make_model()
    acq = qLogExpectedImprovement(model, best, sampler=SobolQMCNormalSampler(torch.Size([64]),
                                                                             seed=3))
    botorch_calls = []
    forward = qLogExpectedImprovement.forward
    monkeypatch.setattr(qLogExpectedImprovement, "forward",
                        lambda self, X: botorch_calls.append(self) or forward(self, X))
    if not session:
        monkeypatch.setattr(api, "sequential_session", lambda acq: contextlib.nullcontext())
    if not agree:
        monkeypatch.setattr(counting, "agrees", lambda reference, fast: False)
    made = []
    init = counting.CountingAcquisition.__init__

    def record(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self.evaluator)
    monkeypatch.setattr(counting.CountingAcquisition, "__init__", record)
    bounds = torch.tensor([[2.0] * D, [5.0] * D], dtype=torch.float64)
    kwargs = dict(acq_function_sequence=[acq] * 4) if sequence else {}
    X, _ = acqopt.optimize_acqf(acq, bounds, 4, 4, 64, sequential=True, generator=0, **kwargs)
    return X, [a for a in botorch_calls if a is acq], made


def test_a_sequential_selection_checks_the_closed_form_until_its_pending_path_passed(
        monkeypatch):
    """The first step (no pending points) checks the marginal path, the second the pending
    points' joint path; the closed form that passed it answers the later steps without
    BoTorch's answer (only the pending points change): the same candidates, bit for bit, as
    with a check at every step, two calls of BoTorch's forward instead of four; the session
    ends with the selection."""
    from acqopt.counting import _SESSIONS

    once, calls_once, made_once = _sequential_run(monkeypatch, session=True)
    assert not _SESSIONS
    monkeypatch.undo()
    every, calls_every, made_every = _sequential_run(monkeypatch, session=False)
    assert torch.equal(once, every)
    assert len(calls_once) == 2 and len(calls_every) == 4
    assert made_once == ["botorch (checking)"] * 2 + ["closed-form"] * 2
    assert made_every == ["botorch (checking)"] * 4


@pytest.mark.parametrize("case", ["sequence", "disagreement"])
def test_a_sequential_selection_checks_every_step_without_a_passed_check_to_reuse(monkeypatch,
                                                                                  case):
    """With acq_function_sequence (one acquisition a step, here the same object four times) no
    session is opened, and a check that disagrees hands nothing on: every step is checked."""
    _, _, made = _sequential_run(monkeypatch, session=True, sequence=case == "sequence",
                                 agree=case != "disagreement")
    assert made == ["botorch (checking)"] * 4


def test_a_session_hands_the_checked_closed_form_only_to_its_own_acquisition():
    """Inside a session, a check of single points without pending ones hands nothing on; once
    a check with pending points passed, a counter on the same acquisition takes that closed
    form (evaluator "closed-form" before any call, with the acquisition's pending points); a
    counter on another acquisition, or after the session, checks again."""
    from acqopt.counting import _SESSIONS, CountingAcquisition, sequential_session

    model, best = make_model()
    acq, other = (qLogExpectedImprovement(model, best, sampler=SobolQMCNormalSampler(
        torch.Size([64]), seed=seed)) for seed in (1, 2))
    X = 2.0 + 3.0 * torch.rand(40, 1, D, generator=torch.Generator().manual_seed(0),
                               dtype=torch.float64)
    with sequential_session(acq):
        first = CountingAcquisition(acq, fast=True)
        first(X)
        assert first.evaluator == "closed-form"
        acq.set_X_pending(X[0])
        second = CountingAcquisition(acq, fast=True)
        assert second.evaluator == "botorch (checking)"
        second(X)
        assert second.evaluator == "closed-form"
        acq.set_X_pending(X[:2, 0])
        later = CountingAcquisition(acq, fast=True)
        assert later.evaluator == "closed-form" and later.acq_function is second.acq_function
        assert torch.equal(later.acq_function.acquisition.X_pending, acq.X_pending)
        assert CountingAcquisition(other, fast=True).evaluator == "botorch (checking)"
    assert not _SESSIONS
    assert CountingAcquisition(acq, fast=True).evaluator == "botorch (checking)"


def test_a_handed_on_closed_form_carries_the_approximation_error_of_its_check(monkeypatch):
    """Above gpytorch.settings.max_cholesky_size, the error of BoTorch's approximate answer at
    the check that handed the closed form on is reported by the later steps' counters too."""
    import gpytorch

    from acqopt.counting import CountingAcquisition, sequential_session

    original = qLogExpectedImprovement.forward

    def forward(self, X):  # an iterative approximation, off by 1e-6 relative
        value = original(self, X)
        n = self.model.train_inputs[0].shape[-2] if isinstance(self.model, SingleTaskGP) else 0
        if n > gpytorch.settings.max_cholesky_size.value():
            value = value * (1 + 1e-6)
        return value

    monkeypatch.setattr(qLogExpectedImprovement, "forward", forward)
    model, best = make_model(n=60)
    acq = qLogExpectedImprovement(model, best, sampler=SobolQMCNormalSampler(torch.Size([64]),
                                                                             seed=1))
    X = 2.0 + 3.0 * torch.rand(40, 1, D, generator=torch.Generator().manual_seed(0),
                               dtype=torch.float64)
    with gpytorch.settings.max_cholesky_size(40), sequential_session(acq):
        for pending in (None, X[0], X[:2, 0]):
            acq.set_X_pending(pending)
            counter = CountingAcquisition(acq, fast=True)
            counter(X)
            assert counter.evaluator == "closed-form"
            assert counter.approximation_error == pytest.approx(1e-6, rel=1e-3)
    acq.set_X_pending(None)
