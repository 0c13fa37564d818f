"""Local searches: components that refine a batch of candidates."""

from acqopt.local.base import LocalResult, LocalSearch
from acqopt.local.lbfgsb import LBFGSB
from acqopt.local.simple import Adam, Armijo, NoLocalSearch

LOCAL_SEARCHES = {"lbfgs": LBFGSB, "armijo": Armijo, "adam": Adam, "none": NoLocalSearch}

__all__ = ["LBFGSB", "LOCAL_SEARCHES", "Adam", "Armijo", "LocalResult", "LocalSearch", "NoLocalSearch"]
