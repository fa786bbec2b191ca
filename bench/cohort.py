"""A synthetic clinic cohort for demonstrating (and testing) ``bn learn --report``: records drawn from a
perturbed "true" network, so that the published network is wrong in known ways.

Never real patients: every record is sampled here, seeded. The perturbation of the published network
(:data:`PERTURBATION`, also printed with ``--describe``):

- **the clinic's own population**: older (age 65+ 45% instead of 28%) and with more diabetes (x1.5 in every
  age group). A clinic's case mix differs from the network's; the report should show it, and it is not an
  error in the network;
- **three parameters deliberately wrong in the published network** (the clinic's truth differs):
  Lachman sensitivity for an ACL tear 0.80 -> 0.50 (examiners less practised than in Solomon 2001's studies),
  the false-positive rate of joint-line tenderness 0.10 -> 0.30, and MRI "stenosis" in a 65+ adult without it
  0.25 -> 0.50;
- **one missing arc**: hip osteoarthritis also causes pain on stairs or squatting (a noisy-OR link of 0.5 the
  network does not have).

Records hold what a knee clinic's registry would: age group, sex, diabetes and the established diagnoses
always; history items 95% of the time; examination items 70%; spinal MRI only when there is back pain or leg
pain below the knee, the knee radiograph from age 40, knee MRI only after locking or a twisting injury, the
hip radiograph only when hip internal rotation is painful, the ankle-brachial index only with claudication or
reduced pedal pulses, nerve conduction and EMG only with ankle dorsiflexion weakness (tests ordered because of
other findings: missing at random, not completely at random); red flags 90%; the nerve-root mechanisms never.
Only patients with knee pain are kept.

    python -m bench.cohort --n 5000 --seed 1 --out /tmp/clinic.csv
    bn learn l4l5_knee /tmp/clinic.csv --version 2.0.1 --out /tmp/clinic-2.0.1.yaml --report /tmp/clinic-report
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

import numpy as np
import pandas as pd

import bn
from bn.model import Network, Variable
from bn.sampling import sample
from bn.sensitivity import with_parameter

WRONG_PARAMETERS = {  # parameter id (bn.sensitivity) -> the clinic's true value
    "lachman_test <- acl_tear=present": 0.50,
    "knee_joint_line_tenderness <- leak": 0.30,
    "mri_stenosis <- age_group=65_plus": 0.50,
}
MISSING_ARC = ("hip_osteoarthritis", "pain_on_stairs_or_squatting", 0.5)  # parent, child, noisy-OR link
CLINIC_AGE = (0.15, 0.40, 0.45)
DIABETES_FACTOR = 1.5
PERTURBATION = {
    "clinic population": {"age_group": dict(zip(("under_40", "40_to_64", "65_plus"), CLINIC_AGE)),
                          "diabetes": f"x{DIABETES_FACTOR} in every age group"},
    "wrong parameters": WRONG_PARAMETERS,
    "missing arc": {"parent": MISSING_ARC[0], "child": MISSING_ARC[1], "link": MISSING_ARC[2]},
}

HISTORY, EXAM, RED_FLAG = 0.95, 0.70, 0.90


def perturbed_truth(network: Network) -> Network:
    """The clinic's "true" network: the published one with :data:`PERTURBATION` applied."""
    truth = network
    for pid, value in WRONG_PARAMETERS.items():
        truth = with_parameter(truth, pid, value)
    variables = dict(truth.variables)
    age = variables["age_group"]
    variables["age_group"] = replace(age, cpt=np.array(CLINIC_AGE))
    diabetes = variables["diabetes"]
    table = np.array(diabetes.cpt, dtype=float)
    on = diabetes.on_index
    table[..., on] = np.minimum(table[..., on] * DIABETES_FACTOR, 0.95)
    table[..., 1 - on] = 1.0 - table[..., on]
    variables["diabetes"] = replace(diabetes, cpt=table)
    parent, child, link = MISSING_ARC
    var: Variable = variables[child]
    old = np.asarray(var.cpt, dtype=float)
    p_on = network[parent].on_index
    # P(child off | ..., parent) = P(child off | ...) * (1 - link) when the parent is on (noisy-OR).
    stacked = np.stack([old] * network[parent].card, axis=-2)
    off = 1 - var.on_index
    stacked[..., p_on, off] = old[..., off] * (1.0 - link)
    stacked[..., p_on, var.on_index] = 1.0 - stacked[..., p_on, off]
    variables[child] = replace(var, parents=(*var.parents, parent), cpt=stacked)
    return replace(truth, variables=variables)


def clinic_records(truth: Network, n: int, seed: int) -> pd.DataFrame:
    """``n`` knee-pain patients from ``truth``, recorded as a registry would (see the module docstring)."""
    rng = np.random.default_rng(seed)
    order = list(truth.variables)
    rows: list[np.ndarray] = []
    while sum(len(r) for r in rows) < n:
        states, _ = sample(truth, 4 * n, rng)
        knee = states[:, order.index("knee_pain")] == truth["knee_pain"].on_index
        rows.append(states[knee])
    states = np.concatenate(rows)[:n]
    value = {v: states[:, order.index(v)] for v in order}

    def on(v: str) -> np.ndarray:
        return value[v] == truth[v].on_index

    keep: dict[str, np.ndarray] = {}
    for v in order:
        var = truth[v]
        if var.role in ("risk_factor", "diagnosis"):
            keep[v] = np.ones(n, dtype=bool)
        elif var.role == "red_flag":
            keep[v] = rng.random(n) < RED_FLAG
        elif var.role == "finding" and var.group == "history":
            keep[v] = rng.random(n) < HISTORY
        elif var.role == "finding" and var.group == "exam":
            keep[v] = rng.random(n) < EXAM
    spine = on("back_pain") | on("leg_pain_below_knee")
    ordered = {
        "mri_": spine, "knee_mri_": on("knee_locking_catching") | on("twisting_injury_onset"),
        "knee_xray_": value["age_group"] != truth["age_group"].state_index("under_40"),
        "hip_xray_": on("hip_internal_rotation_painful"),
        "ankle_brachial_index_low": on("neurogenic_claudication") | on("pedal_pulses"),
        "ncs_": on("ankle_dorsiflexion_weakness"), "emg_": on("ankle_dorsiflexion_weakness"),
    }
    for v in order:
        var = truth[v]
        if var.role == "finding" and var.group in ("imaging", "tests"):
            reason = next((m for prefix, m in ordered.items() if v.startswith(prefix)), None)
            keep[v] = (reason if reason is not None else np.zeros(n, dtype=bool)) & (rng.random(n) < 0.9)
    keep["knee_pain"] = np.ones(n, dtype=bool)  # everyone here has knee pain: a constant column, as a registry has
    columns = {}
    for v, mask in keep.items():
        ids = np.array(truth[v].state_ids, dtype=object)
        columns[v] = np.where(mask, ids[value[v]], None)
    return pd.DataFrame(columns)


def main(argv: list[str] | None = None) -> int:
    import json

    p = argparse.ArgumentParser(prog="python -m bench.cohort", description=__doc__.split("\n\n")[0])
    p.add_argument("--network", default="l4l5_knee")
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", help="CSV file (default: standard output)")
    p.add_argument("--describe", action="store_true", help="print the perturbation as JSON and stop")
    args = p.parse_args(argv)
    if args.describe:
        print(json.dumps(PERTURBATION, indent=2))
        return 0
    records = clinic_records(perturbed_truth(bn.load(args.network).network), args.n, args.seed)
    records.to_csv(args.out or sys.stdout, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
