"""The ``bn`` command: outputs, JSON shapes, and one clean line (exit 2) for every kind of bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from conftest import BENCH, ROOT, small_network_doc

import bn
from bn.cli import main


def run(capsys, *args: str):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_query_json_shape(capsys):
    code, out, _ = run(capsys, "query", "l4l5_knee", "-e", "knee_pain=present", "-e", "straight_leg_raise=positive",
                       "--soft", "leg_numbness_tingling=present:0.8", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["network"]["id"] == "l4l5_knee" and len(data["network"]["sha256"]) == 64
    assert data["evidence"]["findings"] == {"knee_pain": "present", "straight_leg_raise": "positive"}
    assert data["evidence"]["soft_findings"]["leg_numbness_tingling"]["present"] == 0.8
    assert set(data["knee_pain_source"]) == set(bn.load("l4l5_knee").network.knee_pain_sources)
    assert {"disc_herniation", "spinal_stenosis", "l4_root_compromise", "l5_root_compromise"} <= set(
        data["posteriors"])
    for dist in data["posteriors"].values():
        assert sum(dist.values()) == pytest.approx(1.0, abs=1e-12)
    assert data["alerts"] == []
    assert 0 < data["probability_of_evidence"] < 1


def test_query_json_matches_python_api(capsys, knee):
    _, out, _ = run(capsys, "query", "l4l5_knee@1.1.0", "-e", "age_group=65_plus", "-e", "knee_pain=present", "--json",
                    "--all")
    data = json.loads(out)
    result = knee.query({"age_group": "65_plus", "knee_pain": "present"}, variables=list(knee.network.variables))
    assert data["posteriors"] == result.posteriors
    assert set(data["posteriors"]) == set(knee.network.variables)


def test_red_flag_alert_in_every_output(capsys):
    code, out, _ = run(capsys, "query", "l4l5_knee", "-e", "saddle_anesthesia=present", "--json")
    assert code == 0
    assert [a["id"] for a in json.loads(out)["alerts"]] == ["saddle_anesthesia"]
    _, text, _ = run(capsys, "query", "l4l5_knee", "-e", "saddle_anesthesia=present")
    assert "RED FLAG Saddle anaesthesia" in text


def test_human_output_names_network_and_sources(capsys):
    code, out, _ = run(capsys, "query", "l4l5_knee@1.0.0", "-e", "knee_pain=present")
    assert code == 0
    assert "l4l5_knee 1.0.0" in out and "sha256" in out
    assert "Where does the knee pain come from?" in out
    assert "not a medical device" in out


def test_case_file(capsys, tmp_path):
    case = tmp_path / "case.yaml"
    case.write_text(yaml.safe_dump({"network": "l4l5_knee@1.0.0", "findings": {"knee_pain": "present"},
                                    "soft_findings": {"mcmurray_test": {"positive": 0.9}}, "note": "test"}))
    code, out, _ = run(capsys, "query", "l4l5_knee", "--case", str(case), "-e", "knee_effusion=present", "--json")
    assert code == 0
    ev = json.loads(out)["evidence"]
    assert ev["findings"] == {"knee_pain": "present", "knee_effusion": "present"}
    assert ev["soft_findings"]["mcmurray_test"] == {"negative": pytest.approx(0.1), "positive": 0.9}


@pytest.mark.parametrize(("args", "expected"), [
    (["query", "l4l5_knee", "-e", "straight_leg_rise=positive"],
     "unknown variable 'straight_leg_rise' in network l4l5_knee; did you mean straight_leg_raise"),
    (["query", "l4l5_knee", "-e", "straight_leg_raise=yes"], "valid states: negative, positive"),
    (["query", "l4l5_knee", "-e", "straight_leg_raise"], "malformed finding 'straight_leg_raise'"),
    (["query", "l4l5_knee", "--soft", "straight_leg_raise=positive:high"], "'high' is not a number"),
    (["query", "l4l5_knee", "--soft", "straight_leg_raise=positive:-1"], "must be a number >= 0"),
    (["query", "l4l5_knee", "-e", "knee_pain=present", "-e", "knee_pain=absent"], "given more than once"),
    (["query", "no_such_net"], "unknown network 'no_such_net'; published networks: l4l5_knee"),
    (["query", "l4l5_knee@9.9.9"], "has no version 9.9.9; published versions: 1.0.0, 1.1.0"),
    (["query", "l4l5_knee", "--case", "/nonexistent/case.json"], "cannot read case file"),
    (["info", "missing/file.yaml"], "no network file at 'missing/file.yaml'"),
])
def test_bad_input_one_line_exit_2(capsys, args, expected):
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("bn: error: ")
    assert expected in err


def test_malformed_case_file(capsys, tmp_path):
    case = tmp_path / "bad.json"
    case.write_text('{"findings": {"knee_pain": ')
    code, _, err = run(capsys, "query", "l4l5_knee", "--case", str(case))
    assert code == 2 and f"{case}: not valid JSON or YAML" in err


def test_impossible_findings_are_reported(capsys, tmp_path, write_network):
    # In the tiny network 'any' is a deterministic OR: any=absent with disease=present is impossible.
    path = write_network(small_network_doc())
    code, _, err = run(capsys, "query", str(path), "-e", "disease=present", "-e", "any=absent", "-e", "sign=positive")
    assert code == 2
    assert "cannot all hold" in err and "disease=present" in err and "any=absent" in err
    assert "sign=positive" not in err  # not part of the smallest conflicting set


def test_check_valid_and_invalid(capsys, write_network):
    code, out, _ = run(capsys, "check", str(write_network(small_network_doc())))
    assert code == 0 and out.startswith("OK ") and "0 uncited" in out
    # the published 1.x files load, but bn check reports the works their texts cite without a reference
    # (the seven the specialist review named among them): they are fixed in a new version, not in place
    for version in ("1.0.0", "1.1.0"):
        code, out, _ = run(capsys, "check", str(ROOT / "networks" / "l4l5_knee" / f"{version}.yaml"))
        assert code == 1
        for author in ("Konstantinou", "Peat", "Sutlive", "Smith", "Galli", "Ahmed", "Balasubramanian"):
            assert f"the text cites {author} " in out, author
    doc = small_network_doc()
    doc["variables"][1]["cpt"]["table"]["parents"] = ["nothing"]
    doc["variables"][0]["cpt"]["table"]["rows"][0]["source"] = "nobody"
    code, out, err = run(capsys, "check", str(write_network(doc)))
    assert code == 1
    assert "unknown parent 'nothing'" in out and "unknown reference key 'nobody'" in out
    assert "2 problems" in err


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["variables"][1]["cpt"]["table"].update(
        expert_estimate="Twice the rate in Jones et al. 2019, by analogy"), "the text cites Jones 2019"),
    (lambda d: d["variables"][3]["cpt"]["noisy_or"]["leak"].update(detail="not read in the source; assumed"),
     "cites 'smith2020' but its own text says 'not read'"),
    (lambda d: d["references"].update(jones2019={"citation": "Jones K. Unused. J Test 2019;2:3.",
                                                 "measured": "nothing"}), "reference 'jones2019' is cited by no"),
])
def test_check_fails_on_dishonest_provenance(capsys, write_network, edit, message):
    """Each provenance rule has a broken file that trips it; the file still loads (it is not a format error)."""
    doc = small_network_doc()
    edit(doc)
    path = write_network(doc)
    bn.read_network(str(path))
    code, out, err = run(capsys, "check", str(path))
    assert code == 1 and message in out and "1 problem in" in err


def test_exit_codes_separate_problems_bad_input_and_bugs(capsys, monkeypatch, write_network):
    """0 ok, 1 problems found, 2 bad input, 3 an internal error (one line; --debug re-raises)."""
    assert main(["check", str(write_network(small_network_doc()))]) == 0
    doc = small_network_doc()
    doc["variables"][0]["cpt"]["table"]["rows"][0]["source"] = "nobody"
    assert main(["check", str(write_network(doc, "bad.yaml"))]) == 1
    assert main(["query", "l4l5_knee", "-e", "knee_pian=present"]) == 2
    capsys.readouterr()

    def broken(args):
        raise KeyError("boom")

    import bn.cli.networks

    monkeypatch.setattr(bn.cli.networks, "run", broken)
    assert main(["networks"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("bn: internal error: KeyError: 'boom'") and len(err.strip().splitlines()) == 1
    with pytest.raises(KeyError):
        main(["--debug", "networks"])


def test_info_json(capsys):
    code, out, _ = run(capsys, "info", "l4l5_knee", "--json")
    data = json.loads(out)
    assert code == 0
    counts = data["parameters"]
    assert counts["total"] == counts["cited"] + counts["expert_estimate"] + counts["uncited"]
    assert counts["uncited"] == 0 and counts["cited"] > 0
    assert data["metadata"]["changelog"] and data["references"]


def test_export_and_query_the_export(capsys, tmp_path):
    out_file = tmp_path / "knee.xmlbif"
    code, _, err = run(capsys, "export", "l4l5_knee", "--format", "xmlbif", "--out", str(out_file))
    assert code == 0 and "wrote" in err
    _, a, _ = run(capsys, "query", "l4l5_knee", "-e", "knee_pain=present", "--json")
    _, b, _ = run(capsys, "query", str(out_file), "-e", "knee_pain=present", "--json", "--var", "disc_herniation")
    assert json.loads(a)["posteriors"]["disc_herniation"] == pytest.approx(
        json.loads(b)["posteriors"]["disc_herniation"], abs=1e-12)


def test_bif_network_query(capsys):
    code, out, _ = run(capsys, "query", str(BENCH / "asia.bif"), "-e", "smoke=yes", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["network"]["id"] == "asia" and set(data["posteriors"]) == {
        "asia", "tub", "smoke", "lung", "bronc", "either", "xray", "dysp"}


def test_console_script_runs_as_a_process():
    proc = subprocess.run([sys.executable, "-m", "bn", "query", "l4l5_knee", "-e", "knee_pain=maybe"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "bn: error: 'maybe' is not a state of knee_pain; valid states: absent, present"


@pytest.mark.parametrize("reference", ["l4l5_knee@../../etc/passwd", "l4l5_knee@../1.0.0", "../l4l5_knee@2.0.0",
                                       "l4l5_knee@2.0.0/../../x"])
def test_a_name_cannot_escape_the_registry(capsys, reference):
    """id@version is always a registry name: a path inside it is an unknown version or network, never a file."""
    code, out, err = run(capsys, "query", reference, "-e", "knee_pain=present")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and ("has no version" in err or "unknown network" in err), err


def test_the_command_line_the_app_shows_reproduces_the_case(capsys):
    """Evidence.command_line (shown in the app's Case panel) run as written gives the same posteriors."""
    import shlex

    net = bn.load("l4l5_knee")
    ev = net.evidence({"knee_pain": "present", "age_group": "65_plus"},
                      soft={"straight_leg_raise": {"positive": 0.7, "negative": 0.3}})
    command = ev.command_line(f"l4l5_knee@{net.info.version}", net.network)
    argv = shlex.split(command)
    assert argv[:2] == ["bn", "query"]
    assert main([*argv[1:], "--json", "--interval-draws", "0"]) == 0
    got = json.loads(capsys.readouterr().out)["posteriors"]["disc_herniation"]["present"]
    assert got == pytest.approx(net.posterior("disc_herniation", findings=ev)["present"], abs=1e-12)
