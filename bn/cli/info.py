"""``bn info``: a network's metadata, variables, references and provenance counts."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers) -> None:
    """Register ``bn info``."""
    i = subparsers.add_parser("info", help="metadata, variables, references and provenance counts")
    i.add_argument("network", metavar="NETWORK")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bn.registry import read_network

    network = read_network(args.network)
    counts = network.provenance_counts()
    if args.json:
        meta = {k: v for k, v in network.meta.items() if k not in ("id", "version")}
        print(json.dumps({
            "network": network.info.to_dict(),
            "format": network.source_format,
            "metadata": json.loads(json.dumps(meta, default=str)),
            "variables": [
                {"id": v.id, "label": v.label, "role": v.role, "group": v.group, "states": list(v.state_ids),
                 "parents": list(v.parents), "form": v.form, "cost": v.cost}
                for v in network.variables.values()
            ],
            "references": {k: {"citation": r.citation, "measured": r.measured, "url": r.url}
                           for k, r in network.references.items()},
            "parameters": counts,
        }, indent=2))
        return 0
    info = network.info
    out = [network.title, f"id {info.id}  version {info.version}  sha256 {info.sha256}",
           f"file {info.path}  format {network.source_format}"]
    for key in ("date", "authors", "license", "population"):
        if network.meta.get(key):
            value = network.meta[key]
            out.append(f"{key}: {', '.join(value) if isinstance(value, list) else value}")
    out.append("")
    by_role: dict[str, list] = {}
    for v in network.variables.values():
        by_role.setdefault(v.role or "variable", []).append(v)
    for role, variables in by_role.items():
        out.append(f"{role} ({len(variables)}):")
        for v in variables:
            group = f" [{v.group}]" if v.group else ""
            parents = f" <- {', '.join(v.parents)}" if v.parents else ""
            out.append(f"  {v.id}{group}: {' | '.join(v.state_ids)}{parents}")
    out += ["", f"parameters: {counts['total']} ({counts['cited']} cited, {counts['expert_estimate']} expert "
                f"estimates, {counts['uncited']} uncited); references: {len(network.references)}"]
    print("\n".join(out))
    return 0
