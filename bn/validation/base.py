"""Where the validation inputs live, the constants every check shares, and its error."""

from __future__ import annotations

from bn.errors import BNError
from bn.resources import validation_dir, work_dir

VALIDATION_DIR = validation_dir()
CASES_DIR = VALIDATION_DIR / "cases"
CONCORDANCE_FILE = VALIDATION_DIR / "concordance.yaml"
BASELINE_FILE = VALIDATION_DIR / "baseline.json"
REPORT_DIR = VALIDATION_DIR / "report"  # the committed report: written only with --update-report
OUT_DIR = work_dir() / "build" / "validation"  # where a run writes by default (never the working tree)
LOCK_FILE = VALIDATION_DIR / "test_set.lock"
VIEWS_FILE = VALIDATION_DIR / "test_set_views.yaml"


MAX_VALIDATION_FILE_BYTES = 1024 * 1024
# The knee-pain source keys of the public vocabulary (other_lumbar_level since vocabulary 2).
SOURCE_KEYS = ("l4l5_spine", "other_lumbar_level", "knee", "hip", "other")
NO_SOURCE = "none"  # a case whose report gives no knee pain: it is scored on its diagnosis only
# A knee-pain source call is "stable" when the leading source stays the leader in at least this share of the
# joint parameter draws (bn.sensitivity.uncertainty). Documented in validation/README.md.
STABLE_SHARE = 0.90
DEFAULT_STABILITY_DRAWS = 300  # joint parameter draws per case in the full run (--fast skips stability)


class ValidationError(BNError):
    """A validation input (case file, concordance table, baseline, option) is invalid."""
