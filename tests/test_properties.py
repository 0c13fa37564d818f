"""Property-based tests: random bounds, dtypes, budgets, q and seeds against every method.

The promise checked: a call either raises a ``ValueError`` whose message starts with the
argument it names (``"budget: ..."``, ``"acq_function: ..."``), or returns a finite answer
inside the bounds, of the right shape and dtype, within the budget. Example counts are set so
the module runs in about a minute on two cores.
"""

import re

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import acqopt

NAMES_AN_ARGUMENT = re.compile(r"^[a-z_]+(\[[^\]]*\])?: ")


class Quadratic(torch.nn.Module):
    """A smooth acquisition peaked at ``centre``; a q-batch is worth the sum of its points."""

    def __init__(self, centre: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("centre", centre)

    def forward(self, X):
        return -((X - self.centre) ** 2).sum((-1, -2))


class Misbehaving(torch.nn.Module):
    """Answers in one of the ways a broken acquisition does."""

    def __init__(self, how: str, dtype: torch.dtype) -> None:
        super().__init__()
        self.how = how
        self.register_buffer("anchor", torch.zeros((), dtype=dtype))

    def forward(self, X):
        value = -(X**2).sum((-1, -2))
        return {"scalar": value.sum(), "wide": value[:, None].expand(-1, 2),
                "integer": value.long(), "detached": value.detach(),
                "list": value.tolist()}[self.how]


@st.composite
def problems(draw):
    d = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    lower = torch.tensor(draw(st.lists(st.floats(-50, 50), min_size=d, max_size=d)), dtype=dtype)
    width = torch.tensor(draw(st.lists(st.floats(0.01, 50), min_size=d, max_size=d)), dtype=dtype)
    bounds = torch.stack([lower, lower + width])
    where = torch.tensor(draw(st.lists(st.floats(0, 1), min_size=d, max_size=d)), dtype=dtype)
    return bounds, bounds[0] + where * (bounds[1] - bounds[0])


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    method=st.sampled_from(acqopt.available_methods()),
    problem=problems(),
    q=st.integers(1, 2),
    budget=st.one_of(st.none(), st.integers(-3, 1500)),
    seed=st.integers(0, 2**40),
)
def test_every_call_keeps_the_promise(method, problem, q, budget, seed):
    bounds, centre = problem
    if budget is None and acqopt.get_optimizer(method).default_budget(q, bounds.shape[-1]):
        budget = 1500  # keep the example fast; None is covered by the conformance tests
    optimizer = acqopt.get_optimizer(method)
    valid = budget is None or budget >= optimizer.min_budget(q, bounds.shape[-1])
    try:
        r = optimizer.optimize(Quadratic(centre), bounds, q=q, budget=budget, generator=seed)
    except ValueError as e:
        assert not valid, f"{method} refused valid input: {e}"  # only a too-small budget
        assert str(e).startswith("budget") and NAMES_AN_ARGUMENT.match(str(e)), str(e)
        return
    assert valid, f"{method} accepted budget={budget} below its minimum"
    assert r.candidates.shape == (q, bounds.shape[-1]) and r.candidates.dtype == bounds.dtype
    assert ((r.candidates >= bounds[0]) & (r.candidates <= bounds[1])).all()
    assert torch.isfinite(r.acq_value)
    assert budget is None or r.counts.queries <= budget


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    method=st.sampled_from(acqopt.available_methods()),
    how=st.sampled_from(["scalar", "wide", "integer", "detached", "list"]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_a_misbehaving_acquisition_is_a_named_error_or_is_harmless(method, how, dtype):
    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=dtype)
    try:
        r = acqopt.get_optimizer(method).optimize(Misbehaving(how, dtype), bounds, budget=1500,
                                                  generator=0)
    except ValueError as e:
        assert str(e).startswith("acq_function: Misbehaving"), str(e)
        return
    # Only a detached answer is harmless, for the zero-order methods, which need no gradient.
    assert how == "detached" and method in ("cma", "snes", "es-grad", "vo", "lgso")
    assert torch.isfinite(r.acq_value)


@pytest.mark.parametrize("method", acqopt.available_methods())
def test_an_acquisition_that_is_nowhere_finite_is_named(method):
    nan = Misbehaving("scalar", torch.float64)
    nan.forward = lambda X: X.sum((-1, -2)) * float("nan")  # with a graph, for gradients
    with pytest.raises(RuntimeError, match="no candidate with a finite acquisition value"):
        acqopt.get_optimizer(method).optimize(nan, torch.tensor([[0.0], [1.0]]).double(),
                                              budget=1500, generator=0)
