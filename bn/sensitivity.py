"""How much do the answers depend on the numbers? Parameter sensitivity analysis.

Four questions, one module (the command line is :mod:`bn.cli.sensitivity`, files and charts
:mod:`bn.sensitivity_report`):

1. **One-way sensitivity** (:func:`one_way`). For a case, a target state ``x`` and each parameter ``t``
   (a table entry, or a noisy-OR link / leak probability as the modeller wrote it) the *sensitivity
   function* ``f(t) = P(x | e)`` when only ``t`` changes. For a table entry the other entries of its row
   co-vary proportionally (so the row still sums to 1); a noisy-OR table is multilinear in its link and
   leak probabilities. Either way every entry of the table is affine in ``t``, so ``P(x, e)`` and ``P(e)``
   are affine in ``t`` and ``f(t) = (a t + b) / (c t + d)`` exactly (Castillo, Gutierrez & Hadi 1997;
   Coupe & van der Gaag 2002). The coefficients come from *family joints*: for a variable ``V`` with
   parents ``U`` and table ``T``, ``dP(x, e) / dT[u, v] = P(x, e, u, v) / T[u, v]``, so with
   ``dT = T(1) - T(0)`` (the table's change per unit of ``t``)::

       a = sum(dT * P(x, e, U, V) / T)      b = P(x, e) - a t0      (and c, d likewise with P(e))

   Two inferences per variable (``P(U, V, e)`` with and without the target as a finding) give every
   parameter of that variable; no sampling, no recompilation. Entries equal to zero (where the division
   is undefined) are handled by one inference on a copy of the network whose table for ``V`` is all ones,
   which gives the derivatives directly.

2. **What would change the conclusion** (:func:`flip`, SamIam's parameter query). A constraint
   (:class:`Threshold` ``P(x | e) >= p``, :class:`Difference` ``P(a | e) - P(b | e) >= delta``,
   :class:`LeaderChanges`: the leading knee-pain source changes) is, per parameter, one or more linear
   inequalities in ``t`` (multiply through by ``P(e) > 0``), solved exactly: every single-parameter
   change that achieves it, the required new value, the change in log-odds and whether the value lies
   inside the parameter's plausible range.

3. **Second-order uncertainty** (:func:`uncertainty`). Every parameter is drawn jointly (a Beta per
   probability, a Dirichlet per row of a variable with more than two states) centred on its value
   (mean = value) with a concentration chosen so that its spread on the log-odds scale matches its plausible
   range read as a 90% interval; the posterior of each target is recomputed for
   every draw by one batched exact contraction. Seeded and reproducible.

4. **Across cases** (:func:`sweep`): one-way analysis of every case in a folder, aggregated per parameter.

Plausible ranges are the ``range`` written in the network file; a parameter without one gets the default
``logit(t0) +/- DEFAULT_LOG_ODDS_HALF_WIDTH`` (odds multiplied or divided by e, about 2.7), a deliberately
wide range because unranged numbers are usually the least certain ones.

>>> import bn
>>> net = bn.load("l4l5_knee@1.0.0")
>>> case = {"knee_pain": "present", "age_group": "65_plus", "neurogenic_claudication": "present"}
>>> result = one_way(net, case, "l4l5_spine")
>>> row = result.rows[0]                                    # the parameter with the widest posterior swing
>>> abs(row.function(row.parameter.value) - result.posterior) < 1e-12
True
>>> f = result.row("knee_pain_from_l4l5 <- leak").function   # one parameter's sensitivity function
>>> round(f(0.2), 4) > round(f(0.05), 4)                      # more leak, more spinal knee pain
True
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from bn.errors import BNError, EvidenceError
from bn.evidence import Evidence, read_case
from bn.inference import BayesNet, Findings
from bn.model import Network, NetworkInfo, Parameter, Variable
from bn.netfile import noisy_or_table
from bn.target import Target, resolve_target

DEFAULT_LOG_ODDS_HALF_WIDTH = 1.0  # default plausible range: logit(value) +/- 1 (odds x/÷ e)
RANGE_LEVEL = 0.90  # a plausible range is read as a 90% interval (on the log-odds scale)
FLIP_NUDGE = 1e-6  # a required new value is moved this far past the exact boundary, so applying it flips
DEFAULT_DRAWS = 1000

_T = TypeVar("_T")


class SensitivityError(BNError):
    """Bad input to a sensitivity analysis (unknown parameter, empty case folder, bad constraint...)."""


class UnknownParameterError(SensitivityError):
    """A parameter id names no parameter of the network."""


# -- parameters ------------------------------------------------------------------------------------------------


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

    @property
    def label(self) -> str:
        """A short human-readable name (chart labels)."""
        if self.kind == "row":
            given = f" | {self.key}" if self.key != "(no parents)" else ""
            return f"P({self.variable}={self.state}{given})"
        if self.kind == "link":
            return f"{self.variable}: link from {self.key}"
        return f"{self.variable}: leak"

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
                    **_provenance(p)))
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
            out.append(SensitivityParameter(id=f"{var.id} <- leak", **common))
        else:
            parent, state = p.key.split("=", 1)
            link = (var.parents.index(parent), network[parent].state_index(state))
            out.append(SensitivityParameter(id=f"{var.id} <- {p.key}", link=link, **common))
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


# -- tables as functions of one parameter -----------------------------------------------------------------------


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


# -- sensitivity functions --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SensitivityFunction:
    """``f(t) = (a t + b) / (c t + d)``: the target posterior as a function of one parameter.

    Coefficients are scaled so that ``c t0 + d = 1`` (``P(e)`` at the current value is the unit).

    >>> f = SensitivityFunction(0.5, a=0.4, b=0.1, c=0.2, d=0.9)
    >>> round(f(0.5), 6), round(f.derivative(0.5), 6), round(f.solve(f(0.7)), 6)
    (0.3, 0.34, 0.7)
    """

    t0: float
    a: float
    b: float
    c: float
    d: float

    def __call__(self, t: float) -> float:
        den = self.c * t + self.d
        return (self.a * t + self.b) / den if den > 0.0 else math.nan

    def derivative(self, t: float | None = None) -> float:
        t = self.t0 if t is None else t
        den = self.c * t + self.d
        return (self.a * self.d - self.b * self.c) / (den * den) if den > 0.0 else math.nan

    def solve(self, p: float) -> float:
        """The ``t`` with ``f(t) = p`` (NaN when ``f`` is constant)."""
        den = self.a - p * self.c
        return (p * self.d - self.b) / den if den != 0.0 else math.nan

    def to_dict(self) -> dict[str, float]:
        return {"a": self.a, "b": self.b, "c": self.c, "d": self.d}


@dataclass(frozen=True)
class _Linear:
    """``P(event, e)(t) / P(e)(t0) = a t + b`` for one parameter and one event (or the evidence alone).

    Every coefficient is relative to ``P(e)`` at the network's values, so none under- or overflows where
    ``P(e)`` itself does (a case with many findings on a large network: log P(e) below -700)."""

    a: float
    b: float

    def __call__(self, t: float) -> float:
        return self.a * t + self.b


class _Coefficients:
    """Exact linear coefficients of ``P(event, e)`` and ``P(e)`` in each parameter, relative to ``P(e)``,
    from family posteriors (normalised: they hold where ``P(e)`` underflows)."""

    def __init__(self, net: BayesNet, evidence: Evidence, events: Sequence[Target]):
        self.events = list(dict.fromkeys(events))
        self.likelihoods = evidence.likelihoods(net.network)
        # Only the findings, the events and their ancestors can move P(event, e) or P(e): every other table
        # belongs to a barren variable, which sums out to 1 whatever its numbers, so its derivatives are 0.
        # Working on the relevant part keeps a large network's junction tree small (l4l5_knee 2.0.0: a
        # one-way analysis of a knee-pain case took 4.6 s on the whole tree).
        self.relevant = net.network.ancestors([*self.likelihoods, *(e.variable for e in self.events)])
        if len(self.relevant) < len(net.network.variables):
            sub = replace(net.network, variables={v: x for v, x in net.network.variables.items() if v in self.relevant})
            net = BayesNet(sub)
        self.net = net
        self.network = net.network
        self.evidence = evidence
        self._family_cache: dict[int, tuple[dict[str, np.ndarray], float]] = {}
        self.log_p_e = self._families(0)[1]

    def _event_likelihoods(self, event: Target) -> dict[str, np.ndarray]:
        var = self.network[event.variable]
        lik = dict(self.likelihoods)
        vec = np.zeros(var.card)
        vec[var.state_index(event.state)] = 1.0
        lik[event.variable] = vec * lik[event.variable] if event.variable in lik else vec
        return lik

    def _family_derivatives(self, var: Variable, dts: list[np.ndarray]) -> list[np.ndarray]:
        """``dP(., e) / dT / P(e)`` for the evidence alone and each event, with the family's axes (parents,
        child)."""
        liks = [self.likelihoods] + [self._event_likelihoods(ev) for ev in self.events]
        table = np.asarray(var.cpt, dtype=float)
        zero = table == 0.0
        needs_ones = any(bool((zero & (dt != 0.0)).any()) for dt in dts)
        if needs_ones:
            # dP/dT[u, v] = P(u, v, e) / T[u, v] fails where T is 0; with the table replaced by ones the
            # family joint *is* the derivative (the joint is linear in each table).
            from bn.engines import make_engine

            ones = replace(var, cpt=np.ones_like(table))
            network = replace(self.network, variables={**self.network.variables, var.id: ones})
            plan = getattr(self.net.engine, "plan", None)
            if plan is not None and len(plan.assign) != len(network.variables):
                plan = None  # a plan over OR chains: the table of ones is no OR, so it is planned afresh
            engine = make_engine(network, self.net.engine.name, plan)
            out = []
            for lik in liks:
                tables, log_z = engine.family_posteriors(lik, [var.id])
                out.append(tables[var.id] * self._ratio(log_z))
            return out
        out = []
        for k in range(len(liks)):
            tables, log_z = self._families(k)
            joint = tables[var.id] * self._ratio(log_z)
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append(np.where(zero, 0.0, joint / np.where(zero, 1.0, table)))
        return out

    def _ratio(self, log_z: float) -> float:
        """``exp(log_z) / P(e)``, computed in log space."""
        return math.exp(log_z - self.log_p_e) if np.isfinite(log_z) else 0.0

    def for_variable(self, variable: str, params: Sequence[SensitivityParameter]
                     ) -> dict[str, tuple[_Linear, list[_Linear]]]:
        """For each parameter id: (P(e) as a linear function of t, [P(event, e) for each event])."""
        if variable not in self.relevant:
            totals = [self.posterior(ev) for ev in self.events]
            return {p.id: (_Linear(0.0, 1.0), [_Linear(0.0, x) for x in totals]) for p in params}
        var = self.network[variable]
        dts = [table_at(self.network, p, 1.0) - table_at(self.network, p, 0.0) for p in params]
        derivs = self._family_derivatives(var, dts)
        totals = [1.0] + [self.posterior(ev) for ev in self.events]
        out = {}
        for p, dt in zip(params, dts):
            lines = []
            for deriv, total in zip(derivs, totals):
                a = float(np.sum(dt * deriv))
                lines.append(_Linear(a, total - a * p.value))
            out[p.id] = (lines[0], lines[1:])
        return out

    def _families(self, k: int) -> tuple[dict[str, np.ndarray], float]:
        """P(family | e) of every variable (k = 0) or P(family | event k, e), and log P(e) or
        log P(event k, e), from one calibration each."""
        if k not in self._family_cache:
            lik = self.likelihoods if k == 0 else self._event_likelihoods(self.events[k - 1])
            self._family_cache[k] = self.net.engine.family_posteriors(lik)
        return self._family_cache[k]

    def posterior(self, event: Target) -> float:
        """``P(event | e) = P(event, e) / P(e)`` at the network's values."""
        return self._ratio(self._families(self.events.index(event) + 1)[1])


def _progress(iterable: Iterable[_T], total: int, desc: str, enabled: bool) -> Iterable[_T]:
    """A tqdm bar on stderr that appears only if the loop runs longer than a second."""
    if not enabled:
        return iterable
    from tqdm import tqdm

    # disable=None: no bar when stderr is not a terminal (pipes, logs, tests).
    return tqdm(iterable, total=total, desc=desc, delay=1.0, leave=False, disable=None)


def _group(params: Sequence[SensitivityParameter]) -> dict[str, list[SensitivityParameter]]:
    groups: dict[str, list[SensitivityParameter]] = {}
    for p in params:
        groups.setdefault(p.variable, []).append(p)
    return groups


def _prepare(net: BayesNet, findings: Findings, targets: Sequence[str | Target | None], soft=None
             ) -> tuple[Evidence, list[Target]]:
    ev = net.evidence(findings, soft=soft)
    resolved = []
    for t in targets:
        target = t if isinstance(t, Target) else resolve_target(net.network, t)
        if target.variable in ev.findings:
            raise EvidenceError(f"the target {target.variable} is itself a finding of the case "
                                f"({target.variable}={ev.findings[target.variable]}); its probability is 0 or 1 "
                                "whatever the parameters; choose another target")
        resolved.append(target)
    net.posterior(resolved[0].variable, findings=ev)  # raises ImpossibleEvidenceError naming the conflicting findings
    return ev, resolved


# -- 1. one-way sensitivity -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterSensitivity:
    """One parameter's effect on the target: its sensitivity function and the posterior over its range."""

    parameter: SensitivityParameter
    function: SensitivityFunction
    posterior_at_low: float  # the posterior with the parameter at the low end of its plausible range
    posterior_at_high: float

    @property
    def derivative(self) -> float:
        """``df/dt`` at the current value."""
        return self.function.derivative()

    @property
    def swing(self) -> float:
        """How far the posterior moves as the parameter sweeps its plausible range (the tornado bar)."""
        lo, hi = self.posterior_at_low, self.posterior_at_high
        return abs(hi - lo) if math.isfinite(lo) and math.isfinite(hi) else math.inf

    def to_dict(self) -> dict[str, Any]:
        return {"parameter": self.parameter.to_dict(), "label": self.parameter.label,
                "function": self.function.to_dict(), "derivative": _finite(self.derivative),
                "posterior_at_low": _finite(self.posterior_at_low),
                "posterior_at_high": _finite(self.posterior_at_high), "swing": _finite(self.swing)}


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


@dataclass(frozen=True)
class OneWayResult:
    """One-way sensitivity of one target for one case; ``rows`` are sorted by swing, widest first."""

    network: NetworkInfo
    evidence: dict[str, Any]
    target: Target
    target_label: str
    posterior: float
    rows: list[ParameterSensitivity]

    def row(self, parameter_id: str) -> ParameterSensitivity:
        key = _normalise_id(parameter_id)
        for r in self.rows:
            if _normalise_id(r.parameter.id) == key:
                return r
        raise UnknownParameterError(f"parameter '{parameter_id}' is not in this analysis")

    def top(self, k: int | None) -> list[ParameterSensitivity]:
        return self.rows[:k] if k else list(self.rows)

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        return {"network": self.network.to_dict(), "evidence": self.evidence, "target": self.target.to_dict(),
                "target_label": self.target_label, "posterior": self.posterior,
                "parameters": [r.to_dict() for r in self.top(top)]}

    def to_frame(self):
        """One row per parameter (pandas DataFrame), widest swing first."""
        import pandas as pd

        rows = [{"parameter": r.parameter.id, "label": r.parameter.label, "variable": r.parameter.variable,
                 "kind": r.parameter.kind, "value": r.parameter.value, "range_low": r.parameter.range[0],
                 "range_high": r.parameter.range[1], "range_from": r.parameter.range_from,
                 "posterior": self.posterior, "posterior_at_low": r.posterior_at_low,
                 "posterior_at_high": r.posterior_at_high, "swing": r.swing, "derivative": r.derivative,
                 "provenance": r.parameter.provenance, "source": r.parameter.citation,
                 "a": r.function.a, "b": r.function.b, "c": r.function.c, "d": r.function.d}
                for r in self.rows]
        return pd.DataFrame(rows)


def one_way(net: BayesNet, findings: Findings = None, target: str | Target | None = None,
            only: Iterable[str] | None = None, progress: bool = False, *, soft=None) -> OneWayResult:
    """Exact one-way sensitivity of ``P(target | findings)`` to every parameter (or to those in ``only``).

    ``target`` is ``VAR=STATE``, ``VAR`` or a knee-pain source key (default: ``l4l5_spine``); ``only`` lists
    parameter ids or variable ids (all of that variable's parameters).

    >>> import bn
    >>> r = one_way(bn.load("l4l5_knee@1.0.0"), {"knee_pain": "present"}, "disc_herniation", ["disc_herniation"])
    >>> [x.parameter.id for x in r.rows][0]
    'disc_herniation=present | age_group=40_to_64'
    """
    ev, (tgt,) = _prepare(net, findings, [target], soft)
    network = net.network
    params = find_parameters(network, only) if only is not None else parameters(network)
    coefficients = _Coefficients(net, ev, [tgt])
    posterior = coefficients.posterior(tgt)
    rows = []
    groups = _group(params)
    for variable, group in _progress(groups.items(), len(groups), "one-way sensitivity", progress):
        lines = coefficients.for_variable(variable, group)
        rows += [_row(p, lines[p.id][0], lines[p.id][1][0]) for p in group]
    rows.sort(key=lambda r: (-r.swing if math.isfinite(r.swing) else -math.inf, r.parameter.id))
    return OneWayResult(network.info, ev.to_dict(), tgt, tgt.label(network), posterior, rows)


def _row(p: SensitivityParameter, pe: _Linear, px: _Linear) -> ParameterSensitivity:
    f = SensitivityFunction(p.value, px.a, px.b, pe.a, pe.b)
    return ParameterSensitivity(p, f, f(p.range[0]), f(p.range[1]))


# -- 2. what would change the conclusion ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Form:
    """``sum_i w_i P(event_i | e) - delta >= 0`` (``> 0`` when strict); ``outcome`` names what it means."""

    weights: tuple[tuple[Target, float], ...]
    delta: float
    strict: bool = False
    outcome: str = ""

    def line(self, pe: _Linear, events: Mapping[Target, _Linear]) -> tuple[float, float]:
        """``(alpha, beta)`` with ``P(e)(t) * (constraint's left side)(t) = alpha t + beta`` (sign-exact)."""
        alpha = sum(w * events[t].a for t, w in self.weights) - self.delta * pe.a
        beta = sum(w * events[t].b for t, w in self.weights) - self.delta * pe.b
        return alpha, beta

    def satisfied(self, probabilities: Mapping[Target, float]) -> bool:
        g = sum(w * probabilities[t] for t, w in self.weights) - self.delta
        return g > 0.0 if self.strict else g >= 0.0


@dataclass(frozen=True)
class Threshold:
    """``P(target | e) >= p`` (or ``<= p`` with ``above=False``)."""

    target: Target
    p: float
    above: bool = True

    @property
    def events(self) -> list[Target]:
        return [self.target]

    def forms(self, probabilities: Mapping[Target, float]) -> list[_Form]:
        sign = 1.0 if self.above else -1.0
        return [_Form(((self.target, sign),), sign * self.p)]

    def describe(self) -> str:
        return f"P({self.target.variable}={self.target.state} | e) {'>=' if self.above else '<='} {self.p:g}"


@dataclass(frozen=True)
class Difference:
    """``P(a | e) - P(b | e) >= delta``."""

    a: Target
    b: Target
    delta: float = 0.0

    @property
    def events(self) -> list[Target]:
        return [self.a, self.b]

    def forms(self, probabilities: Mapping[Target, float]) -> list[_Form]:
        return [_Form(((self.a, 1.0), (self.b, -1.0)), self.delta)]

    def describe(self) -> str:
        return (f"P({self.a.variable}={self.a.state} | e) - P({self.b.variable}={self.b.state} | e) "
                f">= {self.delta:g}")


@dataclass(frozen=True)
class LeaderChanges:
    """The leading candidate (by default the knee-pain source with the highest probability) changes."""

    candidates: tuple[tuple[str, Target], ...]

    @property
    def events(self) -> list[Target]:
        return [t for _, t in self.candidates]

    def leader(self, probabilities: Mapping[Target, float]) -> str:
        return max(self.candidates, key=lambda c: probabilities[c[1]])[0]

    def forms(self, probabilities: Mapping[Target, float]) -> list[_Form]:
        now = self.leader(probabilities)
        lead = dict(self.candidates)[now]
        return [_Form(((t, 1.0), (lead, -1.0)), 0.0, strict=True, outcome=name)
                for name, t in self.candidates if name != now]

    def describe(self) -> str:
        return "the leading one of " + ", ".join(name for name, _ in self.candidates) + " changes"


Constraint = Threshold | Difference | LeaderChanges


def leader_changes(network: Network) -> LeaderChanges:
    """The constraint "the leading knee-pain source changes" (needs a network with knee-pain sources)."""
    if not network.knee_pain_sources:
        raise SensitivityError(f"network {network.id} has no knee-pain sources; give a constraint such as "
                               "'VAR=STATE>=0.5'")
    return LeaderChanges(tuple((k, Target(v, network[v].on_state)) for k, v in network.knee_pain_sources.items()))


_CONSTRAINT = re.compile(r"^\s*(?P<lhs>.+?)\s*(?P<op>>=|<=|>|<)\s*(?P<value>[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*$")


def parse_constraint(network: Network, text: str) -> Constraint:
    """A constraint from text.

    ``leader`` (the leading knee-pain source changes), ``TARGET >= p`` / ``TARGET <= p`` or
    ``A - B >= delta``, where a target is ``VAR=STATE``, ``VAR`` or a knee-pain source key, optionally
    written ``P(...)``.

    >>> import bn
    >>> n = bn.load("l4l5_knee@1.0.0").network
    >>> parse_constraint(n, "P(disc_herniation) >= 0.5").describe()
    'P(disc_herniation=present | e) >= 0.5'
    >>> parse_constraint(n, "knee - l4l5_spine >= 0.1").describe()
    'P(knee_pain_from_knee=present | e) - P(knee_pain_from_l4l5=present | e) >= 0.1'
    """
    if text.strip().lower() in ("leader", "leading", "leading-source", "leading_source", "source"):
        return leader_changes(network)
    m = _CONSTRAINT.match(text)
    if not m:
        raise SensitivityError(f"cannot read the constraint '{text}'; write e.g. 'disc_herniation>=0.5', "
                               "'P(knee) - P(l4l5_spine) >= 0.1' or 'leader'")
    lhs = re.sub(r"P\(\s*([^()|]+?)\s*(\|\s*e\s*)?\)", r"\1", m["lhs"]).strip()
    value, op = float(m["value"]), m["op"]
    if "-" in lhs:
        left, _, right = lhs.partition("-")
        a, b = resolve_target(network, left.strip()), resolve_target(network, right.strip())
        return Difference(a, b, value) if op.startswith(">") else Difference(b, a, -value)
    if not 0.0 <= value <= 1.0:
        raise SensitivityError(f"a probability threshold must lie in [0, 1]; got {value:g} in '{text}'")
    return Threshold(resolve_target(network, lhs), value, above=op.startswith(">"))


@dataclass(frozen=True)
class FlipChange:
    """One single-parameter change that achieves the constraint."""

    parameter: SensitivityParameter
    direction: str  # "increase" | "decrease"
    boundary: float  # the exact value where the constraint starts to hold
    new_value: float  # the boundary moved FLIP_NUDGE into the region where it holds
    within_range: bool
    outcome: str  # for LeaderChanges: the new leader
    probabilities: dict[str, float]  # the constraint's probabilities with the new value

    @property
    def change(self) -> float:
        return self.new_value - self.parameter.value

    @property
    def log_odds_change(self) -> float:
        return logit(self.new_value) - logit(self.parameter.value)

    def to_dict(self) -> dict[str, Any]:
        return {"parameter": self.parameter.id, "label": self.parameter.label, "value": self.parameter.value,
                "direction": self.direction, "new_value": self.new_value, "boundary": self.boundary,
                "change": self.change, "log_odds_change": _finite(self.log_odds_change),
                "range": list(self.parameter.range), "range_from": self.parameter.range_from,
                "within_range": self.within_range, "outcome": self.outcome, "probabilities": self.probabilities,
                "source": self.parameter.citation}


@dataclass(frozen=True)
class FlipResult:
    """Every single-parameter change that achieves a constraint, smallest change in log-odds first."""

    network: NetworkInfo
    evidence: dict[str, Any]
    constraint: str
    holds_now: bool
    current: dict[str, float]  # the constraint's probabilities now
    leader_now: str | None
    changes: list[FlipChange]
    parameters_checked: int

    @property
    def within_range(self) -> list[FlipChange]:
        return [c for c in self.changes if c.within_range]

    @property
    def headline(self) -> str:
        """The one-sentence answer; "no single parameter within its range can ..." is itself a result."""
        if self.holds_now:
            return f"The constraint already holds ({self.constraint}); no change is needed."
        inside = self.within_range
        if not self.changes:
            return (f"No single-parameter change of any size achieves it ({self.constraint}; "
                    f"{self.parameters_checked} parameters checked).")
        best = (inside or self.changes)[0]
        how = (f"smallest: {best.parameter.id} {best.parameter.value:g} -> {best.new_value:.4g}"
               + (f" (new leader {best.outcome})" if best.outcome else ""))
        if not inside:
            return (f"No single parameter within its plausible range can achieve it ({self.constraint}); "
                    f"{len(self.changes)} change{'s' if len(self.changes) != 1 else ''} outside the ranges "
                    f"would; {how}.")
        return (f"{len(inside)} single-parameter change{'s' if len(inside) != 1 else ''} within the plausible "
                f"ranges achieve{'s' if len(inside) == 1 else ''} it ({self.constraint}); {how}.")

    def to_dict(self) -> dict[str, Any]:
        return {"network": self.network.to_dict(), "evidence": self.evidence, "constraint": self.constraint,
                "holds_now": self.holds_now, "current": self.current, "leader_now": self.leader_now,
                "headline": self.headline, "parameters_checked": self.parameters_checked,
                "changes": [c.to_dict() for c in self.changes]}

    def to_frame(self):
        """One row per change (pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame([{k: v for k, v in c.to_dict().items() if k not in ("probabilities", "range")}
                             | {"range_low": c.parameter.range[0], "range_high": c.parameter.range[1]}
                             for c in self.changes])


def _name(t: Target) -> str:
    return f"{t.variable}={t.state}"


def flip(net: BayesNet, findings: Findings = None, constraint: Constraint | str | None = None,
         only: Iterable[str] | None = None, progress: bool = False, *, soft=None) -> FlipResult:
    """Every single-parameter change that makes ``constraint`` hold (SamIam's sensitivity query).

    ``constraint`` defaults to "the leading knee-pain source changes". Solved exactly from the sensitivity
    functions: each constraint is one or more linear inequalities in the parameter.

    >>> import bn
    >>> r = flip(bn.load("l4l5_knee@1.0.0"), {"knee_pain": "present"}, "disc_herniation >= 0.5")
    >>> r.holds_now, all(c.new_value != c.parameter.value for c in r.changes)
    (False, True)
    """
    network = net.network
    if constraint is None:
        constraint = leader_changes(network)
    elif isinstance(constraint, str):
        constraint = parse_constraint(network, constraint)
    ev, events = _prepare(net, findings, constraint.events, soft)
    coefficients = _Coefficients(net, ev, events)
    now = {t: coefficients.posterior(t) for t in events}
    forms = constraint.forms(now)
    holds_now = any(f.satisfied(now) for f in forms)
    leader_now = constraint.leader(now) if isinstance(constraint, LeaderChanges) else None
    names = {t: name for name, t in constraint.candidates} if isinstance(constraint, LeaderChanges) else {}
    params = find_parameters(network, only) if only is not None else parameters(network)
    if isinstance(constraint, LeaderChanges):
        def achieved(probs: dict) -> bool:
            return constraint.leader(probs) != leader_now
    else:
        def achieved(probs: dict) -> bool:
            return any(f.satisfied(probs) for f in forms)
    changes: list[FlipChange] = []
    if not holds_now:
        groups = _group(params)
        for variable, group in _progress(groups.items(), len(groups), "what would change it", progress):
            lines = coefficients.for_variable(variable, group)
            for p in group:
                pe, per_event = lines[p.id]
                changes += _solve(p, pe, dict(zip(coefficients.events, per_event)), forms, constraint, names,
                                  achieved)
    changes.sort(key=lambda c: (abs(c.log_odds_change), abs(c.change), c.parameter.id))
    current = {names.get(t, _name(t)): v for t, v in now.items()}
    return FlipResult(network.info, ev.to_dict(), constraint.describe(), holds_now, current, leader_now,
                      changes, len(params))


def _solve(p: SensitivityParameter, pe: _Linear, events: dict[Target, _Linear], forms: list[_Form],
           constraint: Constraint, names: dict[Target, str], achieved: Callable[[dict], bool]) -> list[FlipChange]:
    t0 = p.value
    best: dict[str, tuple[float, _Form]] = {}  # direction -> (nearest boundary, form)
    for form in forms:
        alpha, beta = form.line(pe, events)
        if alpha == 0.0:
            continue  # this parameter cannot move this side of the constraint
        tb = -beta / alpha
        if alpha > 0.0 and t0 < tb <= 1.0 and ("increase" not in best or tb < best["increase"][0]):
            best["increase"] = (tb, form)
        elif alpha < 0.0 and 0.0 <= tb < t0 and ("decrease" not in best or tb > best["decrease"][0]):
            best["decrease"] = (tb, form)
    out = []
    for direction, (tb, form) in best.items():
        # Move just past the boundary so that applying the value does change the conclusion.
        new = min(tb + FLIP_NUDGE, 1.0) if direction == "increase" else max(tb - FLIP_NUDGE, 0.0)
        if not pe(new) > 0.0:
            continue  # the findings would become impossible: no posterior to speak of
        after = {t: line(new) / pe(new) for t, line in events.items()}
        if not achieved(after):
            continue  # rounding at a boundary that touches 0 or 1: no change achieves it
        outcome = constraint.leader(after) if isinstance(constraint, LeaderChanges) else form.outcome
        lo, hi = p.range
        out.append(FlipChange(p, direction, tb, new, lo - 1e-12 <= new <= hi + 1e-12, outcome,
                              {names.get(t, _name(t)): v for t, v in after.items()}))
    return out


# -- 3. second-order uncertainty --------------------------------------------------------------------------------

_KAPPA_BOUNDS = (1.0, 1e8)  # Beta/Dirichlet concentrations considered: from flat-ish to effectively fixed
_Z95 = 1.6448536269514722  # the standard normal's 95th percentile


def concentrations(values: Sequence[float], ranges: Sequence[tuple[float, float]]) -> np.ndarray:
    """Beta concentrations ``kappa`` (``Beta(kappa t, kappa (1 - t))``, mean ``t``) matching plausible ranges.

    A range is read as a 90% interval on the log-odds scale: its width is ``2 * 1.645`` standard deviations.
    The log-odds of a ``Beta(a, b)`` variable has variance ``trigamma(a) + trigamma(b)`` exactly, so ``kappa``
    solves ``trigamma(kappa t) + trigamma(kappa (1 - t)) = (width / 3.29)^2`` (bisection, all at once).
    A range need not be symmetric around its value; only its width is matched. ``inf`` means "fixed": a value
    of 0 or 1, or an empty range.

    >>> k = concentrations([0.2], [(0.1, 0.35)])[0]
    >>> from scipy.special import betaincinv
    >>> [round(float(betaincinv(k * 0.2, k * 0.8, q)), 2) for q in (0.05, 0.95)]
    [0.09, 0.33]
    """
    from scipy.special import polygamma

    t = np.asarray(values, dtype=float)
    lo = np.array([r[0] for r in ranges], dtype=float)
    hi = np.array([r[1] for r in ranges], dtype=float)
    fixed = (t <= 0.0) | (t >= 1.0) | (hi - lo <= 1e-12)
    out = np.full(t.shape, np.inf)
    free = ~fixed
    if not free.any():
        return out
    eps = 1e-9  # ranges may touch 0 or 1, where the log-odds is infinite: measure a hair inside

    def logit(x: np.ndarray) -> np.ndarray:
        x = np.clip(x, eps, 1.0 - eps)
        return np.log(x / (1.0 - x))

    tf = t[free]
    target = ((logit(hi[free]) - logit(lo[free])) / (2.0 * _Z95)) ** 2
    low = np.full(tf.shape, math.log(_KAPPA_BOUNDS[0]))
    high = np.full(tf.shape, math.log(_KAPPA_BOUNDS[1]))
    for _ in range(60):  # the log-odds variance falls as kappa grows: bisect on log kappa
        mid = (low + high) / 2.0
        k = np.exp(mid)
        too_wide = polygamma(1, k * tf) + polygamma(1, k * (1.0 - tf)) > target
        low = np.where(too_wide, mid, low)
        high = np.where(too_wide, high, mid)
    out[free] = np.exp((low + high) / 2.0)
    return out


def _scaled_range(value: float, rng: tuple[float, float], scale: float) -> tuple[float, float]:
    """The plausible range with its distances from the value scaled by ``scale`` on the log-odds scale."""
    if scale == 1.0 or not 0.0 < value < 1.0:
        return rng
    z = logit(value)
    return tuple(_expit(z + scale * (logit(x) - z)) if x != value else x for x in rng)  # type: ignore[return-value]


@dataclass(frozen=True)
class _Draw:
    """How to draw one number (a link, a leak, a binary row) or one row (Dirichlet) of a variable."""

    kind: str  # "leak" | "link" | "row"
    row: tuple[int, ...]
    link: tuple[int, int]
    mean: np.ndarray  # the row (or the single probability as a 1-vector)
    kappa: float


def _draw_plan(network: Network, range_scale: float) -> dict[str, list[_Draw]]:
    """Per variable, what to draw: every table row, noisy-OR link and leak (deterministic tables stay)."""
    plan: dict[str, list[_Draw]] = {}
    params = parameters(network)
    # One concentration per drawn item, from the parameter the modeller wrote (a row: its last/positive state).
    chosen: dict[tuple[str, str, tuple[int, ...], tuple[int, int]], SensitivityParameter] = {}
    for p in params:
        var = network[p.variable]
        if p.kind == "row" and var.card > 2 and p.state_index != var.card - 1:
            continue
        chosen[(p.variable, p.kind, p.row, p.link)] = p
    items = list(chosen.items())
    kappas = concentrations([p.value for _, p in items], [_scaled_range(p.value, p.range, range_scale)
                                                         for _, p in items])
    for ((variable, kind, row, link), p), kappa in zip(items, kappas):
        var = network[variable]
        mean = np.asarray(var.cpt[row], dtype=float) if kind == "row" else np.array([p.value])
        plan.setdefault(variable, []).append(_Draw(kind, row, link, mean, float(kappa)))
    return plan


def _draw_tables(network: Network, plan: dict[str, list[_Draw]], draws: int, rng: np.random.Generator
                 ) -> dict[str, np.ndarray]:
    """Tables with a leading axis of draws, drawn in network order (so a seed fixes every number)."""
    tables = {}
    for vid, var in network.variables.items():
        items = plan.get(vid, [])
        if var.form == "noisy_or" and items:
            leak, links = _noisy_or_spec(network, var)
            leak_d = np.full(draws, leak)
            link_d = {(a, s): np.full(draws, p) for a, s, p in links}
            for item in items:
                x = _beta(rng, float(item.mean[0]), item.kappa, draws)
                if item.kind == "leak":
                    leak_d = x
                else:
                    link_d[item.link] = x
            cards = [network[q].card for q in var.parents]
            off = (1.0 - leak_d).reshape((draws,) + (1,) * len(cards))
            for (axis, state), x in link_d.items():
                factor = np.ones((draws, cards[axis]))
                factor[:, state] = 1.0 - x
                off = off * factor.reshape([draws] + [cards[axis] if a == axis else 1 for a in range(len(cards))])
            off = np.broadcast_to(off, (draws, *cards))
            tables[vid] = np.stack([off, 1.0 - off], axis=-1)
            continue
        table = np.repeat(np.asarray(var.cpt, dtype=float)[None], draws, axis=0)
        for item in items:
            table[(slice(None), *item.row)] = _dirichlet(rng, item.mean, item.kappa, draws)
        tables[vid] = table
    return tables


def _beta(rng: np.random.Generator, mean: float, kappa: float, draws: int) -> np.ndarray:
    if not math.isfinite(kappa) or mean <= 0.0 or mean >= 1.0:
        return np.full(draws, mean)
    return rng.beta(kappa * mean, kappa * (1.0 - mean), size=draws)


def _dirichlet(rng: np.random.Generator, mean: np.ndarray, kappa: float, draws: int) -> np.ndarray:
    out = np.repeat(mean[None], draws, axis=0)
    positive = mean > 0.0
    if not math.isfinite(kappa) or positive.sum() < 2:
        return out  # structural zeros stay zero; a single possible state stays certain
    g = rng.gamma(kappa * mean[positive], size=(draws, int(positive.sum())))
    out[:, positive] = g / g.sum(axis=1, keepdims=True)
    return out


def _chain_scaled(net: BayesNet, likelihoods: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each finding's vector divided by ``P(finding | the findings before it)`` (the chain rule of P(e)).

    The batched contraction works in linear space, where ``P(e)`` of a case with many findings underflows
    (log P(e) below -745 is 0.0). Scaled so, ``P(e)`` at the network's own numbers is 1 and every partial
    product stays near the scale of its factors; the posteriors, ratios of two contractions, do not change.
    """
    names = list(likelihoods)
    vectors = [np.asarray(likelihoods[v], dtype=float) for v in names]
    # every prefix at once: case j holds the first j + 1 findings and all-ones vectors (no information) for the
    # rest, so all k cases share one evidence pattern and one batched call
    batch = {v: np.stack([vec if j >= i else np.ones_like(vec) for j in range(len(names))])
             for i, (v, vec) in enumerate(zip(names, vectors))}
    prefix = [float(x) for x in net.engine.log_probability_of_evidence(batch)] if names else []
    if not all(math.isfinite(x) for x in prefix):
        return dict(likelihoods)  # impossible findings: left as they are, reported by the caller
    steps = np.diff([0.0, *prefix])  # log P(finding j | the findings before it)
    return {v: vec * math.exp(min(-step, 700.0)) for v, vec, step in zip(names, vectors, steps)}


class _BatchedJoint:
    """``P(target variable, e)`` for a batch of parameter draws: one exact contraction with a draw axis.

    Every table carries the draw axis; the evidence vectors do not. Variables that are neither ancestors of a
    finding nor of a target are summed out analytically (their rows sum to 1 in every draw) by leaving them out.
    """

    CHUNK = 500  # draws per contraction: bounds the memory of the intermediate tables

    def __init__(self, network: Network, likelihoods: Mapping[str, np.ndarray], targets: Sequence[str]):
        import opt_einsum

        relevant = network.ancestors([*likelihoods, *targets])
        self.order = [v for v in network.variables if v in relevant]
        sym = {v: opt_einsum.get_symbol(i) for i, v in enumerate(self.order)}
        batch = opt_einsum.get_symbol(len(self.order))
        self.terms = [batch + "".join(sym[p] for p in network[v].parents) + sym[v] for v in self.order]
        self.evidence = [(sym[v], np.asarray(likelihoods[v], dtype=float)) for v in likelihoods]
        self.outputs = {t: batch + sym[t] for t in targets}
        self.network = network
        self._expressions: dict[tuple[str, int], Any] = {}

    def _expression(self, target: str, size: int):
        import opt_einsum

        key = (target, size)
        if key not in self._expressions:
            terms = self.terms + [s for s, _ in self.evidence]
            shapes = [(size, *self.network[v].cpt.shape) for v in self.order] + [vec.shape for _, vec in self.evidence]
            self._expressions[key] = opt_einsum.contract_expression(
                f"{','.join(terms)}->{self.outputs[target]}", *shapes, optimize="greedy")
        return self._expressions[key]

    def chunks(self, draws: int) -> list[tuple[str, int]]:
        """The work items: (target variable, first draw of the chunk)."""
        return [(t, start) for t in self.outputs for start in range(0, draws, self.CHUNK)]

    def __call__(self, tables: Mapping[str, np.ndarray], target: str, start: int = 0) -> np.ndarray:
        """``P(target, e)`` for the chunk of draws from ``start``, shape ``(chunk, card)``."""
        part = [tables[v][start:start + self.CHUNK] for v in self.order]
        expr = self._expression(target, part[0].shape[0])
        return expr(*part, *(vec for _, vec in self.evidence))


@dataclass(frozen=True)
class TargetUncertainty:
    """The distribution of one target's posterior over the parameter draws."""

    target: Target
    label: str
    point: float  # the posterior with the network's own numbers
    samples: np.ndarray = field(repr=False)

    @property
    def median(self) -> float:
        return float(np.median(self.samples))

    @property
    def mean(self) -> float:
        return float(np.mean(self.samples))

    def interval(self, level: float = 0.90) -> tuple[float, float]:
        lo, hi = np.quantile(self.samples, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
        return float(lo), float(hi)

    def sentence(self) -> str:
        """``"knee pain from the L4-L5 spine: 41% (90% interval 30-55%)"``."""
        lo, hi = self.interval()
        return f"{self.label}: {self.median:.0%} (90% interval {lo:.0%}-{hi:.0%}; with the network's numbers " \
               f"{self.point:.0%})"

    def to_dict(self) -> dict[str, Any]:
        lo, hi = self.interval()
        return {"target": self.target.to_dict(), "label": self.label, "point": self.point, "median": self.median,
                "mean": self.mean, "interval_90": [lo, hi]}


@dataclass(frozen=True)
class UncertaintyResult:
    """Posterior distributions under joint parameter uncertainty, seeded and reproducible."""

    network: NetworkInfo
    evidence: dict[str, Any]
    draws: int
    seed: int
    range_scale: float
    targets: list[TargetUncertainty]
    leader_now: str | None = None
    leaders: dict[str, float] | None = None  # share of draws in which each knee-pain source leads

    def to_dict(self) -> dict[str, Any]:
        return {"network": self.network.to_dict(), "evidence": self.evidence, "draws": self.draws, "seed": self.seed,
                "range_scale": self.range_scale, "targets": [t.to_dict() for t in self.targets],
                "leader_now": self.leader_now, "leaders": self.leaders}

    def to_frame(self):
        """One row per draw, one column per target (pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame({_name(t.target): t.samples for t in self.targets})

    def summary_frame(self):
        """One row per target: point, median, mean, 90% interval."""
        import pandas as pd

        rows = []
        for t in self.targets:
            lo, hi = t.interval()
            rows.append({"target": _name(t.target), "label": t.label, "point": t.point, "median": t.median,
                         "mean": t.mean, "low_5": lo, "high_95": hi})
        return pd.DataFrame(rows)


def uncertainty(net: BayesNet, findings: Findings = None, targets: Sequence[str | Target] | str | Target | None = None,
                draws: int = DEFAULT_DRAWS, seed: int = 0, range_scale: float = 1.0,
                progress: bool = False, *, soft=None) -> UncertaintyResult:
    """The posterior of each target when all parameters are drawn jointly from their plausible ranges.

    Each noisy-OR link and leak is ``Beta(kappa t, kappa (1 - t))`` and each table row
    ``Dirichlet(kappa * row)`` (a Beta for binary variables), centred on the network's value with ``kappa``
    fitted to the range (:func:`concentrations`). ``range_scale`` shrinks (< 1) or widens (> 1) every range
    on the log-odds scale. Targets default to the knee-pain sources (else the default target).

    >>> import bn
    >>> r = uncertainty(bn.load("l4l5_knee@1.0.0"), {"knee_pain": "present"}, "l4l5_spine", draws=200, seed=1)
    >>> t = r.targets[0]
    >>> t.interval()[0] < t.median < t.interval()[1]
    True
    """
    network = net.network
    if not isinstance(draws, int) or draws < 1:
        raise SensitivityError(f"the number of draws must be a positive integer; got {draws!r}")
    if not range_scale > 0.0 or not math.isfinite(range_scale):
        raise SensitivityError(f"range_scale must be a positive number; got {range_scale!r}")
    if targets is None:
        names = list(network.knee_pain_sources) or [None]
    elif isinstance(targets, (str, Target)):
        names = [targets]
    else:
        names = list(targets)
    ev, resolved = _prepare(net, findings, names, soft)
    resolved = list(dict.fromkeys(resolved))
    likelihoods = _chain_scaled(net, ev.likelihoods(network))
    rng = np.random.default_rng(seed)
    tables = _draw_tables(network, _draw_plan(network, range_scale), draws, rng)
    order = list(network.variables)
    joint = _BatchedJoint(network, likelihoods, sorted({t.variable for t in resolved}, key=order.index))
    parts: dict[str, list[np.ndarray]] = {t: [] for t in joint.outputs}
    work = joint.chunks(draws)
    for var, start in _progress(work, len(work), "uncertainty", progress):
        parts[var].append(joint(tables, var, start))
    samples = {var: np.concatenate(chunks, axis=0) for var, chunks in parts.items()}
    results = []
    for t in resolved:
        table = samples[t.variable]
        with np.errstate(invalid="ignore", divide="ignore"):
            post = table[:, network[t.variable].state_index(t.state)] / table.sum(axis=1)
        point = float(net.posterior(t.variable, findings=ev)[t.state])
        results.append(TargetUncertainty(t, t.label(network), point, post[np.isfinite(post)]))
    leader_now = leaders = None
    sources = network.knee_pain_sources
    if sources and all(Target(v, network[v].on_state) in resolved for v in sources.values()):
        by_var = {r.target.variable: r for r in results}
        keys = list(sources)
        on = {k: network[sources[k]].on_index for k in keys}
        stacked = np.stack([samples[sources[k]][:, on[k]] / samples[sources[k]].sum(axis=1) for k in keys], axis=1)
        winners = np.argmax(stacked, axis=1)
        leaders = {k: float(np.mean(winners == i)) for i, k in enumerate(keys)}
        leader_now = max(keys, key=lambda k: by_var[sources[k]].point)
    return UncertaintyResult(network.info, ev.to_dict(), draws, seed, range_scale, results, leader_now,
                             leaders)


# -- 4. across cases --------------------------------------------------------------------------------------------

CASE_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(frozen=True)
class ParameterImportance:
    """One parameter's importance over a set of cases."""

    parameter: SensitivityParameter
    mean_swing: float
    max_swing: float
    mean_abs_derivative: float
    cases_in_top: int  # cases where it is among the top-k by swing
    flips_in_range: int | None  # cases where it alone, within its range, changes the conclusion
    flip_cases: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"parameter": self.parameter.id, "label": self.parameter.label, "value": self.parameter.value,
                "range": list(self.parameter.range), "range_from": self.parameter.range_from,
                "source": self.parameter.citation, "mean_swing": self.mean_swing, "max_swing": self.max_swing,
                "mean_abs_derivative": self.mean_abs_derivative, "cases_in_top": self.cases_in_top,
                "flips_in_range": self.flips_in_range, "flip_cases": list(self.flip_cases)}


@dataclass(frozen=True)
class CaseOutcome:
    """One case of a sweep: its one-way result and (optionally) what would change its conclusion."""

    name: str
    one_way: OneWayResult
    flip: FlipResult | None = None


@dataclass(frozen=True)
class SweepResult:
    """Sensitivity over a folder of cases: which parameters matter most overall (``parameters``, sorted)."""

    network: NetworkInfo
    target: Target
    target_label: str
    top_k: int
    cases: list[CaseOutcome]
    skipped: list[tuple[str, str]]  # (case, reason)
    parameters: list[ParameterImportance]

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        return {"network": self.network.to_dict(), "target": self.target.to_dict(), "target_label": self.target_label,
                "top_k": self.top_k, "cases": [{"case": c.name, "posterior": c.one_way.posterior,
                                                 "flip_headline": c.flip.headline if c.flip else None}
                                                for c in self.cases],
                "skipped": [{"case": n, "reason": r} for n, r in self.skipped],
                "parameters": [p.to_dict() for p in (self.parameters[:top] if top else self.parameters)]}

    def to_frame(self):
        """One row per parameter, most important first (pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame([{k: v for k, v in p.to_dict().items() if k not in ("range", "flip_cases")}
                             | {"range_low": p.parameter.range[0], "range_high": p.parameter.range[1]}
                             for p in self.parameters])

    def cases_frame(self):
        """One row per (case, parameter): the swing and derivative (pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame([{"case": c.name, "parameter": r.parameter.id, "posterior": c.one_way.posterior,
                              "posterior_at_low": r.posterior_at_low, "posterior_at_high": r.posterior_at_high,
                              "swing": r.swing, "derivative": r.derivative}
                             for c in self.cases for r in c.one_way.rows])


def case_files(folder: str | Path) -> list[Path]:
    """The case files (``*.json``, ``*.yaml``, ``*.yml``) of a folder, sorted; raises SensitivityError if none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SensitivityError(f"'{folder}' is not a folder of case files")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in CASE_SUFFIXES)
    if not files:
        raise SensitivityError(f"no case files (*.json, *.yaml, *.yml) in '{folder}'")
    return files


def default_flip_constraint(network: Network, target: Target, posterior: float) -> Constraint:
    """"The leading knee-pain source changes" where there are sources; else the 50% call on the target flips."""
    if network.knee_pain_sources:
        return leader_changes(network)
    return Threshold(target, 0.5, above=posterior < 0.5)


def sweep(net: BayesNet, cases: str | Path | Mapping[str, Any], target: str | Target | None = None,
          top_k: int = 10, flips: bool = True, progress: bool = False) -> SweepResult:
    """One-way sensitivity (and, with ``flips``, what would change the conclusion) over a set of cases.

    ``cases`` is a folder of case files or a mapping ``{name: findings or Evidence}``. Cases that do not fit
    the network (unknown findings, impossible evidence, the target among the findings) are listed in
    ``skipped`` with the reason; if no case is left, SensitivityError.

    >>> import bn
    >>> r = sweep(bn.load("l4l5_knee@1.0.0"), {"a": {"knee_pain": "present"}, "b": {"back_pain": "present"}},
    ...           flips=False)
    >>> len(r.cases), r.parameters[0].mean_swing >= r.parameters[-1].mean_swing
    (2, True)
    """
    network = net.network
    tgt = target if isinstance(target, Target) else resolve_target(network, target)
    if isinstance(cases, Mapping):
        items: list[tuple[str, Any]] = list(cases.items())
        if not items:
            raise SensitivityError("no cases to sweep")
    else:
        items = [(p.name, p) for p in case_files(cases)]
    outcomes: list[CaseOutcome] = []
    skipped: list[tuple[str, str]] = []
    for name, item in _progress(items, len(items), "cases", progress):
        try:
            findings = read_case(item).evidence if isinstance(item, Path) else item
            ow = one_way(net, findings, tgt)
            fl = flip(net, findings, default_flip_constraint(network, tgt, ow.posterior)) if flips else None
        except BNError as exc:
            skipped.append((name, str(exc)))
            continue
        outcomes.append(CaseOutcome(name, ow, fl))
    if not outcomes:
        first = f": {skipped[0][0]}: {skipped[0][1]}" if skipped else ""
        raise SensitivityError(f"no case could be analysed ({len(skipped)} skipped{first})")
    importance = []
    for p in parameters(network):
        rows = [c.one_way.row(p.id) for c in outcomes]
        swings = np.array([r.swing for r in rows])
        in_top = sum(1 for c in outcomes if any(r.parameter.id == p.id for r in c.one_way.top(top_k)))
        flip_cases = tuple(c.name for c in outcomes if c.flip is not None and not c.flip.holds_now
                           and any(ch.parameter.id == p.id for ch in c.flip.within_range))
        importance.append(ParameterImportance(
            p, float(np.mean(swings)), float(np.max(swings)), float(np.mean([abs(r.derivative) for r in rows])),
            in_top, len(flip_cases) if flips else None, flip_cases))
    importance.sort(key=lambda x: (-x.mean_swing, x.parameter.id))
    return SweepResult(network.info, tgt, tgt.label(network), top_k, outcomes, skipped, importance)
