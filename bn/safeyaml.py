"""Safe YAML reading for every file a user can hand the tool (networks, cases, validation tables).

Only the safe loader is ever used: it builds plain dicts, lists, strings and numbers, never Python objects.
libyaml's C implementation of it is used where PyYAML was built with it (about 10x faster on the case
files the app reads on every rerun); otherwise the pure-Python one.

Before a document is built, its event stream is checked against limits that stop a small file from becoming
a huge or endless one: no anchors or aliases (a "billion laughs" file of a few hundred bytes expands to
gigabytes), a nesting depth and a number of nodes within the yaml_depth and yaml_nodes limits of
:mod:`bn.limits`. A number too long
to convert is refused too, and so is a key given twice in one mapping (YAML and JSON readers otherwise keep the
last value without a word). Each raises :class:`YAMLLimitError` (a :class:`YAMLError`) with one line.

>>> load("a: 1\\nb: [x, 2.5]")
{'a': 1, 'b': ['x', 2.5]}
>>> try:
...     load("!!python/object:os.system ls")
... except YAMLError as exc:
...     print(type(exc).__name__)
ConstructorError
>>> try:
...     load("a: &x [1, 2]\\nb: *x")
... except YAMLError as exc:
...     print(exc)
YAML anchors and aliases are not accepted (line 1)
"""

from __future__ import annotations

from typing import Any

import yaml

YAMLError = yaml.YAMLError
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YAMLLimitError(yaml.YAMLError):
    """A document refused before it is built (aliases, depth, size, an unconvertible number)."""


def _check_events(text: str, max_depth: int, max_nodes: int) -> None:
    nodes = 0
    # One frame per open collection: for a mapping, the keys seen and whether the next scalar is a key.
    stack: list[list] = []
    for event in yaml.parse(text, Loader=_LOADER):
        line = event.start_mark.line + 1 if event.start_mark else "?"
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise YAMLLimitError(f"YAML anchors and aliases are not accepted (line {line})")
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > max_nodes:
                raise YAMLLimitError(f"the document has more than {max_nodes:,} values (limit yaml_nodes)")
            if stack and stack[-1][0] is not None:  # a node inside a mapping: a key or a value
                frame = stack[-1]
                if frame[1] and isinstance(event, yaml.ScalarEvent):
                    if event.value in frame[0]:
                        raise YAMLLimitError(f"duplicate key '{event.value}' (line {line}): give each key once")
                    frame[0].add(event.value)
                frame[1] = not frame[1]
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            stack.append([set(), True] if isinstance(event, yaml.MappingStartEvent) else [None, False])
            if len(stack) > max_depth:
                raise YAMLLimitError(f"the document nests deeper than {max_depth} levels (limit yaml_depth)")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            stack.pop()


def load(text: str, *, max_depth: int | None = None, max_nodes: int | None = None) -> Any:
    """The document in ``text``, read with the safe loader within the limits above; raises :class:`YAMLError`
    (one line) on malformed or refused input."""
    from bn.limits import current

    most = current()
    _check_events(text, max_depth or most.yaml_depth, max_nodes or most.yaml_nodes)
    try:
        return yaml.load(text, Loader=_LOADER)
    except ValueError as exc:  # e.g. an integer literal longer than Python converts
        raise YAMLLimitError(f"a value cannot be read: {str(exc).splitlines()[0]}") from None
