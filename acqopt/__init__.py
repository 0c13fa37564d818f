"""acqopt: interchangeable acquisition-function maximisers for BoTorch."""

from acqopt.api import (
    OptimizeAcqfInputs,
    available_methods,
    get_optimizer,
    optimize_acqf,
    optimize_acqf_discrete,
    optimize_acqf_mixed,
    optimize_acqf_mixed_alternating,
)
from acqopt.base import AcquisitionOptimizer, OptimizeResult, Status
from acqopt.counting import BudgetExhausted, CountingAcquisition, Counts
from acqopt.outcomes import RunInfo

__all__ = [
    "AcquisitionOptimizer",
    "BudgetExhausted",
    "CountingAcquisition",
    "Counts",
    "OptimizeAcqfInputs",
    "OptimizeResult",
    "RunInfo",
    "Status",
    "available_methods",
    "get_optimizer",
    "optimize_acqf",
    "optimize_acqf_discrete",
    "optimize_acqf_mixed",
    "optimize_acqf_mixed_alternating",
]
__version__ = "0.1.0"
