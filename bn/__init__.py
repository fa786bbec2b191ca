"""bn: a Bayesian-network diagnostic reasoner for knee pain referred from the L4-L5 segment.

An educational decision-support tool, not a medical device.

>>> import bn
>>> net = bn.load("l4l5_knee")
>>> net.info.id
'l4l5_knee'
>>> p = net.posterior("disc_herniation", findings={"knee_pain": "present", "straight_leg_raise": "positive"})
>>> round(sum(p.values()), 12)
1.0
"""

from __future__ import annotations

from bn.converters import from_pgmpy, from_pyagrum
from bn.errors import (
    BNError,
    CaseFileError,
    EvidenceError,
    ImpossibleEvidenceError,
    NetworkFileError,
    UnknownNetworkError,
)
from bn.evidence import Case, Evidence, parse_case, read_case
from bn.inference import Alert, BayesNet, MostProbableExplanation, QueryResult
from bn.model import Network, NetworkInfo
from bn.registry import published, read_network

__all__ = [
    "Alert", "BNError", "BayesNet", "Case", "CaseFileError", "Evidence", "EvidenceError",
    "ImpossibleEvidenceError", "MostProbableExplanation", "Network", "NetworkFileError", "NetworkInfo", "QueryResult",
    "UnknownNetworkError", "from_pgmpy", "from_pyagrum", "load", "parse_case", "published", "read_case",
    "read_network",
]


__version__ = "0.1.0"


def load(reference: object = "l4l5_knee", engine: str = "einsum") -> BayesNet:
    """Load, validate and compile a network for inference.

    ``reference`` is a network id (latest version), ``id@version``, a file path (YAML, BIF, XMLBIF), an
    already-read :class:`Network`, or a pgmpy or pyAgrum model (see :mod:`bn.converters`). ``engine`` is
    ``"einsum"`` (the compiled junction tree, default), ``"contract"`` (tensor contraction) or ``"pgmpy"``
    (VariableElimination, the reference); see :mod:`bn.engines`.
    A file already seen is not re-read: its validated, compiled form is kept in the cache (:mod:`bn.cache`),
    keyed by the sha256 of the file's bytes.
    """
    from bn.cache import load as cached_load

    return cached_load(reference, engine)
