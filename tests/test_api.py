"""The public API, the counter and bad input."""

from __future__ import annotations

import pytest
import torch
from botorch.acquisition import qLogExpectedImprovement
from botorch.optim import optimize_acqf as botorch_optimize_acqf
from botorch.sampling import SobolQMCNormalSampler

import acqopt
from acqopt.counting import BudgetExhausted, CountingAcquisition
from acqopt.testing import Bumps

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
