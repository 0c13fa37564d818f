"""Bayesian-optimisation building blocks: the GP, the acquisition, test objectives."""

from acqopt.bo.functions import FUNCTIONS, TestFunction, get_function
from acqopt.bo.model import fit_gp, make_acquisition

__all__ = ["FUNCTIONS", "TestFunction", "fit_gp", "get_function", "make_acquisition"]
