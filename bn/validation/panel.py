"""A blinded clinician-panel study of the network, the way Hill et al. (2023) validated an expert-built
Bayesian network: clinicians judge the locked test cases from their findings alone, and the network's
answers are compared with theirs.

Two steps (``bn validate panel``):

1. :func:`write_booklet` writes ``booklet.html`` (the test cases as findings only, in a seeded random order,
   each under a neutral code: no title, source, diagnosis or network answer), ``responses.csv`` (the sheet
   a clinician fills in: for each case the probability that each knee-pain source contributes to the knee
   pain, and a leading diagnosis) and ``key.csv`` (code -> case file; for the study organiser only).
2. :func:`score_panel` reads the filled sheets and scores the network against each respondent and against
   the consensus (the mean of the respondents' probabilities): agreement on the leading source (Cohen's
   kappa, unweighted and weighted), the mean absolute difference of the source probabilities, the cases on
   which the network and the panel differ most, the respondents' agreement with each other (the yardstick
   the network's agreement should be read against) and, since every test case has an established answer,
   how often the network and the panel name it.

The weighted kappa gives half credit when one says "L4-L5" and the other "another lumbar level" (both name
the lumbar spine) and none for any other disagreement (:data:`KAPPA_WEIGHTS`).

>>> import numpy as np
>>> round(cohen_kappa(["knee", "hip", "knee", "hip"], ["knee", "hip", "hip", "hip"], ["knee", "hip"]), 3)
0.5
"""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bn.errors import BNError

MAX_RESPONSE_BYTES = 1024 * 1024
SOURCE_TEXT = {
    "l4l5_spine": "the L4-L5 spinal segment (disc, stenosis, slip or facet, through the L4 or L5 root)",
    "other_lumbar_level": "another lumbar level (L3-L4, L5-S1 or above)",
    "knee": "the knee itself",
    "hip": "the hip",
    "other": "something else (a peripheral nerve, the arteries, a tumour, ...)",
}
# Partial agreement between two leading sources: both name the lumbar spine, at different levels.
KAPPA_WEIGHTS = {frozenset({"l4l5_spine", "other_lumbar_level"}): 0.5}
GROUP_TITLES = (("risk_factor", "Patient"), ("history", "History"), ("exam", "Examination"),
                ("imaging", "Imaging"), ("tests", "Other tests"), ("red_flag", "Red flags"))


class PanelError(BNError):
    """A booklet that cannot be written or a response sheet that cannot be read."""


@dataclass(frozen=True)
class BookletCase:
    code: str
    file: str
    findings: dict[str, str]


def _vocabulary(path: Path) -> dict[str, Any]:
    from bn import safeyaml

    try:
        doc = safeyaml.load(path.read_text(encoding="utf-8"))
    except (OSError, safeyaml.YAMLError) as exc:
        raise PanelError(f"cannot read the vocabulary '{path}': {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("variables"), dict):
        raise PanelError(f"{path}: not a vocabulary file (no 'variables')")
    return doc


def booklet_cases(cases_dir: str | Path, vocabulary: Mapping[str, Any]) -> list[tuple[str, dict[str, str], dict]]:
    """(file name, findings, whole document) of every ``split: test`` case, findings checked against the
    vocabulary (a finding outside it is a :class:`PanelError` naming the file)."""
    from bn import safeyaml

    out = []
    variables = vocabulary["variables"]
    for path in sorted(Path(cases_dir).glob("*.yaml")):
        doc = safeyaml.load(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("split") != "test":
            continue
        findings = {str(k): str(v) for k, v in (doc.get("findings") or {}).items()}
        for var, state in findings.items():
            spec = variables.get(var)
            if spec is None or state not in [str(s) for s in spec["states"]]:
                raise PanelError(f"{path.name}: {var}={state} is not in the public vocabulary")
        out.append((path.name, findings, doc))
    if not out:
        raise PanelError(f"no test cases (split: test) in '{cases_dir}'")
    return out


def _label(var: str, spec: Mapping[str, Any]) -> str:
    return str(spec.get("label") or var.replace("_", " ").capitalize())


def _state_text(state: str) -> str:
    return state.replace("_", " ").replace("65 plus", "65 or over").replace("under 40", "18-39").replace(
        "40 to 64", "40-64")


def write_booklet(cases_dir: str | Path, out_dir: str | Path, *, vocabulary_file: str | Path, seed: int = 0,
                  network: Mapping[str, str] | None = None) -> list[BookletCase]:
    """Write ``booklet.html``, ``responses.csv`` and ``key.csv`` for the test cases into ``out_dir``.

    The order is a seeded permutation; codes are ``C01``, ``C02``... in booklet order. Nothing the network
    computes, and nothing that names the answer (title, source, note, expected), goes into the booklet.
    """
    vocab = _vocabulary(Path(vocabulary_file))
    cases = booklet_cases(cases_dir, vocab)
    order = np.random.default_rng(seed).permutation(len(cases))
    booklet = [BookletCase(f"C{i + 1:02d}", cases[j][0], cases[j][1]) for i, j in enumerate(order)]
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PanelError(f"cannot create '{out}': {exc.strerror or exc}") from None
    sources = list(vocab.get("knee_pain_sources") or SOURCE_TEXT)
    (out / "booklet.html").write_text(_booklet_html(booklet, vocab, sources, seed), encoding="utf-8")
    with open(out / "responses.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["respondent", "case", *(f"p_{s}" for s in sources), "leading_diagnosis", "comment"])
        for c in booklet:
            w.writerow(["", c.code, *([""] * len(sources)), "", ""])
    with open(out / "key.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["case", "file", "seed", "network"])
        name = f"{network['id']} {network['version']}" if network else ""
        for c in booklet:
            w.writerow([c.code, c.file, seed, name])
    return booklet


def _booklet_html(booklet: Sequence[BookletCase], vocab: Mapping[str, Any], sources: Sequence[str], seed: int) -> str:
    variables = vocab["variables"]
    diagnoses = [v for v, s in variables.items() if s.get("role") == "diagnosis" and v != "intrinsic_knee_disease"]
    e = html.escape
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Knee pain: where does it come "
             "from? Case booklet</title><style>body{font-family:sans-serif;max-width:52em;margin:2em auto;"
             "line-height:1.4}section{border-top:1px solid #999;padding:1em 0;page-break-inside:avoid}"
             "h2{margin:0.2em 0}dt{font-weight:bold;margin-top:0.4em}</style></head><body>",
             "<h1>Knee pain: where does it come from?</h1>",
             "<p>Each case is an adult whose presentation included knee pain. Only the findings listed were "
             "reported; anything not listed is unknown (not normal). For every case, write in the response "
             "sheet (<code>responses.csv</code>, one row per case, your name or code in <em>respondent</em>) the "
             "probability, from 0 to 1, that each of these is producing at least part of the knee pain. Sources "
             "can coexist, so the probabilities need not add up to 1:</p><ul>"]
    parts += [f"<li><code>p_{e(s)}</code>: {e(SOURCE_TEXT.get(s, s))}</li>" for s in sources]
    parts += ["</ul><p>and your leading diagnosis, as one of these ids (or <code>none</code> if it is none of "
              f"them): {', '.join(f'<code>{e(d)}</code>' for d in diagnoses)}.</p>",
              f"<p>Please do not discuss the cases with other respondents. Booklet order: seed {seed}.</p>"]
    for c in booklet:
        parts.append(f"<section><h2>Case {e(c.code)}</h2><dl>")
        for role, title in GROUP_TITLES:
            items = [(v, s) for v, s in c.findings.items()
                     if variables[v].get("group", variables[v].get("role")) == role
                     or (role in ("risk_factor", "red_flag") and variables[v].get("role") == role)]
            if items:
                parts.append(f"<dt>{e(title)}</dt>")
                parts += [f"<dd>{e(_label(v, variables[v]))}: {e(_state_text(s))}</dd>" for v, s in items]
        parts.append("</dl></section>")
    parts.append("</body></html>")
    return "\n".join(parts)


# -- scoring --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    respondent: str
    code: str
    probabilities: dict[str, float]
    leading_diagnosis: str


def read_responses(paths: Sequence[str | Path], sources: Sequence[str]) -> list[Response]:
    """Every filled row of the response sheets; a bad cell is a :class:`PanelError` naming file, line, column.

    Rows with no probability at all (an unanswered case) are skipped; a partly filled row is an error.
    """
    out = []
    for path in paths:
        path = Path(path)
        try:
            if path.stat().st_size > MAX_RESPONSE_BYTES:
                raise PanelError(f"{path}: larger than {MAX_RESPONSE_BYTES:,} bytes")
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PanelError(f"cannot read response sheet '{path}': {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise PanelError(f"{path}: not a UTF-8 text file") from None
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        needed = ["respondent", "case", *(f"p_{s}" for s in sources), "leading_diagnosis"]
        if header is None or any(h not in header for h in needed):
            raise PanelError(f"{path}: the header must have the columns {', '.join(needed)}")
        col = {h: header.index(h) for h in needed}
        for line, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise PanelError(f"{path}, line {line}: {len(row)} fields where the header has {len(header)}")
            cells = [row[col[f"p_{s}"]].strip() for s in sources]
            if not any(cells):
                continue
            probs = {}
            for s, cell in zip(sources, cells, strict=True):
                try:
                    x = float(cell)
                except ValueError:
                    raise PanelError(f"{path}, line {line}, p_{s}: '{cell}' is not a probability (0 to 1)") from None
                if not (math.isfinite(x) and 0.0 <= x <= 1.0):
                    raise PanelError(f"{path}, line {line}, p_{s}: {cell} is not between 0 and 1")
                probs[s] = x
            who = row[col["respondent"]].strip()
            if not who:
                raise PanelError(f"{path}, line {line}: the respondent is empty")
            out.append(Response(who, row[col["case"]].strip(), probs, row[col["leading_diagnosis"]].strip()))
    if not out:
        raise PanelError("the response sheets hold no answered case")
    return out


def read_key(path: str | Path) -> dict[str, str]:
    """Booklet code -> case file name, from ``key.csv``."""
    try:
        rows = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
    except (OSError, UnicodeDecodeError) as exc:
        raise PanelError(f"cannot read the booklet key '{path}': {exc}") from None
    if not rows or "case" not in rows[0] or "file" not in rows[0]:
        raise PanelError(f"{path}: not a booklet key (columns case, file)")
    return {r["case"]: r["file"] for r in rows}


def cohen_kappa(a: Sequence[str], b: Sequence[str], categories: Sequence[str],
                weights: Mapping[frozenset, float] | None = None) -> float:
    """Cohen's kappa of two raters' labels; with ``weights`` (agreement credit for unequal pairs), the
    weighted kappa. NaN when chance agreement is perfect (both raters always give the same one label)."""
    k = len(categories)
    index = {c: i for i, c in enumerate(categories)}
    table = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        table[index[x], index[y]] += 1
    table /= table.sum()
    w = np.eye(k)
    for pair, credit in (weights or {}).items():
        x, y = tuple(pair)
        if x in index and y in index:
            w[index[x], index[y]] = w[index[y], index[x]] = credit
    observed = float((w * table).sum())
    expected = float((w * np.outer(table.sum(axis=1), table.sum(axis=0))).sum())
    return float("nan") if math.isclose(expected, 1.0) else (observed - expected) / (1.0 - expected)


def _leader(probs: Mapping[str, float], sources: Sequence[str]) -> str:
    return max(sources, key=lambda s: probs[s])  # ties go to the first in vocabulary order


def score_panel(responses: Sequence[Response], key: Mapping[str, str],
                network_answers: Mapping[str, Mapping[str, float]], established: Mapping[str, Sequence[str]],
                sources: Sequence[str], *, top: int = 5) -> dict[str, Any]:
    """Agreement of the network with each respondent and with the consensus.

    ``network_answers``: case file -> {source: P(source)}; ``established``: case file -> established source
    keys (empty when the case has none); ``key``: booklet code -> case file.
    """
    by_resp: dict[str, dict[str, Response]] = {}
    for r in responses:
        if r.code not in key:
            raise PanelError(f"respondent {r.respondent}: case '{r.code}' is not in the booklet key")
        if r.code in by_resp.setdefault(r.respondent, {}):
            raise PanelError(f"respondent {r.respondent} answered case {r.code} twice")
        by_resp[r.respondent][r.code] = r

    def agreement(pairs: Sequence[tuple[Mapping[str, float], Mapping[str, float]]]) -> dict[str, Any]:
        la = [_leader(x, sources) for x, _ in pairs]
        lb = [_leader(y, sources) for _, y in pairs]
        mad = float(np.mean([abs(x[s] - y[s]) for x, y in pairs for s in sources]))
        return {"cases": len(pairs), "agreement": float(np.mean([p == q for p, q in zip(la, lb, strict=True)])),
                "kappa": cohen_kappa(la, lb, sources), "weighted_kappa": cohen_kappa(la, lb, sources, KAPPA_WEIGHTS),
                "mean_abs_difference": mad}

    respondents = {}
    for who, answers in sorted(by_resp.items()):
        pairs = [(network_answers[key[c]], r.probabilities) for c, r in sorted(answers.items())]
        respondents[who] = agreement(pairs)
    codes = sorted({c for answers in by_resp.values() for c in answers})
    consensus = {c: {s: float(np.mean([a[c].probabilities[s] for a in by_resp.values() if c in a]))
                     for s in sources} for c in codes}
    vs_consensus = agreement([(network_answers[key[c]], consensus[c]) for c in codes])
    names = sorted(by_resp)
    between: list[dict[str, Any]] = []

    def mean_of(key_: str) -> float:
        values = [b[key_] for b in between if not math.isnan(b[key_])]
        return float(np.mean(values)) if values else float("nan")

    for i, x in enumerate(names):
        for y in names[i + 1:]:
            common = sorted(set(by_resp[x]) & set(by_resp[y]))
            if common:
                between.append(agreement([(by_resp[x][c].probabilities, by_resp[y][c].probabilities) for c in common]))
    differences = sorted(
        ({"case": c, "file": key[c], "network": dict(network_answers[key[c]]), "panel": consensus[c],
          "difference": float(np.mean([abs(network_answers[key[c]][s] - consensus[c][s]) for s in sources])),
          "network_leader": _leader(network_answers[key[c]], sources), "panel_leader": _leader(consensus[c], sources),
          "established": list(established.get(key[c], []))} for c in codes),
        key=lambda d: -d["difference"])

    def hits(get_probs, answered: Sequence[str] = codes) -> dict[str, Any]:
        scored = [c for c in answered if established.get(key[c])]
        k = sum(1 for c in scored if _leader(get_probs(c), sources) in established[key[c]])
        return {"cases": len(scored), "top1": k / len(scored) if scored else float("nan"), "k": k}

    return {
        "respondents": respondents, "consensus": vs_consensus,
        "between_respondents": {
            "pairs": len(between),
            "mean_kappa": mean_of("kappa"), "mean_weighted_kappa": mean_of("weighted_kappa"),
            "mean_abs_difference": mean_of("mean_abs_difference")},
        "largest_differences": differences[:top],
        "established_source_top1": {"network": hits(lambda c: network_answers[key[c]]),
                                    "consensus": hits(lambda c: consensus[c]),
                                    **{f"respondent {w}": hits(lambda c, w=w: by_resp[w][c].probabilities,
                                                               sorted(by_resp[w])) for w in names}},
        "sources": list(sources), "cases": len(codes), "kappa_weights": {" / ".join(sorted(k)): v
                                                                        for k, v in KAPPA_WEIGHTS.items()},
    }


def panel_markdown(result: Mapping[str, Any], network: Mapping[str, str]) -> str:
    """The panel comparison as a short markdown report, stamped with the network."""
    def f(x: float, d: int = 2) -> str:
        return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{d}f}"

    lines = [f"# Clinician panel: {network['id']} {network['version']}", "",
             f"Network sha256 `{network['sha256']}`. {result['cases']} test cases answered by "
             f"{len(result['respondents'])} respondent(s). Leading source = the source with the highest probability. "
             "Weighted kappa: half credit for L4-L5 against another lumbar level.", "",
             "| comparison | cases | agreement on the leading source | kappa | weighted kappa | mean abs. difference |",
             "|---|---|---|---|---|---|"]
    for who, a in result["respondents"].items():
        lines.append(f"| network vs {who} | {a['cases']} | {f(a['agreement'])} | {f(a['kappa'])} | "
                     f"{f(a['weighted_kappa'])} | {f(a['mean_abs_difference'], 3)} |")
    c = result["consensus"]
    lines.append(f"| network vs consensus | {c['cases']} | {f(c['agreement'])} | {f(c['kappa'])} | "
                 f"{f(c['weighted_kappa'])} | {f(c['mean_abs_difference'], 3)} |")
    b = result["between_respondents"]
    lines += ["", f"Between respondents ({b['pairs']} pairs): mean kappa {f(b['mean_kappa'])}, weighted "
              f"{f(b['mean_weighted_kappa'])}, mean absolute difference {f(b['mean_abs_difference'], 3)}: the "
              "yardstick for the network's agreement.", "",
              "Established source named first:", ""]
    lines += [f"- {who}: {h['k']} of {h['cases']} ({f(h['top1'])})"
              for who, h in result["established_source_top1"].items()]
    lines += ["", "Cases where the network and the panel differ most:", "",
              "| case | file | established | network leads | panel leads | mean abs. difference |",
              "|---|---|---|---|---|---|"]
    for d in result["largest_differences"]:
        lines.append(f"| {d['case']} | {d['file']} | {', '.join(d['established']) or '-'} | {d['network_leader']} | "
                     f"{d['panel_leader']} | {f(d['difference'], 3)} |")
    return "\n".join(lines) + "\n"
