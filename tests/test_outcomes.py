"""Typed outcomes: every method's ``OptimizeResult.info`` is its family's ``RunInfo``, the
common core set, readable as attributes and as a mapping of the fields that are set."""

import dataclasses

import pytest
import torch

import acqopt
from acqopt import outcomes
from acqopt.outcomes import RunInfo
from tests.helpers import METHODS, gp_logei

FAMILIES = {outcomes.MultiStartInfo, outcomes.CMAESInfo, outcomes.SearchDistributionInfo,
            outcomes.GeneratorInfo}


@pytest.fixture(scope="module")
def logei():
    return gp_logei(d=3)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_reports_its_familys_info(method, logei):
    bounds = torch.stack([torch.zeros(3), torch.ones(3)]).double()
    optimizer = acqopt.get_optimizer(method)
    r = optimizer.optimize(logei, bounds, generator=0, budget=max(600, optimizer.min_budget(1, 3)),
                           num_best=2)
    info = r.info
    assert type(info) in FAMILIES and type(info) is optimizer.info_type
    assert info.evaluator == info["evaluator"] == "closed-form"
    assert 0 < info.acq_seconds <= r.wall_time
    assert info.best_points.shape == (2, 1, 3) and float(info.best_values[0]) == float(r.acq_value)
    assert info.violation is None and "violation" not in info
    set_fields = {f.name for f in dataclasses.fields(info) if getattr(info, f.name) is not None}
    assert set(info) == set(dict(info)) == set_fields and len(info) == len(set_fields)
    with pytest.raises(KeyError):
        info["violation"]
    if info.local_optima is not None:  # restart methods: one value per local search
        assert info.local_optima.shape[0] == info.local_values.shape[0] > 0


def test_a_misspelt_field_is_a_type_error_not_a_new_key():
    with pytest.raises(TypeError):
        outcomes.CMAESInfo(final_sigma_max=0.1)
    with pytest.raises(KeyError):
        RunInfo()["not_a_field"]
    assert dict(RunInfo()) == {}  # an info made by hand (an OptimizeResult's default) is empty


def test_near_equal_selection_leaves_the_best_evaluated_point_alone(monkeypatch):
    """``far_from_data`` returns its choice through the run's ending; the problem's best (the
    highest value evaluated) is not overwritten."""
    from acqopt.methods.multistart import RepeatedLBFGS
    from tests.helpers import TwinPeaks

    run, best_values = RepeatedLBFGS._run, []

    def spy(self, problem, generator):
        ending = run(self, problem, generator)
        best_values.append(float(problem.best_value))
        return ending

    monkeypatch.setattr(RepeatedLBFGS, "_run", spy)
    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    far = acqopt.get_optimizer("lbfgs", near_equal="far_from_data").optimize(
        TwinPeaks(), bounds, generator=0)
    assert far.info.near_equal_chosen and far.info["near_equal_chosen"]
    assert best_values == [pytest.approx(1.0, abs=1e-6)]  # the higher peak, still the best
    assert best_values[0] > float(far.acq_value)
