"""Method specs the suites share: a registered name, a config variant, or a researcher's own
maximiser.

- ``lbfgs``: a registered method at its defaults;
- ``lbfgs:design=sobol,num_restarts=10``: the same with fields set (values as Python literals);
- ``package.module:attribute``: any object with acqopt's ``optimize(acq_function, bounds, *,
  q, budget, generator, ...)`` signature returning an :class:`acqopt.OptimizeResult` (a class
  is instantiated without arguments); it runs beside the registered methods and BoTorch, under
  the same query counter and budgets.
"""

from __future__ import annotations

import ast
import importlib
import re

import acqopt

_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*:[A-Za-z_]\w*$|^[A-Za-z_]\w*:[A-Za-z_]\w*$")


def is_import_path(spec: str) -> bool:
    """True for ``package.module:attribute`` (no ``=`` after the colon)."""
    return "=" not in spec and bool(_IMPORT_PATH.match(spec)) and \
        spec.partition(":")[0] not in acqopt.available_methods()


def is_method(spec: str) -> bool:
    """True for a registered name, a variant of one, or an import path (not ``botorch``)."""
    return is_import_path(spec) or parse_variant(spec)[0] in acqopt.available_methods()


def resolve(spec: str):
    """The optimizer a spec names (see the module docstring); ValueError naming the spec."""
    if is_import_path(spec):
        module_name, _, attribute = spec.partition(":")
        try:
            obj = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as e:
            raise ValueError(f"method: cannot import {spec!r}: {e}") from None
        if isinstance(obj, type):
            obj = obj()
        if not callable(getattr(obj, "optimize", None)):
            raise ValueError(f"method: {spec!r} has no optimize() method")
        return obj
    name, options = parse_variant(spec)
    return acqopt.get_optimizer(name, **options)


def parse_variant(spec: str) -> tuple[str, dict]:
    """``name:field=value,...`` -> (name, {field: value}), values as Python literals (else
    strings)."""
    name, _, rest = spec.partition(":")
    options = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        try:
            options[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[key] = value
    return name, options


def config(optimizer) -> dict:
    """The optimizer's hyperparameters for a record (its ``config()`` if it has one)."""
    method = getattr(optimizer, "config", None)
    return method() if callable(method) else {"method": type(optimizer).__qualname__}
