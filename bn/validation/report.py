"""The validation report: markdown, ``results.json`` and charts for one :class:`bn.validation.ValidationRun`.

The report keeps apart what its parts measure (``validation/README.md``):

1. **Headline: the locked test set.** Accuracy on published cases frozen before the network was tuned (top-1
   and top-2 for the knee-pain source and for the diagnosis, Brier and log scores, each with a 95% interval),
   marked *invalid* when the lock says so. Per-case test results appear only in an unblinded run.
2. **Development set** (published cases seen while building the network) and **teaching consistency**
   (textbook archetypes written by the project): each in its own section, titled as what it is.
3. **Literature concordance**: the *check* rows (figures the network was not set from, and combinations of
   findings) apart from the *input* rows (figures it was set from: these show how faithfully they were copied).
4. **Self-consistency**: simulated ROC and calibration and parameter recovery on data drawn from the network
   itself, outside the accuracy summary.

>>> import bn, tempfile
>>> from bn import validation as V
>>> run = V.run_all(bn.load("l4l5_knee@1.1.0"), fast=True)
>>> path = write_report(run, tempfile.mkdtemp())
>>> "## Headline: accuracy on the locked test set" in path.read_text()
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bn import jsonout
from bn.files import atomic_path, write_text
from bn.present import DISCLAIMER
from bn.validation import (
    OUT_DIR,
    RATIO_MEASURES,
    CaseResult,
    Reliability,
    ValidationError,
    ValidationRun,
    case_group,
    roc_curve,
    stability_summary,
)


def _fmt(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and math.isnan(x):
        return "n/a"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return f"{x:.{digits}f}"


def _stamp(network: Mapping[str, str], date: str) -> str:
    return (f"Network **{network['id']}** version **{network['version']}**, sha256 `{network['sha256']}`. "
            f"Generated {date} by `bn validate`.")


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_report(run: ValidationRun, out_dir: str | Path = OUT_DIR, comparison: Mapping[str, Any] | None = None
                 ) -> Path:
    """Write ``report.md``, ``results.json`` and the charts into ``out_dir``; returns the markdown path."""
    import json

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(f"cannot create report folder '{out}': {exc.strerror or exc}") from None
    charts = _charts(run, out)
    lines = [f"# Validation report: {run.network.id} {run.network.version}", "",
             _stamp(run.network.to_dict(), run.date), "",
             f"> {DISCLAIMER} These checks compare the network with published cases and figures; they are not a "
             "clinical validation on patients.", ""]
    lines += _headline_section(run)
    lines += _test_cases_section(run)
    lines += _group_section(run, "development", "2. Development set: published cases seen while building the network",
                            "These published cases were read, and some were used to adjust numbers, while the network "
                            "was built: good figures here show the network reproduces what it was fitted to, not how "
                            "it would do on a new patient.")
    lines += _group_section(run, "archetypes", "3. Teaching consistency: textbook archetypes",
                            "Cases written by the project to illustrate textbook facts (each says so in its source). "
                            "They check that the network behaves as textbooks say; they carry no independent "
                            "evidence and are not an accuracy measure.")
    lines += _stability_section(run)
    if "cases" in charts:
        lines += [f"![Per-case posteriors]({charts['cases']})", ""]
    lines += _concordance_section(run, charts)
    if run.simulation or run.recovery:
        lines += ["## 5. Self-consistency: data drawn from the network itself", "",
                  "Nothing in this section is accuracy on patients. Cases are sampled from the network and scored "
                  "by the same network, so they show the inference is exact and how separable the diagnoses are "
                  "if the network were right, and that its tables can be learnt back from records.", ""]
    if run.simulation:
        lines += _simulation_section(run, charts)
    if run.recovery:
        lines += _recovery_section(run, charts)
    if comparison:
        lines += comparison_markdown(comparison)
    lines += _sources_section(run)
    lines += ["## Timings", "", "| step | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in run.timings.items()]
    path = out / "report.md"
    write_text(path, "\n".join(lines) + "\n")
    results = json.loads(json.dumps(_results_json(run, comparison), default=_json_default))  # numpy -> plain
    write_text(out / "results.json", jsonout.dumps(results, indent=2) + "\n")
    return path


def _interval(m: Mapping[str, Any], digits: int = 2) -> str:
    lo, hi = m["ci95"]
    return f"{_fmt(lo, digits)}-{_fmt(hi, digits)}"


def _share(m: Mapping[str, Any]) -> str:
    return f"{_fmt(m['value'])} ({m['k']}/{m['n']}; {_interval(m)})" if m["n"] else "n/a (no case)"


def _mean(m: Mapping[str, Any], digits: int = 3) -> str:
    return f"{_fmt(m['value'], digits)} ({_interval(m, digits)}; n={m['n']})" if m["n"] else "n/a (no case)"


def _accuracy_table(summary: Mapping[str, Any]) -> list[str]:
    return ["| measure | value (k/n; 95% interval) |", "|---|---|",
            f"| knee-pain source top-1 | {_share(summary['source_top1'])} |",
            f"| knee-pain source top-2 | {_share(summary['source_top2'])} |",
            f"| diagnosis top-1 | {_share(summary['diagnosis_top1'])} |",
            f"| diagnosis top-2 | {_share(summary['diagnosis_top2'])} |",
            f"| source and diagnosis both top-1 | {_share(summary['top1'])} |",
            f"| Brier score, knee-pain sources (lower is better; bootstrap interval) | "
            f"{_mean(summary['brier_source'])} |",
            f"| mean log score of the established source (higher is better) | "
            f"{_mean(summary['log_score_source'])} |",
            f"| mean log score of the established diagnosis | {_mean(summary['log_score_diagnosis'])} |"]


def _headline_section(run: ValidationRun) -> list[str]:
    g = run.suite.groups["test"]
    lock = run.lock
    out = ["## Headline: accuracy on the locked test set", ""]
    if lock is None or lock.lock is None:
        status = "**INVALID: there is no test-set lock.**"
    elif lock.valid:
        status = (f"Valid: the {len(lock.lock.cases)} test cases are byte-for-byte those locked on {lock.lock.date} "
                  f"(when {lock.lock.network_id} {lock.lock.network_version} was current), and this version is not "
                  "older than the lock.")
    else:
        status = "**INVALID test-set figures:** " + "; ".join(lock.reasons) + "."
    out += [status, ""]
    if not g["cases"]:
        return [*out, "There are no test cases.", ""]
    out += [f"{g['cases']} published cases ({g['published_cases']} case reports or series, {g['teaching_cases']} "
            f"teaching cases with a named source), scored {g['scored']}"
            + (f" (not scorable by this version, which models nothing they established: "
               f"{', '.join(g['unscorable'])})" if g["unscorable"] else "") + ". Proportions carry Wilson 95% "
            "intervals, mean scores a seeded bootstrap over cases. A source is ranked among the network's "
            "knee-pain sources; a diagnosis among its diagnoses (ties count against the case).", ""]
    out += _accuracy_table(g)
    seen = sum(1 for name in run.test_set if run.seen.get(name))
    out += ["", f"Individual test results have been looked at (recorded unblindings) for {seen} of "
            f"{len(run.test_set)} test cases; see section 1.", ""]
    return out


def _case_rows(results: Sequence[CaseResult]) -> list[str]:
    out = ["| case | expected diagnosis | rank | P | expected source | rank | P | leading (dx / source) | top-1 | "
           "not in this version |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        c = r.case
        missing = [*c.dropped, *(f"dx {d}" for d in c.unmodelled)]
        if c.source_mapped:
            missing.append(c.source_mapped)
        out.append(f"| {c.id} | {', '.join(c.diagnoses) or '(none modelled)'} | {r.diagnosis_rank or '-'} | "
                   f"{_fmt(r.diagnosis_probability)} | {', '.join(c.knee_pain_sources) or '(no knee pain)'} | "
                   f"{r.source_rank or '-'} | {_fmt(r.source_probability)} | {r.leading_diagnosis} / "
                   f"{r.leading_source if 'knee_pain' in c.evidence.findings else '-'} | "
                   f"{'pass' if r.passed(1) else ('n/a' if not r.scorable else 'FAIL')} | "
                   f"{_md_escape('; '.join(missing))} |")
    return out


def _test_cases_section(run: ValidationRun) -> list[str]:
    results = run.suite.group("test")
    out = ["## 1. Test set: the cases", ""]
    if not results:
        return [*out, "No test cases.", ""]
    if run.unblinded:
        out += ["Unblinded run (recorded in `validation/test_set_views.yaml`): per-case results follow. *seen*: "
                "recorded unblindings of the case, this one included.", ""]
        rows = _case_rows(results)
        rows[0] += " seen |"
        rows[1] += "---|"
        for i, r in enumerate(results):
            rows[i + 2] += f" {run.seen.get(Path(r.case.path).name, 0)} |"
        return [*out, *rows, ""]
    out += ["Per-case test results are not shown: looking at them while tuning would make the test set a "
            "development set. `bn validate --unblind \"why\"` shows them and records the look. *seen*: how many "
            "recorded unblindings included the case.", "",
            "| case | kind | established source | tags | seen |", "|---|---|---|---|---|"]
    for r in results:
        c = r.case
        scored_as = f" (scored as {', '.join(c.knee_pain_sources)})" if c.source_mapped else ""
        out.append(f"| {c.id} | {c.kind} | {', '.join(c.sources_as_written) or '(no knee pain)'}{scored_as} | "
                   f"{', '.join(c.tags)} | {run.seen.get(Path(c.path).name, 0)} |")
    return [*out, ""]


def _group_section(run: ValidationRun, group: str, title: str, intro: str) -> list[str]:
    results = run.suite.group(group)
    out = [f"## {title}", "", intro, ""]
    if not results:
        return [*out, "No cases.", ""]
    out += _accuracy_table(run.suite.groups[group])
    out += ["", *_case_rows(results), ""]
    return out


def _sources_section(run: ValidationRun) -> list[str]:
    out = ["## Sources of the cases", ""]
    for r in run.suite.results:
        c = r.case
        link = f" <{c.link}>" if c.link and c.link not in c.source else ""
        confirmed = f" Confirmed by: {_md_escape(c.confirmed_by)}." if c.confirmed_by else ""
        out.append(f"- **{c.id}** ({GROUPS_SHORT[case_group(c)]}): {_md_escape(c.title)}. "
                   f"{_md_escape(c.source)}{link}.{confirmed}")
    return [*out, ""]


GROUPS_SHORT = {"test": "test set", "development": "development set", "archetypes": "textbook archetype"}


def _concordance_section(run: ValidationRun, charts: Mapping[str, str]) -> list[str]:
    by_kind = run.concordance.get("by_kind", {})
    out = ["## 4. Literature concordance", "",
           "What the network implies in each study's population (marginalising over everything else) against the "
           "published figure. *check* rows are figures the network was not set from, or combinations of findings "
           "whose joint behaviour it was never fitted to: they can show the model is wrong. *input* rows are "
           "figures the network's numbers were set from: they show how faithfully the inputs were copied into a "
           "different population, not whether the model is right. Wilson intervals were computed here from the "
           "study's n where the study gave none. For a row outside its interval, *plausible reach* is how far the "
           "implied value moves when the finding's parameters (and those of its latent parents) span their "
           "plausible ranges, one at a time and all together: a row whose reach includes the published value "
           "disagrees within the network's stated uncertainty; one whose reach does not needs the reason in its "
           "note.", ""]
    for kind, title in (("check", "Checks (independent figures and combinations)"),
                        ("input", "Inputs (figures the network was set from)")):
        c = by_kind.get(kind, {})
        rows = [r for r in run.concordance["rows"] if r.item.kind == kind]
        out += [f"### {title}", "",
                f"{c.get('inside', 0)} of {c.get('with_interval', 0)} inside their published interval "
                f"({c.get('items', 0)} rows, {c.get('items', 0) - c.get('computed', 0)} not computable in this "
                "version).", "",
                "| figure | measure | published | interval | implied | inside? | plausible reach | note |",
                "|---|---|---|---|---|---|---|---|"]
        for row in rows:
            it = row.item
            interval = f"{_fmt(it.interval[0])}-{_fmt(it.interval[1])} ({it.interval_kind})" if it.interval else "none"
            if row.implied is None:
                mark, implied = f"n/a (needs {', '.join(it.unavailable)})", "-"
            else:
                mark = {True: "yes", False: f"**no ({row.direction})**", None: f"n/a ({row.direction})"}[row.inside]
                implied = _fmt(row.implied)
            reach = "-" if row.reach is None else (f"{_fmt(row.reach[0])}-{_fmt(row.reach[1])} ("
                                                   f"{'reaches' if row.reaches_published else 'does not reach'})")
            out.append(f"| {_md_escape(it.label)} | {it.measure} | {_fmt(it.published)} | {interval} | "
                       f"{implied} | {mark} | {reach} | {_md_escape(it.note)} |")
        out.append("")
    if "concordance" in charts:
        out += [f"![Concordance]({charts['concordance']})", ""]
    out += ["### Sources of the figures", ""]
    out += [f"- **{row.item.id}** ({row.item.kind}): {_md_escape(row.item.source)}" for row in run.concordance["rows"]]
    return [*out, ""]


def _json_default(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, Reliability):
        return {"mean_predicted": x.mean_predicted.tolist(), "observed": x.observed.tolist(),
                "counts": x.counts.tolist(), "ece": x.ece}
    raise TypeError(type(x).__name__)


def _results_json(run: ValidationRun, comparison: Mapping[str, Any] | None) -> dict[str, Any]:
    def sim(s):
        if not s:
            return None
        return {k: v for k, v in s.items() if k not in ("posteriors", "truth")}

    cases = run.suite.to_dict()
    if not run.unblinded:  # the committed results must not leak per-case test answers either
        cases["cases"] = [c if c["split"] != "test" else {k: c[k] for k in ("id", "split", "kind", "sha256")}
                          for c in cases["cases"]]
        if "stable_cases" in cases["summary"]:
            cases["summary"] = {**cases["summary"], **stability_summary(_visible(run)),
                                "stability_counted_over": "development cases and archetypes (blinded run)"}
    return {"network": run.network.to_dict(), "date": run.date, "gate": run.gate, "cases": cases,
            "test_set": {"lock": run.lock.to_dict() if run.lock else None, "unblinded": run.unblinded,
                         "seen": {name: run.seen.get(name, 0) for name in sorted(run.test_set)}},
            "concordance": {"summary": run.concordance["summary"], "by_kind": run.concordance.get("by_kind"),
                            "rows": [r.to_dict() for r in run.concordance["rows"]]},
            "simulation": sim(run.simulation), "simulation_history_exam": sim(run.simulation_history_exam),
            "recovery": run.recovery, "comparison": comparison, "timings": run.timings}


def _visible(run: ValidationRun) -> list[CaseResult]:
    """The cases whose individual results this report may show: all of them when unblinded, else no test case."""
    return [r for r in run.suite.results if run.unblinded or r.case.split != "test"]


def _stability_section(run: ValidationRun) -> list[str]:
    s = run.suite.summary
    if "stable_cases" in s:  # counted over the cases this report may show (test cases only when unblinded)
        s = {**s, **stability_summary(_visible(run))}
    if "stable_cases" not in s:
        return ["Stability of each call under parameter uncertainty was not computed in this run (`--fast` skips "
                "it; `--stability-draws N` computes it).", ""]
    out = ["### Stability of the knee-pain source call under parameter uncertainty", "",
           f"Every parameter drawn jointly from its plausible range ({s['stability_draws']} draws, seed "
           f"{s['stability_seed']}, the same draws for every case; `bn.sensitivity.uncertainty`) and one parameter "
           "at a time, exactly (`bn.sensitivity.flip`, 'the leading source changes'). *established source*: the "
           "posterior of the source the report established, with the network's numbers, and its median and "
           "90% interval over the draws. *leader kept*: share of draws in which the network's leading source "
           f"still leads; the call is **stable** when this is at least {s['stable_share_threshold']:.0%}. "
           "*one-parameter flip*: can a single parameter within its plausible range change the leading source? "
           "(Stability is about the network's call, right or wrong: a stable call on a FAIL case is stably wrong.) "
           "Cases without knee pain have no source call." + ("" if run.unblinded else " Test cases are left out "
           "(their calls are their answers; an unblinded run shows them)."), "",
           "*leading diagnosis*: the same for the diagnosis the network ranks first (share of the same draws in "
           "which it still leads; in brackets, the shares in which an established diagnosis leads / is among "
           "the two leading diagnoses).", "",
           "| case | leading source | established source: P, median (90% interval) | established leads in | "
           "leader kept in | stable? | one-parameter flip | leading diagnosis kept in |",
           "|---|---|---|---|---|---|---|---|"]
    for r in _visible(run):
        st = r.stability
        if st is None:
            continue
        lo, hi = st.established_interval
        if st.flip_smallest:
            fs = st.flip_smallest
            flip_text = (f"yes, {st.flip_within_range}: smallest {_md_escape(fs['parameter'])} {fs['value']:g} -> "
                         f"{fs['new_value']:.3g} (new leader {fs['new_leader']})")
        else:
            flip_text = "no"  # changes outside the ranges are in results.json (flip_changes, flip_headline)
        if st.dx_leader_share is None:
            dx_text = "-"
        else:
            dx_text = (f"{st.dx_leader} {st.dx_leader_share:.0%}{'' if st.dx_stable else ' (**unstable**)'}"
                       + ("" if st.dx_established_share is None else
                          f" ({st.dx_established_share:.0%} / {st.dx_established_top2_share:.0%})"))
        out.append(f"| {r.case.id} | {st.leader} | {st.established}: {_fmt(st.established_point)}, "
                   f"{_fmt(st.established_median)} ({_fmt(lo)}-{_fmt(hi)}) | {st.established_share:.0%} | "
                   f"{st.leader_share:.0%} | {'stable' if st.stable else '**not stable**'} | {flip_text} | "
                   f"{dx_text} |")
    out += ["", f"{s['stable_cases']} of {s['stability_cases']} knee-pain source calls are stable; not stable: "
            f"{', '.join(s['unstable']) or 'none'}. A single parameter within its plausible range can change the "
            f"call in {len(s['flippable'])} case(s){': ' + ', '.join(s['flippable']) if s['flippable'] else ''}. "
            f"{s.get('diagnosis_stable_cases', 0)} of {s.get('diagnosis_stability_cases', 0)} leading-diagnosis "
            f"calls are stable; not stable: {', '.join(s.get('diagnosis_unstable', [])) or 'none'}.",
            ""]
    return out


def _simulation_section(run: ValidationRun, charts: Mapping[str, str]) -> list[str]:
    out = ["### 5.1 Simulated cases: discrimination and calibration", "",
           "Cases sampled from the network itself (knee pain present), diagnoses and mechanisms hidden. This "
           "measures how well the findings *can* separate the diagnoses if the network were exactly right: "
           "the ceiling, not accuracy on patients. Posteriors of a correct model are calibrated by "
           "construction, so a large ECE here would mean an inference bug.", ""]
    for label, sim in (("history, examination and imaging", run.simulation),
                       ("history and examination only", run.simulation_history_exam)):
        if not sim:
            continue
        out += [f"#### Observed: {label} (N={sim['n']}, seed {sim['seed']})", "",
                "| target | prevalence | AUC | ECE | Brier |", "|---|---|---|---|---|"]
        for name, m in [*sim["sources"].items(), *sim["diagnoses"].items()]:
            out.append(f"| {name} | {_fmt(m['prevalence'], 3)} | {_fmt(m['auc'], 3)} | {_fmt(m['ece'], 3)} | "
                       f"{_fmt(m['brier'], 3)} |")
        out += ["", f"Pooled ECE: diagnoses {_fmt(sim['reliability_diagnoses'].ece, 3)}, knee-pain sources "
                f"{_fmt(sim['reliability_sources'].ece, 3)}.", ""]
    for key, caption in (("roc", "ROC curves"), ("calibration", "Reliability curves")):
        if key in charts:
            out += [f"![{caption}]({charts[key]})", ""]
    return out


def _recovery_section(run: ValidationRun, charts: Mapping[str, str]) -> list[str]:
    rec = run.recovery
    out = ["### 5.2 Parameter recovery", "",
           "Tables learnt back from N sampled cases with pgmpy's MaximumLikelihoodEstimator and "
           f"BayesianEstimator (Dirichlet prior = {rec['prior_weight']:g} x the network's own row per parent "
           "configuration). Error: total-variation distance between learnt and true rows, weighted by how often "
           "each parent configuration occurs, averaged over variables (max = the worst variable).", "",
           "| N | MLE mean | MLE max | Bayesian mean | Bayesian max |", "|---|---|---|---|---|"]
    out += [f"| {r['n']} | {_fmt(r['mle'], 4)} | {_fmt(r['mle_max'], 4)} | {_fmt(r['bayes'], 4)} | "
            f"{_fmt(r['bayes_max'], 4)} |" for r in rec["rows"]]
    if "recovery" in charts:
        out += ["", f"![Parameter recovery]({charts['recovery']})"]
    return [*out, ""]


def comparison_markdown(cmp: Mapping[str, Any]) -> list[str]:
    """The version comparison as markdown: per-case shifts, changed calls, parameter diff."""
    a, b = cmp["a"], cmp["b"]
    out = [f"## Version comparison: {a['id']} {a['version']} -> {b['id']} {b['version']}", "",
           f"A: sha256 `{a['sha256']}`; B: sha256 `{b['sha256']}`.", "",
           f"Cases whose leading diagnosis or source changed: {', '.join(cmp['changed_cases']) or 'none'}.", "",
           "| case | leading diagnosis A -> B | leading source A -> B | largest shift | top-1 A / B |",
           "|---|---|---|---|---|"]
    for r in cmp["cases"]:
        shift = f"{r['largest_shift']} {r['largest_shift_value']:+.3f}" if r["largest_shift"] else "-"
        out.append(f"| {r['id']} | {' -> '.join(r['leading_diagnosis'])} | {' -> '.join(r['leading_source'])} | "
                   f"{shift} | {'/'.join('pass' if x else 'fail' for x in r['passed_top1'])} |")
    diff = cmp["parameters"]
    out += ["", "### Parameter differences", ""]
    if diff["added_variables"] or diff["removed_variables"]:
        out.append(f"Added variables: {', '.join(diff['added_variables']) or 'none'}; removed: "
                   f"{', '.join(diff['removed_variables']) or 'none'}.")
        out.append("")
    for s in diff["structure"]:
        out.append(f"- {s['variable']}: structure changed (parents {s['parents'][0]} -> {s['parents'][1]}, "
                   f"form {s['form'][0]} -> {s['form'][1]})")
    if diff["parameters"]:
        out += ["| variable | kind | position | A | B | provenance A -> B |", "|---|---|---|---|---|---|"]
        for p in diff["parameters"]:
            out.append(f"| {p['variable']} | {p['kind']} | {_md_escape(str(p['key']))} | {p['old']} | {p['new']} | "
                       f"{p['old_provenance']} -> {p['new_provenance']} |")
    elif not diff["structure"]:
        out.append("No parameter differs.")
    return [*out, ""]


def _charts(run: ValidationRun, out: Path) -> dict[str, str]:
    """PNG charts next to the report (relative names); empty when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    charts: dict[str, str] = {}
    title = f"{run.network.id} {run.network.version} ({run.network.sha256[:12]})"

    results = _visible(run)
    fig, ax = plt.subplots(figsize=(9, max(4, 0.32 * len(results))))
    ys = np.arange(len(results))
    ax.barh(ys - 0.18, [r.diagnosis_probability or 0 for r in results], height=0.35, label="established diagnosis")
    ax.barh(ys + 0.18, [r.source_probability or 0 for r in results], height=0.35, label="established source")
    stab = [(y, r.stability) for y, r in zip(ys, results) if r.stability is not None]
    if stab:
        med = np.array([st.established_median for _, st in stab])
        lo = np.array([st.established_interval[0] for _, st in stab])
        hi = np.array([st.established_interval[1] for _, st in stab])
        ax.errorbar(med, [y + 0.18 for y, _ in stab], xerr=[med - lo, hi - med], fmt="o", color="black", ms=3,
                    lw=1, capsize=2, label="source: median and 90% interval under parameter uncertainty")
    ax.set_yticks(ys, [r.case.id for r in results], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("posterior probability")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"Cases: posterior of what was established\n{title}", fontsize=9)
    charts["cases"] = _save(fig, out / "cases.png")

    rows = run.concordance["rows"]
    fig, ax = plt.subplots(figsize=(8, max(4, 0.3 * len(rows))))
    for i, row in enumerate(rows):
        it = row.item
        if it.interval:
            ax.plot(it.interval, [i, i], color="grey", lw=2)
        ax.plot(it.published, i, "o", color="grey", ms=5)
        if row.implied is None:  # not computable in this version: the published value alone
            continue
        colour = {True: "tab:green", False: "tab:red", None: "tab:orange"}[row.inside]
        ax.plot(min(row.implied, 1.0) if it.measure not in RATIO_MEASURES else row.implied, i,
                "D", color=colour, ms=5)
    ax.set_yticks(range(len(rows)), [r.item.id for r in rows], fontsize=7)
    ax.invert_yaxis()
    if any(r.item.measure in RATIO_MEASURES for r in rows):
        ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=0)
    ax.set_xlabel("grey: published value and interval; diamond: implied\n"
                  "(green inside, red outside, orange no interval)")
    ax.set_title(f"Literature concordance\n{title}", fontsize=9)
    charts["concordance"] = _save(fig, out / "concordance.png")

    if run.simulation:
        sim = run.simulation
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
        for k, var in sim["source_variables"].items():
            fpr, tpr = roc_curve(sim["posteriors"][var], sim["truth"][var])
            axes[0].plot(fpr, tpr, label=f"{k} (AUC {sim['sources'][k]['auc']:.2f})")
        for d, m in sim["diagnoses"].items():
            fpr, tpr = roc_curve(sim["posteriors"][d], sim["truth"][d])
            axes[1].plot(fpr, tpr, label=f"{d} ({m['auc']:.2f})", lw=1)
        for a, t in zip(axes, ("knee-pain sources", "diagnoses")):
            a.plot([0, 1], [0, 1], ":", color="grey")
            a.set_xlabel("false-positive rate")
            a.set_ylabel("true-positive rate")
            a.set_title(t, fontsize=9)
            a.legend(fontsize=6)
        fig.suptitle(f"ROC on {sim['n']} simulated knee-pain cases\n{title}", fontsize=9)
        charts["roc"] = _save(fig, out / "roc.png")

        fig, ax = plt.subplots(figsize=(5, 5))
        for label, rel in (("diagnoses", sim["reliability_diagnoses"]), ("sources", sim["reliability_sources"])):
            ok = rel.counts > 0
            ax.plot(rel.mean_predicted[ok], rel.observed[ok], "o-", label=f"{label} (ECE {rel.ece:.3f})")
        ax.plot([0, 1], [0, 1], ":", color="grey")
        ax.set_xlabel("mean predicted probability")
        ax.set_ylabel("observed frequency")
        ax.legend(fontsize=8)
        ax.set_title(f"Reliability, {sim['n']} simulated cases\n{title}", fontsize=9)
        charts["calibration"] = _save(fig, out / "calibration.png")

    if run.recovery:
        rows_r = run.recovery["rows"]
        fig, ax = plt.subplots(figsize=(6, 4))
        ns = [r["n"] for r in rows_r]
        ax.plot(ns, [r["mle"] for r in rows_r], "o-", label="maximum likelihood")
        ax.plot(ns, [r["bayes"] for r in rows_r], "s-", label="Bayesian (network as prior)")
        ax.set_xscale("log")
        ax.set_xlabel("N sampled cases")
        ax.set_ylabel("mean weighted total-variation error")
        ax.legend(fontsize=8)
        ax.set_title(f"Parameter recovery\n{title}", fontsize=9)
        charts["recovery"] = _save(fig, out / "recovery.png")
    return charts


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format=path.suffix.lstrip("."))
    plt.close(fig)
    return path.name
