"""Bayesian-optimisation building blocks: the GP, the acquisition, spaces, the loop."""

from acqopt.bo.loop import History, minimize
from acqopt.bo.model import fit_gp, make_acquisition
from acqopt.bo.space import Categorical, Integer, Real, Space

__all__ = [
    "Categorical", "History", "Integer", "Real", "Space", "fit_gp",
    "make_acquisition", "minimize",
]
