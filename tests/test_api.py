"""The public API, the counter and bad input."""

from __future__ import annotations

import re

import pytest
import torch
from botorch.acquisition import qLogExpectedImprovement
from botorch.optim import optimize_acqf as botorch_optimize_acqf
from botorch.sampling import SobolQMCNormalSampler

import acqopt
from acqopt.counting import BudgetExhausted, CountingAcquisition
from acqopt.methods.multistart import MAX_WIDTH
from acqopt.testing import Bumps
from tests.helpers import TwinPeaks, gp_logei

UNIT4 = torch.stack([torch.zeros(4), torch.ones(4)]).double()


def test_public_names():
    assert set(acqopt.__all__) >= {"optimize_acqf", "available_methods", "get_optimizer"}
    assert {"lbfgs", "lbfgs-uniform"} <= set(acqopt.available_methods())


def test_returns_botorch_shapes(logei4):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        x_bt, v_bt = botorch_optimize_acqf(logei4, UNIT4, q=1, num_restarts=4, raw_samples=64)
    x, v = acqopt.optimize_acqf(logei4, UNIT4, q=1, budget=600, generator=0)
    assert x.shape == x_bt.shape and v.shape == v_bt.shape
    assert x.dtype == x_bt.dtype and v.dtype == v_bt.dtype


def test_lbfgs_matches_botorch_at_equal_queries(logei4):
    """On a LogEI landscape, lbfgs reaches BoTorch 10x512's value within 0.01 nats."""
    for seed in range(3):
        counter = CountingAcquisition(logei4)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            _, v_bt = botorch_optimize_acqf(counter, UNIT4, q=1, num_restarts=10, raw_samples=512)
        _, v = acqopt.optimize_acqf(logei4, UNIT4, budget=counter.queries, generator=seed)
        assert float(v) >= float(v_bt) - 0.01


class BatchSizes(Bumps):
    """Bumps that records the batch size of every call."""

    def __init__(self) -> None:
        super().__init__()
        self.batches = []

    def forward(self, X):
        self.batches.append(X.shape[0] if X.dim() == 3 else 1)
        return super().forward(X)


def test_botorch_options_are_honoured():
    acq = BatchSizes()
    acqopt.optimize_acqf(acq, Bumps.bounds.double(), num_restarts=3, raw_samples=50, generator=0)
    # No budget: one round, as BoTorch: 50 raw samples scored in one call, then L-BFGS from 3
    # starts (every later call evaluates at most the 3 running starts), until they converge.
    assert acq.batches[0] == 50 and acq.batches[1] == 3 and max(acq.batches[1:]) == 3
    assert len(acq.batches) > 5


def test_a_budget_for_several_rounds_runs_them_side_by_side():
    # 16 starts on Bumps cost ~10-20 queries each, so 4000 queries pay for several rounds of
    # 256 raw samples and 16 starts: the first batch is sized by the expected cost of a start,
    # the second by the measured one, and no sequence of one-round batches follows.
    acq = BatchSizes()
    opt = acqopt.get_optimizer("lbfgs")
    r = opt.optimize(acq, Bumps.bounds.double(), budget=4000, generator=0)
    assert r.counts.queries <= 4000
    assert r.info["rounds"] >= 4 and r.info["batches"] <= 3
    raw = [b for b in acq.batches if b % 256 == 0]  # the raw-sample calls, one per batch
    assert raw[0] == 256 * opt.width(4000, opt.queries_per_start) and len(raw) == r.info["batches"]
    assert max(acq.batches) > 256 and max(b for b in acq.batches if b not in raw) > 16
    # A huge budget does not ask for a batch beyond memory; a small one gets one round.
    assert opt.width(10**9, 48) == MAX_WIDTH and opt.width(300, 48) == 1


def test_fixed_features():
    acq = Bumps()
    x, v = acqopt.optimize_acqf(
        acq, Bumps.bounds.double(), fixed_features={1: 0.2}, budget=600, generator=0
    )
    assert x.shape == (1, 2) and float(x[0, 1]) == pytest.approx(0.2)
    assert float(x[0, 0]) == pytest.approx(1.3, abs=0.02)
    assert float(v) == pytest.approx(float(acq(x.unsqueeze(0))), rel=1e-6)


def test_q_batch_with_qlogei(logei4):
    # An explicit sampler seed: BoTorch's default draws one from the global RNG.
    sampler = SobolQMCNormalSampler(torch.Size([64]), seed=0)
    acq = qLogExpectedImprovement(logei4.model, best_f=logei4.best_f, sampler=sampler)
    x, v = acqopt.optimize_acqf(acq, UNIT4, q=3, budget=700, generator=0)
    assert x.shape == (3, 4) and torch.isfinite(v)


def test_timeout_returns_best_so_far():
    class Slow(Bumps):
        def forward(self, X):
            import time

            time.sleep(0.02)
            return super().forward(X)

    result = acqopt.get_optimizer("lbfgs-uniform").optimize(
        Slow(), Bumps.bounds.double(), budget=100000, generator=0, timeout_sec=0.2
    )
    assert result.status == acqopt.Status.TIMED_OUT
    assert torch.isfinite(result.acq_value)


def test_counter_counts_and_refuses():
    counter = CountingAcquisition(Bumps(), budget=10)
    counter(torch.rand(4, 1, 2, generator=torch.Generator().manual_seed(0)))
    X = torch.rand(5, 1, 2, generator=torch.Generator().manual_seed(1), requires_grad=True)
    counter(X).sum().backward()
    assert counter.counts == acqopt.Counts(queries=9, grad_queries=5, calls=2)
    assert counter.remaining == 1
    with pytest.raises(BudgetExhausted):
        counter(torch.zeros(2, 1, 2))
    assert counter.queries == 9
    counter(torch.zeros(1, 2))  # a single q x d counts once
    assert counter.remaining == 0


@pytest.mark.parametrize("fast", [False, True])
def test_counter_value_and_grad_counts_and_refuses_as_a_call_does(fast):
    # BoTorch's LogEI (autograd) or the closed form's direct path after the first call checks it
    acq = gp_logei()
    counter = CountingAcquisition(acq, budget=12, fast=fast)
    X = torch.rand(5, 1, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for _ in range(2):
        values, grad = counter.value_and_grad(X)
        Z = X.clone().requires_grad_(True)
        acq(Z).sum().backward()
        torch.testing.assert_close(values, acq(X), rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(grad, Z.grad, rtol=1e-7, atol=1e-10)
    assert counter.evaluator == ("closed-form" if fast else "botorch")
    assert counter.counts == acqopt.Counts(queries=10, grad_queries=10, calls=2)
    with pytest.raises(BudgetExhausted):
        counter.value_and_grad(X)
    assert counter.queries == 10


def test_generator_forms_agree():
    a = acqopt.optimize_acqf(Bumps(), Bumps.bounds.double(), budget=600, generator=5)
    b = acqopt.optimize_acqf(
        Bumps(), Bumps.bounds.double(), budget=600, generator=torch.Generator().manual_seed(5)
    )
    assert torch.equal(a[0], b[0])


def test_generator_none_draws_from_the_global_rng_as_botorch_does():
    call = dict(bounds=Bumps.bounds.double(), budget=600, generator=None)
    with torch.random.fork_rng():
        torch.manual_seed(11)
        a = acqopt.optimize_acqf(Bumps(), **call)
        after = torch.get_rng_state()
        seeded = torch.manual_seed(11).get_state()
        b = acqopt.optimize_acqf(Bumps(), **call)
        c = acqopt.optimize_acqf(Bumps(), **call)
    assert torch.equal(a[0], b[0]) and not torch.equal(after, seeded)
    assert not torch.equal(b[0], c[0])  # the global generator moved on


BAD_BOUNDS = [
    (torch.zeros(3, 2), "2 x d"),
    (torch.zeros(2), "2 x d"),
    ([[0.0, 0.0], [1.0, 1.0]], "2 x d tensor"),
    (torch.tensor([[0.0, 1.0], [1.0, 1.0]]), "lower must be below upper"),
    (torch.tensor([[0.0, 0.0], [1.0, float("inf")]]), "finite"),
    (torch.tensor([[0.0, float("nan")], [1.0, 1.0]]), "finite"),
    (torch.tensor([[0, 0], [1, 1]]), "float32 or float64"),
]


@pytest.mark.parametrize("bounds,match", BAD_BOUNDS)
def test_bad_bounds(bounds, match):
    with pytest.raises(ValueError, match=f"bounds: .*{match}"):
        acqopt.optimize_acqf(Bumps(), bounds, budget=100, generator=0)


@pytest.mark.parametrize("method", acqopt.available_methods())
@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"q": 0}, "q: expected an int >= 1"),
        ({"budget": 0}, "budget"),
        ({"budget": 2.5}, "budget"),
        ({"generator": "seed"}, "generator"),
    ],
)
def test_bad_arguments(method, kwargs, match):
    with pytest.raises(ValueError, match=match):
        acqopt.optimize_acqf(Bumps(), Bumps.bounds.double(), method=method, **{"budget": 100, **kwargs})


def test_analytic_acquisition_rejects_q_above_one(logei4):
    with pytest.raises(ValueError, match="q: .*analytic"):
        acqopt.optimize_acqf(logei4, UNIT4, q=2, budget=700)


def test_unknown_method_lists_available():
    with pytest.raises(ValueError, match="available: .*lbfgs"):
        acqopt.optimize_acqf(Bumps(), Bumps.bounds.double(), method="nope")


def test_budget_below_method_minimum():
    with pytest.raises(ValueError, match="budget: method 'lbfgs' needs at least 272"):
        acqopt.optimize_acqf(Bumps(), Bumps.bounds.double(), method="lbfgs", budget=100)
    with pytest.raises(ValueError, match="budget: method 'lbfgs' needs at least 522"):
        acqopt.optimize_acqf(
            Bumps(), Bumps.bounds.double(), budget=300, num_restarts=10, raw_samples=512
        )


def test_unknown_option_is_an_error_not_ignored():
    with pytest.raises(ValueError, match="no option.*linear_constraints"):
        acqopt.optimize_acqf(
            Bumps(), Bumps.bounds.double(), budget=600, linear_constraints=[(1, 2, 3)]
        )
    with pytest.raises(ValueError, match=r"inequality_constraints\[0\]: expected 1-d integer"):
        acqopt.optimize_acqf(
            Bumps(), Bumps.bounds.double(), budget=600, inequality_constraints=[(1, 2, 3)]
        )
    with pytest.raises(ValueError, match="num_restarts: expected an int >= 1"):
        acqopt.optimize_acqf(Bumps(), Bumps.bounds.double(), num_restarts=0)


def test_bad_fixed_features():
    with pytest.raises(ValueError, match="fixed_features"):
        acqopt.optimize_acqf(Bumps(), Bumps.bounds.double(), fixed_features={5: 0.0}, budget=600)
    with pytest.raises(ValueError, match="fixed_features"):
        acqopt.optimize_acqf(Bumps(), Bumps.bounds.double(), fixed_features={0: 9.0}, budget=600)


def test_dtype_mismatch_with_model_is_a_clear_error(logei4):
    with pytest.raises(ValueError, match="bounds: dtype torch.float32 .* differs"):
        acqopt.optimize_acqf(logei4, UNIT4.float(), budget=600)


class _Returns(torch.nn.Module):
    """An acquisition that answers ``make(X)``."""

    def __init__(self, make):
        super().__init__()
        self.make = make

    def forward(self, X):
        return self.make(X)


@pytest.mark.parametrize("method", acqopt.available_methods())
@pytest.mark.parametrize("answer, words", [
    (lambda X: X.sum(), "shape ()"),
    (lambda X: X.sum(-1), "returned shape"),
    (lambda X: torch.zeros(X.shape[0], 2, dtype=X.dtype), "returned shape"),
    (lambda X: 0.5, "returned float"),
    (lambda X: None, "returned NoneType"),
    (lambda X: X.sum((-1, -2)).detach().numpy(), "returned ndarray"),
    (lambda X: X.sum((-1, -2)).long(), "dtype torch.int64"),
])
def test_misbehaving_acquisition_outputs_are_named(method, answer, words):
    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match=f"acq_function: _Returns .*{re.escape(words)}"):
        acqopt.get_optimizer(method).optimize(_Returns(answer), bounds, budget=3000, generator=0)


@pytest.mark.parametrize("method", ["lbfgs", "lbfgs-uniform", "cma-lbfgs", "gennes", "cma-adam"])
def test_an_acquisition_without_gradients_is_named_for_gradient_methods(method):
    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    no_grad = _Returns(lambda X: -(X.detach() - 0.3).pow(2).sum((-1, -2)))
    with pytest.raises(ValueError, match="without a gradient"):
        acqopt.get_optimizer(method).optimize(no_grad, bounds, budget=3000, generator=0)


def test_bounds_of_another_dimension_than_the_model_are_named(logei4):
    with pytest.raises(ValueError, match=r"bounds: 3 columns, but the acquisition's model takes d=4"):
        acqopt.optimize_acqf(logei4, torch.stack([torch.zeros(3), torch.ones(3)]).double(),
                             budget=600)


def test_a_budget_exhausted_inside_the_acquisition_propagates_and_is_not_counted():
    inner = CountingAcquisition(Bumps(), budget=30)
    with pytest.raises(acqopt.BudgetExhausted) as caught:
        acqopt.get_optimizer("lbfgs").optimize(inner, Bumps.bounds.double(), budget=500,
                                               generator=0)
    assert caught.value.counter is inner
    # A wrapping counter counts only what the acquisition answered.
    outer = CountingAcquisition(CountingAcquisition(Bumps(), budget=30), budget=500)
    X = torch.rand(20, 1, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    outer(X)
    with pytest.raises(acqopt.BudgetExhausted):
        outer(X)
    assert outer.queries == 20 and outer.calls == 1


@pytest.mark.parametrize("method, option, value, words", [
    ("cma", "sigma0", float("inf"), "sigma0: expected a finite number > 0"),
    ("snes", "lr_sigma", float("nan"), "lr_sigma: expected a finite number > 0"),
    ("lbfgs", "eta", float("inf"), "eta: expected a finite number > 0"),
    ("vo", "natural", "False", "natural: expected True or False"),
    ("snes", "antithetic", "no", "antithetic: expected True or False"),
    ("gennes", "calibrate", "no", "calibrate: expected True or False"),
    ("lbfgs", "fast", 1, "fast: expected True or False"),
    ("cma", "local", "lbfgs", "local: expected a local search"),
    ("lbfgs", "local", None, "local: expected a local search"),
])
def test_bad_hyperparameters_are_named(method, option, value, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        acqopt.get_optimizer(method, **{option: value})


@pytest.mark.parametrize("timeout", ["5", True, -1.0])
def test_bad_timeouts_are_named(timeout):
    with pytest.raises(ValueError, match="timeout_sec: expected a number > 0"):
        acqopt.optimize_acqf(Bumps(), Bumps.bounds.double(), budget=600, timeout_sec=timeout)


def test_a_timeout_before_the_first_call_says_so():
    with pytest.raises(TimeoutError, match="passed before the first acquisition call"):
        acqopt.optimize_acqf(Bumps(), Bumps.bounds.double(), budget=600, timeout_sec=1e-12,
                             generator=0)


def test_sobol_designs_beyond_sobols_dimensions_fall_back_to_uniform_points():
    from acqopt.design import sobol

    U = sobol(4, 2, 11000, torch.Generator().manual_seed(0))
    assert U.shape == (4, 2, 11000) and ((U >= 0) & (U <= 1)).all()


def test_near_equal_far_from_data_returns_the_peak_away_from_the_training_inputs():
    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    far = acqopt.get_optimizer("lbfgs", near_equal="far_from_data").optimize(
        TwinPeaks(), bounds, generator=0)
    assert torch.allclose(far.candidates, torch.tensor([[0.8, 0.8]], dtype=torch.float64),
                          atol=1e-3)
    best = acqopt.get_optimizer("lbfgs").optimize(TwinPeaks(), bounds, generator=0)
    assert torch.allclose(best.candidates, torch.tensor([[0.2, 0.2]], dtype=torch.float64),
                          atol=1e-3)
    assert 0 < float(best.acq_value) - float(far.acq_value) <= 1e-3


def test_an_observer_is_removed_however_its_block_ends():
    from acqopt.counting import BudgetExhausted, CountingAcquisition, Problem

    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    problem = Problem(CountingAcquisition(lambda X: -(X**2).sum((-1, -2)), budget=4), bounds, 1)
    seen = []
    with pytest.raises(BudgetExhausted):
        with problem.observing(lambda U, v: seen.append(v)):
            problem.value(torch.zeros(3, 1, 2, dtype=torch.float64))
            problem.value(torch.zeros(3, 1, 2, dtype=torch.float64))
    assert len(seen) == 1 and problem.observers == []
