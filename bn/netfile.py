"""Read and validate network files in the ``bn-network/1`` YAML format (see docs/network-format.md).

Loading is safe (the safe YAML loader of :mod:`bn.safeyaml`, a size limit) and strict:
:func:`check_network_file` returns every problem, each naming the file, the variable and what is wrong;
:func:`read_network_file` raises :class:`~bn.errors.NetworkFileError` when there is any.

>>> from bn.netfile import read_network_file
>>> net = read_network_file("networks/l4l5_knee/1.0.0.yaml")   # doctest: +SKIP
>>> net.info.id, net.info.version                               # doctest: +SKIP
('l4l5_knee', '1.0.0')
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from bn import limits
from bn.errors import NetworkFileError, Problem
from bn.model import (
    KNEE_PAIN_SOURCE,
    Network,
    NetworkInfo,
    Parameter,
    Reference,
    State,
    Summary,
    Variable,
    default_on_state,
)

SUM_TOLERANCE = 1e-9
FORMAT = "bn-network/1"


def rows_sum_to_one(network: Network) -> bool:
    """Whether every row of every table sums to 1 within :data:`SUM_TOLERANCE`, as a network file's must. A
    network built in code is not checked as a file is, and dropping a barren variable is exact only when its rows
    sum to 1: the engines' shortcuts ask this first."""
    return all(bool(np.abs(np.asarray(v.cpt, dtype=float).sum(axis=-1) - 1.0).max() <= SUM_TOLERANCE)
               for v in network.variables.values())


@cache
def _validator():
    from importlib import resources

    import jsonschema

    schema = json.loads(resources.files("bn.schemas").joinpath("network-1.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def read_bytes_limited(path: Path) -> bytes:
    """Read a network file, refusing one above the network_bytes limit (:mod:`bn.limits`); raises
    NetworkFileError."""
    limit = limits.current().network_bytes
    try:
        size = path.stat().st_size
        if size > limit:
            raise NetworkFileError(
                [Problem(str(path), None, f"file is {size:,} bytes; the limit is {limit:,} bytes (network_bytes)")]
            )
        return path.read_bytes()
    except OSError as exc:
        raise NetworkFileError([Problem(str(path), None, f"cannot read the file: {exc.strerror or exc}")]) from None


def read_network_file(path: str | Path, *, name: str | Path | None = None) -> Network:
    """Read, validate and build a network from a ``bn-network/1`` YAML file.

    ``name`` checks the file as if it lay there (its messages and the version-against-file-name rule): how a
    writer checks a temporary file before renaming it into place.
    """
    path = Path(path)
    data = read_bytes_limited(path)
    shown = Path(name) if name is not None else path
    network, problems = _parse(data, str(shown), shown)
    if problems:
        raise NetworkFileError(problems)
    assert network is not None
    return network


def parse_network_text(data: bytes | str, name: str = "<upload>") -> Network:
    """Validate and build a network from YAML text (an upload); ``name`` is used in messages."""
    raw = data.encode() if isinstance(data, str) else data
    limit = limits.current().network_bytes
    if len(raw) > limit:
        raise NetworkFileError([Problem(name, None, f"{len(raw):,} bytes; the limit is {limit:,} (network_bytes)")])
    network, problems = _parse(raw, name, None)
    if problems:
        raise NetworkFileError(problems)
    assert network is not None
    return network


def check_network_file(path: str | Path) -> list[Problem]:
    """Every problem in a network file (an empty list when the file is valid)."""
    path = Path(path)
    try:
        data = read_bytes_limited(path)
    except NetworkFileError as exc:
        return exc.problems
    return _parse(data, str(path), path)[1]


# --------------------------------------------------------------------------------------------------


def _parse(data: bytes, fname: str, path: Path | None) -> tuple[Network | None, list[Problem]]:
    from bn import safeyaml  # here, not at the top: a warm `bn query` reads the compiled cache, not YAML

    try:
        doc = safeyaml.load(data.decode("utf-8"))
    except UnicodeDecodeError:
        return None, [Problem(fname, None, "the file is not UTF-8 text")]
    except safeyaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, [Problem(fname, None, f"not valid YAML{where}: {what}")]
    if not isinstance(doc, dict):
        return None, [Problem(fname, None, f"expected a mapping with 'format', 'network' and 'variables', "
                                           f"found {type(doc).__name__}")]
    doc = _stringify_keys(doc)
    problems = _schema_problems(doc, fname)
    if problems:
        return None, problems
    builder = _Builder(doc, fname, path, data)
    network = builder.build()
    return (network if not builder.problems else None), builder.problems


def _stringify_keys(obj: Any) -> Any:
    # YAML reads `40_to_64:` as the int 4064 and `yes:` as True in keys; state ids are always strings.
    if isinstance(obj, dict):
        return {_scalar_str(k): _stringify_keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_stringify_keys(v) for v in obj]
    return obj


def _scalar_str(value: Any) -> Any:
    return value if isinstance(value, str) else str(value)


def _schema_problems(doc: dict, fname: str) -> list[Problem]:
    problems = []
    for err in sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        path = list(err.absolute_path)
        variable = None
        if len(path) >= 2 and path[0] == "variables" and isinstance(path[1], int):
            var = doc["variables"][path[1]]
            variable = var.get("id") if isinstance(var, dict) and isinstance(var.get("id"), str) else None
            variable = variable or f"#{path[1] + 1}"
            path = path[2:]
        where = ".".join(str(p) for p in path)
        message = err.message
        if err.validator == "additionalProperties":
            message = message.replace("Additional properties are not allowed", "unknown field(s)")
        problems.append(Problem(fname, variable, f"{where}: {message}" if where else message))
    return problems


class _Builder:
    """Semantic validation and construction; collects problems instead of stopping at the first."""

    def __init__(self, doc: dict, fname: str, path: Path | None, data: bytes):
        self.doc = doc
        self.data = data
        self.fname = fname
        self.path = path
        self.problems: list[Problem] = []
        self.refs: dict[str, Reference] = {
            key: Reference(key, r["citation"], r.get("measured", ""), r.get("url"))
            for key, r in (doc.get("references") or {}).items()
        }

    def problem(self, variable: str | None, message: str) -> None:
        self.problems.append(Problem(self.fname, variable, message))

    # -- whole file ----------------------------------------------------------------------------
    def build(self) -> Network | None:
        meta = self.doc["network"]
        self._check_version_against_path(meta)
        specs: dict[str, dict] = {}
        for var in self.doc["variables"]:
            if var["id"] in specs:
                self.problem(var["id"], "duplicate variable id")
                continue
            specs[var["id"]] = var
        self.specs = specs
        for vid, spec in specs.items():
            self._check_states(vid, spec)
            self._check_role(vid, spec)
        parents = {vid: self._parents(vid, spec) for vid, spec in specs.items()}
        order = self._topological_order(parents)
        if order is None:
            return None
        variables: dict[str, Variable] = {}
        for vid in order:
            if any(p not in variables for p in parents[vid]):
                continue  # a parent is invalid and already reported; its children cannot be built
            var = self._variable(specs[vid], parents[vid], variables)
            if var is not None:
                variables[vid] = var
        summary = self._summary(meta, specs)
        if self.problems:
            return None
        info = NetworkInfo(meta["id"], meta["version"], hashlib.sha256(self.data).hexdigest(), self.fname)
        return Network(info=info, variables=variables, meta=meta, references=self.refs, summary=summary,
                       source_format="yaml")

    def _summary(self, meta: dict, specs: dict) -> Summary | None:
        """``network.summary`` ({name, title, members}), or the older ``knee_pain_sources`` mapping (read as the
        knee-pain-source summary); every member a binary variable."""
        if "summary" in meta and "knee_pain_sources" in meta:
            self.problem(None, "network: give summary or knee_pain_sources, not both")
            return None
        if "summary" in meta:
            doc = meta["summary"]
            name, title, members, where = doc["name"], doc["title"], dict(doc["members"]), "network.summary.members"
        elif meta.get("knee_pain_sources"):
            (name, title), members, where = KNEE_PAIN_SOURCE, dict(meta["knee_pain_sources"]), \
                "network.knee_pain_sources"
        else:
            return None
        for key, vid in members.items():
            if vid not in specs:
                self.problem(None, f"{where}.{key}: unknown variable '{vid}'")
            elif len(specs[vid]["states"]) != 2:
                self.problem(vid, f"{where}.{key} must name a binary variable")
        return Summary(name, title, members)

    def _check_version_against_path(self, meta: dict) -> None:
        if self.path is None:
            return
        stem = self.path.name.removesuffix(".yaml").removesuffix(".yml")
        if re.fullmatch(r"\d+\.\d+\.\d+", stem):
            if stem != meta["version"]:
                self.problem(None, f"network.version is {meta['version']} but the file is named {self.path.name}; "
                                   "published versions live in <id>/<version>.yaml")
            if self.path.parent.name != meta["id"]:
                self.problem(None, f"network.id is '{meta['id']}' but the file is in folder "
                                   f"'{self.path.parent.name}/'")

    # -- per variable --------------------------------------------------------------------------
    def _check_states(self, vid: str, spec: dict) -> None:
        seen = set()
        for s in spec["states"]:
            if s["id"] in seen:
                self.problem(vid, f"duplicate state '{s['id']}'")
            seen.add(s["id"])

    def _check_role(self, vid: str, spec: dict) -> None:
        role, group = spec.get("role"), spec.get("group")
        if role == "finding" and group is None:
            self.problem(vid, "a finding needs a group: history, exam, imaging or tests")
        if group is not None and role != "finding":
            self.problem(vid, f"only findings have a group (role is {role or 'not set'})")
        if "alert" in spec and role != "red_flag":
            self.problem(vid, "only red flags have an alert message")

    def _parents(self, vid: str, spec: dict) -> tuple[str, ...]:
        form, body = next(iter(spec["cpt"].items()))
        if form == "noisy_or":
            names = list(dict.fromkeys(link["parent"] for link in body["links"]))
        elif form == "mixture":
            names = [c["parent"] for c in body["components"]]
        else:
            names = list(body["parents"])
        if len(set(names)) != len(names):
            self.problem(vid, f"a parent is listed twice: {names}")
        for p in names:
            if p == vid:
                self.problem(vid, "a variable cannot be its own parent")
            elif p not in self.specs:
                self.problem(vid, f"unknown parent '{p}'{_suggest(p, self.specs)}")
        return tuple(dict.fromkeys(names))

    def _topological_order(self, parents: dict[str, tuple[str, ...]]) -> list[str] | None:
        import networkx as nx

        graph = nx.DiGraph()
        index = {vid: i for i, vid in enumerate(parents)}
        graph.add_nodes_from(parents)
        graph.add_edges_from((p, v) for v, ps in parents.items() for p in ps if p in parents and p != v)
        try:
            cycle = nx.find_cycle(graph)
        except nx.NetworkXNoCycle:
            return list(nx.lexicographical_topological_sort(graph, key=index.__getitem__))
        path = " -> ".join([cycle[0][0]] + [edge[1] for edge in cycle])
        self.problem(cycle[0][0], f"the network has a cycle: {path}")
        return None

    def _variable(self, spec: dict, parents: tuple[str, ...], done: dict[str, Variable]) -> Variable | None:
        vid = spec["id"]
        states = tuple(State(s["id"], s.get("label", s["id"])) for s in spec["states"])
        on_state = spec.get("on_state") or default_on_state([s.id for s in states])
        if on_state not in (s.id for s in states):
            self.problem(vid, f"on_state '{on_state}' is not one of its states "
                              f"({', '.join(s.id for s in states)})")
            return None
        on_index = [s.id for s in states].index(on_state)
        form, body = next(iter(spec["cpt"].items()))
        parent_vars = [done[p] for p in parents]
        # Checked before anything is allocated: 40 binary parents make a table of 2^40 rows, which would
        # exhaust memory long before it failed any other check.
        rows = math.prod(p.card for p in parent_vars)
        most = limits.current().table_entries
        if rows * len(states) > most:
            self.problem(vid, f"its table would have {rows:,} rows of {len(states)} states "
                              f"({len(parent_vars)} parents); the limit is {most:,} entries (table_entries)")
            return None
        if form in ("noisy_or", "deterministic_or") and len(states) != 2:
            self.problem(vid, f"{form} needs a binary variable; this one has {len(states)} states")
            return None
        if form == "mixture" and any(p.card != 2 for p in parent_vars):
            self.problem(vid, "a mixture's components must be binary parents (their on_state switches them on)")
            return None
        if form == "table":
            built = self._table(vid, states, parent_vars, body, on_index)
        elif form == "mixture":
            built = self._mixture(vid, states, parent_vars, body, on_index)
        elif form == "noisy_or":
            built = self._noisy_or(vid, parent_vars, body, on_index)
        else:
            built = (_deterministic_or(parent_vars, on_index=on_index), ())
        if built is None:
            return None
        cpt, params = built
        return Variable(
            id=vid, states=states, parents=parents, cpt=cpt, label=spec.get("label", ""),
            description=spec.get("description", ""), role=spec.get("role"), group=spec.get("group"),
            cost=spec.get("cost"), alert=spec.get("alert"), form=form,
            definition=body.get("definition") if form in ("deterministic_or", "mixture") else None,
            parameters=params, on_state=on_state,
        )

    def _provenance(self, vid: str, where: str, item: dict, inherited: dict, value: float) -> dict | None:
        source = item.get("source", inherited.get("source"))
        expert = item.get("expert_estimate", inherited.get("expert_estimate"))
        detail = item.get("detail", inherited.get("detail") if "source" not in item else None)
        ok = True
        if source and expert:
            self.problem(vid, f"{where}: give either a source or an expert_estimate, not both")
            ok = False
        elif not source and not expert:
            self.problem(vid, f"{where}: missing provenance (add 'source: <reference key>' or "
                              "'expert_estimate: <reasoning>')")
            ok = False
        elif source and source not in self.refs:
            self.problem(vid, f"{where}: unknown reference key '{source}'{_suggest(source, self.refs)}")
            ok = False
        rng = item.get("range")
        if rng is not None:
            lo, hi = rng
            if not (0.0 <= lo <= hi <= 1.0):
                self.problem(vid, f"{where}: range {rng} must satisfy 0 <= low <= high <= 1")
                ok = False
            elif not lo - 1e-12 <= value <= hi + 1e-12:
                self.problem(vid, f"{where}: value {value:g} lies outside its plausible range {rng}")
                ok = False
            elif 0.0 < value < 1.0 and lo < hi and (lo <= 0.0 or hi >= 1.0):
                # Parameter draws read a range on the log-odds scale, where 0 and 1 are infinitely far away: a
                # range touching them would be drawn as if anything were plausible.
                self.problem(vid, f"{where}: range {rng} reaches {'0' if lo <= 0.0 else '1'} while the value "
                                  f"{value:g} does not; give the {'smallest' if lo <= 0.0 else 'largest'} "
                                  "plausible value instead")
                ok = False
        if not ok:
            return None
        return {"source": source, "detail": detail, "expert_estimate": expert,
                "range": tuple(rng) if rng is not None else None,
                "fixed": bool(item.get("fixed", inherited.get("fixed", False)))}

    def _probability(self, vid: str, where: str, p: Any) -> bool:
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p):
            self.problem(vid, f"{where}: {p!r} is not a number")
            return False
        if not 0.0 <= p <= 1.0:
            self.problem(vid, f"{where}: probability {p:g} is outside [0, 1]")
            return False
        return True

    def _table(self, vid: str, states: tuple[State, ...], parents: list[Variable], body: dict, on_index: int):
        state_ids = [s.id for s in states]
        shape = tuple(p.card for p in parents)
        expected = int(np.prod(shape)) if shape else 1
        rows = body["rows"]
        cpt = np.full((*shape, len(states)), np.nan)
        params = []
        count_before = len(self.problems)
        if len(rows) != expected:
            self.problem(vid, f"the table has {len(rows)} rows; {expected} are needed "
                              f"(one per combination of {', '.join(p.id for p in parents) or 'no parents'})")
        inherited = {k: body[k] for k in ("source", "detail", "expert_estimate", "fixed") if k in body}
        for n, row in enumerate(rows, start=1):
            when = row["when"]
            key = ", ".join(f"{k}={when[k]}" for k in when) or "(no parents)"
            where = f"row {n} ({key})"
            if set(when) != {p.id for p in parents}:
                missing = [p.id for p in parents if p.id not in when]
                extra = [k for k in when if k not in {p.id for p in parents}]
                detail = (f" missing {missing}" if missing else "") + (f" not a parent {extra}" if extra else "")
                self.problem(vid, f"{where}: 'when' must give a state for each parent;{detail}")
                continue
            index = []
            for p in parents:
                if when[p.id] not in p.state_ids:
                    self.problem(vid, f"{where}: '{when[p.id]}' is not a state of {p.id} "
                                      f"(states: {', '.join(p.state_ids)})")
                    break
                index.append(p.state_index(when[p.id]))
            else:
                values = self._distribution(vid, where, row["probs"], state_ids)
                if values is None:
                    continue
                if not np.isnan(cpt[tuple(index)]).all():
                    self.problem(vid, f"{where}: this parent combination appears twice")
                    continue
                cpt[tuple(index)] = values
                value = values[on_index] if len(values) == 2 else tuple(values)
                prov = self._provenance(vid, where, row, inherited, values[on_index])
                if prov is not None:
                    params.append(Parameter(vid, "row", key, value, **prov))
        if len(self.problems) > count_before:
            return None
        if np.isnan(cpt).any():
            self.problem(vid, "some parent combinations have no row")
            return None
        return cpt, tuple(params)

    def _noisy_or(self, vid: str, parents: list[Variable], body: dict, on_index: int):
        count_before = len(self.problems)
        inherited = {k: body[k] for k in ("source", "detail", "expert_estimate", "fixed") if k in body}
        leak = body["leak"]
        params = []
        if self._probability(vid, "leak", leak["p"]):
            prov = self._provenance(vid, "leak", leak, inherited, float(leak["p"]))
            if prov is not None:
                params.append(Parameter(vid, "leak", "leak", float(leak["p"]), **prov))
        by_id = {p.id: p for p in parents}
        active: list[tuple[int, int, float]] = []  # (parent axis, parent state index, link probability)
        seen = set()
        for n, link in enumerate(body["links"], start=1):
            parent = by_id[link["parent"]]
            state = link.get("state", parent.on_state)
            where = f"link {n} ({parent.id}={state})"
            if state not in parent.state_ids:
                self.problem(vid, f"{where}: '{state}' is not a state of {parent.id} "
                                  f"(states: {', '.join(parent.state_ids)})")
                continue
            if (parent.id, state) in seen:
                self.problem(vid, f"{where}: this link is given twice")
                continue
            seen.add((parent.id, state))
            if not self._probability(vid, where, link["p"]):
                continue
            prov = self._provenance(vid, where, link, inherited, float(link["p"]))
            if prov is not None:
                params.append(Parameter(vid, "link", f"{parent.id}={state}", float(link["p"]), **prov))
            active.append((parents.index(parent), parent.state_index(state), float(link["p"])))
        if len(self.problems) > count_before:
            return None
        return noisy_or_table([p.card for p in parents], float(leak["p"]), active, on_index=on_index), tuple(params)

    def _distribution(self, vid: str, where: str, probs: Any, state_ids: list[str]) -> list[float] | None:
        """One distribution over the variable's states (a table row, a mixture component), or None after
        reporting what is wrong with it."""
        if set(probs) != set(state_ids):
            missing = [s for s in state_ids if s not in probs]
            extra = [s for s in probs if s not in state_ids]
            msg = (f" missing {missing}" if missing else "") + (f" unknown {extra}" if extra else "")
            self.problem(vid, f"{where}: probs must give each state of {vid} once;{msg} "
                              f"(states: {', '.join(state_ids)})")
            return None
        if not all(self._probability(vid, f"{where} {s}", probs[s]) for s in state_ids):
            return None
        values = [float(probs[s]) for s in state_ids]
        total = math.fsum(values)
        if abs(total - 1.0) > SUM_TOLERANCE:
            self.problem(vid, f"{where}: probabilities sum to {total:.12g}, not 1")
            return None
        return values

    def _mixture(self, vid: str, states: tuple[State, ...], parents: list[Variable], body: dict, on_index: int):
        """Each present parent contributes its own distribution; several present ones mix by weight."""
        state_ids = [s.id for s in states]
        count_before = len(self.problems)
        inherited = {k: body[k] for k in ("source", "detail", "expert_estimate", "fixed") if k in body}
        params = []
        otherwise = self._distribution(vid, "otherwise", body["otherwise"]["probs"], state_ids)
        if otherwise is not None:
            prov = self._provenance(vid, "otherwise", body["otherwise"], inherited, otherwise[on_index])
            if prov is not None:
                params.append(Parameter(vid, "component", "otherwise", tuple(otherwise), **prov))
        components = []
        for n, comp in enumerate(body["components"], start=1):
            where = f"component {n} ({comp['parent']})"
            values = self._distribution(vid, where, comp["probs"], state_ids)
            if values is None:
                continue
            prov = self._provenance(vid, where, comp, inherited, values[on_index])
            parent = next(p for p in parents if p.id == comp["parent"])
            if prov is not None:
                params.append(Parameter(vid, "component", f"{parent.id}={parent.on_state}", tuple(values), **prov))
            components.append((float(comp.get("weight", 1.0)), values))
        if len(self.problems) > count_before:
            return None
        return mixture_table(components, otherwise, on=[p.on_index for p in parents]), tuple(params)


def mixture_table(components: list[tuple[float, list[float]]], otherwise: list[float], *,
                  on: list[int] | None = None) -> np.ndarray:
    """Full table of a mixture over binary parents (one component per parent, in parent order):
    ``P(s | parents) = sum_i w_i p_i(s) / sum_i w_i`` over the parents that are on, ``otherwise`` when none.
    ``on`` gives each parent's on-state index (default 1, the second state).

    >>> mixture_table([(1.0, [0.8, 0.2]), (3.0, [0.0, 1.0])], [0.5, 0.5]).tolist()
    [[[0.5, 0.5], [0.0, 1.0]], [[0.8, 0.2], [0.2, 0.8]]]
    """
    k = len(components)
    on_index = on if on is not None else [1] * k
    cpt = np.zeros((2,) * k + (len(otherwise),))
    for config in itertools.product((0, 1), repeat=k):
        active = [components[i] for i in range(k) if config[i] == on_index[i]]
        if not active:
            cpt[config] = otherwise
            continue
        weights = np.array([w for w, _ in active])
        cpt[config] = (weights[:, None] * np.array([p for _, p in active])).sum(axis=0) / weights.sum()
    return cpt


def noisy_or_table(cards: list[int], leak: float, links: list[tuple[int, int, float]], *,
                   on_index: int = 1) -> np.ndarray:
    """Full table of a noisy-OR: ``P(on | config) = 1 - (1 - leak) * prod(1 - p_i)`` over active links.

    ``links`` holds ``(parent axis, parent state index, p)``. The result has shape ``(*cards, 2)``, the
    child's on-state at ``on_index`` of the last axis.

    >>> noisy_or_table([2], 0.1, [(0, 1, 0.5)]).round(3).tolist()
    [[0.9, 0.1], [0.45, 0.55]]
    """
    off = np.full(tuple(cards), 1.0 - leak)
    for axis, state, p in links:
        factor = np.ones(cards[axis])
        factor[state] = 1.0 - p
        off = off * factor.reshape([-1 if a == axis else 1 for a in range(len(cards))])
    table = np.stack([off, 1.0 - off], axis=-1)
    return table if on_index == 1 else np.ascontiguousarray(table[..., ::-1])


def _deterministic_or(parents: list[Variable], *, on_index: int) -> np.ndarray:
    cards = [p.card for p in parents]
    off = np.ones(tuple(cards))
    for axis, p in enumerate(parents):  # off exactly when no parent is in its on-state
        factor = np.ones(p.card)
        factor[p.on_index] = 0.0
        off = off * factor.reshape([-1 if a == axis else 1 for a in range(len(cards))])
    table = np.stack([off, 1.0 - off], axis=-1)
    return table if on_index == 1 else np.ascontiguousarray(table[..., ::-1])


def _suggest(name: str, options) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(options), n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""
