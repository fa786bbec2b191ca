"""Self-consistency and parameter recovery: cases sampled from the network itself (the ceiling it can
reach, not its accuracy on patients), and tables learnt back from them with pgmpy's estimators."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bn.inference import BayesNet
from bn.model import Network
from bn.validation.base import ValidationError
from bn.validation.cases import rankable_diagnoses
from bn.validation.metrics import brier_score, expected_calibration_error, reliability, roc_auc


def _observable(network: Network) -> list[str]:
    return [v for v in network.variables if network[v].role in ("risk_factor", "finding", "red_flag")]


def batch_posteriors(net: BayesNet, states: np.ndarray, observed: Sequence[str], targets: Sequence[str]
                     ) -> dict[str, np.ndarray]:
    """P(target's last state | the sampled states of ``observed``) for every row of ``states``.

    Uses the engine's batched marginals when it has them (one pass for all cases) and otherwise one query
    per distinct evidence pattern; both give the same numbers (the tests check it).
    """
    network = net.network
    order = list(network.variables)
    cols = [order.index(v) for v in observed]
    patterns, inverse = np.unique(states[:, cols], axis=0, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    out = {t: np.empty(len(patterns)) for t in targets}
    batched = getattr(net.engine, "marginals", None)
    if callable(batched):
        try:
            lik = {v: np.eye(network[v].card)[patterns[:, j]] for j, v in enumerate(observed)}
            marg, _ = batched(lik, list(targets))
            for t in targets:
                out[t] = np.asarray(marg[t])[:, network[t].on_index]
            return {t: out[t][inverse] for t in targets}
        except (TypeError, ValueError):
            pass  # an engine without batch support: fall back to one query per pattern
    for i, row in enumerate(patterns):
        ev = {v: network[v].state_ids[int(s)] for v, s in zip(observed, row)}
        marg = net.marginals(list(targets), findings=ev)
        for t in targets:
            out[t][i] = marg[t][network[t].on_state]
    return {t: out[t][inverse] for t in targets}


def simulate(net: BayesNet, n: int, seed: int = 0, groups: Sequence[str] = ("history", "exam", "imaging", "tests"),
             bins: int = 10) -> dict[str, Any]:
    """Sample ``n`` knee-pain cases from the network, hide diagnoses and mechanisms, score the posteriors.

    Cases are drawn by forward sampling and kept when knee pain is present (rejection: the clinical
    question is always asked of a knee-pain patient). Observed: age, sex, red flags and the findings of
    ``groups``. Returns AUC and ECE per diagnosis and per knee-pain source, pooled reliability curves, and
    the raw (posterior, truth) arrays for plotting.
    """
    from bn.sampling import sample

    if n < 10:
        raise ValidationError(f"simulation needs at least 10 cases (got {n})")
    network = net.network
    rng = np.random.default_rng(seed)
    order = list(network.variables)
    keep_var = "knee_pain" if "knee_pain" in network else None
    chunks, kept = [], 0
    while kept < n:
        states, _ = sample(network, max(2 * (n - kept), 100), rng)
        if keep_var:
            states = states[states[:, order.index(keep_var)] == network[keep_var].card - 1]
        chunks.append(states)
        kept += len(states)
    states = np.concatenate(chunks)[:n]
    observed = [v for v in _observable(network)
                if network[v].role != "finding" or network[v].group in groups]
    observed = [v for v in observed if v != keep_var] + ([keep_var] if keep_var else [])
    diagnoses = rankable_diagnoses(network)
    sources = {k: v for k, v in network.knee_pain_sources.items()}
    targets = [*diagnoses, *sources.values()]
    post = batch_posteriors(net, states, observed, targets)
    truth = {t: (states[:, order.index(t)] == network[t].card - 1).astype(int) for t in targets}

    def metrics(t: str) -> dict[str, float]:
        return {"auc": roc_auc(post[t], truth[t]), "ece": expected_calibration_error(post[t], truth[t], bins),
                "brier": brier_score(post[t], truth[t]), "prevalence": float(truth[t].mean())}

    pooled_dx_p = np.concatenate([post[d] for d in diagnoses])
    pooled_dx_y = np.concatenate([truth[d] for d in diagnoses])
    pooled_src_p = np.concatenate([post[v] for v in sources.values()])
    pooled_src_y = np.concatenate([truth[v] for v in sources.values()])
    return {
        "network": net.info.to_dict(), "n": int(n), "seed": seed, "groups": list(groups),
        "observed": observed,
        "diagnoses": {d: metrics(d) for d in diagnoses},
        "sources": {k: metrics(v) for k, v in sources.items()},
        "reliability_diagnoses": reliability(pooled_dx_p, pooled_dx_y, bins),
        "reliability_sources": reliability(pooled_src_p, pooled_src_y, bins),
        "posteriors": post, "truth": truth, "source_variables": dict(sources),
    }


def _parent_weights(net: BayesNet, vid: str) -> np.ndarray:
    """P(parent configuration) under the network, flattened in the table's row order."""
    v = net.network[vid]
    if not v.parents:
        return np.ones(1)
    return np.asarray(net.joint(list(v.parents))).ravel()


def parameter_recovery(net: BayesNet, sizes: Sequence[int], seed: int = 0, prior_weight: float = 10.0,
                       ) -> dict[str, Any]:
    """Learn every table back from N sampled cases (MLE and Bayesian), for each N in ``sizes``.

    Error of a learnt table: the total-variation distance between learnt and true rows, averaged over
    parent configurations weighted by how often they occur under the network (rare rows matter little),
    then averaged over variables. ``prior_weight`` is the Bayesian estimator's equivalent sample size per
    parent configuration (the Dirichlet pseudo-counts are ``prior_weight x`` the network's own row), which
    is how a clinic would update the published tables with its own records.
    """
    import warnings

    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from pgmpy.estimators import BayesianEstimator, MaximumLikelihoodEstimator

    from bn.converters import to_pgmpy
    from bn.sampling import sample

    if not sizes or any(int(s) < 1 for s in sizes):
        raise ValidationError("parameter recovery needs sample sizes of at least 1")
    network = net.network
    model = to_pgmpy(network)
    order = list(network.variables)
    weights = {vid: _parent_weights(net, vid) for vid in order}
    state_names = {vid: list(network[vid].state_ids) for vid in order}
    rng = np.random.default_rng(seed)
    biggest, _ = sample(network, int(max(sizes)), rng)
    rows = []
    for size in sorted(int(s) for s in sizes):
        errors: dict[str, list[float]] = {"mle": [], "bayes": []}
        data = pd.DataFrame({vid: np.asarray(state_names[vid], dtype=object)[biggest[:size, j]]
                             for j, vid in enumerate(order)})
        with warnings.catch_warnings():
            # pgmpy 1.x announces new names for these estimators; the old ones are what 1.0-1.2 all have.
            warnings.simplefilter("ignore", FutureWarning)
            mle = MaximumLikelihoodEstimator(model, data, state_names=state_names)
            bayes = BayesianEstimator(model, data, state_names=state_names)
        for vid in order:
            v = network[vid]
            w = weights[vid] / weights[vid].sum()
            learnt_mle = _learnt_table(mle.estimate_cpd(vid), network, vid)
            learnt_bayes = _learnt_table(bayes.estimate_cpd(vid, prior_type="dirichlet",
                                                            pseudo_counts=_pgmpy_rows(v, prior_weight)), network, vid)
            for name, learnt in (("mle", learnt_mle), ("bayes", learnt_bayes)):
                tv = 0.5 * np.abs(learnt - v.cpt).sum(axis=-1).ravel()
                errors[name].append(float(np.sum(w * tv)))
        rows.append({"n": size, "mle": float(np.mean(errors["mle"])), "bayes": float(np.mean(errors["bayes"])),
                     "mle_max": float(np.max(errors["mle"])), "bayes_max": float(np.max(errors["bayes"]))})
    return {"network": net.info.to_dict(), "seed": seed, "prior_weight": prior_weight, "rows": rows}


def _pgmpy_rows(v, scale: float) -> np.ndarray:
    """``scale`` x the variable's table as pgmpy lays it out: child states by rows, parents *sorted by name*.

    pgmpy's estimators order a node's parents with ``sorted()``, not in the model's edge order, so the prior
    must be permuted the same way or it would sit on the wrong rows.
    """
    parents = list(v.parents)
    perm = [parents.index(p) for p in sorted(parents)] + [len(parents)]
    table = np.transpose(v.cpt, perm)
    return scale * np.moveaxis(table, -1, 0).reshape(v.card, -1)


def _learnt_table(cpd, network: Network, vid: str) -> np.ndarray:
    """A pgmpy CPD back in this package's layout: ``table[parent states..., child state]``, our state order."""
    names = cpd.state_names
    order = list(cpd.variables)  # [vid, *parents in pgmpy's order]
    values = np.asarray(cpd.get_values(), dtype=float).reshape([len(names[x]) for x in order])
    for axis, var in enumerate(order):
        values = np.take(values, [list(names[var]).index(s) for s in network[var].state_ids], axis=axis)
    return np.transpose(values, [order.index(p) for p in network[vid].parents] + [0])
