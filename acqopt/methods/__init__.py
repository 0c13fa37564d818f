"""One module per method; importing this package registers them all."""

from acqopt.methods import cmaes, gennes, lgso, multistart, nes  # noqa: F401
