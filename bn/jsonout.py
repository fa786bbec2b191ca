"""Strict JSON for every output the tool writes: JSON has no NaN or infinity, so they are written as null.

>>> dumps({"auc": float("nan"), "p": [0.5, float("inf")]})
'{"auc": null, "p": [0.5, null]}'
"""

from __future__ import annotations

import json
import math
from typing import Any


def json_safe(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float replaced by None (an empty group's accuracy is NaN in Python and
    null in a file)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`json_safe` ``(obj)``, refusing anything that would still not be JSON."""
    return json.dumps(json_safe(obj), allow_nan=False, **kwargs)
