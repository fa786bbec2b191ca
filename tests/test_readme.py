"""Every command block in the README runs as written, with the files it names (issue 15: examples that run).

The quick start's ``make`` commands are what CI itself runs; every ``bn`` command and the Python API block run
here, from the repository's root. Only ``/tmp/`` is moved to a fresh folder, so runs never collide.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import ROOT

README = (ROOT / "README.md").read_text()
BN = str(Path(sys.executable).with_name("bn"))


def shell_commands(text: str) -> list[str]:
    """The commands of every ```sh block: continuation lines joined, comments dropped."""
    out = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"(^|\s)#.*$", "", line).strip()
            if line:
                out.append(line)
    return out


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


COMMANDS = [c for c in shell_commands(README) if not c.startswith("make ")]


def test_the_readme_has_its_commands():
    assert len(COMMANDS) >= 20 and all(c.startswith("bn ") for c in COMMANDS), COMMANDS
    assert [c for c in shell_commands(README) if c.startswith("make ")] == ["make run", "make test"]
    for path in re.findall(r"\b(examples/\S+)", " ".join(COMMANDS)):
        assert (ROOT / path).is_file(), f"the README names {path}, which is not in the repository"


def test_every_readme_command_runs(tmp_path):
    def run(command: str) -> tuple[str, subprocess.CompletedProcess]:
        args = [a.replace("/tmp/", f"{tmp_path}/") for a in shlex.split(command)]
        return command, subprocess.run([BN, *args[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600)

    # two at a time: CI has two cores
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, COMMANDS))
    failed = [f"{c}\n  exit {r.returncode}: {(r.stderr.strip().splitlines() or [''])[-1]}"
              for c, r in results if r.returncode != 0]
    assert not failed, "\n".join(failed)
    outputs = dict(results)
    batch = next(r for c, r in outputs.items() if c.startswith("bn batch"))
    assert "1 bad row" in batch.stdout + batch.stderr  # the example's bad row is reported, not dropped


@pytest.mark.parametrize("block", python_blocks(README))
def test_the_python_api_block_runs(block):
    exec(compile(block, "README.md", "exec"), {})  # our own README, never user input
