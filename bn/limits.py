"""How much the tool reads and computes before it refuses: every limit in one place, each configurable.

The defaults suit the shipped networks and a clinic's files on a laptop, and stop a small hostile file from
becoming a huge or endless job. A registry with larger files raises the limits it needs:

- the environment, read by the app and every command: ``BN_LIMITS="network_bytes=50MB,csv_rows=20_000_000"``;
- the command line (before the verb, repeatable): ``bn --limit network_bytes=50MB check big.yaml``;
- Python: ``with bn.limits.override(network_bytes="50MB"): ...`` for a block, :func:`configure` for the process.

A limit that is exceeded raises a :class:`~bn.errors.BNError` with one line naming the limit, so the command
line exits 2 and the app shows the message beside the uploader. Sizes take ``KB``, ``MB`` or ``GB`` (powers of
1024); counts may use ``_`` between digits; times are seconds.

>>> current().network_bytes
5242880
>>> with override(network_bytes="50MB"):
...     current().network_bytes
52428800
>>> parse("csv_rows=2_000_000, parse_seconds=5")
{'csv_rows': 2000000, 'parse_seconds': 5.0}
>>> try:
...     parse("network_size=1MB")
... except LimitsError as exc:
...     print(str(exc)[:62])
unknown limit 'network_size'; the limits are network_bytes, de

Time budgets work the same way for long computations: inside ``with time_budget(60, "learning"):`` the loops of
EM, the data check, stability draws and sensitivity sweeps call :func:`check_time`, which raises
:class:`TimeBudgetError` once the budget is spent (outside a budget it does nothing).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from bn.errors import BNError

KB, MB, GB = 1024, 1024 ** 2, 1024 ** 3
ENVIRONMENT = "BN_LIMITS"


class LimitsError(BNError):
    """A limit setting that cannot be read (unknown name, malformed value)."""


class TimeBudgetError(BNError):
    """A computation ran past its time budget and was stopped."""


def _limit(default: float, meaning: str):
    return field(default=default, metadata={"meaning": meaning})


@dataclass(frozen=True)
class Limits:
    """Every limit; see the module's documentation for how to set them."""

    network_bytes: int = _limit(5 * MB, "a network file (YAML, BIF, XMLBIF; a gzip file's compressed size)")
    decompressed_bytes: int = _limit(64 * MB, "a gzip-compressed network file once decompressed")
    case_bytes: int = _limit(1 * MB, "a case file (JSON or YAML)")
    records_bytes: int = _limit(5 * MB, "a records or cases file uploaded to the app (files given to the "
                                        "command line are bounded by csv_rows and csv_columns)")
    yaml_depth: int = _limit(64, "nesting of a YAML or JSON document (a network nests about 8 levels)")
    yaml_nodes: int = _limit(2_000_000, "values in a YAML document (a 5 MB network has about 100,000)")
    table_entries: int = _limit(4_000_000, "entries of one probability table, refused before it is allocated")
    csv_rows: int = _limit(10_000_000, "data rows of a CSV or parquet file of cases or records")
    csv_columns: int = _limit(5_000, "columns of a CSV or parquet file of cases or records")
    clique_entries: int = _limit(1 << 26, "states of the largest junction-tree clique (512 MB of float64)")
    tree_entries: int = _limit(1 << 27, "states of all junction-tree cliques together")
    map_configurations: int = _limit(1 << 20, "joint configurations a most-probable-combination query searches")
    parse_seconds: float = _limit(30.0, "time to read and compile a file uploaded to the app (in a child "
                                        "process that is stopped when the time is up)")
    parse_memory_bytes: int = _limit(1 * GB, "memory of the child process that reads an upload")
    analysis_seconds: float = _limit(120.0, "time for one of the app's long analyses (sensitivity, stability, "
                                            "checking or learning from records)")

    def replace(self, **changes: object) -> Limits:
        """These limits with ``changes`` (values as numbers or strings such as ``"50MB"``)."""
        return dataclasses.replace(self, **{name: _value(name, value) for name, value in changes.items()})

    def to_text(self) -> str:
        """``name=value`` pairs for :data:`ENVIRONMENT`: how a child process gets the same limits."""
        return ",".join(f"{f.name}={getattr(self, f.name)}" for f in dataclasses.fields(self))


NAMES = tuple(f.name for f in dataclasses.fields(Limits))
MEANINGS = {f.name: f.metadata["meaning"] for f in dataclasses.fields(Limits)}
_UNITS = {"": 1, "B": 1, "KB": KB, "MB": MB, "GB": GB}


def _value(name: str, value: object) -> int | float:
    if name not in NAMES:
        raise LimitsError(f"unknown limit '{name}'; the limits are {', '.join(NAMES)}")
    kind = Limits.__dataclass_fields__[name].type
    text = str(value).strip().replace("_", "")
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMG]?B?)", text, flags=re.IGNORECASE)
    unit = match.group(2).upper() if match else ""
    if not match or (unit and not name.endswith("_bytes")):
        example = "50MB" if name.endswith("_bytes") else "60" if kind == "float" else "2_000_000"
        raise LimitsError(f"limit {name}: '{value}' is not a positive number (for example {name}={example})")
    number = float(match.group(1)) * _UNITS[unit]
    if number <= 0:
        raise LimitsError(f"limit {name}: must be above zero, got '{value}'")
    return number if kind == "float" else int(number)


def size_text(n: int) -> str:
    """A size in the largest unit that keeps it at least 1: ``3 GB``, ``600 MB``, ``512 KB``.

    >>> size_text(600 * MB), size_text(3 * GB), size_text(1536)
    ('600 MB', '3 GB', '1.5 KB')
    """
    for unit, size in (("GB", GB), ("MB", MB), ("KB", KB)):
        if n >= size:
            return f"{n / size:.4g} {unit}"
    return f"{n} bytes"


def parse(text: str) -> dict[str, int | float]:
    """``"name=value, name=value"`` as a mapping of checked values; raises :class:`LimitsError`."""
    out: dict[str, int | float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise LimitsError(f"'{item}' is not name=value (for example network_bytes=50MB)")
        out[name.strip()] = _value(name.strip(), value)
    return out


_base: Limits | None = None
_override: contextvars.ContextVar[Limits | None] = contextvars.ContextVar("bn_limits", default=None)
_deadline: contextvars.ContextVar[tuple[float, float, str] | None] = contextvars.ContextVar("bn_deadline",
                                                                                         default=None)


def current() -> Limits:
    """The limits in force: a block's :func:`override`, else :func:`configure`'s, else the environment's."""
    global _base
    overridden = _override.get()
    if overridden is not None:
        return overridden
    if _base is None:
        try:
            _base = Limits().replace(**parse(os.environ.get(ENVIRONMENT, "")))
        except LimitsError as exc:
            raise LimitsError(f"{ENVIRONMENT}: {exc}") from None
    return _base


def configure(**changes: object) -> Limits:
    """Change the limits for the whole process (the command line's ``--limit``); returns the new limits."""
    global _base
    _base = current().replace(**changes)
    return _base


@contextlib.contextmanager
def override(**changes: object) -> Iterator[Limits]:
    """The limits with ``changes`` inside the block, in this thread only."""
    token = _override.set(current().replace(**changes))
    try:
        yield _override.get()
    finally:
        _override.reset(token)


@contextlib.contextmanager
def time_budget(seconds: float, what: str) -> Iterator[None]:
    """Stop ``what`` with :class:`TimeBudgetError` when it runs past ``seconds`` (see :func:`check_time`)."""
    token = _deadline.set((time.monotonic() + seconds, seconds, what))
    try:
        yield
    finally:
        _deadline.reset(token)


def check_time() -> None:
    """Raise :class:`TimeBudgetError` when the enclosing :func:`time_budget` is spent; long loops call it."""
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline[0]:
        raise TimeBudgetError(f"{deadline[2]} was stopped after {deadline[1]:g} s, its time budget "
                              f"(limit analysis_seconds); run it from the command line, or raise the limit "
                              f"({ENVIRONMENT}=analysis_seconds=...)")
