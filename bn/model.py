"""The in-memory network: variables, their tables and the provenance of every number.

A :class:`Network` is what every reader produces (the YAML network format, BIF, XMLBIF) and what every
engine consumes. It is plain data: numpy tables, no inference library objects.

Tables are stored parents first, child last: ``cpt[i_parent1, ..., i_parentK, i_child]`` is
``P(child = state i_child | parents = (i_parent1, ..., i_parentK))``, so each row (last axis) sums to 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ROLES = ("risk_factor", "diagnosis", "mechanism", "finding", "red_flag")
GROUPS = ("history", "exam", "imaging", "tests")
# State names that mean "the thing is there"; the first one a variable has is its on-state (else its last).
ON_NAMES = ("present", "positive", "yes", "true", "reduced", "abnormal")


def default_on_state(states: tuple[str, ...] | list[str]) -> str:
    """The on-state a variable gets when its file names none: its first state called ``present``,
    ``positive``, ``yes``, ``true``, ``reduced`` or ``abnormal`` (case-insensitive), else its last state.

    >>> default_on_state(["present", "absent"]), default_on_state(["low", "high"])
    ('present', 'high')
    """
    return next((s for s in states if s.lower() in ON_NAMES), states[-1])


def humanize(identifier: str) -> str:
    """What a reader sees for an id the network file gave no label: words, not an identifier.

    >>> humanize("groin_pain"), humanize("65_plus")
    ('Groin pain', '65 plus')
    """
    words = identifier.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


@dataclass(frozen=True)
class State:
    id: str
    label: str

    @property
    def display_label(self) -> str:
        return self.label or humanize(self.id)


@dataclass(frozen=True)
class Parameter:
    """One number as the modeller wrote it: a table row, a noisy-OR link or a noisy-OR leak.

    ``value`` is the probability of the variable's on-state (:attr:`Variable.on_state`) for rows of
    binary variables and for links and leaks; for a row of a variable with more states it is the whole row.
    """

    variable: str
    kind: str  # "row" | "link" | "leak" | "component" (a mixture's distribution for one parent, or "otherwise")
    key: str  # human-readable position, e.g. "age_group=65_plus" or "spinal_stenosis=present"
    value: float | tuple[float, ...]
    source: str | None = None
    detail: str | None = None
    expert_estimate: str | None = None
    range: tuple[float, float] | None = None
    fixed: bool = False  # never changed by bn learn (a definition, or a number the modeller will not let data move)

    @property
    def provenance(self) -> str:
        """``"cited"``, ``"expert_estimate"`` or ``"uncited"``."""
        if self.source:
            return "cited"
        if self.expert_estimate:
            return "expert_estimate"
        return "uncited"


@dataclass(frozen=True)
class Variable:
    id: str
    states: tuple[State, ...]
    parents: tuple[str, ...]
    cpt: np.ndarray
    label: str = ""
    description: str = ""
    role: str | None = None
    group: str | None = None
    cost: float | None = None
    alert: str | None = None
    form: str = "table"  # "table" | "noisy_or" | "deterministic_or" | "mixture"
    definition: str | None = None
    parameters: tuple[Parameter, ...] = ()
    # The one state that "present", "positive", a red flag's alert, a noisy-OR's "on", a summary target and a
    # single number shown for the variable all mean; set once here, used everywhere.
    on_state: str = ""

    def __post_init__(self) -> None:
        ids = self.state_ids
        if not self.on_state:
            object.__setattr__(self, "on_state", default_on_state(ids))
        elif self.on_state not in ids:
            raise ValueError(f"{self.id}: on_state '{self.on_state}' is not one of its states ({', '.join(ids)})")

    @property
    def state_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.states)

    @property
    def on_index(self) -> int:
        return self.state_ids.index(self.on_state)

    @property
    def card(self) -> int:
        return len(self.states)

    def state_index(self, state: str) -> int:
        return self.state_ids.index(state)

    @property
    def display_label(self) -> str:
        """The label a person reads; an unlabelled variable gets its id in words, never the raw id."""
        return self.label or humanize(self.id)

    def state_label(self, state: str) -> str:
        """The label a person reads for one of this variable's states (``state`` is its id)."""
        return self.states[self.state_index(state)].display_label

    def finding_text(self, state: str) -> str:
        """``Label: state label``, how a finding is written for a reader (ids stay in JSON and URLs)."""
        return f"{self.display_label}: {self.state_label(state)}"


@dataclass(frozen=True)
class Reference:
    key: str
    citation: str
    measured: str = ""
    url: str | None = None


@dataclass(frozen=True)
class NetworkInfo:
    """What identifies a network in every result: id, version and the sha256 of the file's bytes."""

    id: str
    version: str
    sha256: str
    path: str = ""
    # True: the published id@version (its sha256 is the pinned one); False: it claims a published id@version
    # with other bytes; None: not a published version (a draft, a learnt file, a standard network).
    published: bool | None = None

    def to_dict(self) -> dict[str, str | bool]:
        out: dict[str, str | bool] = {"id": self.id, "version": self.version, "sha256": self.sha256}
        if self.published is not None:
            out["published"] = self.published
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NetworkInfo:
        """The inverse of :meth:`to_dict` (the path is not part of it)."""
        return cls(str(data["id"]), str(data["version"]), str(data["sha256"]), published=data.get("published"))

    @property
    def warning(self) -> str:
        """A one-line warning for a file that claims a published version it is not ('' otherwise)."""
        if self.published is not False:
            return ""
        return (f"not the published {self.id} {self.version}: this file claims that version but its sha256 "
                f"({self.sha256[:16]}...) differs from the published one")


@dataclass(frozen=True)
class Summary:
    """A question the network answers with several binary variables at once, declared in its file: its ``name``
    (the key results use: ``knee_pain_source`` in JSON, ``knee_pain_source_<member>`` batch columns), a ``title``
    for people, and ``members`` (answer key -> the variable whose on-state is that answer). Answers may coexist:
    each member is a separate probability."""

    name: str
    title: str
    members: Mapping[str, str]


#: The summary l4l5_knee's files declare as ``knee_pain_sources`` (before the generic ``summary`` field).
KNEE_PAIN_SOURCE = ("knee_pain_source", "Where does the knee pain come from?")


@dataclass(frozen=True)
class Network:
    """A discrete Bayesian network with its metadata.

    Variables are kept in a topological order (parents before children).
    """

    info: NetworkInfo
    variables: Mapping[str, Variable]
    meta: Mapping[str, object] = field(default_factory=dict)
    references: Mapping[str, Reference] = field(default_factory=dict)
    summary: Summary | None = None
    source_format: str = "yaml"

    @property
    def knee_pain_sources(self) -> Mapping[str, str]:
        """The members of this network's knee-pain-source summary ({} for any other network)."""
        return self.summary.members if self.summary and self.summary.name == KNEE_PAIN_SOURCE[0] else {}

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def version(self) -> str:
        return self.info.version

    @property
    def title(self) -> str:
        return str(self.meta.get("title") or self.info.id)

    def __getitem__(self, variable_id: str) -> Variable:
        return self.variables[variable_id]

    def __contains__(self, variable_id: object) -> bool:
        return variable_id in self.variables

    def ancestors(self, seeds: Iterable[str]) -> set[str]:
        """The seeds and all their ancestors: every other variable is barren for a question about the seeds
        (it sums out to 1, whatever its numbers)."""
        seen: set[str] = set()
        stack = list(seeds)
        while stack:
            v = stack.pop()
            if v not in seen:
                seen.add(v)
                stack.extend(self.variables[v].parents)
        return seen

    def by_role(self, *roles: str) -> list[str]:
        """Variable ids with one of ``roles``, in network order."""
        return [v.id for v in self.variables.values() if v.role in roles]

    @property
    def has_roles(self) -> bool:
        return any(v.role for v in self.variables.values())

    @property
    def parameters(self) -> list[Parameter]:
        return [p for v in self.variables.values() for p in v.parameters]

    def provenance_counts(self) -> dict[str, int]:
        """How many parameters are cited, expert estimates, or uncited."""
        counts = {"total": 0, "cited": 0, "expert_estimate": 0, "uncited": 0}
        for p in self.parameters:
            counts["total"] += 1
            counts[p.provenance] += 1
        return counts
