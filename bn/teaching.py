"""Teaching: reveal a case's findings one at a time, and compare pinned what-if scenarios.

>>> import bn
>>> net = bn.load("l4l5_knee")
>>> steps = walkthrough(net, bn.Evidence({"knee_pain": "present", "straight_leg_raise": "positive"}))
>>> [s.revealed for s in steps]
[None, 'knee_pain', 'straight_leg_raise']
>>> frame = trajectory_frame(net, steps)
>>> list(frame.columns)
['step', 'revealed', 'kind', 'label', 'probability']
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bn.evidence import Case, Evidence, read_case
from bn.inference import BayesNet


@dataclass(frozen=True)
class Step:
    number: int
    revealed: str | None  # the finding revealed at this step (None for the starting point)
    evidence: Evidence
    posteriors: dict[str, dict[str, float]]  # diagnoses and knee-pain source variables
    knee_pain_source: dict[str, float] | None


def walkthrough(net: BayesNet, evidence: Evidence, *, order: Sequence[str] | None = None) -> list[Step]:
    """The posteriors before any finding and after each finding is revealed, in ``order`` (default: as entered).

    All steps are answered in one batched pass.
    """
    network = net.network
    ev = net.evidence(evidence)
    order = list(order) if order is not None else ev.variables
    if sorted(order) != sorted(ev.variables):
        raise ValueError("order must list each finding of the case once")
    prefixes = [Evidence()]
    for i in range(1, len(order) + 1):
        shown = order[:i]
        prefixes.append(Evidence({k: v for k, v in ev.findings.items() if k in shown},
                                 {k: v for k, v in ev.soft_findings.items() if k in shown}))
    variables = list(dict.fromkeys([*network.by_role("diagnosis"), *network.knee_pain_sources.values()]))
    variables = variables or net.default_query_variables()
    batch = net.batch_marginals(prefixes, variables=variables)
    if not (batch.log_probability_of_evidence > -float("inf")).all():
        net._raise_impossible(ev)
    steps = []
    for i, prefix in enumerate(prefixes):
        posteriors = {v: dict(zip(network[v].state_ids, batch.marginals[v][i].tolist(), strict=True))
                      for v in variables}
        sources = ({key: posteriors[var][network[var].on_state] for key, var in network.knee_pain_sources.items()}
                   if network.knee_pain_sources else None)
        steps.append(Step(i, order[i - 1] if i else None, prefix, posteriors, sources))
    return steps


def trajectory_frame(net: BayesNet, steps: Sequence[Step]):
    """Long table (step, revealed, kind, label, probability) of each diagnosis and knee-pain source, in labels."""
    import pandas as pd

    from bn.target import SOURCE_LABELS

    network = net.network
    rows = []
    for step in steps:
        revealed = network[step.revealed].display_label if step.revealed else "(start)"
        for key, p in (step.knee_pain_source or {}).items():
            rows.append({"step": step.number, "revealed": revealed, "kind": "source",
                         "label": SOURCE_LABELS.get(key, key), "probability": p})
        for var in network.by_role("diagnosis"):
            rows.append({"step": step.number, "revealed": revealed, "kind": "diagnosis",
                         "label": network[var].display_label,
                         "probability": step.posteriors[var][network[var].on_state]})
    return pd.DataFrame(rows)


def compare_scenarios(net: BayesNet, scenarios: Mapping[str, Evidence]):
    """One row per knee-pain source and diagnosis, one column per scenario, plus the change from the first.

    >>> import bn
    >>> net = bn.load("l4l5_knee")
    >>> table = compare_scenarios(net, {"A": bn.Evidence({"knee_pain": "present"}),
    ...                                 "B": bn.Evidence({"knee_pain": "present", "mcmurray_test": "positive"})})
    >>> list(table.columns)
    ['kind', 'label', 'A', 'B', 'B - A']
    """
    import pandas as pd

    from bn.target import SOURCE_LABELS

    network = net.network
    names = list(scenarios)
    results = {name: net.query(ev, mpe=False) for name, ev in scenarios.items()}
    rows = []
    for key in network.knee_pain_sources:
        rows.append({"kind": "source", "label": SOURCE_LABELS.get(key, key),
                     **{n: results[n].knee_pain_source[key] for n in names}})
    for var in network.by_role("diagnosis"):
        positive = network[var].on_state
        rows.append({"kind": "diagnosis", "label": network[var].display_label,
                     **{n: results[n].posteriors[var][positive] for n in names}})
    table = pd.DataFrame(rows, columns=["kind", "label", *names])
    for n in names[1:]:
        table[f"{n} - {names[0]}"] = table[n] - table[names[0]]
    return table


@functools.lru_cache(maxsize=512)
def _read_case_cached(path: str, mtime_ns: int, size: int) -> Case:
    """A case file read once per version of the file (the app lists every example on each rerun)."""
    return read_case(path)


def example_cases(*folders: Path) -> dict[str, Case]:
    """Case files (``*.yaml``/``*.json``) in ``folders``, by file stem; unreadable files are skipped.

    Locked test cases (``split: test``) are left out: stepping through them with the network's posteriors
    would show their answers to the people who tune the network (``validation/README.md``).
    """
    from bn.errors import CaseFileError

    found: dict[str, Case] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.json")]):
            try:
                stat = path.stat()
                case = _read_case_cached(str(path), stat.st_mtime_ns, stat.st_size)
            except (OSError, CaseFileError):
                continue
            if case.split != "test":
                found[path.stem] = case
        # Cases skipped above are reported by `bn validate`, which checks every case file.
    return found
