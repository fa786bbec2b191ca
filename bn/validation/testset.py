"""The locked test set: which validation cases are frozen, whether they still are, and who has looked.

Every validation case carries ``split: development`` or ``split: test``. The network may be tuned on
development cases only. The test cases are frozen by ``validation/test_set.lock``: the sha256 of each test
case file, the date, and the network version that was current when they were locked. A lock is only ever
changed together with a changelog entry in it saying why (``bn validate lock --why "..."``).

Test-set figures are **valid** for a network version when (:func:`check_lock`):

- every test case file is byte-for-byte the one locked, none was added and none removed;
- the lock is not newer than the version scored (a version published before its cases were frozen could
  have had its cases chosen knowing its answers);
- the lock's last changelog entry is for the case list it holds (a hand-edited lock is not a lock).

Looking at a test case's individual result is recorded too (:func:`record_view`, ``bn validate --unblind
"why"``): the report says how often each test case was seen, so a reader can judge how blind the test set
still is. Aggregate test-set figures are always shown; per-case test results only when unblinded.

>>> cases = {"t1.yaml": "ab" * 32}
>>> lock = TestSetLock("l4l5_knee", "1.1.0", "2026-11-30", cases,
...                    [{"date": "2026-11-30", "why": "first lock", "cases_sha256": list_digest(cases)}])
>>> check_lock(lock, {"t1.yaml": "ab" * 32}, "l4l5_knee", "2.0.0").valid
True
>>> check_lock(lock, {"t1.yaml": "cd" * 32}, "l4l5_knee", "2.0.0").problems
['test case t1.yaml differs from the locked file']
>>> check_lock(lock, {"t1.yaml": "ab" * 32}, "l4l5_knee", "1.0.0").version_problem[:44]
'the lock (made when l4l5_knee 1.1.0 was curr'
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bn.errors import BNError
from bn.files import write_text

SPLITS = ("development", "test")
KINDS = ("published", "teaching", "archetype")
LOCK_FORMAT = "bn-test-set-lock/1"
VIEWS_FORMAT = "bn-test-set-views/1"
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


class TestSetError(BNError):
    """A malformed lock or views file, or a lock that cannot be made."""

    __test__ = False  # not a pytest test class


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes (what the lock records for a case)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def list_digest(cases: Mapping[str, str]) -> str:
    """One sha256 for a whole case list (names and their digests, sorted): what a changelog entry vouches for."""
    text = "\n".join(f"{name} {digest}" for name, digest in sorted(cases.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def _version_key(version: str) -> tuple[int, ...]:
    m = _VERSION.match(str(version))
    if not m:
        raise TestSetError(f"'{version}' is not a version of the form MAJOR.MINOR.PATCH")
    return tuple(int(x) for x in m.groups())


@dataclass(frozen=True)
class TestSetLock:
    """The frozen test set: case file name -> sha256, locked on ``date`` when ``network_version`` was current."""

    __test__ = False

    network_id: str
    network_version: str
    date: str
    cases: dict[str, str]
    changelog: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"format": LOCK_FORMAT, "network": {"id": self.network_id, "version": self.network_version},
                "date": self.date, "cases": dict(sorted(self.cases.items())), "changelog": list(self.changelog)}


@dataclass(frozen=True)
class LockCheck:
    """Whether test-set figures are valid for the network scored, and every reason they are not.

    ``problems`` are about the cases themselves (changed, added or removed without a new lock, or a lock
    edited by hand): the CI gate fails on them. ``version_problem`` says the lock is newer than the version
    scored: its figures are marked invalid, but nothing regressed.
    """

    lock: TestSetLock | None
    problems: list[str]
    version_problem: str = ""

    @property
    def valid(self) -> bool:
        return self.lock is not None and not self.problems and not self.version_problem

    @property
    def reasons(self) -> list[str]:
        return [*self.problems, *([self.version_problem] if self.version_problem else [])]

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "problems": list(self.problems), "version_problem": self.version_problem,
                "lock": None if self.lock is None else {"network": self.lock.network_id,
                                                        "network_version": self.lock.network_version,
                                                        "date": self.lock.date, "cases": len(self.lock.cases)}}


def read_lock(path: str | Path) -> TestSetLock | None:
    """The lock in ``path``; None when there is none. A malformed lock raises :class:`TestSetError`."""
    from bn import safeyaml

    path = Path(path)
    if not path.exists():
        return None
    try:
        doc = safeyaml.load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, safeyaml.YAMLError) as exc:
        raise TestSetError(f"cannot read the test-set lock '{path}': {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict) or doc.get("format") != LOCK_FORMAT:
        raise TestSetError(f"{path}: not a test-set lock (expected format: {LOCK_FORMAT})")
    net, cases, log = doc.get("network"), doc.get("cases"), doc.get("changelog")
    if not (isinstance(net, dict) and isinstance(net.get("id"), str) and isinstance(net.get("version"), str)):
        raise TestSetError(f"{path}: 'network' must give the id and version current when the set was locked")
    _version_key(net["version"])
    if not isinstance(cases, dict) or not all(isinstance(k, str) and isinstance(v, str) and len(v) == 64
                                              for k, v in cases.items()):
        raise TestSetError(f"{path}: 'cases' must map each test case file name to its sha256")
    if not isinstance(log, list) or not all(isinstance(e, dict) for e in log):
        raise TestSetError(f"{path}: 'changelog' must be a list of entries (date, why, cases_sha256)")
    return TestSetLock(net["id"], net["version"], str(doc.get("date") or ""), dict(cases), list(log))


def make_lock(test_cases: Mapping[str, str], *, network_id: str, network_version: str, why: str,
              previous: TestSetLock | None = None, date: str | None = None) -> TestSetLock:
    """A new lock of ``test_cases`` (file name -> sha256), with a changelog entry saying ``why``.

    The previous lock's changelog is kept; relocking an unchanged set with the same version is refused.
    """
    if not why or not why.strip():
        raise TestSetError("a new lock needs a changelog entry: say why (--why \"...\")")
    if not test_cases:
        raise TestSetError("there are no test cases to lock (no case has 'split: test')")
    _version_key(network_version)
    date = date or _dt.date.today().isoformat()
    digest = list_digest(test_cases)
    if previous is not None and list_digest(previous.cases) == digest and previous.network_version == network_version:
        raise TestSetError("the test set is already locked as it is; nothing to relock")
    before = set(previous.cases) if previous else set()
    changed = sorted(n for n in test_cases if previous and n in previous.cases and previous.cases[n] != test_cases[n])
    entry = {"date": date, "network_version": network_version, "why": why.strip(), "cases": len(test_cases),
             "added": sorted(set(test_cases) - before), "removed": sorted(before - set(test_cases)),
             "changed": changed, "cases_sha256": digest}
    log = [*(previous.changelog if previous else []), entry]
    return TestSetLock(network_id, network_version, date, dict(test_cases), log)


def write_lock(lock: TestSetLock, path: str | Path) -> None:
    import yaml

    header = ("# The frozen validation test set (validation/README.md). Written by `bn validate lock --why ...`;\n"
              "# never edit it by hand: a lock whose last changelog entry does not vouch for its case list is\n"
              "# invalid, and so are the test-set figures scored against it.\n")
    write_text(path, header + yaml.safe_dump(lock.to_dict(), sort_keys=False, width=110))


def check_lock(lock: TestSetLock | None, test_cases: Mapping[str, str], network_id: str,
               network_version: str | None) -> LockCheck:
    """Every reason the test-set figures for ``network_id`` ``network_version`` are not valid (none: valid).

    ``test_cases``: the current test case files (name -> sha256). ``network_version`` None (a network read
    from a path with no version) is checked as if it were the oldest.
    """
    if lock is None:
        return LockCheck(None, ["there is no test-set lock (run 'bn validate lock --why \"...\"')"])
    problems, version_problem = [], ""
    for name in sorted(set(lock.cases) | set(test_cases)):
        if name not in test_cases:
            problems.append(f"locked test case {name} is missing or no longer in the test split")
        elif name not in lock.cases:
            problems.append(f"test case {name} is not in the lock")
        elif lock.cases[name] != test_cases[name]:
            problems.append(f"test case {name} differs from the locked file")
    if not lock.changelog or lock.changelog[-1].get("cases_sha256") != list_digest(lock.cases):
        problems.append("the lock's case list has no changelog entry vouching for it (edited by hand?)")
    if lock.network_id != network_id:
        problems.append(f"the lock is for network {lock.network_id}, not {network_id}")
    else:
        scored = _version_key(network_version) if network_version and _VERSION.match(network_version) else (-1,)
        if _version_key(lock.network_version) > scored:
            version_problem = (f"the lock (made when {lock.network_id} {lock.network_version} was current) is newer "
                            f"than version {network_version}: its test cases may have been chosen knowing its answers")
    return LockCheck(lock, problems, version_problem)


# -- who has looked at individual test results ----------------------------------------------------------


def read_views(path: str | Path) -> list[dict[str, Any]]:
    """Every recorded unblinding (date, network, version, why, cases); an absent file is no views."""
    from bn import safeyaml

    path = Path(path)
    if not path.exists():
        return []
    try:
        doc = safeyaml.load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, safeyaml.YAMLError) as exc:
        raise TestSetError(f"cannot read the test-set views '{path}': {str(exc).splitlines()[0]}") from None
    views = doc.get("views") if isinstance(doc, dict) and doc.get("format") == VIEWS_FORMAT else None
    if not isinstance(views, list) or not all(isinstance(v, dict) and isinstance(v.get("cases"), list)
                                              for v in views):
        raise TestSetError(f"{path}: expected format {VIEWS_FORMAT} with a list 'views' of entries with 'cases'")
    return views


def record_view(path: str | Path, *, cases: Sequence[str], network: Mapping[str, str], why: str,
                date: str | None = None) -> list[dict[str, Any]]:
    """Append one unblinding to the views file and return all views."""
    import yaml

    if not why or not why.strip():
        raise TestSetError("unblinding the test set needs a reason (--unblind \"why\")")
    views = read_views(path)
    views.append({"date": date or _dt.date.today().isoformat(), "network": network.get("id"),
                  "version": network.get("version"), "why": why.strip(), "cases": sorted(cases)})
    header = ("# Every time someone looked at individual test-case results (`bn validate --unblind \"why\"`).\n"
              "# The validation report counts these per case: a test case seen while a version was tuned is no\n"
              "# longer blind for that version.\n")
    write_text(path, header + yaml.safe_dump({"format": VIEWS_FORMAT, "views": views}, sort_keys=False, width=110))
    return views


def seen_counts(views: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many recorded unblindings included each case (by case id or file name as recorded)."""
    counts: dict[str, int] = {}
    for v in views:
        for name in v.get("cases", []):
            counts[str(name)] = counts.get(str(name), 0) + 1
    return counts
