"""Compile a :class:`~bn.model.Network` to a pgmpy ``DiscreteBayesianNetwork`` (and back).

pgmpy is the modelling library and the reference engine. It is imported only here and in the
modules that need it, because importing it takes seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bn.model import Network, NetworkInfo, Parameter, State, Variable, default_on_state

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


def from_pgmpy(model: DiscreteBayesianNetwork, info: NetworkInfo, source_format: str) -> Network:
    """A network read by a pgmpy reader (BIF, XMLBIF): no roles, every row uncited."""
    import networkx as nx

    variables: dict[str, Variable] = {}
    for vid in nx.lexicographical_topological_sort(model, key=str):
        cpd = model.get_cpds(vid)
        parents = tuple(cpd.variables[1:])
        card = int(cpd.variable_card)
        cards = [int(c) for c in cpd.cardinality[1:]]
        cpt = np.moveaxis(np.asarray(cpd.values, dtype=float).reshape([card, *cards]), 0, -1)
        names = [str(s) for s in cpd.state_names[vid]]
        on = names.index(default_on_state(names))
        params = tuple(
            Parameter(vid, "row", ", ".join(f"{p}={cpd.state_names[p][i]}" for p, i in zip(parents, idx))
                      or "(no parents)", float(cpt[idx][on]) if card == 2 else tuple(cpt[idx].tolist()))
            for idx in np.ndindex(*cards)
        )
        variables[vid] = Variable(
            id=str(vid), states=tuple(State(s, s) for s in names), parents=tuple(map(str, parents)),
            cpt=cpt, parameters=params,
        )
    return Network(info=info, variables=variables, meta={"title": info.id}, source_format=source_format)
