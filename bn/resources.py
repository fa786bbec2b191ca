"""Where the shipped data lives: the published networks and the validation cases.

In a source checkout they are the repository's ``networks/`` and ``validation/`` folders. An installed wheel
carries copies of both inside the package (``bn/data/``, put there by ``setup.py`` at build time), read
through :mod:`importlib.resources`, so ``bn.load("l4l5_knee")`` works from any folder after ``pip install``.
The environment variable ``BN_NETWORKS_DIR`` names another networks folder.

>>> (networks_dir() / "l4l5_knee" / "published.yaml").is_file()
True
"""

from __future__ import annotations

import os
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent  # the repository root, when running from a checkout


def _packaged(name: str) -> Path | None:
    here = Path(__file__).parent
    if here.is_dir():  # a package on disk (a checkout or an unpacked wheel): no need for importlib.resources,
        folder = here / "data" / name  # whose import was 7 ms of every command's start
        return folder if folder.is_dir() else None
    from importlib import resources

    packaged = resources.files("bn") / "data" / name
    return Path(str(packaged)) if packaged.is_dir() else None


def _find(name: str) -> Path:
    packaged = _packaged(name)
    if packaged is not None:
        return packaged
    return CHECKOUT / name


def networks_dir() -> Path:
    """The folder of published networks (``<id>/<version>.yaml``)."""
    env = os.environ.get("BN_NETWORKS_DIR")
    return Path(env) if env else _find("networks")


def validation_dir() -> Path:
    """The validation folder: cases, concordance, the test-set lock and the baselines."""
    return _find("validation")


def work_dir() -> Path:
    """Where generated outputs go by default: the checkout in a checkout, else the current folder."""
    return CHECKOUT if _packaged("networks") is None else Path.cwd()
