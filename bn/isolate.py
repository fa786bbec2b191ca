"""Reading an untrusted file in a child process that can be stopped: how the app keeps one upload from freezing
the server for everyone.

:func:`check_upload` hands the bytes to ``python -m bn.isolate KIND NAME`` on its standard input. The child caps
its own memory (the ``parse_memory_bytes`` limit of :mod:`bn.limits`) and reads the file exactly as the app
would: a network is parsed, compiled and queried once; a case file is parsed; a records file is read as a
table. If the child finishes within ``parse_seconds``, with a result or with a clean error, the work is known to
be bounded and the caller reads the same bytes itself, getting the same result or the same one-line error.
Otherwise the child is killed, and the upload is refused with one line naming the limit; the server and every
other session never feel it.

Only a one-line JSON status comes back from the child (no objects, nothing unpickled), and the child gets the
caller's limits through :data:`bn.limits.ENVIRONMENT`.

>>> check_upload("case", "case.json", b'{"findings": {"knee_pain": "present"}}')  # bounded: returns None
>>> try:
...     check_upload("case", "slow.json", b"{}", seconds=0.001)
... except UploadRefusedError as exc:
...     print(str(exc)[:58])
slow.json: reading it took longer than 0.001 s, the limit
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bn import limits
from bn.errors import BNError

KINDS = ("network", "case", "records")


class UploadRefusedError(BNError):
    """An upload that could not be read within the time or memory limit; nothing was loaded."""


def check_upload(kind: str, name: str, data: bytes, *, seconds: float | None = None) -> None:
    """Return when reading ``data`` as ``kind`` (network, case or records) finishes within the limits, in a child
    process; raise :class:`UploadRefusedError` when it does not. ``seconds`` overrides ``parse_seconds``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    most = limits.current()
    budget = seconds if seconds is not None else most.parse_seconds
    # One BLAS thread: the child's numpy would otherwise reserve a thread and its buffers per core.
    env = {**os.environ, limits.ENVIRONMENT: most.to_text(), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    try:
        done = subprocess.run([sys.executable, "-m", "bn.isolate", kind, name], input=data, capture_output=True,
                              timeout=budget, env=env, check=False)
    except subprocess.TimeoutExpired:  # subprocess.run has killed the child
        raise UploadRefusedError(f"{name}: reading it took longer than {budget:g} s, the limit (parse_seconds); "
                                 "nothing was loaded") from None
    lines = done.stdout.decode("utf-8", errors="replace").strip().splitlines()
    try:
        status = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        status = {}
    if status.get("finished"):
        return
    if status.get("memory") or done.returncode in (-9, 137):
        raise UploadRefusedError(f"{name}: reading it needs more than {limits.size_text(most.parse_memory_bytes)} "
                                 "of memory, the limit (parse_memory_bytes); nothing was loaded")
    why = status.get("error") or f"the reader stopped with status {done.returncode}"
    raise UploadRefusedError(f"{name}: could not be read ({why}); nothing was loaded")


def read(kind: str, name: str, data: bytes) -> None:
    """Read ``data`` as the app reads an upload of ``kind``: what the child process runs."""
    if kind == "network":
        import bn
        from bn.interop import parse_upload

        bn.load(parse_upload(name, data)).query({})
    elif kind == "case":
        from bn.evidence import parse_case

        parse_case(data, name)
    else:
        from bn.batch import read_uploaded_cases

        read_uploaded_cases(name, data)


def _child(kind: str, name: str) -> dict[str, object]:
    import resource

    cap = limits.current().parse_memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        read(kind, name, sys.stdin.buffer.read())
    except BNError:
        pass  # a clean refusal: the caller reads the file again and reports it in its own words
    except MemoryError:
        return {"memory": True}
    except Exception as exc:  # a bug in a reader: say which, in one line
        first = str(exc).splitlines()[0] if str(exc) else ""
        return {"error": f"internal error {type(exc).__name__}: {first}"[:300]}
    return {"finished": True}


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], sys.argv[2])))
