"""Local searches: components that refine a batch of candidates."""

from acqopt.local.base import LocalResult, LocalSearch
from acqopt.local.lbfgsb import LBFGSB

__all__ = ["LBFGSB", "LocalResult", "LocalSearch"]
