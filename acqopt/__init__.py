"""acqopt: interchangeable acquisition-function maximisers for BoTorch."""

from acqopt.api import available_methods, get_optimizer, optimize_acqf
from acqopt.base import AcquisitionOptimizer, OptimizeResult, Status
from acqopt.counting import BudgetExhausted, CountingAcquisition, Counts

__all__ = [
    "AcquisitionOptimizer",
    "BudgetExhausted",
    "CountingAcquisition",
    "Counts",
    "OptimizeResult",
    "Status",
    "available_methods",
    "get_optimizer",
    "optimize_acqf",
]
__version__ = "0.1.0"
