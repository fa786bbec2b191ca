"""Find networks by reference: ``l4l5_knee`` (latest), ``l4l5_knee@1.0.0``, or a file path.

Published versions are immutable files ``networks/<id>/<version>.yaml``. The folder is the repository's
``networks/`` (or the copy inside an installed wheel, :mod:`bn.resources`) unless the environment variable
``BN_NETWORKS_DIR`` names another.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bn.errors import UnknownNetworkError
from bn.interop import read_standard, standard_format
from bn.model import Network
from bn.netfile import read_network_file
from bn.resources import networks_dir

_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
CANONICAL_VERSION = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")  # no leading zeros: one spelling each


def published() -> dict[str, list[str]]:
    """Network id -> published versions, oldest first.

    >>> "1.0.0" in published()["l4l5_knee"]
    True
    """
    found: dict[str, list[str]] = {}
    root = networks_dir()
    if not root.is_dir():
        return found
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        versions = [f.stem for f in folder.glob("*.yaml") if _VERSION.match(f.stem)]
        if (folder / PINNED_FILE).is_file():  # a file dropped in beside the pinned ones is not published
            pins = pinned(folder.name)
            versions = [v for v in versions if v in pins]
        if versions:
            found[folder.name] = sorted(versions, key=_version_key)
    return found


PINNED_FILE = "published.yaml"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def pinned(network_id: str) -> dict[str, str]:
    """Version -> sha256 of every published version of ``network_id`` (``networks/<id>/published.yaml``);
    empty when the folder has no such file.

    >>> pinned("l4l5_knee")["1.0.0"][:12]
    '85c04ea369d3'
    """
    path = networks_dir() / network_id / PINNED_FILE
    if not path.is_file():
        return {}
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnknownNetworkError(f"{path}: cannot read the published hashes ({exc})") from None
    return _pins(path, data)


_PIN_LINE = re.compile(r"^(\d+\.\d+\.\d+): ([0-9a-f]{64})$")


def _pins(path: Path, data: bytes) -> dict[str, str]:
    """The pins in a ``published.yaml``'s bytes. The file is comment lines and ``VERSION: SHA256`` lines, read
    here line by line; anything else goes to the YAML reader, whose import was most of resolving a network's
    name, which every command does. (The pins are the trust anchor of "published": they are always read from
    the file itself, never from a copy a cache could hold.)"""
    lines = [line.strip() for line in data.decode("utf-8", errors="replace").splitlines()]
    found = [_PIN_LINE.match(line) for line in lines if line and not line.startswith("#")]
    if all(found) and len({m[1] for m in found}) == len(found):
        return {m[1]: m[2] for m in found}
    from bn import safeyaml

    try:
        doc = safeyaml.load(data.decode("utf-8"))
    except (UnicodeDecodeError, safeyaml.YAMLError) as exc:
        raise UnknownNetworkError(f"{path}: cannot read the published hashes ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not all(_VERSION.match(str(k)) and _SHA256.match(str(v)) for k, v in doc.items()):
        raise UnknownNetworkError(f"{path}: expected lines 'VERSION: SHA256' (a version like 1.0.0, a 64-digit "
                                  "lowercase hex sha256)")
    return {str(k): str(v) for k, v in doc.items()}


def published_status(network_id: str, version: str, sha256: str) -> bool | None:
    """True when ``id@version`` is published with this sha256, False when it is published with another one
    (an impostor or an edited copy), None when no such version is published."""
    expected = pinned(network_id).get(version)
    return None if expected is None else expected == sha256


def publish(text: str, *, network_id: str, version: str) -> Path:
    """Add ``text`` (a network file, already validated) to the registry as ``network_id`` ``version`` and pin
    its sha256: the deliberate act behind ``bn learn --publish``. The version must be canonical and greater
    than every published version of that id; an existing file is never replaced. Returns the new file's path.
    """
    import hashlib

    from bn.files import write_text

    if not CANONICAL_VERSION.fullmatch(version):
        raise UnknownNetworkError(f"'{version}' is not a version: write MAJOR.MINOR.PATCH without leading zeros")
    folder = networks_dir() / network_id
    earlier = published().get(network_id, [])
    if earlier and _version_key(version) <= _version_key(earlier[-1]):
        raise UnknownNetworkError(f"cannot publish {network_id} {version}: the latest published version is "
                                  f"{earlier[-1]}, and a new one must be greater")
    path = folder / f"{version}.yaml"
    if path.exists():
        raise UnknownNetworkError(f"{path} exists; a published file is never replaced")
    folder.mkdir(parents=True, exist_ok=True)
    pins_path = folder / PINNED_FILE
    if pins_path.is_file():
        old_pins = pins_path.read_text(encoding="utf-8")
    else:  # a folder published before pins existed: its versions are pinned as they are now
        old_pins = f"# The sha256 of every published version of {network_id}; add a line when one is published.\n"
        old_pins += "".join(f"{v}: {hashlib.sha256((folder / f'{v}.yaml').read_bytes()).hexdigest()}\n"
                            for v in earlier)
    write_text(path, text)
    try:
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        write_text(pins_path, old_pins.rstrip("\n") + f"\n{version}: {sha}\n")
    except BaseException:
        path.unlink(missing_ok=True)  # an unpinned file would not be published anyway: leave no debris
        raise
    return path


def _version_key(version: str) -> tuple[int, ...]:
    m = _VERSION.match(version)
    return tuple(int(x) for x in m.groups()) if m else (-1,)


def resolve(reference: str) -> Path:
    """The file a network reference points to; raises UnknownNetworkError naming what exists."""
    ref = str(reference).strip()
    path = Path(ref)
    # "id@version" is always a registry name, so "l4l5_knee@../../x" can never reach a file outside it.
    looks_like_path = "@" not in ref and ("/" in ref or os.sep in ref or path.suffix.lower() in
                                          {".yaml", ".yml", ".bif", ".xmlbif", ".xml", ".gz"})
    if looks_like_path:
        if path.is_file():
            return path
        raise UnknownNetworkError(f"no network file at '{ref}'")
    name, _, version = ref.partition("@")
    available = published()
    if name not in available:
        listing = ", ".join(available) or "none"
        raise UnknownNetworkError(f"unknown network '{name}'; published networks: {listing} "
                                  "(or give a path to a .yaml, .bif or .xmlbif file)")
    if not version:
        version = available[name][-1]
    if version not in available[name]:
        raise UnknownNetworkError(f"network '{name}' has no version {version}; "
                                  f"published versions: {', '.join(available[name])}")
    return networks_dir() / name / f"{version}.yaml"


def read_network(reference: str | Path) -> Network:
    """Read and validate the network a reference names (YAML, BIF or XMLBIF)."""
    path = resolve(str(reference))
    if standard_format(path):
        return read_standard(path)
    return read_network_file(path)
