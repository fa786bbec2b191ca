"""Writing outputs safely: whole or not at all, and never over a published network.

Every writer (``bn batch``, ``bn learn``, ``bn export``, ``bn sensitivity --out``, ``bn validate``) writes to a
temporary file in the target's folder and renames it into place, so a crash, a full disk, SIGTERM or SIGKILL
leaves the final name holding either nothing (or its old contents) or the whole result, never half of it.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
>>> write_text(target, "all of it")
>>> target.read_text()
'all of it'
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from bn.errors import BNError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path``: write to it inside the block; it replaces ``path`` only when the block
    ends without an exception (otherwise it is removed and ``path`` is untouched)."""
    path = Path(path)
    import tempfile  # here, not at the top: every command imports this module, few write (5 ms of start-up)

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def inside_registry(path: str | Path) -> bool:
    """True when ``path`` lies in the published-networks folder (``networks/`` or ``BN_NETWORKS_DIR``)."""
    from bn.resources import networks_dir

    try:
        Path(path).resolve().relative_to(networks_dir().resolve())
    except ValueError:
        return False
    return True


def refuse_registry(path: str | Path, *, what: str) -> None:
    """Raise when ``path`` is inside the published networks: writers add to them only through
    :func:`bn.registry.publish`, which checks the version and pins the hash."""
    if inside_registry(path):
        raise BNError(f"{path} is in the published-networks folder: {what} would publish it; write it elsewhere "
                      "with --out FILE, or publish on purpose with --publish")
