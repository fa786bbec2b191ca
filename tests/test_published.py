"""Published versions are pinned by their sha256 (networks/<id>/published.yaml): an impostor or an edited copy
is never reported as the published network (issue 18)."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from conftest import ROOT

import bn
from bn.cli import main
from bn.errors import BNError
from bn.registry import pinned, published

NETWORKS = ROOT / "networks"


def test_every_published_version_is_pinned_to_its_bytes():
    for network_id, versions in published().items():
        pins = pinned(network_id)
        assert set(pins) == set(versions), f"{network_id}: add the new version's sha256 to published.yaml"
        for v in versions:
            assert pins[v] == hashlib.sha256((NETWORKS / network_id / f"{v}.yaml").read_bytes()).hexdigest()


def test_the_published_file_says_so():
    info = bn.load("l4l5_knee@1.0.0").info
    assert info.published is True and info.warning == "" and info.to_dict()["published"] is True


@pytest.fixture
def impostor(tmp_path):
    """A file elsewhere that claims l4l5_knee 1.0.0, one title character changed."""
    path = tmp_path / "evil" / "l4l5_knee" / "1.0.0.yaml"
    path.parent.mkdir(parents=True)
    text = (NETWORKS / "l4l5_knee" / "1.0.0.yaml").read_text()
    path.write_text(text.replace("Knee pain: referred", "Knee pain - referred", 1))
    assert path.read_text() != text
    return path


def test_an_impostor_is_marked_in_the_api_the_json_and_the_text(impostor, capsys):
    info = bn.load(str(impostor)).info
    assert (info.id, info.version, info.published) == ("l4l5_knee", "1.0.0", False)
    assert "not the published l4l5_knee 1.0.0" in info.warning
    assert main(["query", str(impostor), "-e", "knee_pain=present", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["network"]["published"] is False
    assert main(["query", str(impostor), "-e", "knee_pain=present"]) == 0
    assert "WARNING: not the published l4l5_knee 1.0.0" in capsys.readouterr().out


def test_bn_check_compares_with_the_pinned_hash(impostor, capsys):
    assert main(["check", str(impostor)]) == 1
    assert "claims l4l5_knee 1.0.0, which was published with sha256 85c04ea3" in capsys.readouterr().out


def test_an_edited_published_file_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "networks"
    shutil.copytree(NETWORKS / "l4l5_knee", folder / "l4l5_knee")
    with open(folder / "l4l5_knee" / "1.1.0.yaml", "a") as handle:
        handle.write("# edited after publication\n")
    monkeypatch.setenv("BN_NETWORKS_DIR", str(folder))
    with pytest.raises(BNError, match=r"was changed after l4l5_knee 1\.1\.0 was published"):
        bn.load("l4l5_knee@1.1.0")
    assert bn.load("l4l5_knee@1.0.0").info.published is True


def test_bn_check_takes_a_published_reference(capsys):
    assert main(["check", "l4l5_knee@2.0.0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK ") and pinned("l4l5_knee")["2.0.0"] in out


def test_an_impostor_read_from_text_is_marked_too(impostor):
    """An upload is parsed from bytes, never from a path: bn.load still compares it with the pinned hash."""
    from bn.netfile import parse_network_text

    assert bn.load(parse_network_text(impostor.read_bytes(), "1.0.0.yaml")).info.published is False
    real = (NETWORKS / "l4l5_knee" / "1.0.0.yaml").read_bytes()
    assert bn.load(parse_network_text(real, "1.0.0.yaml")).info.published is True


def test_no_truncated_copy_of_a_published_file_passes_as_it(tmp_path, capsys):
    """Cut the published 1.1.0 at 60 places (line ends): a cut that still parses claims l4l5_knee 1.1.0 with
    other bytes, so bn check reports it; one that is not a valid network has its problems listed. Never 'OK'."""
    text = (NETWORKS / "l4l5_knee" / "1.1.0.yaml").read_text()
    ends = [i for i, ch in enumerate(text) if ch == "\n"]
    claims = 0
    for cut in ends[:: max(1, len(ends) // 60)][1:]:
        path = tmp_path / "cut" / "l4l5_knee" / "1.1.0.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text[: cut + 1])
        code = main(["check", str(path)])
        out = capsys.readouterr()
        assert code in (1, 2) and not out.out.startswith("OK"), (cut, code, out.out[:200])
        claims += "which was published with sha256" in out.out
    assert claims >= 5, claims  # the test reaches cuts that are valid networks, flagged by the pinned hash alone


def test_the_published_hashes_are_read_without_yaml_and_from_the_file_itself(tmp_path, monkeypatch):
    """published.yaml's 'VERSION: SHA256' lines are read line by line (no YAML reader: most of a command's start);
    any other form goes to the YAML reader, and a file that is neither is refused. Nothing is kept elsewhere:
    the pins are the trust anchor of "published"."""
    from bn import safeyaml

    expected = pinned("l4l5_knee")
    assert len(expected) >= 3 and all(len(h) == 64 for h in expected.values())

    def no_yaml(*args, **kwargs):
        raise AssertionError("the YAML reader was used")

    with monkeypatch.context() as m:
        m.setattr(safeyaml, "load", no_yaml)
        assert pinned("l4l5_knee") == expected
    folder = tmp_path / "nets" / "toy"
    folder.mkdir(parents=True)
    monkeypatch.setenv("BN_NETWORKS_DIR", str(tmp_path / "nets"))
    sha = "ab" * 32
    (folder / "published.yaml").write_text(f'"1.0.0": "{sha}"  # quoted: YAML, not the line form\n')
    assert pinned("toy") == {"1.0.0": sha}
    for bad in (f"1.0.0: {sha}\n1.0.0: {'cd' * 32}\n", "1.0.0: not-a-hash\n", f"- 1.0.0: {sha}\n"):
        (folder / "published.yaml").write_text(bad)
        with pytest.raises(BNError):
            pinned("toy")
