"""Safe YAML reading for every file a user can hand the tool (networks, cases, validation tables).

Only the safe loader is ever used: it builds plain dicts, lists, strings and numbers, never Python objects.
libyaml's C implementation of it is used where PyYAML was built with it (about 10x faster on the case
files the app reads on every rerun); otherwise the pure-Python one.

>>> load("a: 1\\nb: [x, 2.5]")
{'a': 1, 'b': ['x', 2.5]}
>>> try:
...     load("!!python/object:os.system ls")
... except YAMLError as exc:
...     print(type(exc).__name__)
ConstructorError
"""

from __future__ import annotations

from typing import Any

import yaml

YAMLError = yaml.YAMLError
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> Any:
    """The document in ``text``, read with the safe loader; raises :class:`YAMLError` on malformed input."""
    return yaml.load(text, Loader=_LOADER)
