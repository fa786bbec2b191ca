"""Does the data contradict the network? Four checks of a clinic's records against a network (``bn learn
--report``).

The records describe the clinic's own patients, who may differ from the population the network was built for;
every figure here is about the records, not a verdict on the literature behind the network.

1. **Calibration** (per finding): the observed frequency of each state against the network's predictive
   probability given the record's own recorded causes (risk factors and diagnoses) and the clinic's inclusion
   criterion (a column with the same state in every record, such as knee pain: the records were selected on
   it, so every prediction is conditioned on it). Conditioning on the causes keeps the clinic's case mix out of
   it: what is left is how the finding behaves. A chi-square goodness-of-fit over the finding's states (scipy's
   ``chisquare``), with Benjamini-Hochberg control over the findings.
2. **Conflict** (per record): Jensen's conflict measure, ``log2(prod_i P(e_i) / P(e))`` over the record's
   recorded values; positive when they fit the network worse than if they were independent. The distribution
   and the records most at odds (row numbers, never their contents).
3. **Moved parameters** (per table row): the network's row as a Dirichlet prior worth ``prior_weight`` records,
   updated with the records in which the variable and all its parents are known. A row is flagged when the
   network's value lies outside the posterior 99% interval. Rows of cause tables (risk factors, diagnoses) are
   the clinic's case mix; rows of finding tables are how tests behave. Tables whose parents are never recorded
   (the nerve-root mechanisms) cannot be checked this way (``bn learn --method em`` estimates them).
4. **Missing arcs**: for each binary finding F and each recorded cause D that is not an ancestor of F, do the
   records' deviations from the network's prediction of F differ between the levels of D? The network's
   prediction for a record already conditions on D (and on the inclusion criterion, which makes causes and
   findings dependent that are independent in the general population: a plain independence test would
   flag that selection as missing arcs). Within each stratum of F's recorded ancestors (so that a wrong
   number in F's own table, whose error varies with those ancestors, is not taken for an arc), the score
   statistic for a level-specific shift, ``sum_d R_d^2 / V_d - (sum_d R_d)^2 / sum_d V_d`` with ``R_d`` the
   summed residuals and ``V_d`` the summed binomial variances ``p (1 - p)``, is chi-square with one degree of
   freedom per extra level; summed over strata, with Benjamini-Hochberg control over all pairs. Only cells
   with at least five expected records with and without the finding count (the chi-square approximation
   fails for rarer events), so rare findings are mostly not testable. A small q
   suggests an arc D -> F that the network lacks.

>>> import bn, pandas as pd
>>> net = bn.load("l4l5_knee@1.1.0")
>>> records = pd.DataFrame({"age_group": ["65_plus", "40_to_64"] * 50, "knee_pain": ["present"] * 100,
...                         "straight_leg_raise": ["negative"] * 90 + ["positive"] * 10})
>>> check = check_records(net, records)
>>> check.records, check.selection, [c.variable for c in check.calibration]
(100, ['knee_pain'], ['straight_leg_raise'])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bn.errors import BNError
from bn.inference import BayesNet
from bn.limits import check_time
from bn.model import Network, NetworkInfo

if TYPE_CHECKING:
    import pandas as pd

CAUSE_ROLES = ("risk_factor", "diagnosis")
FINDING_ROLES = ("finding", "red_flag")
POSTERIOR_LEVEL = 0.99  # a row is "moved" when the network's value is outside this posterior interval
SHOWN_LEVEL = 0.90      # the posterior interval the report shows
MIN_EXPECTED = 5.0      # expected events of each kind a cell of an arc test needs


class DataCheckError(BNError):
    """Records that cannot be checked (unknown column or state, nothing recorded)."""


@dataclass(frozen=True)
class FindingCalibration:
    variable: str
    label: str
    records: int              # records in which the finding is known
    state: str                # the state shown: the on-state of a binary finding, else the most discrepant one
    observed: float           # its observed frequency
    predicted: float          # its mean predicted probability given each record's recorded causes
    chi2: float
    dof: int
    p_value: float
    q_value: float = math.nan

    @property
    def flagged(self) -> bool:
        return self.q_value < 0.05


@dataclass(frozen=True)
class MovedParameter:
    variable: str
    when: str                 # the parent states of the row ("" for a table without parents)
    state: str
    kind: str                 # "cause" (risk factor or diagnosis: case mix) or "finding" (how a test behaves)
    network_value: float
    network_range: tuple[float, float] | None
    records: int              # records with the whole family known in this row
    posterior_mean: float
    posterior_interval: tuple[float, float]  # SHOWN_LEVEL
    tail: float               # posterior probability beyond the network's value, two-sided

    @property
    def flagged(self) -> bool:
        return self.tail < 1.0 - POSTERIOR_LEVEL

    @property
    def name(self) -> str:
        return f"P({self.variable}={self.state}" + (f" | {self.when})" if self.when else ")")


@dataclass(frozen=True)
class ArcTest:
    finding: str
    cause: str
    given: tuple[str, ...]
    records: int
    chi2: float
    dof: int
    p_value: float
    q_value: float = math.nan

    @property
    def suggested(self) -> bool:
        return self.q_value < 0.05


@dataclass(frozen=True)
class DataCheck:
    """The four checks of :func:`check_records` (see the module docstring)."""

    network: NetworkInfo
    data_name: str
    data_sha256: str
    records: int
    prior_weight: float
    selection: list[str]                  # columns constant over the records: the inclusion criterion
    calibration: list[FindingCalibration]
    conflict: np.ndarray                  # per record, bits (NaN where fewer than two values are recorded)
    impossible_rows: list[int]            # records the network gives probability 0 (1-based rows)
    most_at_odds: list[tuple[int, float]]  # (row, conflict), highest first
    moved: list[MovedParameter]           # most moved first
    arcs: list[ArcTest]                   # smallest q first
    unchecked_tables: list[str]           # tables with a parent never recorded

    def to_dict(self) -> dict[str, Any]:
        finite = self.conflict[np.isfinite(self.conflict)]
        return {
            "network": self.network.to_dict(), "records": {"name": self.data_name, "sha256": self.data_sha256,
                                                           "rows": self.records},
            "prior_weight": self.prior_weight, "inclusion_criterion": self.selection,
            "calibration": [{**c.__dict__, "flagged": c.flagged} for c in self.calibration],
            "conflict": {"records": int(finite.size), "median_bits": float(np.median(finite)) if finite.size else None,
                         "positive_share": float(np.mean(finite > 0)) if finite.size else None,
                         "most_at_odds": [{"row": r, "bits": b} for r, b in self.most_at_odds],
                         "impossible_rows": self.impossible_rows},
            "moved_parameters": [{**m.__dict__, "name": m.name, "flagged": m.flagged} for m in self.moved],
            "arc_tests": [{**a.__dict__, "given": list(a.given), "suggested": a.suggested} for a in self.arcs],
            "unchecked_tables": self.unchecked_tables,
        }

    def to_frame(self, part: str = "moved"):
        """One of the checks as a table: ``"calibration"``, ``"moved"`` (parameters), ``"arcs"`` or ``"conflict"``
        (one row per record)."""
        import pandas as pd

        if part == "conflict":
            return pd.DataFrame({"row": np.arange(1, self.records + 1), "conflict_bits": self.conflict})
        rows = {"calibration": self.calibration, "moved": self.moved, "arcs": self.arcs}.get(part)
        if rows is None:
            raise DataCheckError(f"unknown part '{part}' (choose calibration, moved, arcs or conflict)")
        return pd.DataFrame([{**r.__dict__, "flagged": getattr(r, "flagged", getattr(r, "suggested", None))}
                             for r in rows])


def record_codes(net: BayesNet, records: pd.DataFrame, *, ignore: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Each variable column as state indices (-1 where not recorded); DataCheckError for an unknown state."""
    from bn.batch import record_codes as codes_of

    codes = codes_of(net, records, ignore=ignore, error=DataCheckError)
    if not codes:
        raise DataCheckError("the records have no column that is a variable of the network")
    return codes


def check_records(net: BayesNet, records: pd.DataFrame, *, prior_weight: float = 10.0, ignore: Sequence[str] = (),
                  data_name: str = "records", data_sha256: str = "", top: int = 10) -> DataCheck:
    """Check ``records`` (one patient per row, columns are variable ids) against ``net``."""
    if not prior_weight > 0:
        raise DataCheckError(f"the prior weight must be positive (got {prior_weight})")
    network = net.network
    codes = record_codes(net, records, ignore=ignore)
    n = len(records)
    causes = [v for v in codes if network[v].role in CAUSE_ROLES]
    selection = [v for v in codes if n and (codes[v] >= 0).all() and np.unique(codes[v]).size == 1
                 and v not in causes]
    findings = [v for v in codes if network[v].role in FINDING_ROLES and v not in selection]
    post, log_z = _predictions(net, codes, [*causes, *selection], findings, n)
    calibration = _calibration(network, codes, findings, post, log_z)
    conflict, impossible = _conflict(net, codes, n)
    order = np.argsort(-np.nan_to_num(conflict, nan=-np.inf))
    at_odds = [(int(k) + 1, float(conflict[k])) for k in order[:top] if np.isfinite(conflict[k])]
    moved, unchecked = _moved(network, codes, prior_weight)
    arcs = _arcs(network, codes, causes, findings, post, log_z)
    return DataCheck(net.info, data_name, data_sha256, n, prior_weight, selection, calibration, conflict, impossible,
                     at_odds, moved, arcs, unchecked)


def _indicators(network: Network, codes: dict[str, np.ndarray], variables: Sequence[str], n: int
                ) -> dict[str, np.ndarray]:
    lik = {}
    for v in variables:
        vec = np.ones((n, network[v].card))
        known = codes[v] >= 0
        vec[known] = np.eye(network[v].card)[codes[v][known]]
        lik[v] = vec
    return lik


def _predictions(net: BayesNet, codes, evidence, findings, n) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """P(finding | each record's recorded causes and the inclusion criterion), in one batched pass over the
    distinct combinations of those values (a clinic's records repeat a few hundred of them)."""
    if not findings or not n:
        return {}, np.zeros(n)
    matrix = np.stack([codes[v] for v in evidence], axis=1) if evidence else np.zeros((n, 0), dtype=int)
    distinct, back = np.unique(matrix, axis=0, return_inverse=True)
    back = back.reshape(-1)
    post, log_z = net.engine.marginals(
        _indicators(net.network, {v: distinct[:, j] for j, v in enumerate(evidence)}, evidence, len(distinct)),
        findings)
    return {f: m[back] for f, m in post.items()}, log_z[back]


def _calibration(network: Network, codes, findings, post, log_z) -> list[FindingCalibration]:
    from scipy.stats import chisquare, false_discovery_control

    out = []
    for f in findings:
        known = (codes[f] >= 0) & np.isfinite(log_z)
        if not known.any():
            continue
        var = network[f]
        observed = np.bincount(codes[f][known], minlength=var.card).astype(float)
        expected = post[f][known].sum(axis=0)
        positive = expected > 0
        k = int(known.sum())
        if positive.sum() > 1 and np.all(observed[~positive] == 0):
            test = chisquare(observed[positive], expected[positive] * observed.sum() / expected[positive].sum())
            stat, dof, p = float(test.statistic), int(positive.sum()) - 1, float(test.pvalue)
        elif positive.sum() > 1:  # a state the network calls impossible was recorded
            stat, dof, p = math.inf, int(positive.sum()), 0.0
        else:
            stat, dof, p = 0.0, 0, 1.0
        shown = var.on_index if var.card == 2 else int(np.argmax(np.abs(observed - expected)))
        out.append(FindingCalibration(f, var.display_label, k, var.state_ids[shown], observed[shown] / k,
                                      expected[shown] / k, stat, dof, p))
    q = false_discovery_control([c.p_value for c in out], method="bh") if out else []
    out = [FindingCalibration(**{**c.__dict__, "q_value": float(qv)}) for c, qv in zip(out, q)]
    return sorted(out, key=lambda c: (c.q_value, -c.chi2))


def _conflict(net: BayesNet, codes, n) -> tuple[np.ndarray, list[int]]:
    network = net.network
    variables = list(codes)
    lik = _indicators(network, codes, variables, n)
    # marginals, not log_probability_of_evidence: it splits a batch by evidence pattern onto pruned trees
    _, log_z = net.engine.marginals(lik, [variables[0]])
    priors = net.priors(variables)
    log_single = np.zeros(n)
    recorded = np.zeros(n, dtype=int)
    for v in variables:
        known = codes[v] >= 0
        p = np.array([priors[v][s] for s in network[v].state_ids])
        with np.errstate(divide="ignore"):
            log_single[known] += np.log(p[codes[v][known]])
        recorded += known
    impossible = [int(k) + 1 for k in np.flatnonzero(~np.isfinite(log_z))]
    with np.errstate(invalid="ignore"):
        conflict = (log_single - log_z) / math.log(2.0)
    conflict[(recorded < 2) | ~np.isfinite(log_z)] = np.nan
    return conflict, impossible


def _moved(network: Network, codes, weight) -> tuple[list[MovedParameter], list[str]]:
    from scipy.stats import beta

    moved, unchecked = [], []
    for vid, var in network.variables.items():
        if vid not in codes or var.form in ("deterministic_or", "mixture"):
            continue
        family = [*var.parents, vid]
        if any(p not in codes for p in var.parents):
            unchecked.append(vid)
            continue
        known = np.all([codes[f] >= 0 for f in family], axis=0)
        shape = [network[f].card for f in family]
        counts = np.bincount(np.ravel_multi_index([codes[f][known] for f in family], shape),
                             minlength=int(np.prod(shape))).reshape(shape).astype(float)
        table = np.asarray(var.cpt, dtype=float)
        post = weight * table + counts
        kind = "cause" if var.role in CAUSE_ROLES else "finding"
        ranges = {p.key: p.range for p in var.parameters if p.kind == "row"}
        for index in np.ndindex(*table.shape[:-1]):
            seen = int(counts[index].sum())
            if not seen:
                continue
            when = ", ".join(f"{p}={network[p].state_ids[i]}" for p, i in zip(var.parents, index))
            states = [var.on_index] if var.card == 2 else range(var.card)
            total = float(post[index].sum())
            for s in states:
                t, a = float(table[index][s]), float(post[index][s])
                b = total - a
                if a <= 0 or b <= 0:
                    continue  # a structural 0 or 1: contradicting records are reported by bn learn
                tail = 2.0 * min(float(beta.cdf(t, a, b)), float(beta.sf(t, a, b)))
                lo, hi = (float(x) for x in beta.ppf([(1 - SHOWN_LEVEL) / 2, (1 + SHOWN_LEVEL) / 2], a, b))
                rng = ranges.get(when or "(no parents)")
                moved.append(MovedParameter(vid, when, var.state_ids[s], kind, t,
                                            tuple(rng) if isinstance(rng, (tuple, list)) else None, seen, a / total,
                                            (lo, hi), tail))
    return sorted(moved, key=lambda m: (m.tail, -abs(m.posterior_mean - m.network_value))), unchecked


def _arcs(network: Network, codes, causes, findings, post, log_z) -> list[ArcTest]:
    from scipy.stats import false_discovery_control

    recorded_causes = set(causes)
    out = []
    for f in findings:
        check_time()
        if network[f].card != 2:
            continue
        ancestors = set(network.ancestors([f])) - {f}
        given = tuple(a for a in network.variables if a in ancestors and a in recorded_causes)
        on = network[f].on_index
        for d in causes:
            if d not in ancestors:
                test = _score_test(network, codes, f, d, given, post[f][:, on], log_z, on)
                if test is not None:
                    out.append(test)
    if out:
        q = false_discovery_control([a.p_value for a in out], method="bh")
        out = [ArcTest(**{**a.__dict__, "q_value": float(qv)}) for a, qv in zip(out, q)]
    return sorted(out, key=lambda a: (a.q_value, a.p_value))


def _score_test(network, codes, f, d, given, predicted, log_z, on) -> ArcTest | None:
    """Do the residuals of F differ between the levels of D within the strata of ``given``? (module docstring)"""
    from scipy.stats import chi2

    known = np.all([codes[v] >= 0 for v in (*given, f, d)], axis=0) & np.isfinite(log_z)
    if known.sum() < 10:
        return None
    cd = network[d].card
    shape = [network[g].card for g in given]
    strata = int(np.prod(shape)) if given else 1
    z = np.ravel_multi_index([codes[g][known] for g in given], shape) if given else np.zeros(int(known.sum()), int)
    p = predicted[known]
    cell = z * cd + codes[d][known]
    residual = np.bincount(cell, weights=(codes[f][known] == on) - p, minlength=strata * cd).reshape(strata, cd)
    variance = np.bincount(cell, weights=p * (1.0 - p), minlength=strata * cd).reshape(strata, cd)
    expected_on = np.bincount(cell, weights=p, minlength=strata * cd).reshape(strata, cd)
    expected_off = np.bincount(cell, weights=1.0 - p, minlength=strata * cd).reshape(strata, cd)
    # The chi-square approximation needs enough expected events of both kinds in a cell (the usual 5): a rare
    # finding in a small stratum would otherwise make one record look like overwhelming evidence.
    usable = (expected_on >= MIN_EXPECTED) & (expected_off >= MIN_EXPECTED)
    levels = usable.sum(axis=1)
    rows = levels >= 2
    if not rows.any():
        return None
    r, v, u = residual[rows], variance[rows], usable[rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        within = np.where(u, r * r / np.where(u, v, 1.0), 0.0).sum(axis=1)
        pooled = np.where(u, r, 0.0).sum(axis=1) ** 2 / np.where(u, v, 0.0).sum(axis=1)
    stat = float(np.sum(within - pooled))
    dof = int(np.sum(levels[rows] - 1))
    return ArcTest(f, d, given, int(known.sum()), stat, dof, float(chi2.sf(stat, dof)))
