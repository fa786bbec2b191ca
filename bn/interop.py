"""Standard formats: read BIF / XMLBIF networks, write a network as BIF or XMLBIF.

Files written here open in GeNIe, SamIam, pyAgrum and pgmpy. Probabilities are written with 17
significant digits so that a round trip keeps float64 tables exactly.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from pathlib import Path

import numpy as np

from bn import limits
from bn.errors import NetworkFileError, Problem
from bn.model import Network, NetworkInfo
from bn.netfile import read_bytes_limited

FORMATS = ("bif", "xmlbif")


def standard_format(path: Path) -> str | None:
    """``"bif"`` or ``"xmlbif"`` when the file name says so, else ``None``."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".bif"):
        return "bif"
    if name.endswith((".xmlbif", ".xml")):
        return "xmlbif"
    return None


def read_standard(path: str | Path) -> Network:
    """Read a BIF or XMLBIF file (optionally gzip-compressed) with pgmpy's readers."""
    path = Path(path)
    fmt = standard_format(path)
    if fmt is None:
        raise NetworkFileError([Problem(str(path), None, "not a .bif, .xmlbif or .xml file")])
    raw = read_bytes_limited(path)
    text = _decode(raw, path)
    info = NetworkInfo(path.name.split(".")[0], "unversioned", hashlib.sha256(raw).hexdigest(), str(path))
    return parse_standard(text, fmt, info)


def parse_standard(text: str, fmt: str, info: NetworkInfo) -> Network:
    from bn.converters import from_pgmpy

    name = info.path or info.id
    try:
        if fmt == "bif":
            from pgmpy.readwrite import BIFReader

            model = BIFReader(string=text).get_model()
        else:
            if "<!ENTITY" in text or "<!DOCTYPE" in text.upper():
                raise ValueError("XML entity or DOCTYPE declarations are not accepted")
            from pgmpy.readwrite import XMLBIFReader

            model = XMLBIFReader(string=text).get_model()
        model.check_model()
    except Exception as exc:  # pgmpy raises many types for malformed files; all mean "bad file"
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NetworkFileError([Problem(name, None, f"cannot read as {fmt.upper()}: {message}")]) from None
    return from_pgmpy(model, info, fmt)


def _decode(raw: bytes, path: Path) -> str:
    if path.name.lower().endswith(".gz"):
        try:
            with gzip.open(io.BytesIO(raw)) as fh:
                most = limits.current().decompressed_bytes
                raw = fh.read(most + 1)
        except OSError as exc:
            raise NetworkFileError([Problem(str(path), None, f"not a valid gzip file: {exc}")]) from None
        if len(raw) > most:
            raise NetworkFileError([Problem(str(path), None, "decompressed size exceeds the limit "
                                                             f"of {most:,} bytes (decompressed_bytes)")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_upload(name: str, data: bytes) -> Network:
    """A network file handed in as bytes (an upload): BIF or XMLBIF by its extension, otherwise bn-network YAML.
    A standard file has no version of its own: it is named by its file name, version "uploaded" and its sha256.
    """
    from bn.netfile import parse_network_text

    lower = name.lower()
    if lower.endswith((".bif", ".xmlbif", ".xml")):
        fmt = "bif" if lower.endswith(".bif") else "xmlbif"
        info = NetworkInfo(Path(name).stem, "uploaded", hashlib.sha256(data).hexdigest(), name)
        return parse_standard(data.decode("utf-8", errors="replace"), fmt, info)
    return parse_network_text(data, name)


def export(network: Network, fmt: str) -> str:
    """The network as BIF or XMLBIF text.

    >>> import bn
    >>> text = export(bn.load("l4l5_knee").network, "bif")     # doctest: +SKIP
    >>> text.splitlines()[0]                                    # doctest: +SKIP
    'network l4l5_knee {'
    """
    if fmt == "bif":
        return _bif(network)
    if fmt == "xmlbif":
        return _xmlbif(network)
    raise ValueError(f"unknown format '{fmt}' (choose from {', '.join(FORMATS)})")


def _num(x: float) -> str:
    return repr(float(x))


def _bif(network: Network) -> str:
    # Written directly rather than with pgmpy's BIFWriter, which rounds probabilities and drops
    # the network name; the grammar is the one pgmpy, pyAgrum, GeNIe and SamIam read.
    lines = [f"network {network.id} {{", "}"]
    for v in network.variables.values():
        lines += [f"variable {v.id} {{",
                  f"  type discrete [ {v.card} ] {{ {', '.join(v.state_ids)} }};", "}"]
    for v in network.variables.values():
        if not v.parents:
            lines += [f"probability ( {v.id} ) {{", f"  table {', '.join(map(_num, v.cpt))};", "}"]
            continue
        lines.append(f"probability ( {v.id} | {', '.join(v.parents)} ) {{")
        for idx in np.ndindex(*(network[p].card for p in v.parents)):
            states = ", ".join(network[p].state_ids[i] for p, i in zip(v.parents, idx))
            lines.append(f"  ({states}) {', '.join(map(_num, v.cpt[idx]))};")
        lines.append("}")
    return "\n".join(lines) + "\n"


def _xmlbif(network: Network) -> str:
    from xml.sax.saxutils import escape

    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<BIF VERSION="0.3">', "<NETWORK>",
           f"<NAME>{escape(network.id)}</NAME>"]
    for v in network.variables.values():
        out.append('<VARIABLE TYPE="nature">')
        out.append(f"  <NAME>{escape(v.id)}</NAME>")
        out += [f"  <OUTCOME>{escape(s)}</OUTCOME>" for s in v.state_ids]
        out.append("</VARIABLE>")
    for v in network.variables.values():
        out.append("<DEFINITION>")
        out.append(f"  <FOR>{escape(v.id)}</FOR>")
        out += [f"  <GIVEN>{escape(p)}</GIVEN>" for p in v.parents]
        out.append(f"  <TABLE>{' '.join(map(_num, v.cpt.reshape(-1)))}</TABLE>")
        out.append("</DEFINITION>")
    out += ["</NETWORK>", "</BIF>"]
    return "\n".join(out) + "\n"
