"""Networks to and from other libraries' models: pgmpy's ``DiscreteBayesianNetwork`` and pyAgrum's ``BayesNet``.

pgmpy is the modelling library and the reference engine; pyAgrum is the second independent oracle. Each is
imported only inside the function that needs it (importing pgmpy takes seconds; pyAgrum is optional). A network
built from another library's model has no roles and no provenance; its sha256 is that of its BIF text, so every
result still names a content hash.

>>> import bn
>>> net = bn.load("l4l5_knee@1.1.0")
>>> model = to_pgmpy(net.network)
>>> back = bn.load(model)                                  # bn.load takes a pgmpy model too
>>> back.info.version, len(back.network.variables) == len(net.network.variables)
('pgmpy', True)
>>> case = {"knee_pain": "present", "straight_leg_raise": "positive"}
>>> abs(back.posterior("disc_herniation", findings=case)["present"]
...     - net.posterior("disc_herniation", findings=case)["present"]) < 1e-12
True
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np

from bn.errors import NetworkFileError, Problem
from bn.model import Network, NetworkInfo, Parameter, State, Variable, default_on_state
from bn.netfile import SUM_TOLERANCE

if TYPE_CHECKING:
    from pgmpy.models import DiscreteBayesianNetwork


def to_pgmpy(network: Network) -> DiscreteBayesianNetwork:
    """The network as a validated pgmpy model (tables copied in float64)."""
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork

    model = DiscreteBayesianNetwork()
    model.add_nodes_from(network.variables)
    model.add_edges_from((p, v.id) for v in network.variables.values() for p in v.parents)
    cpds = []
    for v in network.variables.values():
        values = np.moveaxis(v.cpt, -1, 0).reshape(v.card, -1)
        state_names = {v.id: list(v.state_ids)}
        for p in v.parents:
            state_names[p] = list(network[p].state_ids)
        cpds.append(TabularCPD(
            v.id, v.card, values, evidence=list(v.parents) or None,
            evidence_card=[network[p].card for p in v.parents] or None, state_names=state_names,
        ))
    model.add_cpds(*cpds)
    return model


def from_pgmpy(model: DiscreteBayesianNetwork, info: NetworkInfo | None = None, source_format: str = "pgmpy", *,
               network_id: str = "pgmpy_model") -> Network:
    """A network from a pgmpy model (as BIF and XMLBIF files are read): no roles, every row uncited.

    ``info`` names it; by default ``network_id``, version ``"pgmpy"`` and the sha256 of its BIF text.
    """
    import networkx as nx

    try:
        model.check_model()
    except Exception as exc:  # pgmpy raises several types for an inconsistent model
        raise NetworkFileError([Problem(network_id, None, f"not a valid pgmpy model: {exc}")]) from None
    variables: dict[str, Variable] = {}
    for vid in nx.lexicographical_topological_sort(model, key=str):
        cpd = model.get_cpds(vid)
        parents = tuple(cpd.variables[1:])
        card = int(cpd.variable_card)
        cards = [int(c) for c in cpd.cardinality[1:]]
        cpt = np.moveaxis(np.asarray(cpd.values, dtype=float).reshape([card, *cards]), 0, -1)
        names = [str(s) for s in cpd.state_names[vid]]
        variables[str(vid)] = _variable(str(vid), names, tuple(map(str, parents)),
                                        [[str(s) for s in cpd.state_names[p]] for p in parents], cpt,
                                        info.path or info.id if info is not None else network_id)
    return _named(variables, info, source_format, network_id, "pgmpy")


def from_pyagrum(model: Any, info: NetworkInfo | None = None, *, network_id: str | None = None) -> Network:
    """A network from a pyAgrum ``BayesNet``: no roles, every row uncited; named like :func:`from_pgmpy`
    (version ``"pyagrum"``; the id defaults to the model's own name)."""
    network_id = network_id or str(model.propertyWithDefault("name", "pyagrum_model"))
    variables: dict[str, Variable] = {}
    by_name = {model.variable(n).name(): n for n in model.nodes()}
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(by_name)
    graph.add_edges_from((model.variable(p).name(), name) for name, n in by_name.items() for p in model.parents(n))
    for name in nx.lexicographical_topological_sort(graph, key=str):
        potential = model.cpt(by_name[name])
        sequence = [v.name() for v in potential.variablesSequence()]  # the variable itself, then its parents
        parents = tuple(sequence[1:])
        table = np.asarray(potential.toarray(), dtype=float)  # axes: the sequence reversed
        axes = list(reversed(sequence))
        cpt = np.transpose(table, [axes.index(v) for v in (*parents, name)])
        labels = [[str(s) for s in model.variable(by_name[v]).labels()] for v in (name, *parents)]
        variables[name] = _variable(name, labels[0], parents, labels[1:], cpt,
                                    info.path or info.id if info is not None else network_id)
    return _named(variables, info, "pyagrum", network_id, "pyagrum")


def to_pyagrum(network: Network) -> Any:
    """The network as a pyAgrum ``BayesNet`` (pyAgrum is optional: ``pip install pyagrum``)."""
    try:
        import pyagrum as gum
    except ImportError:
        raise ImportError("to_pyagrum needs pyAgrum (pip install pyagrum)") from None
    model = gum.BayesNet(network.id)
    for v in network.variables.values():
        model.add(gum.LabelizedVariable(v.id, v.label or v.id, list(v.state_ids)))
    for v in network.variables.values():
        for p in v.parents:
            model.addArc(p, v.id)
    for v in network.variables.values():
        potential = model.cpt(v.id)
        axes = list(reversed([u.name() for u in potential.variablesSequence()]))
        order = [*v.parents, v.id]
        potential.fillWith(np.transpose(np.asarray(v.cpt, dtype=float), [order.index(u) for u in axes]).ravel()
                           .tolist())
    return model


# How far a row of an imported table may sum from 1 (pgmpy's own check_model tolerance): published BIF files print
# rounded digits (pathfinder's rows are off by up to 3e-7). Rows off by more than a YAML file may be
# (netfile.SUM_TOLERANCE) are renormalised on import, so that every engine path computes the same model: dropping a
# barren variable is exact only when its rows sum to 1. Rows within it keep their bits (a round trip is exact).
ROW_TOLERANCE = 0.01


def _variable(vid: str, names: list[str], parents: tuple[str, ...], parent_names: list[list[str]],
              cpt: np.ndarray, source: str) -> Variable:
    sums = cpt.sum(axis=-1, keepdims=True)
    off = np.abs(sums - 1.0)
    if not (off <= ROW_TOLERANCE).all():
        idx = np.unravel_index(int(np.argmax(np.where(np.isnan(off), np.inf, off))), sums.shape)[:-1]
        row = ", ".join(f"{p}={parent_names[k][i]}" for k, (p, i) in enumerate(zip(parents, idx))) or "(no parents)"
        raise NetworkFileError([Problem(source, vid, f"the row {row} sums to {float(sums[idx][0]):.6g}, not 1 "
                                                     f"(within {ROW_TOLERANCE})")])
    cpt = np.where(off > SUM_TOLERANCE, cpt / sums, cpt)
    card = len(names)
    on = names.index(default_on_state(names))
    params = tuple(
        Parameter(vid, "row", ", ".join(f"{p}={parent_names[k][i]}" for k, (p, i) in enumerate(zip(parents, idx)))
                  or "(no parents)", float(cpt[idx][on]) if card == 2 else tuple(cpt[idx].tolist()))
        for idx in np.ndindex(*cpt.shape[:-1])
    )
    return Variable(id=vid, states=tuple(State(s, s) for s in names), parents=parents, cpt=cpt, parameters=params)


def _named(variables: dict[str, Variable], info: NetworkInfo | None, source_format: str, network_id: str,
           version: str) -> Network:
    if info is None:
        from bn.interop import export

        draft = Network(info=NetworkInfo(network_id, version, ""), variables=variables, meta={"title": network_id},
                        source_format=source_format)
        info = NetworkInfo(network_id, version, hashlib.sha256(export(draft, "bif").encode()).hexdigest())
    return Network(info=info, variables=variables, meta={"title": info.id}, source_format=source_format)
