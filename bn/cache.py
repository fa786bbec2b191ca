"""A cache of compiled networks, keyed by the sha256 of the network file's bytes.

Reading a network validates it (YAML parsing and a JSON schema for ``bn-network/1`` files, pgmpy's parser for
BIF and XMLBIF) and compiling it triangulates the moral graph; together that is most of a ``bn query``. Both
depend only on the file's bytes, so the result is stored once as a ``.npz`` file (numpy arrays for the tables
and a JSON document for everything else; loaded with ``allow_pickle=False``, never pickle) under
``$BN_CACHE_DIR`` or ``~/.cache/bn``. A warm load imports neither pgmpy, jsonschema nor pandas.

The key also holds this module's format number, the package version and a digest of the reading and compiling
code (so an edited formula or planner never meets an entry the old code wrote, even at the same version). An
unreadable entry is ignored and rewritten.

>>> import bn.cache
>>> net = bn.cache.load("l4l5_knee")          # first time: read, validate, compile, store; then: one file read
>>> net.info.id, net.engine.name
('l4l5_knee', 'einsum')
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bn.engine import TreePlan, engine_plan
from bn.inference import BayesNet
from bn.model import Network, NetworkInfo, Parameter, Reference, State, Variable

FORMAT = 2  # 2: plans may be over the OR chains (bn.decompose)


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
    for name in ("cache", "decompose", "engine", "interop", "model", "netfile", "safeyaml"):
        h.update((here / f"{name}.py").read_bytes())
    return h.hexdigest()[:16]


def load(reference: str | Network = "l4l5_knee", engine: str = "einsum") -> BayesNet:
    """:func:`bn.load` through the cache: same arguments, same result, without re-reading a known file."""
    if isinstance(reference, Network):
        return BayesNet(reference, engine=engine)
    network, plan, extra = read_compiled(reference)
    if engine != "einsum":
        return BayesNet(network, engine=engine)
    return BayesNet(network, engine=engine, plan=plan, extra_plans=extra)


def read_compiled(reference: str | Path) -> tuple[Network, TreePlan, dict[frozenset[str], TreePlan]]:
    """The network a reference names, its junction-tree plan and the plan for its default explanation
    (the joint of the diagnoses), from the cache when the file is known."""
    from bn import __version__
    from bn.netfile import read_bytes_limited
    from bn.registry import resolve

    path = resolve(str(reference))
    data = read_bytes_limited(path)
    digest = hashlib.sha256(data).hexdigest()
    entry = cache_dir() / f"{digest}-f{FORMAT}-bn{__version__}-{_code_digest()}.npz"
    if entry.is_file():
        try:
            network, plan, extra = _read_entry(entry)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged or foreign entry: recompile and overwrite it
        else:
            return _stamped(network, path), plan, extra
    from bn.registry import read_network

    network = read_network(path)
    plan = engine_plan(network)
    extra = {}
    if network.has_roles:
        net = BayesNet(network, plan=plan)
        explained = net.default_map_variables()
        extra[frozenset(explained)] = net.engine.extra_plan(explained)
    with contextlib.suppress(OSError):  # a read-only home directory must not stop a query
        _write_entry(entry, network, plan, extra)
    return _stamped(network, path), plan, extra


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


def _write_entry(entry: Path, network: Network, plan: TreePlan, extra: dict[frozenset[str], TreePlan]) -> None:
    doc = {"format": FORMAT, "network": _network_doc(network), "plan": plan.to_json(),
           "extra_plans": [{"variables": sorted(k), "plan": p.to_json()} for k, p in extra.items()]}
    arrays = {f"cpt{i}": np.asarray(v.cpt, dtype=float) for i, v in enumerate(network.variables.values())}
    arrays["document"] = np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8)
    entry.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    # Write then rename, so a concurrent reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buffer.getvalue())
        os.replace(tmp, entry)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_entry(entry: Path) -> tuple[Network, TreePlan, dict[frozenset[str], TreePlan]]:
    with np.load(entry, allow_pickle=False) as npz:
        doc = json.loads(npz["document"].tobytes().decode())
        if doc.get("format") != FORMAT:
            raise ValueError("cache format")
        cpts = [npz[f"cpt{i}"] for i in range(len(doc["network"]["variables"]))]
    extra = {frozenset(e["variables"]): TreePlan.from_json(e["plan"]) for e in doc["extra_plans"]}
    return _network_from_doc(doc["network"], cpts), TreePlan.from_json(doc["plan"]), extra


def _network_doc(network: Network) -> dict[str, Any]:
    def parameter(p: Parameter) -> dict[str, Any]:
        return {"variable": p.variable, "kind": p.kind, "key": p.key,
                "value": list(p.value) if isinstance(p.value, tuple) else p.value, "source": p.source,
                "detail": p.detail, "expert_estimate": p.expert_estimate,
                "range": list(p.range) if p.range is not None else None}

    return {
        "info": {"id": network.info.id, "version": network.info.version, "sha256": network.info.sha256},
        "meta": json.loads(json.dumps(dict(network.meta), default=str)),
        "references": {k: {"key": r.key, "citation": r.citation, "measured": r.measured, "url": r.url}
                       for k, r in network.references.items()},
        "knee_pain_sources": dict(network.knee_pain_sources),
        "source_format": network.source_format,
        "variables": [
            {"id": v.id, "states": [[s.id, s.label] for s in v.states], "parents": list(v.parents),
             "label": v.label, "description": v.description, "role": v.role, "group": v.group, "cost": v.cost,
             "alert": v.alert, "form": v.form, "definition": v.definition, "on_state": v.on_state,
             "parameters": [parameter(p) for p in v.parameters]}
            for v in network.variables.values()
        ],
    }


def _network_from_doc(doc: dict[str, Any], cpts: list[np.ndarray]) -> Network:
    def parameter(d: dict[str, Any]) -> Parameter:
        value = tuple(d["value"]) if isinstance(d["value"], list) else d["value"]
        rng = tuple(d["range"]) if d["range"] is not None else None
        return Parameter(d["variable"], d["kind"], d["key"], value, d["source"], d["detail"], d["expert_estimate"],
                         rng)

    variables = {}
    for v, cpt in zip(doc["variables"], cpts, strict=True):
        variables[v["id"]] = Variable(
            id=v["id"], states=tuple(State(s, label) for s, label in v["states"]), parents=tuple(v["parents"]),
            cpt=cpt, label=v["label"], description=v["description"], role=v["role"], group=v["group"],
            cost=v["cost"], alert=v["alert"], form=v["form"], definition=v["definition"], on_state=v["on_state"],
            parameters=tuple(parameter(p) for p in v["parameters"]))
    info = doc["info"]
    return Network(
        info=NetworkInfo(info["id"], info["version"], info["sha256"]), variables=variables, meta=doc["meta"],
        references={k: Reference(**r) for k, r in doc["references"].items()},
        knee_pain_sources=doc["knee_pain_sources"], source_format=doc["source_format"])
