"""How results are written for people, shared by the command line, the reports and the app: the disclaimer,
percentages and labels. One place, so the CLI, a report and the app never say the same thing differently.

>>> percent(0.004), percent(0.42), percent(0.996)
('0.4%', '42%', '99.6%')
>>> percent_fine(0.0002), percent_fine(0.4213), percent_fine(1.0)
('0.02%', '42.1%', '100%')
>>> percent_1dp(float("nan"))
'n/a'
"""

from __future__ import annotations

import math

from bn.model import Network

#: The one-line disclaimer every text result ends with.
DISCLAIMER = "Educational decision-support tool, not a medical device."
#: The app's fuller wording (markdown).
DISCLAIMER_APP = ("Educational decision-support tool, **not a medical device**. It does not diagnose or replace "
                  "clinical judgement; red flags need urgent assessment whatever the probabilities say.")


def percent(p: float) -> str:
    """A probability as a whole percentage, with one decimal near 0 and 1 (``0.4%``, not ``0%``)."""
    if 0 < p < 0.01 or 0.99 < p < 1:
        return f"{p:.1%}"
    return f"{p:.0%}"


def percent_fine(p: float) -> str:
    """One decimal, two within 0.05 percentage points of 0 or 1 (but never for exactly 0 or 1): tables."""
    if p >= 0.9995 or p <= 0.0005:
        return f"{p * 100:.2f}%" if 0 < p < 0.0005 or 0.9995 < p < 1 else f"{p * 100:.0f}%"
    return f"{p * 100:.1f}%"


def percent_1dp(p: float) -> str:
    """One decimal; ``n/a`` for a missing (NaN or infinite) value."""
    return f"{p:.1%}" if math.isfinite(p) else "n/a"


def sentence_case(text: str) -> str:
    """The first letter in capitals, the rest as written (labels keep their abbreviations: "L4-L5 spine")."""
    return text[:1].upper() + text[1:]


def short_label(network: Network, var: str, width: int = 48) -> str:
    """The variable's label, shortened with "..." to fit ``width`` characters (its id only when it has none)."""
    label = network[var].label or var
    return label if len(label) <= width else label[:width - 3].rstrip(" ,(") + "..."
