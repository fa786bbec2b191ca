"""How much do the answers depend on the numbers? Parameter sensitivity analysis.

Four questions, one module each (the command line is :mod:`bn.cli.sensitivity`, files and charts
:mod:`bn.sensitivity.report`):

1. **One-way sensitivity** (:func:`one_way`). For a case, a target state ``x`` and each parameter ``t``
   (a table entry, or a noisy-OR link / leak probability as the modeller wrote it) the *sensitivity
   function* ``f(t) = P(x | e)`` when only ``t`` changes. For a table entry the other entries of its row
   co-vary proportionally (so the row still sums to 1); a noisy-OR table is multilinear in its link and
   leak probabilities. Either way every entry of the table is affine in ``t``, so ``P(x, e)`` and ``P(e)``
   are affine in ``t`` and ``f(t) = (a t + b) / (c t + d)`` exactly (Castillo, Gutierrez & Hadi 1997;
   Coupe & van der Gaag 2002). The coefficients come from *family joints*: for a variable ``V`` with
   parents ``U`` and table ``T``, ``dP(x, e) / dT[u, v] = P(x, e, u, v) / T[u, v]``, so with
   ``dT = T(1) - T(0)`` (the table's change per unit of ``t``)::

       a = sum(dT * P(x, e, U, V) / T)      b = P(x, e) - a t0      (and c, d likewise with P(e))

   Two inferences per variable (``P(U, V, e)`` with and without the target as a finding) give every
   parameter of that variable; no sampling, no recompilation. Entries equal to zero (where the division
   is undefined) are handled by one inference on a copy of the network whose table for ``V`` is all ones,
   which gives the derivatives directly.

2. **What would change the conclusion** (:func:`flip`, SamIam's parameter query). A constraint
   (:class:`Threshold` ``P(x | e) >= p``, :class:`Difference` ``P(a | e) - P(b | e) >= delta``,
   :class:`LeaderChanges`: the leading knee-pain source changes) is, per parameter, one or more linear
   inequalities in ``t`` (multiply through by ``P(e) > 0``), solved exactly: every single-parameter
   change that achieves it, the required new value, the change in log-odds and whether the value lies
   inside the parameter's plausible range.

3. **Second-order uncertainty** (:func:`uncertainty`). Every parameter is drawn jointly (a Beta per
   probability, a Dirichlet per row of a variable with more than two states) centred on its value
   (mean = value) with a concentration chosen so that its spread on the log-odds scale matches its plausible
   range read as a 90% interval; the posterior of each target is recomputed for
   every draw by one batched exact contraction. Seeded and reproducible.

4. **Across cases** (:func:`sweep`): one-way analysis of every case in a folder, aggregated per parameter.

Plausible ranges are the ``range`` written in the network file; a parameter without one gets the default
``logit(t0) +/- DEFAULT_LOG_ODDS_HALF_WIDTH`` (odds multiplied or divided by e, about 2.7), a deliberately
wide range because unranged numbers are usually the least certain ones.

>>> import bn
>>> net = bn.load("l4l5_knee@1.0.0")
>>> case = {"knee_pain": "present", "age_group": "65_plus", "neurogenic_claudication": "present"}
>>> result = one_way(net, case, target="l4l5_spine")
>>> row = result.rows[0]                                    # the parameter with the widest posterior swing
>>> abs(row.function(row.parameter.value) - result.posterior) < 1e-12
True
>>> f = result.row("knee_pain_from_l4l5 <- leak").function   # one parameter's sensitivity function
>>> round(f(0.2), 4) > round(f(0.05), 4)                      # more leak, more spinal knee pain
True
"""

from __future__ import annotations

from bn.sensitivity.across_cases import (
    CASE_SUFFIXES,
    CaseOutcome,
    ParameterImportance,
    SweepResult,
    case_files,
    default_flip_constraint,
    sweep,
)
from bn.sensitivity.base import (
    DEFAULT_DRAWS,
    DEFAULT_LOG_ODDS_HALF_WIDTH,
    FLIP_NUDGE,
    RANGE_LEVEL,
    SensitivityError,
    UnknownParameterError,
)
from bn.sensitivity.changes import (
    Constraint,
    Difference,
    FlipChange,
    FlipResult,
    LeaderChanges,
    Threshold,
    flip,
    leader_changes,
    parse_constraint,
)
from bn.sensitivity.functions import (
    SensitivityFunction,
)
from bn.sensitivity.oneway import (
    OneWayResult,
    ParameterSensitivity,
    one_way,
)
from bn.sensitivity.second_order import (
    TargetUncertainty,
    UncertaintyResult,
    concentrations,
    uncertainty,
)
from bn.sensitivity.tables import (
    SensitivityParameter,
    default_range,
    find_parameters,
    logit,
    parameters,
    table_at,
    with_parameter,
)

__all__ = [
    "CASE_SUFFIXES",
    "DEFAULT_DRAWS",
    "DEFAULT_LOG_ODDS_HALF_WIDTH",
    "FLIP_NUDGE",
    "RANGE_LEVEL",
    "CaseOutcome",
    "Constraint",
    "Difference",
    "FlipChange",
    "FlipResult",
    "LeaderChanges",
    "OneWayResult",
    "ParameterImportance",
    "ParameterSensitivity",
    "SensitivityError",
    "SensitivityFunction",
    "SensitivityParameter",
    "SweepResult",
    "TargetUncertainty",
    "Threshold",
    "UncertaintyResult",
    "UnknownParameterError",
    "case_files",
    "concentrations",
    "default_flip_constraint",
    "default_range",
    "find_parameters",
    "flip",
    "leader_changes",
    "logit",
    "one_way",
    "parameters",
    "parse_constraint",
    "sweep",
    "table_at",
    "uncertainty",
    "with_parameter",
]
