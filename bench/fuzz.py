"""The fuzz campaign: mutated network files and hostile evidence strings, every outcome classified.

    python -m bench.fuzz --n 2000                 # 2,000 network mutants and 2,000 evidence strings
    python -m bench.fuzz --n 2000 --record        # ... and write the counts into docs/reliability.md

Each item runs in a worker process with a memory cap and a time limit, so a hang or a runaway allocation is
counted, not suffered. The outcomes:

- ``clean_error``: a :class:`bn.BNError` with a one-line message (what a user should get for bad input);
- ``sane``: accepted, and every probability is finite, in [0, 1], each distribution sums to 1, P(findings)
  is at most 1 and the JSON output is strict JSON;
- ``insane``: accepted with an answer that breaks one of those rules;
- ``crash``: any other exception (a traceback for the user), or an error message over several lines;
- ``hang``: no answer within the time limit.

The goal (issue 14) is 0 crashes, 0 hangs and 0 insane answers. The generators are deterministic in their
seed, so ``tests/test_fuzz.py`` replays a bounded number of them in the suite.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import itertools
import json
import math
import multiprocessing as mp
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "reliability.md"
OUTCOMES = ("clean_error", "sane", "insane", "crash", "hang")
MEMORY_CAP = 3 * 1024 ** 3  # bytes of address space per worker: a runaway allocation is a MemoryError, not swap

TWO = [{"id": "absent"}, {"id": "present"}]


def base_network() -> dict[str, Any]:
    """A small network using every table form, roles, a red flag and references: the seed of every mutant."""
    src = {"source": "ref"}
    return {
        "format": "bn-network/1",
        "network": {"id": "fuzz", "title": "Fuzz", "version": "1.0.0",
                    "changelog": [{"version": "1.0.0", "changes": ["seed"]}]},
        "references": {"ref": {"citation": "A. Author. A study. 2020."}},
        "variables": [
            {"id": "age", "role": "risk_factor", "states": [{"id": "young"}, {"id": "mid"}, {"id": "old"}],
             "cpt": {"table": {"parents": [], "rows": [
                 {"when": {}, "probs": {"young": 0.3, "mid": 0.4, "old": 0.3}, **src}]}}},
            {"id": "disease", "role": "diagnosis", "states": TWO,
             "cpt": {"table": {"parents": ["age"], "expert_estimate": "seed", "rows": [
                 {"when": {"age": a}, "probs": {"absent": 1 - p, "present": p}, "range": [p / 2, min(0.99, 2 * p)]}
                 for a, p in (("young", 0.05), ("mid", 0.1), ("old", 0.2))]}}},
            {"id": "other", "role": "diagnosis", "states": TWO,
             "cpt": {"table": {"parents": [], "rows": [{"when": {}, "probs": {"absent": 0.8, "present": 0.2},
                                                        **src}]}}},
            {"id": "pain", "role": "mechanism", "states": TWO,
             "cpt": {"deterministic_or": {"parents": ["disease", "other"], "definition": "either"}}},
            {"id": "sign", "role": "finding", "group": "exam", "states": [{"id": "negative"}, {"id": "positive"}],
             "cpt": {"noisy_or": {"leak": {"p": 0.05, **src}, "links": [
                 {"parent": "disease", "p": 0.7, **src}, {"parent": "age", "state": "old", "p": 0.1, **src}]}}},
            {"id": "scan", "role": "finding", "group": "imaging", "states": [{"id": "normal"}, {"id": "mild"},
                                                                              {"id": "severe"}],
             "cpt": {"mixture": {"components": [
                 {"parent": "disease", "probs": {"normal": 0.2, "mild": 0.3, "severe": 0.5}, **src},
                 {"parent": "other", "probs": {"normal": 0.5, "mild": 0.4, "severe": 0.1}, **src}],
                 "otherwise": {"probs": {"normal": 0.9, "mild": 0.08, "severe": 0.02}, **src}}}},
            {"id": "flag", "role": "red_flag", "alert": "Urgent.", "states": TWO,
             "cpt": {"table": {"parents": ["disease"], "expert_estimate": "seed", "rows": [
                 {"when": {"disease": "absent"}, "probs": {"absent": 0.99, "present": 0.01}},
                 {"when": {"disease": "present"}, "probs": {"absent": 0.9, "present": 0.1}}]}}},
        ],
    }


# -- valid but heavy: files every reader accepts that cost seconds or gigabytes (what bn.isolate is for) --------

ESTIMATE = {"expert_estimate": "hostile test"}


def _roots_and(k: int, children: list[tuple[str, list[str]]], name: str) -> bytes:
    """A network of ``k`` independent binary roots x0... and noisy-OR ``children`` (id, parents), as JSON text."""
    variables = [{"id": f"x{i}", "states": TWO, "cpt": {"table": {"parents": [], **ESTIMATE, "rows": [
        {"when": {}, "probs": {"absent": 0.5, "present": 0.5}}]}}} for i in range(k)]
    variables += [{"id": cid, "states": TWO, "cpt": {"noisy_or": {"leak": {"p": 0.1, **ESTIMATE}, "links": [
        {"parent": p, "p": 0.5, **ESTIMATE} for p in parents]}}} for cid, parents in children]
    return json.dumps({"format": "bn-network/1", "network": {"id": name, "title": name, "version": "1.0.0",
                       "changelog": [{"version": "1.0.0", "changes": ["hostile"]}]}, "variables": variables}).encode()


def wide_network(k: int) -> bytes:
    """A 60 KB network that every reader accepts but that takes seconds to compile (18 s for k = 22 on the
    2-core machine): ``k`` independent causes and a finding for every pair, so one clique holds all ``k``."""
    return _roots_and(k, [(f"c{i}_{j}", [f"x{i}", f"x{j}"]) for i, j in itertools.combinations(range(k), 2)],
                      "wide")


def heavy_tables_network(children: int, parents: int = 20) -> bytes:
    """A 150 KB network whose every table is under the table_entries limit, but whose ``children`` noisy-OR
    tables of ``parents`` parents each take 16 MB: 1.7 GB at its peak for 100 children."""
    return _roots_and(parents, [(f"c{j}", [f"x{i}" for i in range(parents)]) for j in range(children)], "heavy")


# -- network mutants ----------------------------------------------------------------------------------------------

HOSTILE_VALUES: list[Any] = [
    None, "", "x", -1, 0, 1, 2, -0.5, 1.5, 1e-320, 1e308, float("nan"), float("inf"), -float("inf"), True, [], {},
    [[[[[]]]]], "1e400", "nan", 10 ** 40, "present", "absent", "a" * 5000, {"p": 0.5}, [0.5, 0.5], "\u0000",
    "\u202e", "é", "../../etc/passwd", {"when": {}}, [{"id": "s"}] * 3,
]


def _nodes(obj: Any, path: tuple = ()) -> list[tuple]:
    """Every path to a value in a document of dicts and lists."""
    out = [path]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _nodes(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _nodes(v, (*path, i))
    return out


def _get(doc: Any, path: tuple) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def _wide(rng: random.Random, doc: dict) -> None:
    """A variable with many binary parents (table, noisy-OR or deterministic-OR)."""
    k = rng.randint(12, 70)
    names = [f"w{i}" for i in range(k)]
    for n in names:
        doc["variables"].append({"id": n, "states": TWO, "cpt": {"table": {"parents": [], "expert_estimate": "w",
                                 "rows": [{"when": {}, "probs": {"absent": 0.5, "present": 0.5}}]}}})
    form = rng.choice(["table", "noisy_or", "deterministic_or"])
    body = {"table": {"parents": names, "expert_estimate": "w", "rows": [
                {"when": {n: "absent" for n in names}, "probs": {"absent": 1.0, "present": 0.0}}]},
            "noisy_or": {"expert_estimate": "w", "leak": {"p": 0.01},
                         "links": [{"parent": n, "p": 0.3} for n in names]},
            "deterministic_or": {"parents": names, "definition": "any"}}[form]
    doc["variables"].append({"id": "wide", "states": TWO, "cpt": {form: body}})


def _benign(rng: random.Random, doc: dict) -> None:
    """A change a valid file could have: a link or leak probability anywhere in [0, 1], a label in any script."""
    v = rng.choice(doc["variables"])
    body = next(iter(v["cpt"].values()))
    if "links" in body and rng.random() < 0.7:
        target = rng.choice([*body["links"], body["leak"]])
        target["p"] = rng.choice([0.0, 1.0, 1e-12, 1 - 1e-12, rng.random()])
    else:
        v["label"] = rng.choice(["Épaule", "膝の痛み", "‮RTL", "x" * 300, "", "a: b", "# not a comment"])


def _structural(rng: random.Random, doc: dict) -> None:
    op = rng.randrange(12)
    if op >= 9:
        _benign(rng, doc)
        return
    paths = _nodes(doc)[1:]
    path = rng.choice(paths)
    parent, key = _get(doc, path[:-1]), path[-1]
    if op <= 2:  # a hostile value anywhere
        parent[key] = copy.deepcopy(rng.choice(HOSTILE_VALUES))
    elif op == 3:  # a key or list item removed
        del parent[key]
    elif op == 4 and isinstance(parent, list):  # a list item repeated
        parent.insert(key, copy.deepcopy(parent[key]))
    elif op == 5:
        _wide(rng, doc)
    elif op == 6:  # a parent that closes a cycle, or is the variable itself
        v = rng.choice(doc["variables"])
        body = next(iter(v["cpt"].values()))
        other = rng.choice(doc["variables"])["id"]
        if "parents" in body:
            body["parents"] = [*body["parents"], other]
        elif "links" in body:
            body["links"].append({"parent": other, "p": 0.5})
    elif op == 7:  # a probability pushed out of range or made non-finite
        probs = [p for p in paths if p[-1] in ("p", "absent", "present", "young", "mid", "old", "normal")]
        target = rng.choice(probs) if probs else path
        _get(doc, target[:-1])[target[-1]] = rng.choice([-0.1, 1.1, float("nan"), float("inf"), 1e-320, 1 - 1e-17,
                                                         "0.5", 0])
    else:  # nesting as deep as the writer allows (the text mutations go deeper)
        deep: Any = 0
        for _ in range(rng.choice([20, 60, 150])):
            deep = [deep]
        parent[key] = deep


def _textual(rng: random.Random, text: str) -> str:
    op = rng.randrange(7)
    if op == 0:  # truncated
        return text[:rng.randrange(len(text))]
    if op == 1:  # random bytes (as latin-1 text, so they reach the YAML reader)
        i = rng.randrange(len(text))
        return text[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 40))).decode("latin-1") + text[i:]
    if op == 2:  # one character changed
        i = rng.randrange(len(text))
        return text[:i] + rng.choice(":-[]{}&*!|>'\"%@`#,?\t\n ") + text[i + 1:]
    if op == 3:  # an alias bomb in a free-text field
        bomb = 'a0: &a0 ["x","x","x","x","x","x","x","x","x"]\n'
        for k in range(1, rng.randint(3, 12)):
            bomb += f"a{k}: &a{k} [{','.join([f'*a{k - 1}'] * 9)}]\n"
        return "description_bomb:\n" + "".join("  " + line + "\n" for line in bomb.splitlines()) + text
    if op == 4:  # a line repeated (duplicate keys)
        lines = text.splitlines(keepends=True)
        i = rng.randrange(len(lines))
        return "".join([*lines[:i + 1], lines[i], *lines[i + 1:]])
    if op == 5:  # a huge integer literal, or nesting far deeper than any network needs
        if rng.random() < 0.5:
            return re.sub(r"\b0\.\d+\b", "9" * rng.randint(400, 5000), text, count=1)
        depth = rng.choice([100, 1000, 20000])
        return text + f"deep: {'[' * depth}{']' * depth}\n"
    return "&x " + text if rng.random() < 0.5 else text.replace("variables:", "variables: &v", 1) + "\nextra: *v\n"


class _NoAliases(yaml.SafeDumper):
    """Writes shared objects out in full: the network reader refuses anchors and aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def network_mutant(seed: int) -> bytes:
    """The network file of mutant ``seed`` (one to three structural and textual changes to the base)."""
    rng = random.Random(seed)
    doc = copy.deepcopy(base_network())  # shares nothing with the module or an earlier mutant
    if rng.random() < 0.3:  # a valid file with edits a modeller could make: must load and answer sanely
        for _ in range(rng.randint(1, 4)):
            _benign(rng, doc)
        return yaml.dump(doc, Dumper=_NoAliases, sort_keys=False, allow_unicode=True).encode()
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.6:
            # a path that vanished under an earlier change: the mutant keeps what it has
            with contextlib.suppress(KeyError, IndexError, TypeError, ValueError, AttributeError):
                _structural(rng, doc)
    text = yaml.dump(doc, Dumper=_NoAliases, sort_keys=False, allow_unicode=True)
    if rng.random() < 0.5:
        text = _textual(rng, text)
    return text.encode("utf-8", errors="surrogatepass")


# -- hostile evidence strings -----------------------------------------------------------------------------------

NUMBERS = ["0.7", "1", "0", "-1", "1e-300", "1e300", "1e-320", "1e309", "nan", "inf", "-inf", "0x10", "", " ",
           "1,2", "2:3", "٣", "1_000", "0.5e", "1e", "+0.3", ".5", "5.", "1e-5", "999999999999999999999"]


def evidence_strings(seed: int, variables: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    """``-e`` and ``--soft`` strings for case ``seed``: real and near-miss names, states and numbers."""
    rng = random.Random(seed)
    names = list(variables)

    def name() -> str:
        v = rng.choice(names)
        return v if rng.random() < 0.85 else rng.choice([v.upper(), v[:-1], f" {v} ", v + "x", "", "=",
                                                          v.replace("_", "-"), "é" + v])

    def state(v: str) -> str:
        states = variables.get(v.strip(), ["present"])
        s = rng.choice(states)
        return s if rng.random() < 0.85 else rng.choice([s.upper(), s + " ", "", "unknown", "#0", "1"])

    hard, soft = [], []
    for _ in range(rng.randint(0, 6)):
        v = name()
        hard.append(f"{v}={state(v)}" if rng.random() < 0.85 else rng.choice(
            [f"{v}", f"{v}=={state(v)}", f"{v}={state(v)}:{rng.choice(NUMBERS)}"]))
    for _ in range(rng.randint(0, 3)):
        v = name()
        k = len(variables.get(v.strip(), [0, 0]))
        vector = ",".join(rng.choice(NUMBERS) for _ in range(rng.choice([k, k, k - 1, k + 1])))
        soft.append(rng.choice([f"{v}={state(v)}:{rng.choice(NUMBERS)}", f"{v}={vector}", f"{v}={state(v)}",
                                f"{v}={state(v)}:{rng.choice(NUMBERS)}:{rng.choice(NUMBERS)}"]))
    return hard, soft


# -- checking one item ------------------------------------------------------------------------------------------

def _insanity(result: Any) -> str | None:
    """Why an accepted answer is not sane (None when it is)."""
    try:
        json.dumps(result.to_dict(), allow_nan=False)
    except ValueError as exc:
        return f"not strict JSON: {exc}"
    p_e = result.probability_of_evidence
    if not (math.isfinite(p_e) and 0.0 <= p_e <= 1.0 + 1e-12):
        return f"P(findings) = {p_e}"
    for var, dist in result.posteriors.items():
        values = list(dist.values())
        if not all(math.isfinite(x) and -1e-12 <= x <= 1 + 1e-12 for x in values):
            return f"posterior of {var} out of [0, 1]: {values}"
        if abs(sum(values) - 1.0) > 1e-9:
            return f"posterior of {var} sums to {sum(values)}"
    return None


def _classify_error(exc: BaseException) -> tuple[str, str]:
    from bn.errors import BNError

    message = str(exc)
    if isinstance(exc, BNError) and message.strip() and "\n" not in message.strip():
        return "clean_error", type(exc).__name__
    if isinstance(exc, BNError):
        return "crash", f"{type(exc).__name__} over several lines"
    return "crash", f"{type(exc).__name__}: {message.splitlines()[0][:100] if message else ''}"


def check_network(data: bytes) -> tuple[str, str]:
    """Read a network file's bytes, compile it and query it with and without a finding."""
    import bn
    from bn.netfile import parse_network_text

    try:
        net = bn.BayesNet(parse_network_text(data, "fuzz.yaml"))
        results = [net.query({})]
        first = next(iter(net.network.variables.values()))
        results.append(net.query({first.id: first.state_ids[-1]}))
    except Exception as exc:  # classifying every failure is the point
        if type(exc).__name__ == "ImpossibleEvidenceError":
            return "clean_error", "ImpossibleEvidenceError"
        return _classify_error(exc)
    for r in results:
        why = _insanity(r)
        if why:
            return "insane", why
    return "sane", ""


def check_evidence(net: Any, hard: list[str], soft: list[str]) -> tuple[str, str]:
    """Parse ``-e``/``--soft`` strings as the CLI does and query the network with them."""
    from bn.evidence import Evidence

    try:
        result = net.query(Evidence.from_strings(hard, soft))
    except Exception as exc:  # classifying every failure is the point
        return _classify_error(exc)
    why = _insanity(result)
    return ("insane", why) if why else ("sane", "")


# -- the campaign -----------------------------------------------------------------------------------------------

def _worker(conn, network_ref: str) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    import bn

    net = bn.load(network_ref)
    variables = {v.id: list(v.state_ids) for v in net.network.variables.values()}
    while True:
        kind, seed = conn.recv()
        try:
            if kind == "network":
                outcome = check_network(network_mutant(seed))
            else:
                outcome = check_evidence(net, *evidence_strings(seed, variables))
        except MemoryError:
            outcome = ("crash", "MemoryError")
        conn.send(outcome)


class Runner:
    """One worker process at a time; a hung worker is killed and replaced."""

    def __init__(self, network_ref: str, timeout: float):
        self.network_ref, self.timeout = network_ref, timeout
        self.ctx = mp.get_context("fork")
        self._start()

    def _start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, self.network_ref), daemon=True)
        self.proc.start()

    def run(self, kind: str, seed: int) -> tuple[str, str]:
        self.conn.send((kind, seed))
        if self.conn.poll(self.timeout):
            try:
                return self.conn.recv()
            except EOFError:
                self._restart()
                return "crash", "the worker died"
        self._restart()
        return "hang", f"no answer in {self.timeout:g} s"

    def _restart(self) -> None:
        self.proc.kill()
        self.proc.join()
        self._start()

    def close(self) -> None:
        self.proc.kill()
        self.proc.join()


def campaign(n: int, *, seed: int = 0, timeout: float = 10.0, network_ref: str = "l4l5_knee"
             ) -> dict[str, Any]:
    runner = Runner(network_ref, timeout)
    out: dict[str, Any] = {}
    try:
        for kind in ("network", "evidence"):
            counts: Counter[str] = Counter()
            signatures: Counter[str] = Counter()
            examples: dict[str, int] = {}
            start = time.perf_counter()
            for k in range(n):
                item = seed * 1_000_003 + k
                outcome, detail = runner.run(kind, item)
                counts[outcome] += 1
                if outcome not in ("clean_error", "sane"):
                    signatures[f"{outcome}: {detail}"] += 1
                    examples.setdefault(f"{outcome}: {detail}", item)
            out[kind] = {"tried": n, **{o: counts[o] for o in OUTCOMES}, "seconds": time.perf_counter() - start,
                         "signatures": dict(signatures.most_common()), "examples": examples}
    finally:
        runner.close()
    return out


def markdown(result: dict[str, Any], *, n: int, seed: int, timeout: float) -> str:
    import bn

    info = bn.load("l4l5_knee").info
    lines = [f"Run: `python -m bench.fuzz --n {n} --seed {seed} --timeout {timeout:g}` on {time.strftime('%Y-%m-%d')}; "
             f"evidence strings against {info.id} {info.version} (sha256 {info.sha256[:12]}...).", "",
             "| campaign | tried | clean error | accepted, sane | accepted, insane | crash | hang | time |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    names = {"network": "mutated network files", "evidence": "`-e` / `--soft` strings"}
    for kind, r in result.items():
        lines.append(f"| {names[kind]} | {r['tried']:,} | {r['clean_error']:,} | {r['sane']:,} | {r['insane']:,} | "
                     f"{r['crash']:,} | {r['hang']:,} | {r['seconds']:.0f} s |")
    bad = [(k, s, c, result[k]["examples"][s]) for k in result for s, c in result[k]["signatures"].items()]
    if bad:
        lines += ["", "| campaign | outcome | count | first seed |", "|---|---|---:|---:|"]
        lines += [f"| {k} | {s} | {c} | {e} |" for k, s, c, e in bad]
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- fuzz:begin -->", "<!-- fuzz:end -->"


def record(text: str, path: Path = REPORT) -> None:
    """Replace the fuzz section of docs/reliability.md with ``text``."""
    doc = path.read_text()
    head, _, rest = doc.partition(BEGIN)
    _, _, tail = rest.partition(END)
    path.write_text(f"{head}{BEGIN}\n{text}{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="items per campaign (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before an item counts as a hang")
    parser.add_argument("--record", action="store_true", help="write the counts into docs/reliability.md")
    args = parser.parse_args(argv)
    result = campaign(args.n, seed=args.seed, timeout=args.timeout)
    text = markdown(result, n=args.n, seed=args.seed, timeout=args.timeout)
    print(text)
    if args.record:
        record(text)
    failed = sum(r[o] for r in result.values() for o in ("insane", "crash", "hang"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
