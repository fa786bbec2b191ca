"""The built wheel carries the published networks and the validation data: `pip install` is enough."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from conftest import ROOT

import bn


def test_an_installed_wheel_answers_from_any_folder(tmp_path):
    # Build from a copy of the sources: an in-tree build would leave build/ in the checkout and reuse a
    # stale build/lib from an earlier one.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".hypothesis", ".pytest_cache", ".ruff_cache"))
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(dist), str(source)], check=True, cwd=tmp_path, timeout=300)
    (wheel,) = dist.glob("*.whl")
    env_dir = tmp_path / "clean-venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True, timeout=300)
    # The dependencies come from this environment's site-packages, added as a plain path: its .pth files
    # (among them the editable install of this checkout) are not run, so `bn` is the wheel's.
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "BN_NETWORKS_DIR"}
    env["BN_CACHE_DIR"] = str(tmp_path / "cache")
    where = subprocess.run([str(python), "-c", "import bn, bn.resources as r; print(bn.__file__); "
                            "print(r.networks_dir()); print(r.validation_dir())"],
                           check=True, capture_output=True, text=True, cwd=away, env=env).stdout.split()
    assert all(w.startswith(str(site)) for w in where), where  # the package and its data, not the checkout
    out = subprocess.run([str(env_dir / "bin" / "bn"), "query", "l4l5_knee", "-e", "knee_pain=present", "--json"],
                         capture_output=True, text=True, cwd=away, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    shipped = bn.load("l4l5_knee")
    assert answer["network"] == {"id": "l4l5_knee", "version": shipped.info.version,
                                 "sha256": shipped.info.sha256, "published": True}
    ours = shipped.query(findings={"knee_pain": "present"}).knee_pain_source
    assert answer["knee_pain_source"] == pytest.approx(ours, abs=1e-9)
    count = "from bn.validation import CASES_DIR; print(len(list(CASES_DIR.glob('*.yaml'))))"
    cases = subprocess.run([str(python), "-c", count], check=True, capture_output=True, text=True, cwd=away,
                           env=env).stdout
    assert int(cases) == len(list((ROOT / "validation" / "cases").glob("*.yaml")))
