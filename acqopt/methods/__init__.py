"""One module per method; importing this package registers them all."""

from acqopt.methods import multistart  # noqa: F401
