"""`bn batch`: one case per row, posteriors checked against the pgmpy reference engine, bad rows reported
with their row numbers, parquet, and a local Dask cluster giving identical results."""

from __future__ import annotations

import argparse
import json
import re

import numpy as np
import pandas as pd
import pytest
from conftest import BENCH

import bn
from bn.batch import BatchError, read_cases, score_cases, score_frame
from bn.cli.batch import add_parser

ASIA = str(BENCH / "asia.bif")


def run_batch(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bn")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BN_CACHE_DIR", str(tmp_path / "cache"))


def test_scores_match_the_pgmpy_reference_row_by_row(tmp_path, knee):
    cases = pd.DataFrame({
        "case_id": ["a", "b", "c"],
        "knee_pain": ["present", "present", ""],
        "straight_leg_raise": ["positive", "", "negative"],
        "age_group": ["65_plus", "under_40", ""],
    })
    path = tmp_path / "cases.csv"
    cases.to_csv(path, index=False)
    out = tmp_path / "scored.csv"
    assert run_batch(["batch", "l4l5_knee@1.1.0", str(path), "--keep", "case_id", "--out", str(out), "--no-progress",
                      "--targets", "disc_herniation,knee_osteoarthritis"]) == 0
    scored = pd.read_csv(out, keep_default_na=False)
    assert list(scored["case_id"]) == ["a", "b", "c"] and list(scored["row"]) == [1, 2, 3]
    assert set(scored["network_sha256"]) == {knee.info.sha256}
    assert set(scored["network_id"]) == {"l4l5_knee"} and set(scored["network_version"]) == {knee.info.version}
    reference = bn.load(knee.network, engine="pgmpy")
    for k, row in cases.iterrows():
        findings = {c: row[c] for c in ("knee_pain", "straight_leg_raise", "age_group") if row[c]}
        expected = reference.marginals(["disc_herniation", "knee_osteoarthritis", "knee_pain_from_l4l5"],
                                       findings=findings)
        for var in ("disc_herniation", "knee_osteoarthritis"):
            for state, p in expected[var].items():
                assert scored.loc[k, f"P({var}={state})"] == pytest.approx(p, abs=1e-9)
        assert scored.loc[k, "knee_pain_source_l4l5_spine"] == pytest.approx(
            expected["knee_pain_from_l4l5"]["present"], abs=1e-9)
        assert scored.loc[k, "log_probability_of_evidence"] == pytest.approx(
            np.log(reference.probability_of_evidence(findings)), abs=1e-9)


def test_bad_rows_are_reported_with_their_row_numbers(tmp_path, capsys):
    path = tmp_path / "cases.csv"
    path.write_text("smoke,tub,either,xray\nyes,,,\nyes,maybe,,\n,yes,no,\nno,,,yes\n")
    out = tmp_path / "scored.csv"
    assert run_batch(["batch", ASIA, str(path), "--out", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "line 3 (row 2): 'maybe' is not a state of tub; valid states: yes, no" in err
    assert "line 4 (row 3): these findings cannot all hold (probability 0): tub=yes, either=no" in err
    assert "scored 2 of 4 rows" in err
    scored = pd.read_csv(out, keep_default_na=False)
    assert len(scored) == 4  # bad rows are kept, with the reason, never dropped
    assert list(scored["error"] != "") == [False, True, True, False]
    assert scored.loc[1, "P(lung=yes)"] == "" and scored.loc[0, "P(lung=yes)"] != ""
    with pytest.raises(BatchError, match=r"^line 3 \(row 2\): 'maybe' is not a state of tub"):
        run_batch(["batch", ASIA, str(path), "--on-error", "fail", "--no-progress"])


def test_unknown_column_is_one_clear_error(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_text("smoker,tub\nyes,no\n")
    with pytest.raises(BatchError, match=r"column 'smoker' is not a variable of network asia; did you mean smoke\?"):
        run_batch(["batch", ASIA, str(path), "--no-progress"])
    with pytest.raises(BatchError, match="no cases file"):
        run_batch(["batch", ASIA, str(tmp_path / "missing.csv")])


def test_parquet_in_and_out(tmp_path):
    cases = pd.DataFrame({"smoke": ["yes", None, "no"], "dysp": ["yes", "no", None]})
    src = tmp_path / "cases.parquet"
    cases.to_parquet(src)
    out = tmp_path / "scored.parquet"
    assert run_batch(["batch", ASIA, str(src), "--out", str(out), "--no-progress"]) == 0
    scored = pd.read_parquet(out)
    net = bn.load(ASIA)
    expected = net.posterior("lung", findings={"dysp": "no"})
    assert scored.loc[1, "P(lung=yes)"] == pytest.approx(expected["yes"], abs=1e-12)


def test_progress_bar_and_chunks_give_the_same_answer(capsys):
    net = bn.load(ASIA)
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({v: rng.choice([*net.network[v].state_ids, None], size=57)
                          for v in ("smoke", "xray", "dysp", "asia")})
    whole, _ = score_frame(net, frame)
    chunked, _ = score_cases(net, frame, chunk_size=10, progress=True)
    assert "scoring: 100%" in capsys.readouterr().err
    pd.testing.assert_frame_equal(whole, chunked, check_exact=False, rtol=0, atol=1e-14)


def test_local_dask_cluster_gives_identical_results(tmp_path):
    net = bn.load(ASIA)
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({v: rng.choice([*net.network[v].state_ids, None], size=300)
                          for v in ("smoke", "xray", "dysp", "tub", "either")})
    local, local_errors = score_cases(net, frame, chunk_size=64, progress=False)
    distributed, dask_errors = score_cases(net, frame, chunk_size=64, progress=False, dask="local", reference=ASIA)
    assert local_errors == dask_errors and local_errors  # some random rows are impossible (tub=yes, either=no)
    pd.testing.assert_frame_equal(local, distributed, check_exact=True)


def test_read_cases_keeps_na_like_state_names(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_text("a,b\nNA,none\n,x\n")
    frame = read_cases(path)
    assert frame.loc[0, "a"] == "NA" and frame.loc[0, "b"] == "none" and pd.isna(frame.loc[1, "a"])


@pytest.mark.parametrize("lines, message", [
    (["knee_pain,straight_leg_raise", "present,positive,", "present,negative,"],
     "line 2 has 3 field(s), the header has 2"),
    (["knee_pain,straight_leg_raise,age_group", "present,positive,65_plus", "", "present,negative"],
     "line 4 has 2 field(s), the header has 3"),
])
def test_a_row_with_the_wrong_number_of_fields_is_refused_by_its_line(tmp_path, lines, message):
    """One trailing field on every row used to make pandas take the first column as the index and shift the
    rest (P(disc_herniation) 0.023 instead of 0.066, "0 bad rows"); a short row was padded silently. Line
    numbers count the header and blank lines."""
    path = tmp_path / "cases.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BatchError, match=re.escape(message)):
        read_cases(path)


def test_bn_batch_keeps_a_misfit_row_as_a_bad_row_named_by_its_line(tmp_path, capsys, knee):
    """The other rows are scored exactly as in a clean file; the misfit row is in the output with its reason,
    and every row carries its line in the file (header, blank lines and a quoted two-line field counted)."""
    from bn.cli import main

    path = tmp_path / "cases.csv"
    path.write_text('case_id,knee_pain,straight_leg_raise\nc1,present,positive\n\n"c\n2",present,\n'
                    "c3,present,negative,\nc4,present,negative\n")
    out = tmp_path / "scored.csv"
    assert main(["batch", "l4l5_knee@1.1.0", str(path), "--keep", "case_id", "--targets", "disc_herniation",
                 "--out", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "bn: bad line 6 (row 3): 4 field(s) where the header has 3" in err and "1 bad row" in err
    scored = pd.read_csv(out, keep_default_na=False)
    assert list(scored["line"]) == [2, 4, 6, 7] and list(scored["row"]) == [1, 2, 3, 4]
    assert list(scored["case_id"]) == ["c1", "c\n2", "", "c4"] and scored.loc[2, "error"].startswith("4 field(s)")
    clean = tmp_path / "clean.csv"
    clean.write_text("case_id,knee_pain,straight_leg_raise\nc1,present,positive\nc2,present,\nc4,present,negative\n")
    expected, _ = score_cases(knee, read_cases(clean), targets=["disc_herniation"], keep=["case_id"], progress=False)
    column = "P(disc_herniation=present)"
    assert [float(p) for p in scored[column].iloc[[0, 1, 3]]] == pytest.approx(list(expected[column]), abs=1e-12)
    assert scored.loc[2, column] == ""
    assert main(["batch", "l4l5_knee@1.1.0", str(path), "--keep", "case_id", "--on-error", "fail"]) == 2
    assert "line 6 (row 3): 4 field(s) where the header has 3" in capsys.readouterr().err


def test_a_column_named_twice_is_refused(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_text("case_id,knee_pain, knee_pain\nc1,present,absent\n")
    message = "the header names column 'knee_pain' more than once (columns 2, 3)"
    with pytest.raises(BatchError, match=re.escape(message)):
        read_cases(path)


@pytest.mark.parametrize("column", ["row", "error", "network_sha256", "P(disc_herniation=present)"])
def test_a_kept_column_never_collides_with_an_output_column(tmp_path, knee, column):
    frame = pd.DataFrame({"knee_pain": ["present"], column: ["mine"]})
    with pytest.raises(BatchError, match=re.escape(f"--keep {column}: the output has a column of that name")):
        score_cases(knee, frame, targets=["disc_herniation"], keep=[column], progress=False)


def test_a_well_formed_file_scores_as_before(tmp_path, knee):
    path = tmp_path / "cases.csv"
    path.write_text("case_id,knee_pain,straight_leg_raise\nc1,present,positive\nc2,present,\n")
    scored, errors = score_cases(knee, read_cases(path), targets=["disc_herniation"], keep=["case_id"],
                                 progress=False)
    assert not errors and list(scored["case_id"]) == ["c1", "c2"]
    expected = knee.posterior("disc_herniation", findings={"knee_pain": "present", "straight_leg_raise": "positive"})
    assert scored.loc[0, "P(disc_herniation=present)"] == pytest.approx(expected["present"], abs=1e-12)


@pytest.mark.parametrize("text, message", [
    ("knee_pain\n" + "x" * 200_000 + "\n", "line 2: field larger than field limit"),
    (",".join(f"c{i}" for i in range(6000)) + "\n", "the header has 6,000 columns; the limit is 5,000"),
])
def test_oversized_fields_and_headers_are_one_line_errors(tmp_path, capsys, text, message):
    path = tmp_path / "cases.csv"
    path.write_text(text)
    from bn.cli import main

    assert main(["batch", "l4l5_knee", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_keep_and_ignore_mean_the_same_in_batch_and_learn(tmp_path, capsys):
    """--keep: not a variable, copied to a per-record output; --ignore: not a variable, left out. bn learn has no
    per-record output, so it accepts both and leaves both columns out of learning."""
    from bn.cli import main

    path = tmp_path / "cases.csv"
    path.write_text("case_id,site,age_group,knee_pain\nc1,north,65_plus,present\nc2,south,under_40,present\n")
    out = tmp_path / "scored.csv"
    assert main(["batch", "l4l5_knee@1.1.0", str(path), "--keep", "case_id", "--ignore", "site", "--out", str(out),
                 "--no-progress"]) == 0
    scored = pd.read_csv(out)
    assert "case_id" in scored.columns and "site" not in scored.columns and list(scored["case_id"]) == ["c1", "c2"]
    assert main(["batch", "l4l5_knee@1.1.0", str(path), "--keep", "case_id", "--ignore", "nope"]) == 2
    assert "--ignore names column 'nope'" in capsys.readouterr().err
    learnt = tmp_path / "l4l5_knee" / "1.2.0.yaml"
    assert main(["learn", "l4l5_knee@1.1.0", str(path), "--keep", "case_id", "--ignore", "site", "--version",
                 "1.2.0", "--out", str(learnt), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tables"] and learnt.is_file()
