"""Findings: hard evidence (a variable is in a state) and soft evidence (a likelihood over its states).

Soft evidence is Pearl's virtual evidence: ``{"straight_leg_raise": {"positive": 0.7}}`` means the
clinician's observation is 0.7 : 0.3 as likely if the sign is truly positive as if it is negative.
A likelihood given for some states only spreads the rest evenly over the others.

Case files (JSON or YAML) hold ``network``, ``findings``, ``soft_findings`` and ``note``; they are the
same files ``bn query --case`` reads and the app downloads.

>>> from bn.evidence import Evidence
>>> Evidence.from_strings(["straight_leg_raise=positive"], ["knee_effusion=present:0.7"]).to_dict()
{'findings': {'straight_leg_raise': 'positive'}, 'soft_findings': {'knee_effusion': {'present': 0.7}}}
"""

from __future__ import annotations

import difflib
import json
import math
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bn import limits
from bn.errors import CaseFileError, EvidenceError
from bn.model import Network


@dataclass(frozen=True)
class Evidence:
    """Findings as entered: ``findings`` maps variable -> state, ``soft_findings`` variable -> {state: likelihood}.

    Construct freely, then :meth:`validate` against a network (which checks names and values).
    """

    findings: Mapping[str, str] = field(default_factory=dict)
    soft_findings: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.findings or self.soft_findings)

    @property
    def variables(self) -> list[str]:
        return list(self.findings) + list(self.soft_findings)

    def command_line(self, reference: str, network: Network) -> str:
        """The ``bn query`` command that reproduces these findings on ``reference`` (``id@version``).

        >>> import bn
        >>> net = bn.load("l4l5_knee")
        >>> ev = Evidence({"knee_pain": "present"}, {"straight_leg_raise": {"positive": 0.7, "negative": 0.3}})
        >>> ev.command_line("l4l5_knee@2.0.0", net.network)
        'bn query l4l5_knee@2.0.0 -e knee_pain=present --soft straight_leg_raise=0.3,0.7'
        """
        parts = [f"bn query {reference}", *(f"-e {k}={v}" for k, v in self.findings.items())]
        for var, lik in self.soft_findings.items():
            vector = self.likelihoods(network)[var] if var in network else None
            if vector is not None:
                parts.append(f"--soft {var}=" + ",".join(f"{x:g}" for x in vector * max(lik.values())))
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"findings": dict(self.findings),
                "soft_findings": {k: dict(v) for k, v in self.soft_findings.items()}}

    @classmethod
    def from_strings(cls, hard: Iterable[str] = (), soft: Iterable[str] = ()) -> Evidence:
        """Parse ``VAR=STATE`` and ``VAR=STATE:LIKELIHOOD`` (or ``VAR=L1,L2,...``) strings."""
        findings: dict[str, str] = {}
        for text in hard:
            var, state = _split(text, "VAR=STATE", "-e straight_leg_raise=positive")
            if ":" in state:
                raise EvidenceError(f"malformed finding '{text}': use --soft for uncertain findings "
                                    f"(--soft {var}={state})")
            _no_duplicate(var, findings)
            findings[var] = state
        soft_findings: dict[str, dict[str, float]] = {}
        for text in soft:
            var, rest = _split(text, "VAR=STATE:LIKELIHOOD", "--soft straight_leg_raise=positive:0.7")
            _no_duplicate(var, findings, soft_findings)
            if ":" in rest:
                state, _, value = rest.partition(":")
                soft_findings[var] = {state.strip(): _number(value, text)}
            elif "," in rest:
                soft_findings[var] = {f"#{i}": _number(v, text) for i, v in enumerate(rest.split(","))}
            else:
                raise EvidenceError(f"malformed soft finding '{text}': expected VAR=STATE:LIKELIHOOD "
                                    "(e.g. straight_leg_raise=positive:0.7) or VAR=L1,L2,... (one per state)")
        return cls(findings, soft_findings)

    def merged(self, other: Evidence) -> Evidence:
        """This evidence with ``other`` laid over it (other wins for a variable in both)."""
        findings = {k: v for k, v in self.findings.items() if k not in other.soft_findings}
        soft = {k: v for k, v in self.soft_findings.items() if k not in other.findings}
        return Evidence({**findings, **other.findings}, {**soft, **other.soft_findings})

    def validate(self, network: Network) -> Evidence:
        """Check names and values against ``network``; returns evidence with full likelihood maps."""
        for var, state in self.findings.items():
            v = lookup_variable(network, var)
            if state not in v.state_ids:
                raise EvidenceError(f"'{state}' is not a state of {var}; valid states: {', '.join(v.state_ids)}")
        soft: dict[str, dict[str, float]] = {}
        for var, given in self.soft_findings.items():
            if var in self.findings:
                raise EvidenceError(f"{var} is given both as a finding and as a soft finding; give one")
            v = lookup_variable(network, var)
            soft[var] = _full_likelihood(var, v.state_ids, given)
        return Evidence(dict(self.findings), soft)

    def likelihoods(self, network: Network) -> dict[str, np.ndarray]:
        """Every finding as a vector over its variable's states (indicator for hard, likelihood for soft).

        Call on validated evidence.
        """
        out = {}
        for var, state in self.findings.items():
            vec = np.zeros(network[var].card)
            vec[network[var].state_index(state)] = 1.0
            out[var] = vec
        for var, lik in self.soft_findings.items():
            vec = np.array([lik[s] for s in network[var].state_ids], dtype=float)
            # Only the ratios carry information: scaling the most likely state to 1 keeps every posterior, keeps
            # P(findings) at most 1 (likelihoods 5 : 2 gave 0.47 against a prior of 0.2) and avoids overflow
            # (1e300 : 1e-300 gave P(findings) = 3e298).
            top = vec.max()
            out[var] = vec / top if top > 0 else vec
        return out


def _split(text: str, form: str, example: str) -> tuple[str, str]:
    var, sep, value = str(text).partition("=")
    if not sep or not var.strip() or not value.strip():
        raise EvidenceError(f"malformed finding '{text}': expected {form}, e.g. {example}")
    return var.strip(), value.strip()


def _number(value: str, text: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise EvidenceError(f"malformed soft finding '{text}': '{value}' is not a number") from None
    return x


def _no_duplicate(var: str, *seen: Mapping) -> None:
    if any(var in s for s in seen):
        raise EvidenceError(f"{var} is given more than once; give each finding once")


def lookup_variable(network: Network, var: str):
    """The variable named ``var``; EvidenceError suggesting the closest ids when there is none."""
    if var not in network:
        close = difflib.get_close_matches(var, list(network.variables), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; run 'bn info' to list the variables"
        raise EvidenceError(f"unknown variable '{var}' in network {network.id}{hint}")
    return network[var]


def _full_likelihood(var: str, states: tuple[str, ...], given: Mapping[str, Any]) -> dict[str, float]:
    if all(k.startswith("#") for k in given) and given:
        if len(given) != len(states):
            raise EvidenceError(f"soft finding {var}: {len(given)} likelihoods given, {var} has "
                                f"{len(states)} states ({', '.join(states)})")
        given = {s: given[f"#{i}"] for i, s in enumerate(states)}
    values: dict[str, float] = {}
    for state, x in given.items():
        if state not in states:
            raise EvidenceError(f"'{state}' is not a state of {var}; valid states: {', '.join(states)}")
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x < 0:
            raise EvidenceError(f"soft finding {var}={state}: likelihood must be a number >= 0, got {x!r}")
        values[state] = float(x)
    rest = [s for s in states if s not in values]
    if rest:
        total = math.fsum(values.values())
        if total > 1.0 + 1e-12:
            raise EvidenceError(f"soft finding {var}: likelihoods for some states sum to {total:g} > 1; "
                                f"give all states ({', '.join(states)}) or values that sum to at most 1")
        for s in rest:
            values[s] = max(0.0, 1.0 - total) / len(rest)
    if not any(values.values()):
        raise EvidenceError(f"soft finding {var}: all likelihoods are zero")
    return {s: values[s] for s in states}


# -- case files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A case file: the network it was made for, its evidence and a free-text note.

    Validation cases (``validation/cases/``) carry more keys (``expected``, ``split``, ``kind``, ``quotes``...;
    see ``validation/README.md``); :mod:`bn.validation` reads those. ``split`` is kept here so that the
    educator never shows a locked test case.
    """

    evidence: Evidence
    network: str | None = None
    note: str = ""
    title: str = ""
    source: str = ""
    split: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"network": self.network} if self.network else {}
        if self.title:
            out["title"] = self.title
        if self.source:
            out["source"] = self.source
        out.update(self.evidence.to_dict())
        out["note"] = self.note
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"


CASE_KEYS = frozenset({"network", "findings", "soft_findings", "note", "title", "source"})
# What a validation case adds (bn.validation checks them): where it comes from, what was established, its split.
VALIDATION_CASE_KEYS = frozenset({"expected", "split", "kind", "vocabulary", "link", "read", "quotes", "tags"})


def parse_case(text: str | bytes, name: str = "<case>") -> Case:
    """Parse a case from JSON or YAML text; raises CaseFileError naming the file and the problem."""
    raw = text.encode() if isinstance(text, str) else text
    most = limits.current().case_bytes
    if len(raw) > most:
        raise CaseFileError(f"{name}: the case file is {len(raw):,} bytes; the limit is {most:,} (case_bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CaseFileError(f"{name}: not valid JSON or YAML ({exc})") from None
    doc = _json_document(text, name)
    if doc is None:
        from bn import safeyaml  # here, not at the top: a warm `bn query` without a case file never needs YAML

        try:
            doc = safeyaml.load(text)  # the safe loader builds no objects
        except safeyaml.YAMLError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CaseFileError(f"{name}: not valid JSON or YAML ({first})") from None
    return case_from_document(doc, name)


class _DuplicateKey(Exception):
    """A JSON object repeats a key: the YAML reader then reports it with its line."""


def _json_document(text: str, name: str) -> Any:
    """The document when ``text`` is JSON, else None (then it is read as YAML). JSON is read by the JSON
    parser, not as YAML: YAML 1.1 takes ``1e-05`` for a string and cannot decode the surrogate-pair escapes
    JSON writes for characters beyond the Basic Multilingual Plane, so the tool could not read its own files."""
    if not text.lstrip().startswith("{"):
        return None

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({key for key, _ in items}) < len(items):
            raise _DuplicateKey
        return dict(items)

    depth = limits.current().yaml_depth
    try:
        doc = json.loads(text, object_pairs_hook=pairs)
    except (json.JSONDecodeError, _DuplicateKey):
        return None  # YAML's flow style also starts with "{"; a duplicate key: YAML's reader names its line
    except RecursionError:
        doc = None
    if doc is None or _deeper_than(doc, depth):
        raise CaseFileError(f"{name}: nested deeper than {depth} levels (limit yaml_depth)")
    return doc


def _deeper_than(doc: Any, depth: int) -> bool:
    """Whether a parsed JSON document nests deeper than ``depth`` (walked without recursion)."""
    level = [doc]
    for _ in range(depth):
        level = [child for node in level if isinstance(node, (dict, list))
                 for child in (node.values() if isinstance(node, dict) else node)]
        if not level:
            return False
    return any(isinstance(node, (dict, list)) for node in level)


def case_from_document(doc: Any, name: str = "<case>") -> Case:
    """A case from an already parsed JSON/YAML document (:func:`parse_case` without the parsing)."""
    if not isinstance(doc, dict):
        raise CaseFileError(f"{name}: expected a mapping with 'findings' (and optionally 'network', "
                            "'soft_findings', 'note')")
    unknown = set(doc) - CASE_KEYS - VALIDATION_CASE_KEYS
    if unknown:
        raise CaseFileError(f"{name}: unknown field(s) {sorted(unknown)}; expected network, findings, "
                            "soft_findings, note (and, in a validation case, "
                            f"{', '.join(sorted(VALIDATION_CASE_KEYS))})")
    findings = doc.get("findings") or {}
    soft = doc.get("soft_findings") or {}
    if not isinstance(findings, dict) or not all(isinstance(v, (str, int, float)) for v in findings.values()):
        raise CaseFileError(f"{name}: 'findings' must map variable ids to state ids")
    if not isinstance(soft, dict) or not all(isinstance(v, dict) for v in soft.values()):
        raise CaseFileError(f"{name}: 'soft_findings' must map variable ids to {{state: likelihood}}")
    network = doc.get("network")
    return Case(
        Evidence({str(k): str(v) for k, v in findings.items()},
                 {str(k): {str(s): _likelihood(x, name, str(k), str(s)) for s, x in v.items()}
                  for k, v in soft.items()}),
        network=str(network) if network is not None else None,
        note=str(doc.get("note") or ""),
        title=str(doc.get("title") or ""),
        source=str(doc.get("source") or ""),
        split=str(doc.get("split") or ""),
    )


def _likelihood(x: Any, name: str, variable: str, state: str) -> float:
    """A soft finding's likelihood as a number. YAML 1.1 reads an exponent without a dot (``1e-05``, as
    Python's JSON writes small numbers) as a string, so a numeric string is read as the number it spells."""
    if isinstance(x, bool) or not isinstance(x, (int, float, str)):
        raise CaseFileError(f"{name}: soft_findings.{variable}.{state} must be a number, got {x!r}")
    try:
        value = float(x)
    except ValueError:
        raise CaseFileError(f"{name}: soft_findings.{variable}.{state} must be a number, got {x!r}") from None
    if not math.isfinite(value):
        raise CaseFileError(f"{name}: soft_findings.{variable}.{state} must be a finite number, got {x!r}")
    return value


def read_case(path: str | Path) -> Case:
    path = Path(path)
    try:
        most = limits.current().case_bytes
        if path.stat().st_size > most:
            raise CaseFileError(f"{path}: the case file is larger than {most:,} bytes (case_bytes)")
        data = path.read_bytes()
    except OSError as exc:
        raise CaseFileError(f"cannot read case file '{path}': {exc.strerror or exc}") from None
    return parse_case(data, str(path))


# -- shareable URLs --------------------------------------------------------------------------------------


def to_query_params(evidence: Evidence) -> dict[str, str]:
    """Findings as URL query parameters, in the command line's syntax: ``var=state``, soft ``var=state:L``.

    >>> to_query_params(Evidence({"knee_pain": "present"}, {"straight_leg_raise": {"positive": 0.7, "negative": 0.3}}))
    {'knee_pain': 'present', 'straight_leg_raise': 'positive:0.7'}
    """
    params = dict(evidence.findings)
    for var, lik in evidence.soft_findings.items():
        state = max(lik, key=lik.get)
        total = sum(lik.values())
        params[var] = f"{state}:{round(lik[state] / total, 4):g}"
    return params


def from_query_params(params: Mapping[str, str], network: Network, reserved: Iterable[str] = ()
                      ) -> tuple[Evidence, list[str]]:
    """Evidence from URL query parameters, and a message for each parameter that was ignored.

    Unknown variables or states are skipped (never an exception) so that a mistyped link still opens.
    """
    hard: dict[str, str] = {}
    soft: dict[str, dict[str, float]] = {}
    ignored = []
    for key, value in params.items():
        if key in reserved:
            continue
        try:
            if ":" in value:
                parsed = Evidence.from_strings([], [f"{key}={value}"]).validate(network)
                soft.update(parsed.soft_findings)
            else:
                hard.update(Evidence({key: value}).validate(network).findings)
        except EvidenceError as exc:
            # a link is typed or pasted by anyone: control characters are shown escaped, never as line breaks
            ignored.append(_printable(f"{key}={value}: {exc}"))
    return Evidence(hard, soft), ignored


def _printable(text: str) -> str:
    r"""``text`` on one line: control and format characters (line breaks, NUL, bidi overrides) escaped.

    >>> _printable("knee\npain=é")
    'knee\\npain=é'
    """
    return "".join(c if unicodedata.category(c)[0] != "C" else c.encode("unicode_escape").decode("ascii")
                   for c in text)
