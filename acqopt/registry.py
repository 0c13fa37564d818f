"""Method name -> configured optimizer instance. Registering a name twice is an error.

A preset is an instance with other field values under its own name (as nevergrad registers
configured optimizers), not a subclass.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")

_REGISTRY: dict[str, object] = {}


def register(optimizer: T) -> T:
    """Registers ``optimizer`` (a configured method instance) under its ``name``."""
    name = optimizer.name
    if name in _REGISTRY:
        raise ValueError(f"method name {name!r} is registered already ({_REGISTRY[name]!r})")
    _REGISTRY[name] = optimizer
    return optimizer


def lookup(name: str):
    """The instance registered as ``name``; a ``ValueError`` listing the names otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"method: unknown method {name!r}; available: {', '.join(sorted(_REGISTRY))}"
        ) from None


def names() -> list[str]:
    return sorted(_REGISTRY)
