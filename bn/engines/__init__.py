"""Inference engines, by name: the :class:`Engine` protocol, its implementations and the registry.

================  ======================================  ==============================================
name              class                                    what it is
================  ======================================  ==============================================
``"einsum"``      :class:`CompiledEngine`                  the junction tree, batched (the default)
``"contract"``    :class:`ContractionEngine`               one opt_einsum contraction per query
``"pgmpy"``       :class:`PgmpyEngine`                     pgmpy's VariableElimination (the reference)
================  ======================================  ==============================================

A new engine implements :class:`Engine` (or only ``joint``, by subclassing :class:`QueryEngine`), is added with
:func:`register`, and must pass ``tests/test_engine_conformance.py``.

>>> import bn
>>> sorted(ENGINES)
['contract', 'einsum', 'pgmpy']
>>> make_engine(bn.load("l4l5_knee").network, "contract").name
'contract'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bn.engines.base import Engine, Likelihoods, QueryEngine
from bn.engines.contraction import ContractionEngine
from bn.engines.junction_tree import (
    LRU,
    CompiledEngine,
    NetworkTooLargeError,
    TreePlan,
    engine_plan,
    network_plan,
    plan_junction_tree,
)
from bn.engines.pgmpy_ve import PgmpyEngine
from bn.errors import BNError
from bn.model import Network

__all__ = ["ENGINES", "LRU", "CompiledEngine", "ContractionEngine", "Engine", "Likelihoods", "NetworkTooLargeError",
           "PgmpyEngine", "QueryEngine", "TreePlan", "engine_plan", "make_engine", "network_plan",
           "plan_junction_tree", "register"]

DEFAULT = "einsum"

#: name -> a factory ``(network, plan, extra_plans) -> Engine``; the plans are precompiled junction trees from
#: :mod:`bn.cache`, which engines other than the junction tree ignore.
ENGINES: dict[str, Callable[..., Engine]] = {
    "einsum": CompiledEngine,
    "contract": lambda network, plan=None, extra_plans=None: ContractionEngine(network),
    "pgmpy": lambda network, plan=None, extra_plans=None: PgmpyEngine(network),
}


def register(name: str, factory: Callable[..., Engine]) -> None:
    """Make an engine available to :func:`make_engine`, ``bn.load(..., engine=name)`` and ``--engine``."""
    ENGINES[name] = factory


def make_engine(network: Network, name: str = DEFAULT, plan: TreePlan | None = None,
                extra_plans: Mapping[frozenset[str], TreePlan] | None = None) -> Engine:
    """An engine by name; ``plan`` and ``extra_plans`` are precompiled junction trees (from :mod:`bn.cache`)."""
    if name not in ENGINES:
        raise BNError(f"unknown engine '{name}' (choose from {', '.join(ENGINES)})")
    return ENGINES[name](network, plan, extra_plans)
