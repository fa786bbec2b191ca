"""Put the published networks and the validation data inside the built package (``bn/data/``).

They live at the top of the repository (``networks/``, ``validation/``), where the product design places
them and where a reviewer reads them; ``bn.resources`` finds the packaged copies in an installed wheel.
Everything else about the package is in ``pyproject.toml``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
DATA = {"networks": None, "validation": shutil.ignore_patterns("report", "__pycache__")}


class BuildWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's folders directly
        for name, ignore in DATA.items():
            target = Path(self.build_lib) / "bn" / "data" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(HERE / name, target, ignore=ignore)


setup(cmdclass={"build_py": BuildWithData})
