"""Method name -> optimizer class. Registering a name twice is an error."""

from __future__ import annotations

from typing import Callable, TypeVar

T = TypeVar("T", bound=type)

_REGISTRY: dict[str, type] = {}


def register(name: str) -> Callable[[T], T]:
    """Class decorator: registers an optimizer class under ``name`` and sets ``cls.name``."""

    def decorate(cls: T) -> T:
        if name in _REGISTRY:
            raise ValueError(f"method name {name!r} is registered already ({_REGISTRY[name]})")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def lookup(name: str) -> type:
    """The class registered as ``name``; a ``ValueError`` listing the names otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"method: unknown method {name!r}; available: {', '.join(sorted(_REGISTRY))}"
        ) from None


def names() -> list[str]:
    return sorted(_REGISTRY)
