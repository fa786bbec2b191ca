"""A cache of compiled networks, keyed by the sha256 of the network file's bytes.

Reading a network validates it (YAML parsing and a JSON schema for ``bn-network/1`` files, pgmpy's parser for
BIF and XMLBIF) and compiling it triangulates the moral graph; together that is most of a ``bn query``. Both
depend only on the file's bytes, so the result is stored once as a ``.npz`` file (numpy arrays for the tables
and a JSON document for everything else; loaded with ``allow_pickle=False``, never pickle) under
``$BN_CACHE_DIR`` or ``~/.cache/bn``. A warm load imports neither pgmpy, jsonschema nor pandas.

The key also holds this module's format number, the package version and a digest of the reading and compiling
code (so an edited formula or planner never meets an entry the old code wrote, even at the same version). The
model is encoded field by field from its dataclasses (a new field round-trips with no change here), and an
entry holds the sha256 of its contents: a truncated, damaged or edited entry is ignored and rewritten.

>>> import bn.cache
>>> net = bn.cache.load("l4l5_knee")          # first time: read, validate, compile, store; then: one file read
>>> net.info.id, net.engine.name
('l4l5_knee', 'einsum')
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import hashlib
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bn.engines import DEFAULT, TreePlan, engine_plan
from bn.files import write_bytes
from bn.inference import BayesNet
from bn.model import Network, NetworkInfo, Parameter, Reference, State, Summary, Variable

# 2: plans may be over the OR chains (bn.decompose); 3: generic model encoding with a digest; 4: the priors
FORMAT = 4


def cache_dir() -> Path:
    """``$BN_CACHE_DIR`` if set, else ``~/.cache/bn``."""
    env = os.environ.get("BN_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "bn"


@functools.cache
def _code_digest() -> str:
    """sha256 of the code that reads and compiles a network: an edited reader or compiler (a noisy-OR formula,
    a validation rule, the planner) must never meet an entry the old code wrote, whatever the package version."""
    here = Path(__file__).parent  # read as files: importing interop or netfile would pull in pgmpy and jsonschema
    h = hashlib.sha256()
    # inference and the engines' registry and protocol compute the priors the entry keeps
    for name in ("cache", "converters", "decompose", "engines/__init__", "engines/base", "engines/junction_tree",
                 "inference", "interop", "model", "netfile", "safeyaml"):
        h.update((here / f"{name}.py").read_bytes())
    return h.hexdigest()[:16]


def load(reference: Any = "l4l5_knee", engine: str = "einsum") -> BayesNet:
    """:func:`bn.load` through the cache: same arguments, same result, without re-reading a known file."""
    library = type(reference).__module__.split(".")[0]
    if library in ("pgmpy", "pyagrum"):  # another library's model: converted, never cached (it has no file)
        from bn.converters import from_pgmpy, from_pyagrum

        reference = from_pgmpy(reference) if library == "pgmpy" else from_pyagrum(reference)
    if isinstance(reference, Network):  # read from text (an upload): it may still claim a published version
        info = reference.info
        if info.published is None:
            from bn.registry import published_status

            status = published_status(info.id, info.version, info.sha256)
            reference = Network(**{**reference.__dict__, "info": NetworkInfo(info.id, info.version, info.sha256,
                                                                            info.path, status)})
        return BayesNet(reference, engine=engine)
    network, plan, extra, priors = read_compiled(reference)
    if engine != DEFAULT:  # the cached plans are the junction tree's
        return BayesNet(network, engine=engine)
    return BayesNet(network, engine=engine, plan=plan, extra_plans=extra, priors=priors)


Priors = dict[str, dict[str, float]]


def read_compiled(reference: str | Path) -> tuple[Network, TreePlan, dict[frozenset[str], TreePlan], Priors]:
    """The network a reference names, its junction-tree plan, the plan for its default explanation (the joint
    of the diagnoses) and every variable's prior marginal, from the cache when the file is known."""
    from bn import __version__
    from bn.netfile import read_bytes_limited
    from bn.registry import resolve

    path = resolve(str(reference))
    data = read_bytes_limited(path)
    digest = hashlib.sha256(data).hexdigest()
    entry = cache_dir() / f"{digest}-f{FORMAT}-bn{__version__}-{_code_digest()}.npz"
    if entry.is_file():
        try:
            network, plan, extra, priors = _read_entry(entry, digest)
        except Exception:  # whatever is wrong with an entry (a bad zip, a bad document, a bad digest),
            pass  # it is damaged, tampered with or foreign: never trusted, recompiled and overwritten
        else:
            return _stamped(network, path), plan, extra, priors
    from bn.registry import read_network

    network = read_network(path)
    plan = engine_plan(network)
    extra = {}
    net = BayesNet(network, plan=plan)
    if network.has_roles:
        explained = net.default_map_variables()
        extra[frozenset(explained)] = net.engine.extra_plan(explained)
    priors = net.priors()
    # A read-only home directory, or a model value the entry format cannot hold, must not stop a query.
    with contextlib.suppress(OSError, ValueError):
        _write_entry(entry, network, plan, extra, priors)
    return _stamped(network, path), plan, extra, priors


def _stamped(network: Network, path: Path) -> Network:
    """The network with its file path and whether it is the published version it claims (pinned hashes,
    :func:`bn.registry.published_status`). The published file itself with other bytes is refused: a
    published version is immutable."""
    from bn.errors import UnknownNetworkError
    from bn.registry import networks_dir, pinned, published_status

    info = network.info
    status = published_status(info.id, info.version, info.sha256)
    own = networks_dir() / info.id / f"{info.version}.yaml"
    if status is False and own.exists() and own.resolve() == Path(path).resolve():
        raise UnknownNetworkError(
            f"{path} was changed after {info.id} {info.version} was published (sha256 {info.sha256[:16]}..., "
            f"published {pinned(info.id)[info.version][:16]}...): a published version is immutable; restore it "
            "and publish the change as a new version")
    return Network(**{**network.__dict__, "info": NetworkInfo(info.id, info.version, info.sha256, str(path),
                                                              status)})


def _write_entry(entry: Path, network: Network, plan: TreePlan, extra: dict[frozenset[str], TreePlan],
                 priors: Priors) -> None:
    arrays: list[np.ndarray] = []
    # The priors are floats in JSON, which round-trips every float64 exactly.
    doc = {"format": FORMAT, "network": encode(network, arrays), "plan": plan.to_json(),
           "extra_plans": [{"variables": sorted(k), "plan": p.to_json()} for k, p in extra.items()],
           "priors": priors}
    document = json.dumps(doc, allow_nan=True).encode()
    named = {f"a{i}": np.ascontiguousarray(a) for i, a in enumerate(arrays)}
    named["document"] = np.frombuffer(document, dtype=np.uint8)
    named["digest"] = np.frombuffer(_digest(document, list(named.values())[:-1]).encode(), dtype=np.uint8)
    entry.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **named)
    write_bytes(entry, buffer.getvalue())  # whole or not at all: a concurrent reader never sees half a file


def _digest(document: bytes, arrays: list[np.ndarray]) -> str:
    """sha256 of the document and of every array's dtype, shape and bytes."""
    h = hashlib.sha256(document)
    for a in arrays:
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _read_entry(entry: Path, sha256: str) -> tuple[Network, TreePlan, dict[frozenset[str], TreePlan], Priors]:
    """The entry's network, plans and priors; ValueError for a damaged, tampered or foreign entry (never
    trusted)."""
    with np.load(entry, allow_pickle=False) as npz:
        document = npz["document"].tobytes()
        doc = json.loads(document.decode())
        if doc.get("format") != FORMAT:
            raise ValueError("cache format")
        arrays = [npz[f"a{i}"] for i in range(sum(1 for k in npz.files if k.startswith("a")))]
        if npz["digest"].tobytes().decode() != _digest(document, arrays):
            raise ValueError("the entry's digest does not match its contents")
    network = decode(doc["network"], arrays)
    if not isinstance(network, Network) or network.info.sha256 != sha256:
        raise ValueError("the entry is for another file")
    extra = {frozenset(e["variables"]): TreePlan.from_json(e["plan"]) for e in doc["extra_plans"]}
    priors = doc["priors"]
    if set(priors) != set(network.variables):
        raise ValueError("the entry's priors are not the network's")
    return network, TreePlan.from_json(doc["plan"]), extra, priors


# The model's classes, by name: the only types an entry can name (decoding never imports or calls anything else).
_TYPES = {cls.__name__: cls for cls in (Network, NetworkInfo, Variable, State, Parameter, Reference, Summary)}


def encode(obj: Any, arrays: list[np.ndarray]) -> Any:
    """A JSON-able form of a model object, field by field (every dataclass field, so a new field is never
    dropped); numpy arrays go to ``arrays`` and are referred to by index.

    >>> arrays = []
    >>> encode(State("present", "Present"), arrays)
    {'@': 'State', 'id': 'present', 'label': 'Present'}
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        if type(obj).__name__ not in _TYPES:
            raise ValueError(f"cannot cache a {type(obj).__name__}")
        return {"@": type(obj).__name__, **{f.name: encode(getattr(obj, f.name), arrays)
                                            for f in dataclasses.fields(obj)}}
    if isinstance(obj, np.ndarray):
        arrays.append(obj)
        return {"@": "array", "index": len(arrays) - 1}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple):
        return {"@": "tuple", "items": [encode(x, arrays) for x in obj]}
    if isinstance(obj, Mapping):
        return {"@": "map", "items": [[encode(k, arrays), encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, list):
        return [encode(x, arrays) for x in obj]
    if isinstance(obj, datetime.datetime):
        return {"@": "datetime", "iso": obj.isoformat()}
    if isinstance(obj, datetime.date):
        return {"@": "date", "iso": obj.isoformat()}
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    raise ValueError(f"cannot cache a {type(obj).__name__}")


def decode(obj: Any, arrays: list[np.ndarray]) -> Any:
    """The inverse of :func:`encode`."""
    if isinstance(obj, list):
        return [decode(x, arrays) for x in obj]
    if not isinstance(obj, dict):
        return obj
    kind = obj.get("@")
    if kind == "array":
        return arrays[obj["index"]]
    if kind == "tuple":
        return tuple(decode(x, arrays) for x in obj["items"])
    if kind == "map":
        return {decode(k, arrays): decode(v, arrays) for k, v in obj["items"]}
    if kind == "datetime":
        return datetime.datetime.fromisoformat(obj["iso"])
    if kind == "date":
        return datetime.date.fromisoformat(obj["iso"])
    if kind in _TYPES:
        return _TYPES[kind](**{k: decode(v, arrays) for k, v in obj.items() if k != "@"})
    raise ValueError(f"unknown type in a cache entry: {kind!r}")
