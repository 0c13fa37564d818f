"""Local searches: a direction and a step-length rule composed on one batched driver."""

from acqopt.local.base import LocalResult, LocalSearch
from acqopt.local.searches import AdamAscent, ArmijoAscent, NoLocalSearch, ProjectedLBFGS

LOCAL_SEARCHES = {"lbfgs": ProjectedLBFGS, "armijo": ArmijoAscent, "adam": AdamAscent,
                  "none": NoLocalSearch}

__all__ = ["LOCAL_SEARCHES", "AdamAscent", "ArmijoAscent", "LocalResult", "LocalSearch",
           "NoLocalSearch", "ProjectedLBFGS"]
