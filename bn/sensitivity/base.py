"""What the sensitivity analyses share: their errors and default constants."""

from __future__ import annotations

from typing import TypeVar

from bn.errors import BNError

DEFAULT_LOG_ODDS_HALF_WIDTH = 1.0  # default plausible range: logit(value) +/- 1 (odds x/÷ e)
RANGE_LEVEL = 0.90  # a plausible range is read as a 90% interval (on the log-odds scale)
FLIP_NUDGE = 1e-6  # a required new value is moved this far past the exact boundary, so applying it flips
DEFAULT_DRAWS = 1000


_T = TypeVar("_T")


class SensitivityError(BNError):
    """Bad input to a sensitivity analysis (unknown parameter, empty case folder, bad constraint...)."""


class UnknownParameterError(SensitivityError):
    """A parameter id names no parameter of the network."""
