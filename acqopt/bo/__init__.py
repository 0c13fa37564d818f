"""Bayesian-optimisation building blocks: the GP, the acquisition, spaces, the loop."""

from acqopt.bo.functions import FUNCTIONS, TestFunction, get_function
from acqopt.bo.loop import History, minimize
from acqopt.bo.model import fit_gp, make_acquisition
from acqopt.bo.space import Integer, Real, Space

__all__ = [
    "FUNCTIONS", "History", "Integer", "Real", "Space", "TestFunction", "fit_gp", "get_function",
    "make_acquisition", "minimize",
]
