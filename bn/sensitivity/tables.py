"""The parameters an analysis can move (each table entry, noisy-OR link and leak as the modeller wrote it),
their plausible ranges, and a network's tables as functions of one parameter."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from bn.model import Network, Parameter, Variable
from bn.netfile import noisy_or_table
from bn.sensitivity.base import DEFAULT_LOG_ODDS_HALF_WIDTH, SensitivityError, UnknownParameterError


@dataclass(frozen=True)
class SensitivityParameter:
    """One number that sensitivity analysis varies.

    ``id`` is how the command line names it:

    - a table entry: ``"disc_herniation=present | age_group=65_plus"`` (``"sex=female"`` for a root);
    - a noisy-OR link: ``"back_pain <- disc_herniation=present"``; a leak: ``"back_pain <- leak"``.

    For a table row of a binary variable the parameter is the probability of the state the modeller wrote
    the number for (the last / "present" state); a row of a variable with more states gives one parameter
    per state. ``range`` is the plausible range (``range_from`` says whether it is the network file's or
    the default on the log-odds scale).
    """

    id: str
    variable: str
    kind: str  # "row" | "link" | "leak"
    key: str  # the row's parent states, or the link's "parent=state", or "leak"
    state: str  # the state whose probability this is (the variable's "on" state for links and leaks)
    value: float
    range: tuple[float, float]
    range_from: str  # "network" | "default"
    provenance: str  # "cited" | "expert_estimate" | "uncited"
    source: str | None = None
    detail: str | None = None
    expert_estimate: str | None = None
    row: tuple[int, ...] = field(default=(), repr=False)  # table rows: parent state indices
    state_index: int = field(default=-1, repr=False)
    link: tuple[int, int] = field(default=(-1, -1), repr=False)  # noisy-OR links: (parent axis, state index)
    # What a reader sees (charts, tables, the app): the same parameter in the network's labels, e.g.
    # "P(Straight leg raise: Positive | L5 root compromised: Present)"; ``id`` stays the machine name.
    label: str = ""

    @property
    def citation(self) -> str:
        """The source key, or ``expert estimate`` / ``uncited``."""
        return self.source or ("expert estimate" if self.expert_estimate else "uncited")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "variable": self.variable, "kind": self.kind, "key": self.key, "state": self.state,
                "value": self.value, "range": list(self.range), "range_from": self.range_from,
                "provenance": self.provenance, "source": self.source, "detail": self.detail,
                "expert_estimate": self.expert_estimate}


def logit(p: float) -> float:
    """log(p / (1 - p)), infinite at 0 and 1."""
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    return math.log(p / (1.0 - p))


def _expit(x: float) -> float:
    if x == math.inf:
        return 1.0
    if x == -math.inf:
        return 0.0
    return 1.0 / (1.0 + math.exp(-x))


def default_range(value: float, half_width: float = DEFAULT_LOG_ODDS_HALF_WIDTH) -> tuple[float, float]:
    """The documented default plausible range: ``value`` +/- ``half_width`` on the log-odds scale.

    >>> [round(x, 3) for x in default_range(0.5)]
    [0.269, 0.731]
    >>> default_range(0.0)                # a structural zero stays a zero
    (0.0, 0.0)
    """
    if value <= 0.0 or value >= 1.0:
        return (value, value)
    z = logit(value)
    return (_expit(z - half_width), _expit(z + half_width))


def _row_key(network: Network, var: Variable, row: tuple[int, ...]) -> str:
    if not var.parents:
        return "(no parents)"
    return ", ".join(f"{p}={network[p].state_ids[i]}" for p, i in zip(var.parents, row))


def _row_label(network: Network, var: Variable, state: str, row: tuple[int, ...]) -> str:
    given = ", ".join(network[p].finding_text(network[p].state_ids[i]) for p, i in zip(var.parents, row))
    return f"P({var.finding_text(state)}" + (f" | {given})" if given else ")")


def _row_id(var: Variable, state: str, key: str) -> str:
    return f"{var.id}={state}" + ("" if key == "(no parents)" else f" | {key}")


def _parse_when(key: str) -> dict[str, str]:
    if key == "(no parents)":
        return {}
    return dict(part.strip().split("=", 1) for part in key.split(","))


def _provenance(p: Parameter | None) -> dict[str, Any]:
    if p is None:
        return {"provenance": "uncited"}
    return {"provenance": p.provenance, "source": p.source, "detail": p.detail, "expert_estimate": p.expert_estimate}


def parameters(network: Network) -> list[SensitivityParameter]:
    """Every parameter of the network that sensitivity analysis can vary, in network order.

    Networks read from BIF/XMLBIF files carry no provenance: every table entry is then an uncited
    parameter with the default range (one per row for binary variables: the "present"/"yes" state).

    >>> import bn
    >>> ps = parameters(bn.load("l4l5_knee@1.0.0").network)
    >>> [p.id for p in ps if p.variable == "back_pain"][:2]
    ['back_pain <- leak', 'back_pain <- disc_herniation=present']
    """
    out: list[SensitivityParameter] = []
    for var in network.variables.values():
        # A deterministic OR has no numbers; a mixture's components each set many table entries at once and
        # are held fixed here (docs/sensitivity.md).
        if var.form in ("deterministic_or", "mixture"):
            continue
        if var.form == "noisy_or":
            out += _noisy_or_parameters(network, var)
            continue
        written = {}
        for p in var.parameters:
            if p.kind == "row":
                when = _parse_when(p.key)
                written[tuple(network[q].state_index(when[q]) for q in var.parents)] = p
        for row in np.ndindex(*var.cpt.shape[:-1]):
            row = tuple(int(i) for i in row)
            p = written.get(row)
            key = _row_key(network, var, row)
            probs = var.cpt[row]
            # The number the modeller wrote: P(on-state) for a binary row.
            states = [var.on_state] if var.card == 2 else list(var.state_ids)
            for state in states:
                i = var.state_index(state)
                value = float(probs[i])
                from_file = p is not None and p.range is not None and i == var.on_index
                rng = tuple(float(x) for x in p.range) if from_file else default_range(value)
                out.append(SensitivityParameter(
                    id=_row_id(var, state, key), variable=var.id, kind="row", key=key, state=state, value=value,
                    range=rng, range_from="network" if from_file else "default", row=row, state_index=i,
                    label=_row_label(network, var, state, row), **_provenance(p)))
    return out


def _noisy_or_parameters(network: Network, var: Variable) -> list[SensitivityParameter]:
    out = []
    on = var.on_state
    for p in var.parameters:
        value = float(p.value)  # type: ignore[arg-type]  # links and leaks are single numbers
        rng = tuple(float(x) for x in p.range) if p.range is not None else default_range(value)
        common = {"variable": var.id, "kind": p.kind, "key": p.key, "state": on, "value": value, "range": rng,
                  "range_from": "network" if p.range is not None else "default", "state_index": var.on_index,
                  **_provenance(p)}
        if p.kind == "leak":
            out.append(SensitivityParameter(id=f"{var.id} <- leak", **common,
                                            label=f"{var.display_label}: leak (causes not modelled)"))
        else:
            parent, state = p.key.split("=", 1)
            link = (var.parents.index(parent), network[parent].state_index(state))
            label = f"{var.display_label}: link from {network[parent].finding_text(state)}"
            out.append(SensitivityParameter(id=f"{var.id} <- {p.key}", link=link, **common, label=label))
    return out


def find_parameters(network: Network, names: Iterable[str]) -> list[SensitivityParameter]:
    """The parameters named by ids or variable ids (a variable id selects all of its parameters).

    Raises UnknownParameterError naming the closest ids.

    >>> import bn
    >>> [p.id for p in find_parameters(bn.load("l4l5_knee@1.0.0").network, ["sex"])]
    ['sex=male']
    """
    every = parameters(network)
    by_id = {_normalise_id(p.id): p for p in every}
    chosen: dict[str, SensitivityParameter] = {}
    for name in names:
        key = _normalise_id(name)
        if key in by_id:
            chosen[by_id[key].id] = by_id[key]
            continue
        of_variable = [p for p in every if p.variable == name.strip()]
        if of_variable:
            chosen.update({p.id: p for p in of_variable})
            continue
        close = difflib.get_close_matches(name.strip(), [p.id for p in every] + list(network.variables), n=3,
                                          cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else \
            " (ids look like 'disc_herniation=present | age_group=65_plus', 'back_pain <- leak')"
        raise UnknownParameterError(f"unknown parameter '{name}' in network {network.id}{hint}")
    return list(chosen.values())


def _normalise_id(text: str) -> str:
    return " ".join(text.replace("|", " | ").replace("<-", " <- ").replace(",", ", ").split()).replace(" ,", ",")


def table_at(network: Network, parameter: SensitivityParameter, t: float) -> np.ndarray:
    """The variable's table with ``parameter`` set to ``t`` (every entry is affine in ``t``).

    Table rows co-vary proportionally: the row's other entries keep their ratios and share ``1 - t``
    (equally, when they were all zero). Noisy-OR tables are recompiled from the links and the leak.

    >>> import bn
    >>> n = bn.load("l4l5_knee@1.0.0").network
    >>> p = find_parameters(n, ["age_group=65_plus"])[0]
    >>> table_at(n, p, 0.5).round(4).tolist()      # under_40 : 40_to_64 keep their ratio
    [0.2083, 0.2917, 0.5]
    """
    var = network[parameter.variable]
    if parameter.kind == "row":
        cpt = np.array(var.cpt, dtype=float)
        row = cpt[parameter.row]
        i = parameter.state_index
        rest = 1.0 - row[i]
        others = np.arange(var.card) != i
        # When the row was all on this state there are no ratios to keep: share 1 - t equally.
        weights = row * others / rest if rest > 0.0 else others / others.sum()
        cpt[parameter.row] = weights * (1.0 - t)
        cpt[(*parameter.row, i)] = t
        return cpt
    leak, links = _noisy_or_spec(network, var)
    if parameter.kind == "leak":
        leak = t
    else:
        links = [(a, s, t if (a, s) == parameter.link else p) for a, s, p in links]
    return noisy_or_table([network[q].card for q in var.parents], leak, links, on_index=var.on_index)


def _noisy_or_spec(network: Network, var: Variable) -> tuple[float, list[tuple[int, int, float]]]:
    leak = 0.0
    links = []
    for p in var.parameters:
        if p.kind == "leak":
            leak = float(p.value)  # type: ignore[arg-type]
        elif p.kind == "link":
            parent, state = p.key.split("=", 1)
            links.append((var.parents.index(parent), network[parent].state_index(state), float(p.value)))  # type: ignore[arg-type]
    return leak, links


def with_parameter(network: Network, parameter: SensitivityParameter | str, value: float) -> Network:
    """A copy of the network with one parameter changed (the "what if" network).

    Its version is marked ``+what-if`` so that no result computed from it passes for the published network.

    >>> import bn
    >>> n = bn.load("l4l5_knee@1.0.0").network
    >>> changed = with_parameter(n, "back_pain <- leak", 0.3)
    >>> changed.version, round(float(changed["back_pain"].cpt[(0, 0, 0, 0, 1)]), 12)
    ('1.0.0+what-if', 0.3)
    """
    if isinstance(parameter, str):
        parameter = find_parameters(network, [parameter])[0]
    if not 0.0 <= value <= 1.0 or not math.isfinite(value):
        raise SensitivityError(f"a probability must lie in [0, 1]; got {value!r} for '{parameter.id}'")
    var = network[parameter.variable]
    params = []
    for p in var.parameters:  # keep the provenance list in step with the table (noisy-OR is rebuilt from it)
        if parameter.kind != "row" and p.kind == parameter.kind and (p.kind == "leak" or p.key == parameter.key):
            p = replace(p, value=float(value))
        params.append(p)
    changed = replace(var, cpt=table_at(network, parameter, value), parameters=tuple(params))
    variables = {k: (changed if k == var.id else v) for k, v in network.variables.items()}
    info = replace(network.info, version=network.info.version.split("+")[0] + "+what-if")
    return replace(network, variables=variables, info=info)
