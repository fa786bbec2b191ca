"""Literature concordance: each published sensitivity, specificity, likelihood ratio, odds ratio or
prevalence against the value the network implies in the study's own population, and how far the
network's plausible ranges can move it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bn import safeyaml
from bn.errors import BNError
from bn.evidence import Evidence
from bn.inference import BayesNet
from bn.model import Network
from bn.validation.base import CONCORDANCE_FILE, MAX_VALIDATION_FILE_BYTES, ValidationError
from bn.validation.cases import vocabulary_ids
from bn.validation.metrics import wilson_interval

MEASURES = ("sensitivity", "specificity", "lr_positive", "lr_negative", "probability", "odds_ratio")
RATIO_MEASURES = ("lr_positive", "lr_negative", "odds_ratio")  # unbounded: plotted on a log scale


CONCORDANCE_KINDS = ("input", "check")


@dataclass(frozen=True)
class ConcordanceItem:
    """One published figure and the question that reproduces it in the network.

    ``finding`` and ``condition`` are events over network variables: a mapping ``{variable: state}``, true
    when *any* of its entries holds (so ``{l4_root_compromise: present, l5_root_compromise: present}`` is
    'L4 or L5 root compromise'); with ``combine: all`` the finding is true when *all* entries hold (a
    combination of findings, e.g. femoral stretch positive and patellar reflex reduced). ``population``
    describes the study population: ``{variable: state}`` or ``{variable: [state, ...]}`` (any of those).
    ``measure``: sensitivity P(F | C, pop), specificity P(not F | not C, pop), lr_positive, lr_negative, or
    probability P(F | C, pop) (``condition`` may be empty), or odds_ratio: the odds of F in ``population``
    over its odds in ``versus`` (a second population; how far apart two published strata are, e.g. the top
    and bottom quartiles of a score, which does not depend on the study's overall prevalence as P(F) does).

    ``kind`` says what the row can show: ``input`` when the network's numbers were set from this figure (the
    row checks the copy, not the model), ``check`` when they were not (an independent figure, or a
    combination of findings whose joint behaviour the network was never fitted to). ``unavailable`` names
    the public-vocabulary variables this network version lacks (the row is then reported, not computed).
    """

    id: str
    label: str
    measure: str
    finding: dict[str, str]
    condition: dict[str, str]
    population: dict[str, tuple[str, ...]]
    published: float
    interval: tuple[float, float] | None
    interval_kind: str  # "95% CI" | "Wilson 95% (calc)" | "range" | "none"
    source: str
    note: str = ""
    kind: str = "input"
    combine: str = "any"  # how the finding's entries combine: any (OR) | all (AND)
    reference: str = ""  # the network's reference key for the study, when it has one
    unavailable: tuple[str, ...] = ()
    versus: dict[str, tuple[str, ...]] = field(default_factory=dict)  # the second population of an odds_ratio


def load_concordance(network: Network, path: str | Path = CONCORDANCE_FILE) -> list[ConcordanceItem]:
    """The concordance table, validated against ``network`` (one-line ValidationError on the first problem)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_VALIDATION_FILE_BYTES:
            raise ValidationError(f"{path}: larger than {MAX_VALIDATION_FILE_BYTES:,} bytes")
        doc = safeyaml.load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationError(f"cannot read concordance table '{path}': {exc.strerror or exc}") from None
    except safeyaml.YAMLError as exc:
        raise ValidationError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    rows = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(rows, list) or not rows:
        raise ValidationError(f"{path}: expected a mapping with a non-empty list 'items'")
    vocab_vars, _ = vocabulary_ids(network)
    items, seen = [], set()
    for i, row in enumerate(rows):
        where = f"{path}: item {i + 1}" + (f" ({row.get('id')})" if isinstance(row, dict) else "")
        if not isinstance(row, dict):
            raise ValidationError(f"{where}: expected a mapping")
        items.append(_concordance_item(row, where, network, vocab_vars))
        if items[-1].id in seen:
            raise ValidationError(f"{where}: duplicate id '{items[-1].id}'")
        seen.add(items[-1].id)
    return items


def _concordance_item(row: Mapping[str, Any], where: str, network: Network,
                      vocab_vars: set[str] | frozenset[str] = frozenset()) -> ConcordanceItem:
    required = ("id", "label", "measure", "finding", "published", "source", "kind")
    missing = [k for k in required if k not in row]
    if missing:
        raise ValidationError(f"{where}: missing {', '.join(missing)}")
    measure = row["measure"]
    if measure not in MEASURES:
        raise ValidationError(f"{where}: measure '{measure}' is not one of {', '.join(MEASURES)}")
    if row["kind"] not in CONCORDANCE_KINDS:
        raise ValidationError(f"{where}: kind must be 'input' (the network was set from this figure) or 'check' "
                              f"(it was not), got {row['kind']!r}")
    combine = row.get("combine", "any")
    if combine not in ("any", "all"):
        raise ValidationError(f"{where}: combine must be 'any' or 'all', got {combine!r}")
    events: dict[str, dict[str, Any]] = {}
    unavailable: list[str] = []
    for key in ("finding", "condition", "population", "versus"):
        value = row.get(key) or {}
        if not isinstance(value, dict):
            raise ValidationError(f"{where}: '{key}' must map variables to states")
        event: dict[str, Any] = {}
        for var, state in value.items():
            var = str(var)
            many = key in ("population", "versus")
            states = [str(s) for s in state] if many and isinstance(state, list) else [str(state)]
            if var not in network.variables and var in vocab_vars:
                unavailable.append(var)
                continue
            try:
                for st in states:
                    Evidence({var: st}).validate(network)
            except BNError as exc:
                raise ValidationError(f"{where}: {key}: {exc}") from None
            event[var] = tuple(states) if many else states[0]
        events[key] = event
    if not row.get("finding"):
        raise ValidationError(f"{where}: 'finding' is empty")
    if measure not in ("probability", "odds_ratio") and not row.get("condition"):
        raise ValidationError(f"{where}: measure {measure} needs a 'condition'")
    if (measure == "odds_ratio") != bool(row.get("versus")):
        raise ValidationError(f"{where}: 'versus' (the second population) goes with measure odds_ratio, "
                              "and only with it")
    overlap = (set(events["finding"]) | set(events["condition"])) & (set(events["population"]) | set(events["versus"]))
    if overlap:
        raise ValidationError(f"{where}: {', '.join(sorted(overlap))} is both an event and population evidence")
    # An OR event keeps its entries this version has (the rest cannot occur in it); an AND finding, the
    # population and a condition with nothing left cannot be asked of this version at all.
    lost = [v for v in unavailable if (v in (row.get("finding") or {}) and (combine == "all" or not events["finding"]))
            or v in (row.get("population") or {}) or v in (row.get("versus") or {})
            or (v in (row.get("condition") or {}) and not events["condition"])]
    published = _number(row["published"], where, "published")
    interval, kind = None, "none"
    if row.get("ci") is not None:
        ci = row["ci"]
        if not (isinstance(ci, list) and len(ci) == 2):
            raise ValidationError(f"{where}: 'ci' must be [low, high]")
        interval = (_number(ci[0], where, "ci"), _number(ci[1], where, "ci"))
        kind = str(row.get("interval_kind") or "95% CI")
    elif row.get("n") is not None:
        if measure not in ("sensitivity", "specificity", "probability"):
            raise ValidationError(f"{where}: an interval from 'n' needs a proportion, not {measure}")
        n = int(row["n"])
        interval, kind = wilson_interval(round(published * n), n), f"Wilson 95% from n={n} (calc)"
    if interval is not None and not interval[0] <= interval[1]:
        raise ValidationError(f"{where}: interval low {interval[0]} is above high {interval[1]}")
    return ConcordanceItem(str(row["id"]), str(row["label"]), measure, events["finding"], events["condition"],
                           events["population"], published, interval, kind, str(row["source"]),
                           str(row.get("note") or ""), kind=row["kind"], combine=combine,
                           reference=str(row.get("reference") or ""), unavailable=tuple(dict.fromkeys(lost)),
                           versus=events["versus"])


def _number(x: Any, where: str, key: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x < 0:
        raise ValidationError(f"{where}: '{key}' must be a non-negative number, got {x!r}")
    return float(x)


def _event_mask(network: Network, variables: Sequence[str], event: Mapping[str, str]) -> np.ndarray:
    """Boolean array over the joint of ``variables``: True where any ``variable = state`` of ``event`` holds."""
    shape = [network[v].card for v in variables]
    mask = np.zeros(shape, dtype=bool)
    for var, state in event.items():
        axis = variables.index(var)
        index = [slice(None)] * len(variables)
        index[axis] = network[var].state_index(state)
        mask[tuple(index)] = True
    return mask


def implied_value(net: BayesNet, item: ConcordanceItem) -> float:
    """What the network says for ``item``, marginalising over everything not in the population evidence."""
    network = net.network
    variables = list(dict.fromkeys([*item.finding, *item.condition]))

    def joint_in(population: Mapping[str, tuple[str, ...]]) -> np.ndarray:
        hard = {v: s[0] for v, s in population.items() if len(s) == 1}
        soft = {v: {st: float(st in s) for st in network[v].state_ids} for v, s in population.items() if len(s) > 1}
        return net.joint(variables, findings=hard, soft=soft or None)

    joint = joint_in(item.population)
    if item.combine == "all":
        f = np.logical_and.reduce([_event_mask(network, variables, {v: s}) for v, s in item.finding.items()])
    else:
        f = _event_mask(network, variables, item.finding)
    c = _event_mask(network, variables, item.condition) if item.condition else np.ones_like(f)

    def p(event: np.ndarray, given: np.ndarray) -> float:
        denominator = float(joint[given].sum())
        if denominator <= 0:
            raise ValidationError(f"concordance item {item.id}: the conditioning event has probability zero")
        return float(joint[event & given].sum()) / denominator

    sens = p(f, c)
    if item.measure in ("sensitivity", "probability"):
        return sens
    if item.measure == "odds_ratio":
        other = joint_in(item.versus)
        q = float(other[f].sum()) / float(other.sum())
        if sens >= 1 or q <= 0:
            return float("inf")
        return (sens / (1 - sens)) / (q / (1 - q))
    spec = p(~f, ~c)
    if item.measure == "specificity":
        return spec
    if item.measure == "lr_positive":
        return sens / (1 - spec) if spec < 1 else float("inf")
    return (1 - sens) / spec  # lr_negative


def plausible_reach(net: BayesNet, item: ConcordanceItem) -> tuple[float, float]:
    """How far the row's implied value moves when its finding's parameters span their plausible ranges.

    The parameters are those of the finding variables and of their latent mechanism parents (a deficit or
    syndrome node carries part of a sign's sensitivity). Each is set to either end of its range, one at a
    time; then all of them together at the ends that pushed the value down, and at those that pushed it up.
    Returns (lowest, highest) over those networks: a row outside its published interval is defensible only
    when this reaches the published value (or its note says why the populations differ).
    """
    from bn.sensitivity import parameters, with_parameter

    network = net.network
    names = set(item.finding)
    names |= {p for v in item.finding for p in network[v].parents if network[p].role == "mechanism"}
    params = [p for p in parameters(network) if p.variable in names and p.range[0] < p.range[1]]

    plan = getattr(net.engine, "plan", None)

    def value_with(settings: Sequence[tuple[Any, float]]) -> float:
        changed = network
        for p, x in settings:
            changed = with_parameter(changed, p, x)
        try:  # the same structure: reuse the junction tree (planning is most of the cost)
            changed_net = BayesNet(changed, plan=plan)
        except ValueError:  # a changed table no longer splits into the same OR chain
            changed_net = BayesNet(changed)
        return implied_value(changed_net, item)

    values, down, up = [], [], []
    for p in params:
        low, high = value_with([(p, p.range[0])]), value_with([(p, p.range[1])])
        values += [low, high]
        down.append((p, p.range[0] if low <= high else p.range[1]))
        up.append((p, p.range[1] if low <= high else p.range[0]))
    if params:
        values += [value_with(down), value_with(up)]
    now = implied_value(net, item)
    return min([now, *values]), max([now, *values])


@dataclass(frozen=True)
class ConcordanceRow:
    item: ConcordanceItem
    implied: float | None  # None: the row needs variables this network version does not have
    reach: tuple[float, float] | None = None  # plausible_reach, computed for rows outside their interval

    @property
    def reaches_published(self) -> bool | None:
        """Whether the finding's plausible ranges can move the implied value to the published one."""
        if self.reach is None:
            return None
        return self.reach[0] <= self.item.published <= self.reach[1]

    @property
    def inside(self) -> bool | None:
        """Inside the published interval (None when the study gives none, or the row is not computable)."""
        if self.item.interval is None or self.implied is None:
            return None
        low, high = self.item.interval
        return low <= self.implied <= high

    @property
    def direction(self) -> str:
        if self.implied is None:
            return "not in this version"
        if self.inside:
            return "inside"
        if self.item.interval is None:
            return "higher" if self.implied > self.item.published else "lower"
        return "above" if self.implied > self.item.interval[1] else "below"

    def to_dict(self) -> dict[str, Any]:
        it = self.item
        return {"id": it.id, "label": it.label, "kind": it.kind, "measure": it.measure, "finding": it.finding,
                "combine": it.combine, "condition": it.condition,
                "population": {k: list(v) for k, v in it.population.items()},
                "versus": {k: list(v) for k, v in it.versus.items()}, "published": it.published,
                "interval": list(it.interval) if it.interval else None, "interval_kind": it.interval_kind,
                "implied": self.implied, "inside": self.inside, "direction": self.direction,
                "plausible_reach": list(self.reach) if self.reach else None,
                "reaches_published": self.reaches_published,
                "unavailable": list(it.unavailable), "source": it.source, "note": it.note}


def _concordance_counts(rows: Sequence[ConcordanceRow]) -> dict[str, int]:
    computed = [r for r in rows if r.implied is not None]
    with_interval = [r for r in computed if r.inside is not None]
    return {"items": len(rows), "computed": len(computed), "with_interval": len(with_interval),
            "inside": sum(1 for r in with_interval if r.inside),
            "outside": sum(1 for r in with_interval if not r.inside)}


def run_concordance(net: BayesNet, items: Sequence[ConcordanceItem]) -> dict[str, Any]:
    """Implied value for every item, and counts inside / outside their interval: for all rows
    (``summary``) and for the ``input`` and ``check`` rows apart (``by_kind``). A row outside its interval
    also gets its :func:`plausible_reach`."""
    rows = []
    for it in items:
        row = ConcordanceRow(it, None if it.unavailable else implied_value(net, it))
        if row.inside is False:
            row = ConcordanceRow(it, row.implied, plausible_reach(net, it))
        rows.append(row)
    return {
        "network": net.info.to_dict(),
        "rows": rows,
        "summary": _concordance_counts(rows),
        "by_kind": {k: _concordance_counts([r for r in rows if r.item.kind == k]) for k in CONCORDANCE_KINDS},
    }
