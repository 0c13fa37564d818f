"""acqopt.bo: search space, the BO loop, and the examples (each with --quick)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import acqopt

from acqopt.bo import Integer, Real, Space, minimize

ROOT = Path(__file__).resolve().parents[1]
SPACE = Space([Real("x", -2.0, 2.0), Real("lr", 1e-4, 1.0, log=True), Integer("k", 1, 9)])


def quadratic(p):
    return (p["x"] - 0.5) ** 2 + (math.log10(p["lr"]) + 2) ** 2 + (p["k"] - 4) ** 2


def test_space_round_trip_and_rounding():
    p = {"x": 0.25, "lr": 1e-2, "k": 7}
    u = SPACE.to_unit(p)
    back = SPACE.to_params(u)
    assert back["k"] == 7 and math.isclose(back["x"], 0.25) and math.isclose(back["lr"], 1e-2)
    assert math.isclose(float(u[1]), 0.5)  # log scale: 1e-2 is half way from 1e-4 to 1
    assert SPACE.integer_dims == (2,)
    assert SPACE.to_params(torch.tensor([0.0, 0.0, 0.49]))["k"] == 5
    assert torch.equal(SPACE.space_bounds(), torch.tensor([[0.0, 0, 1], [1.0, 1, 9]]).double())


def test_bad_space():
    with pytest.raises(ValueError, match="low < high"):
        Real("a", 1.0, 0.0)
    with pytest.raises(ValueError, match="low > 0"):
        Real("a", 0.0, 1.0, log=True)
    with pytest.raises(ValueError, match="distinct"):
        Space([Real("a", 0, 1), Real("a", 0, 2)])


@pytest.mark.parametrize("method", ["lbfgs", "vo"])
def test_minimize_improves_and_records(method):
    h = minimize(quadratic, SPACE, n_init=6, n_iter=6, method=method, budget=600, seed=0,
                 progress=False)
    assert len(h) == 12 and len(h.records()) == 12
    assert h.best[-1] <= h.best[5] and h.best == sorted(h.best, reverse=True)
    assert all(q == 0 for q in h.queries[:6]) and all(0 < q <= 600 for q in h.queries[6:])
    assert all(isinstance(p["k"], int) for p in h.params)


def test_failures_are_recorded_and_skipped():
    calls = []

    def flaky(p):
        calls.append(p)
        if len(calls) % 3 == 0:
            raise RuntimeError("simulation crashed")
        if len(calls) % 5 == 0:
            return float("nan")
        return quadratic(p)

    h = minimize(flaky, SPACE, n_init=5, n_iter=5, budget=600, seed=1, progress=False)
    assert len(h) == 10
    errors = [e for e in h.errors if e is not None]
    assert any("simulation crashed" in e for e in errors) and any("nan" in e for e in errors)
    assert all(math.isnan(v) for v, e in zip(h.values, h.errors) if e is not None)
    assert math.isfinite(h.best_value)


def test_resume_matches_an_uninterrupted_run():
    full = minimize(quadratic, SPACE, n_init=5, n_iter=4, budget=600, seed=2, progress=False)
    part = minimize(quadratic, SPACE, n_init=5, n_iter=1, budget=600, seed=2, progress=False)
    resumed = minimize(quadratic, SPACE, n_init=5, n_iter=4, budget=600, seed=2,
                       progress=False, history=part)
    assert resumed.params == full.params and resumed.values == full.values


def test_callback_and_bad_arguments():
    seen = []
    minimize(quadratic, SPACE, n_init=3, n_iter=1, budget=600, seed=0, progress=False,
             callback=lambda h: seen.append(len(h)))
    assert seen == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="acquisition"):
        minimize(quadratic, SPACE, n_init=3, n_iter=1, acquisition="ucb")
    with pytest.raises(ValueError, match="method"):
        minimize(quadratic, SPACE, n_init=3, n_iter=1, method="nope")
    with pytest.raises(ValueError, match="method"):
        minimize(quadratic, SPACE, n_init=3, n_iter=1, method=object())


def test_minimize_takes_an_optimizer_object_and_records_each_step():
    h = minimize(quadratic, SPACE, n_init=4, n_iter=2, method=acqopt.get_optimizer("lbfgs"),
                 budget=400, seed=0, progress=False)
    assert h.method == "lbfgs" and h.proposals[:4] == [None] * 4
    assert all(t > 0 for t in h.fit_time[4:] + h.acq_time[4:])
    assert all(set(p) >= {"acq_value", "dist_incumbent", "dist_data", "dist_centre",
                          "near_equal_far"} for p in h.proposals[4:])
    # dist_centre is measured in the unit cube of the space, from its middle, before the
    # integer k (1..9) is rounded: at most half its unit step (1/16) from the evaluated point's.
    for params, p in zip(h.params[4:], h.proposals[4:]):
        u = SPACE.to_unit(params)
        assert p["dist_centre"] == pytest.approx(float((u - 0.5).norm()), abs=1 / 16)


@pytest.mark.parametrize("method", acqopt.available_methods())
def test_botorch_loop_runs_unchanged_with_every_method(method):
    args = [sys.executable, "-m", "examples.botorch_loop", "--quick", "--method", method]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count("step") == 5


@pytest.mark.parametrize("example", ["digits_logreg", "alpine1_20d", "botorch_loop",
                                     "sklearn_search"])
def test_example_quick(example, tmp_path):
    args = [sys.executable, "-m", f"examples.{example}", "--quick"]
    if example in ("digits_logreg", "alpine1_20d"):
        args += ["--out", str(tmp_path)]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    if example in ("digits_logreg", "alpine1_20d"):
        assert (tmp_path / f"{example}.png").stat().st_size > 1000
    if example == "digits_logreg":
        errors = [float(line.split("best test error ")[1].split()[0])
                  for line in out.stdout.splitlines() if "best test error" in line]
        assert errors and max(errors) < 0.1


def test_demo_prints_both_tables_and_a_two_line_summary():
    args = [sys.executable, "-m", "examples.demo", "--d", "3", "--n", "12", "--repeats", "2",
            "--methods", "lbfgs", "cma"]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    for kind in ("LOGEI", "EI"):
        table = lines.index(next(x for x in lines if x.startswith(f"{kind} (budget")))
        names = [x.split()[0] for x in lines[table + 2: table + 5]]
        assert names == ["botorch", "lbfgs", "cma"]
    summary = lines[lines.index("Summary:") + 1:]
    assert len(summary) == 2 and summary[0].startswith("LOGEI: ") and summary[1].startswith("EI: ")
    assert "methods reach BoTorch's value" in summary[0]


@pytest.mark.parametrize("param", [
    lambda: Real("x", 0.0, math.inf), lambda: Real("x", math.nan, 1.0), lambda: Real("x", 1.0, 1.0),
    lambda: Real("x", 0.0, 1.0, log=True), lambda: Real("x", "0", 1.0),
    lambda: Real("x", 0.1, 1.0, log="yes"), lambda: Integer("n", 0, 2.5),
    lambda: Integer("n", False, 3),
])
def test_space_rejects_bad_dimensions(param):
    with pytest.raises(ValueError, match="x|n"):
        param()


@pytest.mark.parametrize("n_init, n_iter", [(1.5, 2), (2, 1.5), (0, 2), (True, 2)])
def test_minimize_rejects_non_integer_counts(n_init, n_iter):
    with pytest.raises(ValueError, match="n_init|n_iter"):
        minimize(quadratic, SPACE, n_init=n_init, n_iter=n_iter, progress=False)


def test_non_numbers_from_the_objective_are_failures():
    answers = iter(["1.5", True, None, 0.5, 0.25])
    h = minimize(lambda p: next(answers), SPACE, n_init=5, n_iter=0, progress=False)
    assert [e is not None for e in h.errors] == [True, True, True, False, False]
    assert "not a real number" in h.errors[0] and h.best_value == 0.25


def test_a_failed_proposal_is_recorded_and_the_loop_goes_on():
    class Broken:
        name = "broken"

        def optimize(self, *args, **kwargs):
            raise RuntimeError("the optimiser fell over")

    h = minimize(quadratic, SPACE, n_init=3, n_iter=2, method=Broken(), progress=False)
    assert len(h) == 5 and all(math.isfinite(v) for v in h.values)
    assert all("the optimiser fell over" in p["failed"] for p in h.proposals[3:])


def test_resuming_checks_method_seed_and_space():
    h = minimize(quadratic, SPACE, n_init=3, n_iter=0, seed=1, progress=False)
    with pytest.raises(ValueError, match="seed 1, not 2"):
        minimize(quadratic, SPACE, n_init=3, n_iter=1, seed=2, history=h, progress=False)
    with pytest.raises(ValueError, match="method 'lbfgs', not 'cma'"):
        minimize(quadratic, SPACE, n_init=3, n_iter=1, seed=1, method="cma", history=h,
                 progress=False)
    other = Space([Real("z", 0.0, 1.0)])
    with pytest.raises(ValueError, match="parameters"):
        minimize(lambda p: p["z"], other, n_init=3, n_iter=1, seed=1, history=h, progress=False)


def test_the_loop_acquisition_reaches_the_closed_form_evaluator():
    """The optimiser sees a plain BoTorch acquisition (on space coordinates through a fixed
    Normalize when there are integers), which the closed-form evaluator recognises."""
    space = Space([Real("x", -2.0, 2.0), Real("lr", 1e-4, 1.0, log=True)])
    f = lambda p: (p["x"] - 0.5) ** 2 + (math.log10(p["lr"]) + 2) ** 2  # noqa: E731
    h = minimize(f, space, n_init=5, n_iter=2, budget=300, seed=0, progress=False)
    assert [p["evaluator"] for p in h.proposals[5:]] == ["closed-form"] * 2
    h = minimize(quadratic, SPACE, n_init=5, n_iter=1, budget=300, seed=0, progress=False)
    assert h.proposals[5]["evaluator"] == "closed-form"


def test_fit_gp_on_a_box_is_the_unit_cube_model():
    from acqopt.bo import fit_gp

    g = torch.Generator().manual_seed(0)
    U = torch.rand(12, 3, generator=g, dtype=torch.float64)
    Y = torch.sin(5 * U).sum(-1, keepdim=True)
    bounds = SPACE.space_bounds()
    S = SPACE.unit_to_space(U)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        unit = fit_gp(U, Y)
        torch.manual_seed(0)
        boxed = fit_gp(S, Y, bounds=bounds)
    V = torch.rand(5, 3, generator=g, dtype=torch.float64)
    with torch.no_grad():
        a, b = unit.posterior(V), boxed.posterior(SPACE.unit_to_space(V))
    assert torch.allclose(a.mean, b.mean, atol=1e-6) and torch.allclose(a.variance, b.variance,
                                                                          atol=1e-6)
    with pytest.raises(ValueError, match="bounds"):
        fit_gp(S, Y, bounds=bounds[:, :2])


def test_fit_gp_warm_start_starts_from_the_given_models_hyperparameters(monkeypatch):
    """With the fit itself switched off, a warm-started model has exactly the source's
    hyperparameters (a fresh one GPyTorch's defaults); a model of another structure is refused."""
    import acqopt.bo.model as model_module
    from acqopt.bo import fit_gp

    g = torch.Generator().manual_seed(0)
    U = torch.rand(12, 3, generator=g, dtype=torch.float64)
    Y = torch.sin(5 * U).sum(-1, keepdim=True)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        source = fit_gp(U, Y)
    monkeypatch.setattr(model_module, "fit_gpytorch_mll", lambda mll, **kwargs: None)
    warm = fit_gp(U[:8], Y[:8], warm_start=source)
    cold = fit_gp(U[:8], Y[:8])
    theirs = dict(source.named_parameters())
    for name, p in warm.named_parameters():
        assert torch.equal(p, theirs[name]), name
    assert not all(torch.equal(p, theirs[k]) for k, p in cold.named_parameters())
    with pytest.raises(ValueError, match="warm_start"):
        fit_gp(U[:, :2], Y, warm_start=source)
    with pytest.raises(ValueError, match="warm_start"):
        fit_gp(U, Y, cat_dims=[2], warm_start=source)


def _likelihood_data(n, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    U = torch.rand(n, d, generator=g, dtype=torch.float64)
    return U, torch.sin(5 * U).sum(-1, keepdim=True) + 0.1 * torch.randn(n, 1, generator=g,
                                                                         dtype=torch.float64)


@pytest.mark.parametrize("n,boxed", [(6, False), (30, True), (80, False)])
def test_the_closed_form_likelihood_and_gradient_are_gpytorchs(n, boxed):
    """At hyperparameters far from a fit (each drawn at random), the closed form's loss and
    its gradients with respect to every raw parameter equal GPyTorch's to 1e-9 relative."""
    from botorch.optim.closures import get_loss_closure_with_grads
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from acqopt.bo import fit_gp
    from acqopt.bo.model import ClosedFormMLL

    U, Y = _likelihood_data(n)
    X, bounds = (SPACE.unit_to_space(U), SPACE.space_bounds()) if boxed else (U, None)
    model = fit_gp(X, Y, bounds=bounds)
    g = torch.Generator().manual_seed(n)
    for _ in range(3):
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
            model.likelihood.noise = 10 ** (-4 * torch.rand(1, generator=g, dtype=torch.float64))
        ours, theirs = ClosedFormMLL(model.likelihood, model), \
            ExactMarginalLogLikelihood(model.likelihood, model)
        ours.train()
        params = dict(ours.named_parameters())
        (a, da), (b, db) = ours.closure(), get_loss_closure_with_grads(theirs, params)()
        assert torch.allclose(a, b, rtol=1e-9, atol=0)
        assert len(da) == len(db) == 4
        for name, x, y in zip(params, da, db):
            assert x.shape == y.shape and torch.allclose(x, y, rtol=1e-9, atol=1e-13), name


def test_a_closed_form_fit_reaches_gpytorchs_fit():
    """From scratch and warm-started, the closed-form fit ends at GPyTorch's marginal
    likelihood (to 1e-6 per point) and says which fitted."""
    from acqopt.bo import fit_gp
    from acqopt.bo.model import log_marginal_likelihood

    U, Y = _likelihood_data(25)
    fits = {}
    for closed_form in (True, False):
        with torch.random.fork_rng():
            torch.manual_seed(0)
            first = fit_gp(U[:20], Y[:20], closed_form=closed_form)
            fits[closed_form] = (first, fit_gp(U, Y, warm_start=first, closed_form=closed_form))
    for (ours, theirs) in zip(fits[True], fits[False]):
        assert ours.fitted_by == "closed_form" and theirs.fitted_by == "gpytorch"
        assert log_marginal_likelihood(ours) == pytest.approx(log_marginal_likelihood(theirs),
                                                              abs=1e-6)


def test_the_fit_goes_through_gpytorch_where_the_closed_form_does_not_answer(monkeypatch):
    """A mixed model, a closed form that disagrees with GPyTorch at the start (forced), and a
    training covariance that is not positive definite (duplicated points, noise 1e-20: GPyTorch
    adds its jitter) are GPyTorch's."""
    from botorch.optim.closures import get_loss_closure_with_grads
    from gpytorch.mlls import ExactMarginalLogLikelihood

    import acqopt.bo.model as model_module
    from acqopt.bo import fit_gp

    U, Y = _likelihood_data(12)
    assert fit_gp(U.round(), Y, cat_dims=[2]).fitted_by == "gpytorch"
    U = torch.cat([U, U])
    Y = torch.cat([Y, Y])
    model = fit_gp(U, Y)
    assert model.fitted_by == "closed_form"
    with torch.no_grad():
        model.likelihood.noise_covar.raw_noise_constraint.lower_bound.fill_(0.0)
        model.likelihood.noise_covar.raw_noise.fill_(1e-20)
    ours = model_module.ClosedFormMLL(model.likelihood, model)
    ours.train()
    params = dict(ours.named_parameters())
    with pytest.warns(Warning, match="jitter"):
        expected = get_loss_closure_with_grads(
            ExactMarginalLogLikelihood(model.likelihood, model), params)()
    with pytest.warns(Warning, match="jitter"):
        value, grads = ours.closure()
    assert torch.equal(value, expected[0])
    assert all(torch.equal(x, y) for x, y in zip(grads, expected[1]))
    wrong = model_module.ClosedFormMLL._value_and_grad
    monkeypatch.setattr(model_module.ClosedFormMLL, "_value_and_grad",
                        lambda self, *a: (lambda v, g: (v * (1 + 1e-6), g))(*wrong(self, *a)))
    assert fit_gp(U, Y).fitted_by == "gpytorch"


def test_refit_warm_and_scratch(monkeypatch):
    """refit="warm" warm-starts, and fits from scratch as well once the data has grown by a gap
    since the last such fit: the gap doubles after a fit from scratch that did not beat the
    warm one by WIN, and is the first gap (1/64 of the data, at least 1) after one that did,
    or at the start; it is deterministic and resumes as the
    uninterrupted run; refit="scratch" fits from scratch every step; anything else is a
    ValueError."""
    import acqopt.bo.loop as loop

    kw = dict(n_init=3, n_iter=4, budget=300, seed=1, progress=False)
    monkeypatch.setattr(loop, "DEGRADED", math.inf)  # only the schedule fits from scratch
    monkeypatch.setattr(loop, "WIN", math.inf)  # the fit from scratch never wins: gaps 1, 2, 4
    backoff = minimize(quadratic, SPACE, **{**kw, "n_iter": 8})
    fits = [p["fit"].partition(":")[0] for p in backoff.proposals[3:]]
    assert fits == ["scratch", "both", "warm", "both", "warm", "warm", "warm", "both"]  # n = 3..10
    assert backoff.fit_state["scratch_n"] == 10 and backoff.fit_state["gap"] == 8
    assert [loop._first_gap(n) for n in (3, 64, 65, 600)] == [1, 1, 2, 10]  # 1/64 of the data
    monkeypatch.setattr(loop, "WIN", -math.inf)  # it always wins: the gap stays 1
    always = minimize(quadratic, SPACE, **kw)
    assert [p["fit"].partition(":")[0] for p in always.proposals[3:]] == ["scratch"] + ["both"] * 3
    monkeypatch.undo()
    warm = minimize(quadratic, SPACE, **kw)  # the conftest fixture checks the global RNG
    again = minimize(quadratic, SPACE, **kw)
    assert warm.params == again.params
    fits = [p["fit"] for p in warm.proposals[3:]]
    assert fits[0] == "scratch" and fits[1].startswith("both:")
    assert "closed_form" in {p["fitted_by"] for p in warm.proposals[3:]}
    scratch = minimize(quadratic, SPACE, refit="scratch", closed_form_fit=False, **kw)
    assert [p["fit"] for p in scratch.proposals[3:]] == ["scratch"] * 4
    assert {p["fitted_by"] for p in scratch.proposals[3:]} == {"gpytorch"}
    part = minimize(quadratic, SPACE, **{**kw, "n_iter": 2})
    resumed = minimize(quadratic, SPACE, history=part, **kw)
    assert resumed.params == warm.params
    assert [p["fit"] for p in resumed.proposals[3:]] == fits
    with pytest.raises(ValueError, match="refit"):
        minimize(quadratic, SPACE, refit="never", **kw)


def test_to_dataframe_without_pandas_says_what_to_install(monkeypatch):
    """pandas is optional (the ``pandas`` extra): without it the error names the install."""
    from acqopt.bo import History

    history = History(method="lbfgs", seed=0)
    history.append({"x": 0.5}, 1.0, None, 0, 0.1)
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(ImportError, match=r"pip install pandas .*acqopt\[pandas\]"):
        history.to_dataframe()
    assert history.records()[0]["value"] == 1.0
