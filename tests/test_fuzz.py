"""A bounded replay of the fuzz campaign (bench/fuzz.py): every hostile input gets a one-line error or a sane
answer, never a crash, a NaN or a probability above 1. `python -m bench.fuzz --n 2000` runs the full campaign."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fuzz import check_evidence, check_network, evidence_strings, network_mutant
from bn.batch import read_cases, score_cases
from bn.errors import BNError
from bn.evidence import from_query_params

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
ACCEPTABLE = ("clean_error", "sane")


@SETTINGS
@given(seed=st.integers(0, 2 ** 31))
def test_mutated_network_files(seed):
    outcome, detail = check_network(network_mutant(seed))
    assert outcome in ACCEPTABLE, (seed, detail)


@SETTINGS
@given(seed=st.integers(0, 2 ** 31))
def test_evidence_and_soft_evidence_strings(shipped, seed):
    variables = {v.id: list(v.state_ids) for v in shipped.network.variables.values()}
    outcome, detail = check_evidence(shipped, *evidence_strings(seed, variables))
    assert outcome in ACCEPTABLE, (seed, detail)


VALUES = st.one_of(st.sampled_from(["present", "absent", "positive", "negative", "present:0.7", "positive:1e-300",
                                    "present:nan", "present:inf", "present:-1", ":", "present:", "0.2,0.8",
                                    "65_plus", "", "%00", "<script>"]), st.text(max_size=12))


@SETTINGS
@given(params=st.dictionaries(st.one_of(st.sampled_from(["knee_pain", "straight_leg_raise", "age_group",
                                                          "network", "view", "saddle_anesthesia"]),
                                        st.text(max_size=10)), VALUES, max_size=8))
def test_url_query_strings_open_and_say_what_was_ignored(shipped, params):
    evidence, ignored = from_query_params(params, shipped.network, reserved=("network", "view"))
    assert all("\n" not in message for message in ignored)
    used = set(evidence.findings) | set(evidence.soft_findings)
    assert len(used) + len(ignored) == len(set(params) - {"network", "view"})  # each one used or reported
    try:
        result = shipped.query(evidence)
    except BNError as exc:  # impossible findings: a one-line message
        assert "\n" not in str(exc).strip()
        return
    json.dumps(result.to_dict(), allow_nan=False)
    assert 0.0 <= result.probability_of_evidence <= 1.0


CELLS = st.one_of(st.sampled_from(["present", "absent", "positive", "", "65_plus", "under_40", "NA", "none",
                                   '"quoted, comma"', "x" * 50]), st.text(alphabet="ab,\"\n\r;=", max_size=6))


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.lists(st.lists(CELLS, min_size=1, max_size=5), min_size=0, max_size=6),
       header=st.lists(st.sampled_from(["knee_pain", "straight_leg_raise", "age_group", "id", "", "knee_pain"]),
                       min_size=1, max_size=5))
def test_csv_rows_are_scored_or_refused_with_one_line(shipped, tmp_path_factory, rows, header):
    path = tmp_path_factory.mktemp("csv") / "cases.csv"
    path.write_text("\n".join([",".join(header), *(",".join(r) for r in rows)]) + "\n")
    try:
        frame = read_cases(path)
        scored, errors = score_cases(shipped, frame, progress=False)
    except BNError as exc:
        assert "\n" not in str(exc).strip(), str(exc)
        return
    assert all("\n" not in e.message for e in errors)
    probabilities = scored[[c for c in scored if c.startswith(("P(", "knee_pain_source_"))]].to_numpy(dtype=float)
    failed = (scored["error"].fillna("").astype(str) != "").to_numpy()
    assert not np.isnan(probabilities[~failed]).any()
    assert ((probabilities[~failed] >= 0) & (probabilities[~failed] <= 1)).all()
    assert np.isnan(probabilities[failed]).all()
