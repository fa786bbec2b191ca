"""Batch scoring: one case per row in, posteriors per row out (``bn batch``).

Input columns are finding ids holding state names (a blank cell means "not known"); ``keep`` columns (case
ids, for instance) are passed through. Output adds one column ``P(variable=state)`` per target state, the
members of the network's declared summary (``<name>_<member>``: ``knee_pain_source_<source>`` for
l4l5_knee), ``log_probability_of_evidence``, ``error`` and the network's
id, version and sha256, with a ``row`` column numbering the input's data rows from 1 (the header is not a row)
and, for a CSV file, a ``line`` column giving each row's line in the file (header and blank lines counted).

Rows are scored in chunks of ``chunk_size`` with the compiled engine's batch axis. A bad row (an unknown
state, findings the network says are impossible) either fails the run with its row number
(``on_error="fail"``) or is kept in the output with an empty posterior and the reason in ``error``
(``on_error="skip"``): never silently dropped. With Dask the same chunks are scored by workers, so the
results are identical to a single-process run.

>>> import pandas as pd, bn
>>> net = bn.load("l4l5_knee")
>>> cases = pd.DataFrame({"knee_pain": ["present", "present"], "straight_leg_raise": ["positive", ""]})
>>> out, errors = score_frame(net, cases, targets=["disc_herniation"])
>>> list(out.columns[:3]), errors
(['row', 'P(disc_herniation=absent)', 'P(disc_herniation=present)'], [])
>>> bool(out.loc[0, "P(disc_herniation=present)"] > out.loc[1, "P(disc_herniation=present)"])
True
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bn import limits
from bn.errors import BNError
from bn.inference import BayesNet

if TYPE_CHECKING:
    import pandas as pd

CHUNK_SIZE = 2_000  # about 6 MB per clique-by-batch array on l4l5_knee: stays in cache, fastest measured


class BatchError(BNError):
    """A batch input cannot be scored: unreadable file, unknown column, or a bad row under ``--on-error fail``."""


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based data row of the input
    message: str
    line: int | None = None  # the row's first line in a CSV file (header and blank lines counted)

    def __str__(self) -> str:
        where = f"line {self.line} (row {self.row})" if self.line is not None else f"row {self.row}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class CaseFile:
    """A cases file as read: the frame, each data row's line in the file (CSV; blank lines counted) and the
    rows that could not be read (data-row index -> why)."""
    frame: pd.DataFrame
    lines: list[int] | None = None
    row_errors: dict[int, str] = field(default_factory=dict)


def read_cases(path: str | Path, what: str = "cases file") -> pd.DataFrame:
    """A CSV or parquet file as a frame of strings (blank cells as missing); raises BatchError naming ``what``.

    A CSV row with more or fewer fields than the header would put its cells in the wrong columns: the file is
    refused, naming the lines. :func:`read_case_file` keeps such rows as bad rows instead.
    """
    return read_case_file(path, what).frame


def read_uploaded_cases(name: str, data: bytes) -> pd.DataFrame:
    """A CSV or parquet file handed in as bytes (an upload), read as :func:`read_cases` reads a file: the same
    checks and messages, naming it as a records file."""
    import tempfile

    suffix = ".parquet" if name.lower().endswith((".parquet", ".pq")) else ".csv"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"records{suffix}"
        path.write_bytes(data)
        return read_cases(path, what=f"records file '{name}'")


def read_case_file(path: str | Path, what: str = "cases file", *, keep_bad_rows: bool = False) -> CaseFile:
    """Like :func:`read_cases`, with each data row's line in a CSV file; with ``keep_bad_rows`` a row whose
    field count differs from the header's is kept with no findings and its reason in ``row_errors``, for
    :func:`score_cases` to report by line."""
    import pandas as pd

    path = Path(path)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            _check_parquet_shape(path, what)
            frame = pd.read_parquet(path)
            return CaseFile(frame.astype(object).where(frame.notna(), None))
        header, lines, wrong = _scan_csv(path, what)
        if wrong and not keep_bad_rows:
            first, count = wrong[0]
            others = f"; {len(wrong) - 1} more such line(s), e.g. {', '.join(str(n) for n, _ in wrong[1:4])}" \
                if len(wrong) > 1 else ""
            raise BatchError(f"cannot read {what} '{path}': line {first} has {count} field(s), the header has "
                             f"{len(header)}{others}; every row needs exactly the header's fields (a trailing "
                             "comma counts as one)")
        if not wrong:
            # Only empty cells are missing: "NA" or "none" could be state names. index_col=False stops pandas
            # from turning a first column into the index when rows are longer than the header.
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True,
                                index_col=False)
            return CaseFile(frame, lines)
        position = {line: k for k, line in enumerate(lines)}
        errors = {position[line]: f"{count} field(s) where the header has {len(header)}; the row was not read "
                  "(its cells would fall in the wrong columns)" for line, count in wrong}
        return CaseFile(_read_rows(path, header, {line for line, _ in wrong}, what), lines, errors)
    except FileNotFoundError:
        raise BatchError(f"no {what} at '{path}'") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BatchError(f"cannot read {what} '{path}': {first}") from None


def _check_parquet_shape(path: Path, what: str) -> None:
    """Refuse a parquet file over the row or column limit from its footer, before reading its data."""
    import pyarrow.parquet as pq

    most = limits.current()
    meta = pq.ParquetFile(path).metadata
    for count, limit, name in ((meta.num_columns, most.csv_columns, "columns"), (meta.num_rows, most.csv_rows, "rows")):
        if count > limit:
            raise BatchError(f"cannot read {what} '{path}': it has {count:,} {name}; the limit is {limit:,} "
                             f"(csv_{name})")


def _csv_rows(path: Path, what: str):
    """(first line, fields) of every non-blank CSV record; a record may span lines inside quotes."""
    import csv

    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle)
        line = 0
        try:
            for fields in reader:
                start, line = line + 1, reader.line_num
                if fields:
                    yield start, fields
        except csv.Error as exc:  # a field over csv's size limit, a NUL byte...
            raise BatchError(f"cannot read {what} '{path}': line {reader.line_num}: {exc}") from None


def _scan_csv(path: Path, what: str) -> tuple[list[str], list[int], list[tuple[int, int]]]:
    """The header, each data row's first line, and the (line, field count) of rows that do not fit the header."""
    most = limits.current()
    header: list[str] | None = None
    lines: list[int] = []
    wrong: list[tuple[int, int]] = []
    for start, fields in _csv_rows(path, what):
        if header is None:
            header = fields
            if len(header) > most.csv_columns:
                raise BatchError(f"cannot read {what} '{path}': the header has {len(header):,} columns; the "
                                 f"limit is {most.csv_columns:,} (csv_columns)")
            names = [h.strip() for h in header]
            twice = next((h for k, h in enumerate(names) if h in names[:k]), None)
            if twice is not None:  # pandas would rename the second one 'name.1' and read on
                where = [str(k + 1) for k, h in enumerate(names) if h == twice]
                raise BatchError(f"cannot read {what} '{path}': the header names column '{twice}' more than once "
                                 f"(columns {', '.join(where)}); give each column once")
            continue
        lines.append(start)
        if len(lines) > most.csv_rows:
            raise BatchError(f"cannot read {what} '{path}': it has more than {most.csv_rows:,} data rows, the "
                             "limit (csv_rows); split the file, or raise the limit (bn --limit csv_rows=...)")
        if len(fields) != len(header):
            wrong.append((start, len(fields)))
    return header or [], lines, wrong


def _read_rows(path: Path, header: list[str], skip: set[int], what: str) -> pd.DataFrame:
    """The rare file with misfit rows, read record by record like pandas reads a good one (leading spaces
    dropped, empty cells missing); a misfit row is all missing."""
    import pandas as pd

    width = len(header)
    cells = [[None] * width if start in skip else [c.lstrip(" ") or None for c in fields]
             for start, fields in list(_csv_rows(path, what))[1:]]
    return pd.DataFrame(cells, columns=[h.lstrip(" ") for h in header], dtype=object)


def output_columns(net: BayesNet, targets: Sequence[str]) -> list[str]:
    cols = [f"P({v}={s})" for v in targets for s in net.network[v].state_ids]
    summary = net.network.summary
    cols += [f"{summary.name}_{key}" for key in summary.members] if summary else []
    return cols


FIXED_OUTPUT_COLUMNS = ("row", "line", "log_probability_of_evidence", "error", "network_id", "network_version",
                        "network_sha256")


def _check_keep(net: BayesNet, targets: Sequence[str], keep: Sequence[str]) -> None:
    """A passed-through column may not share a name with an output column (it would be overwritten)."""
    taken = set(FIXED_OUTPUT_COLUMNS) | set(output_columns(net, targets))
    clash = [c for c in keep if c in taken]
    if clash:
        raise BatchError(f"--keep {clash[0]}: the output has a column of that name; rename that column in the "
                         "cases file")


def score_frame(net: BayesNet, frame: pd.DataFrame, *, targets: Sequence[str] | None = None,
                keep: Sequence[str] = (), on_error: str = "skip", first_row: int = 1,
                lines: Sequence[int] | None = None, row_errors: Mapping[int, str] | None = None
                ) -> tuple[pd.DataFrame, list[RowError]]:
    """Score every row of ``frame`` (rows numbered from ``first_row``); returns (output, row errors).

    ``lines`` (each row's line in its file) adds a ``line`` column and names the line in errors;
    ``row_errors`` (position in ``frame`` -> why) marks rows already known to be bad (see :func:`read_case_file`).
    """
    import pandas as pd

    network = net.network
    targets = net.default_query_variables() if targets is None else list(targets)
    net._check_variables(targets)
    keep = list(keep)
    _check_keep(net, targets, keep)
    findings = finding_columns(net, frame, keep)
    n = len(frame)
    rows = np.arange(first_row, first_row + n)
    bad: dict[int, str] = dict(row_errors or {})
    lik: dict[str, np.ndarray] = {}
    for col in findings:
        var = network[col]
        state, invalid = state_codes(var, frame[col])
        for k, text in invalid:
            bad.setdefault(k, f"'{text}' is not a state of {col}; valid states: {', '.join(var.state_ids)}")
        observed = np.flatnonzero(state >= 0)
        if observed.size:
            vec = np.ones((n, var.card))
            vec[observed] = 0.0
            vec[observed, state[observed]] = 1.0
            lik[col] = vec
    summary = network.summary
    sources = dict(summary.members) if summary else {}
    wanted = list(dict.fromkeys([*targets, *sources.values()]))
    if n:
        post, log_z = net.engine.marginals(lik, wanted)
    else:
        post, log_z = {v: np.zeros((0, network[v].card)) for v in wanted}, np.zeros(0)
    for k in np.flatnonzero(~np.isfinite(log_z)):
        if k not in bad:
            bad[k] = _impossible_message(net, {v: a[k] for v, a in lik.items() if (a[k] != 1.0).any()})
    errors = [RowError(int(rows[k]), msg, None if lines is None else int(lines[k])) for k, msg in sorted(bad.items())]
    if errors and on_error == "fail":
        raise BatchError(f"{errors[0]} (use --on-error skip to keep going)")
    ok = np.ones(n, dtype=bool)
    ok[list(bad)] = False
    columns: dict[str, Any] = {c: frame[c].to_numpy() for c in keep}
    columns["row"] = rows
    if lines is not None:
        columns["line"] = np.asarray(lines, dtype=np.int64)
    for v in targets:
        for i, s in enumerate(network[v].state_ids):
            columns[f"P({v}={s})"] = np.where(ok, post[v][:, i], np.nan)
    for key, var in sources.items():
        columns[f"{summary.name}_{key}"] = np.where(ok, post[var][:, network[var].on_index], np.nan)
    columns["log_probability_of_evidence"] = np.where(ok, log_z, np.nan)
    error_text = np.full(n, "", dtype=object)
    for k, msg in bad.items():
        error_text[k] = msg
    columns["error"] = error_text
    info = net.info
    columns["network_id"] = np.full(n, info.id, dtype=object)
    columns["network_version"] = np.full(n, info.version, dtype=object)
    columns["network_sha256"] = np.full(n, info.sha256, dtype=object)
    return pd.DataFrame(columns), errors


def state_codes(var, column: pd.Series) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Each cell's state index (-1: blank or missing, i.e. not known) and the cells that name no state of
    ``var``, as (position, text)."""
    import pandas as pd

    # Factorise first and read the few distinct cells: string methods and .map over every row of every
    # column took more time than the inference (30 of 50 s for 1,000,000 rows of 12 findings).
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    texts = [str(u).strip() for u in uniques]
    index = {s: i for i, s in enumerate(var.state_ids)}
    # -1: not known (missing or blank), -2: not a state of the variable; the last entry is for NaN (-1 codes).
    lookup = np.array([index.get(t, -2) if t else -1 for t in texts] + [-1], dtype=np.intp)
    state = lookup[codes]
    invalid = [(int(k), texts[codes[k]]) for k in np.flatnonzero(state == -2)]
    state[state == -2] = -1
    return state, invalid


def record_codes(net: BayesNet, records: pd.DataFrame, *, ignore: Sequence[str] = (),
                 error: type[BNError] = BatchError) -> dict[str, np.ndarray]:
    """Each variable column of a records file as state indices (-1 where not recorded); the other columns must be
    in ``ignore``. A cell that names no state raises ``error`` naming the row and the valid states."""
    columns = finding_columns(net, records, list(ignore), flag="--ignore", advice="leave it out with")
    codes = {}
    for col in columns:
        state, bad = state_codes(net.network[col], records[col])
        if bad:
            row, text = bad[0]
            raise error(f"row {row + 1}: '{text}' is not a state of {col}; valid states: "
                        f"{', '.join(net.network[col].state_ids)}")
        codes[col] = state
    return codes


def finding_columns(net: BayesNet, frame: pd.DataFrame, keep: list[str], flag: str = "--keep",
                    advice: str = "pass it through with") -> list[str]:
    """The columns of ``frame`` that are variables of the network; any other column must be in ``keep``
    (given with ``flag`` on the command line), else BatchError with the closest variable ids."""
    missing = [c for c in keep if c not in frame.columns]
    if missing:
        raise BatchError(f"{flag} names column '{missing[0]}', which the cases file does not have")
    findings = []
    for col in frame.columns:
        if col in keep:
            continue
        if col not in net.network:
            close = difflib.get_close_matches(str(col), list(net.network.variables), n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise BatchError(f"column '{col}' is not a variable of network {net.network.id}; {hint}"
                             f"({advice} {flag} {col})")
        findings.append(col)
    return findings


def _impossible_message(net: BayesNet, lik: dict[str, np.ndarray]) -> str:
    from bn.evidence import Evidence

    findings = {v: net.network[v].state_ids[int(np.argmax(vec))] for v, vec in lik.items()}
    conflict = net.conflicting_findings(Evidence(findings))
    described = ", ".join(f"{v}={findings[v]}" for v in conflict)
    return f"these findings cannot all hold (probability 0): {described}"


# -- whole files ---------------------------------------------------------------------------------------

_WORKER_NETS: dict[tuple[str, str], BayesNet] = {}


def _score_chunk(reference: str, sha256: str, frame: pd.DataFrame, targets, keep, first_row: int, lines, errors):
    """Score one chunk on a Dask worker: the network is loaded (through the cache) once per worker."""
    key = (reference, sha256)
    if key not in _WORKER_NETS:
        from bn.cache import load

        net = load(reference)
        if net.info.sha256 != sha256:
            raise BatchError(f"the network file '{reference}' on the worker differs from the one given "
                             f"(sha256 {net.info.sha256[:16]}..., expected {sha256[:16]}...)")
        _WORKER_NETS[key] = net
    return score_frame(_WORKER_NETS[key], frame, targets=targets, keep=keep, on_error="skip", first_row=first_row,
                       lines=lines, row_errors=errors)


def score_cases(net: BayesNet, frame: pd.DataFrame, *, targets: Sequence[str] | None = None, keep: Sequence[str] = (),
                on_error: str = "skip", chunk_size: int = CHUNK_SIZE, dask: str | None = None,
                reference: str | None = None, progress: bool = True,
                report: Callable[[RowError], None] | None = None, lines: Sequence[int] | None = None,
                row_errors: Mapping[int, str] | None = None) -> tuple[pd.DataFrame, list[RowError]]:
    """Score a whole frame in chunks, locally or on a Dask cluster (``dask="local"`` or a scheduler address).

    ``lines`` and ``row_errors`` come from :func:`read_case_file` (see :func:`score_frame`).

    With Dask, ``reference`` (the network file path or id) is loaded by each worker and checked against
    this network's sha256. Results do not depend on where a chunk was scored.
    """
    import pandas as pd
    from tqdm import tqdm

    if on_error not in ("skip", "fail"):
        raise BatchError(f"unknown --on-error '{on_error}' (choose skip or fail)")
    targets = net.default_query_variables() if targets is None else list(targets)
    net._check_variables(targets)
    _check_keep(net, targets, list(keep))  # column problems fail before any work
    finding_columns(net, frame.iloc[:0], list(keep))
    starts = list(range(0, len(frame), chunk_size)) or [0]
    row_errors = dict(row_errors or {})
    chunks = [(frame.iloc[s:s + chunk_size], s + 1, None if lines is None else lines[s:s + chunk_size],
               {k - s: m for k, m in row_errors.items() if s <= k < s + chunk_size}) for s in starts]
    results: list[tuple[pd.DataFrame, list[RowError]] | None] = [None] * len(chunks)
    bar = tqdm(total=len(frame), unit="case", disable=not progress, file=sys.stderr, desc="scoring")
    try:
        if dask is None:
            for k, (chunk, first, chunk_lines, chunk_errors) in enumerate(chunks):
                results[k] = score_frame(net, chunk, targets=targets, keep=keep, on_error=on_error, first_row=first,
                                         lines=chunk_lines, row_errors=chunk_errors)
                _progress(bar, results[k], report)
        else:
            _score_on_dask(net, chunks, results, targets, keep, dask, reference, bar, report)
    finally:
        bar.close()
    errors = [e for r in results for e in r[1]]
    if errors and on_error == "fail":
        raise BatchError(f"{errors[0]} (use --on-error skip to keep going)")
    return pd.concat([r[0] for r in results], ignore_index=True), errors


def _progress(bar, result, report) -> None:
    bar.update(len(result[0]))
    if report:
        for e in result[1]:
            report(e)


def _score_on_dask(net, chunks, results, targets, keep, address, reference, bar, report) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise BatchError("--dask needs the 'distributed' package (pip install 'dask[distributed]')") from None
    if reference is None:
        raise BatchError("--dask needs the network's reference (a published id or a file path)")
    cluster = None
    try:
        if address == "local":
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
        else:
            client = Client(address, timeout="20s")
    except OSError as exc:
        raise BatchError(f"cannot reach the Dask scheduler at '{address}': {exc}") from None
    try:
        futures = {client.submit(_score_chunk, str(reference), net.info.sha256, chunk, targets, list(keep), first,
                                 chunk_lines, chunk_errors, pure=False)
                   : k for k, (chunk, first, chunk_lines, chunk_errors) in enumerate(chunks)}
        for future in as_completed(futures):
            k = futures[future]
            results[k] = future.result()
            _progress(bar, results[k], report)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def write_output(frame: pd.DataFrame, out: str | Path | None) -> None:
    """Parquet for ``.parquet`` files, CSV otherwise (standard output when ``out`` is None)."""
    from bn.files import atomic_path

    if out is not None and Path(out).suffix.lower() in (".parquet", ".pq"):
        try:
            with atomic_path(out) as tmp:
                frame.to_parquet(tmp, index=False)
        except OSError as exc:
            raise BatchError(f"cannot write '{out}': {exc}") from None
        return
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.Table.from_pandas(frame, preserve_index=False)
    try:
        if out is None:
            sink = pa.BufferOutputStream()
            pacsv.write_csv(table, sink)
            sys.stdout.write(sink.getvalue().to_pybytes().decode())
        else:
            with atomic_path(out) as tmp:  # a killed run leaves no half-written output under the final name
                pacsv.write_csv(table, str(tmp))
    except OSError as exc:
        raise BatchError(f"cannot write '{out}': {exc}") from None
