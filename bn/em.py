"""Expectation-maximisation for incomplete records, with the expert network as the prior (``bn learn --method em``).

Clinic records are incomplete: nobody does every test, and the diagnoses themselves are rarely recorded. EM uses
every record. The E-step asks the compiled engine, for each distinct pattern of known values, for the posterior
of every family (a variable and its parents) given that record, and adds them up: the expected counts. The
M-step is the same Dirichlet update as ``bn learn``'s Bayesian method, with the *published* table as the prior
(``prior_weight`` pseudo-records per row), applied to the expected counts instead of complete-case counts::

    theta_new[row] = (w * theta_published[row] + E[N_row]) / (w + E[N_row].sum())

This is maximum-a-posteriori EM for the prior Dirichlet(w * theta_published + 1); its objective, the
log-posterior ``sum_r log P(record_r | theta) + sum w * theta_published * log theta``, never decreases
(``tests/test_em.py`` checks it on every run, and matches a brute-force EM to 1e-9).

Records whose known values the network calls impossible are skipped and reported by row number. Deterministic
tables (definitions), mixtures and the variables in ``freeze`` are never changed.

>>> import numpy as np, bn
>>> net = bn.load("bench/networks/asia.bif")
>>> codes = {"smoke": np.array([1, 1, 0, -1]), "dysp": np.array([1, 0, -1, 1])}   # -1: not recorded
>>> fit = em(net, codes, prior_weight=10.0, max_iter=20)
>>> fit.log_posterior == sorted(fit.log_posterior)    # never decreases
True
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from bn.errors import BNError
from bn.inference import BayesNet
from bn.limits import check_time
from bn.model import Network


class EMError(BNError):
    """The records or options cannot be fitted (the message says which)."""


@dataclass(frozen=True)
class EMResult:
    """The fitted network and how the fit went."""

    network: Network                    # the tables at the end (the prior network's structure and metadata)
    counts: dict[str, np.ndarray]       # expected family counts behind the final tables (parents..., child)
    ranges: dict[str, np.ndarray]       # the 90% posterior interval of each row's on-state (NaN: none)
    log_posterior: list[float]          # the objective before the first and after every iteration
    iterations: int
    converged: bool
    records_used: int
    skipped_rows: list[int] = field(default_factory=list)  # 1-based rows with impossible known values


def em(net: BayesNet, codes: Mapping[str, np.ndarray], *, prior_weight: float = 10.0,
       variables: Sequence[str] | None = None, freeze: Sequence[str] = (), max_iter: int = 50, tol: float = 1e-6,
       progress: bool = False, dask: str | None = None) -> EMResult:
    """Fit ``net``'s tables to incomplete records by MAP EM (see the module docstring).

    ``codes`` maps a variable to one state index per record (-1 where the record does not know it); every
    array has the same length. ``variables`` limits which tables change (default: every table that is not a
    definition, a mixture or frozen). ``dask`` (``"local"`` or a scheduler's address) computes each E-step's
    expected counts in partitions of the distinct records on a Dask cluster and adds them up (the same fit up
    to rounding: sums taken in another order), for registries that outgrow one machine.
    """
    from bn.learn import _update

    network = net.network
    if not prior_weight >= 0 or not math.isfinite(prior_weight):
        raise EMError(f"the prior weight must be a non-negative number (got {prior_weight})")
    if not isinstance(max_iter, int) or max_iter < 1:
        raise EMError(f"--max-iter must be a positive integer (got {max_iter!r})")
    if math.isnan(tol):
        raise EMError("--tol must be a number")
    for v in [*codes, *freeze, *(variables or ())]:
        net._check_variables([v])
    frozen = set(freeze)
    chosen = list(network.variables) if variables is None else list(variables)
    update = [v for v in chosen if v not in frozen and network[v].form not in ("deterministic_or", "mixture")]
    if not update:
        raise EMError("no table to learn: every chosen variable is a definition, a mixture or frozen")
    names, patterns, weights, pattern_of = _patterns(network, codes)
    prior = {v: np.asarray(network[v].cpt, dtype=float) for v in update}
    # The tables being learnt are full tables from the first E-step on: their noisy-OR links will no longer
    # describe them, and a family split into OR-chain steps would cost one query per family.
    start = _as_tables(network, {v: prior[v] for v in update})
    from bn.engines import network_plan

    # Every network EM queries has one structure, planned once and without OR chains: after the first M-step
    # the tables no longer factor as ORs, and a family split into chain steps costs a query of its own.
    plan = network_plan(start)

    # Every distinct record once, as state codes (-1: unknown): the E-step enters them on trees sliced by what
    # groups of records know (bn.engines.slicing), never as one (records x states) likelihood table.
    columns = {v: patterns[:, j] for j, v in enumerate(names)}

    cluster = _Partitions(dask, columns, len(patterns)) if dask is not None else None

    def e_step(current: Network, keep: np.ndarray) -> tuple[dict[str, np.ndarray], float, np.ndarray]:
        w = np.where(keep, weights, 0.0)
        if cluster is None:
            counts, log_z = _expectations(current, plan, columns, update, w)
        else:
            counts, log_z = cluster.expectations(current, plan, update, w)
        possible = np.isfinite(log_z)
        return counts, float(np.sum(w[possible] * log_z[possible])), possible

    def log_prior(current: Network) -> float:
        total = 0.0
        for v in update:
            a, t = prior_weight * prior[v], np.asarray(current[v].cpt, dtype=float)
            total += float(np.sum(np.where(a > 0, a * np.log(np.where(a > 0, t, 1.0)), 0.0)))
        return total

    def m_step(counts: dict[str, np.ndarray]) -> tuple[Network, dict[str, np.ndarray]]:
        tables, ranges = {}, {}
        for v in update:
            new, rng = _update(prior[v], counts[v], "bayes" if prior_weight > 0 else "mle", prior_weight,
                               on=network[v].on_index)
            seen = counts[v].sum(axis=-1, keepdims=True) > 0
            tables[v] = new if prior_weight > 0 else np.where(seen, new, prior[v])
            ranges[v] = rng
        return _as_tables(network, tables), ranges

    try:
        return _fit(network, start, e_step, m_step, log_prior, pattern_of, len(patterns), weights, max_iter, tol,
                    progress)
    finally:
        if cluster is not None:
            cluster.close()


def _expectations(current: Network, plan, codes: Mapping[str, np.ndarray], update: Sequence[str],
                  weights: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One E-step over ``codes`` (all the distinct records, or a partition of them): the expected family
    counts and each record's log P(known values)."""
    from bn.engines import CompiledEngine
    from bn.engines.slicing import expected_counts

    return expected_counts(CompiledEngine(current, plan), codes, update, weights=weights)


class _Partitions:
    """The distinct records split across a Dask cluster and sent there once; each E-step sends the tables."""

    PER_WORKER = 2

    def __init__(self, address: str, codes: Mapping[str, np.ndarray], size: int):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise EMError("--dask needs the 'distributed' package (pip install 'dask[distributed]')") from None
        self.cluster = None
        try:
            if address == "local":
                self.cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
                self.client = Client(self.cluster)
            else:
                self.client = Client(address, timeout="20s")
        except OSError as exc:
            raise EMError(f"cannot reach the Dask scheduler at '{address}': {exc}") from None
        parts = max(1, min(size, self.PER_WORKER * len(self.client.scheduler_info()["workers"])))
        edges = np.linspace(0, size, parts + 1).astype(int)
        self.bounds = [(int(lo), int(hi)) for lo, hi in itertools.pairwise(edges)]
        self.parts = self.client.scatter([{v: a[lo:hi] for v, a in codes.items()} for lo, hi in self.bounds])

    def expectations(self, current: Network, plan, update: Sequence[str], weights: np.ndarray
                     ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        futures = [self.client.submit(_expectations, current, plan, part, list(update), weights[lo:hi], pure=False)
                   for part, (lo, hi) in zip(self.parts, self.bounds, strict=True)]
        results = self.client.gather(futures)
        return ({v: np.sum([counts[v] for counts, _ in results], axis=0) for v in update},
                np.concatenate([log_z for _, log_z in results]))

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _fit(network, start, e_step, m_step, log_prior, pattern_of, n_patterns, weights, max_iter, tol, progress
         ) -> EMResult:
    """The EM iterations, from ``start``'s E-step until the log-posterior gains less than ``tol``."""
    keep = np.ones(n_patterns, dtype=bool)
    counts, log_lik, possible = e_step(start, keep)
    skipped = (np.flatnonzero(~possible[pattern_of]) + 1).tolist()  # record numbers, from 1
    keep = possible
    history = [log_lik + log_prior(network)]
    current, behind, ranges, converged = network, counts, {}, False
    bar = _bar(max_iter, progress)
    for _ in range(max_iter):
        check_time()
        fitted, fitted_ranges = m_step(counts)
        new_counts, new_log_lik, _ = e_step(fitted, keep)
        history.append(new_log_lik + log_prior(fitted))
        current, behind, ranges, counts = fitted, counts, fitted_ranges, new_counts
        if bar is not None:
            bar.update(1)
            bar.set_postfix(log_posterior=f"{history[-1]:.4f}")
        if history[-1] - history[-2] < tol:
            converged = True
            break
    if bar is not None:
        bar.close()
    used = int(sum(weights[k] for k in np.flatnonzero(keep)))
    return EMResult(current, behind, ranges, history, len(history) - 1, converged, used, skipped)


def _as_tables(network: Network, tables: Mapping[str, np.ndarray]) -> Network:
    """``network`` with these variables' tables replaced, as full tables (no noisy-OR links to chain)."""
    return replace(network, variables={vid: (replace(var, cpt=tables[vid], form="table", parameters=())
                                             if vid in tables else var)
                                       for vid, var in network.variables.items()})


def _patterns(network: Network, codes: Mapping[str, np.ndarray]
              ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """The columns, the distinct rows of state codes (-1: unknown), how many records have each, and each
    record's distinct row."""
    from bn.engines.junction_tree import distinct_rows

    names = list(codes)
    if not names:
        raise EMError("the records have no column that is a variable of the network")
    lengths = {len(np.asarray(codes[v])) for v in names}
    if len(lengths) != 1:
        raise EMError("every column must have one value per record")
    matrix = np.stack([np.asarray(codes[v], dtype=np.int64) for v in names], axis=1)
    for j, v in enumerate(names):
        if (matrix[:, j] >= network[v].card).any() or (matrix[:, j] < -1).any():
            raise EMError(f"{v}: state codes must lie in -1..{network[v].card - 1}")
    first, inverse = distinct_rows(matrix)
    return names, matrix[first], np.bincount(inverse, minlength=len(first)).astype(float), inverse


def _bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="EM", leave=False, disable=None)  # disable=None: a bar only on a terminal
