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

# The analyses, reachable as bn.explain(net, findings, ...) and so on; imported on first use, so that
# `import bn` (and a warm `bn query`) stays light. Each takes the network, the findings and soft=... .
_ANALYSES = {"explain": "bn.explain", "next_best": "bn.voi", "stability": "bn.stability",
             "one_way": "bn.sensitivity", "flip": "bn.sensitivity", "uncertainty": "bn.sensitivity",
             "learn": "bn.learn", "em": "bn.em"}

__all__ = [
    "Alert", "BNError", "BayesNet", "Case", "CaseFileError", "Evidence", "EvidenceError",
    "ImpossibleEvidenceError", "MostProbableExplanation", "Network", "NetworkFileError", "NetworkInfo", "QueryResult",
    "UnknownNetworkError", "load", "parse_case", "published", "read_case", "read_network", *_ANALYSES,
]


def __getattr__(name: str):
    if name in _ANALYSES:
        import importlib

        return getattr(importlib.import_module(_ANALYSES[name]), name)
    raise AttributeError(f"module 'bn' has no attribute '{name}'")

__version__ = "0.1.0"


def load(reference: str | Network = "l4l5_knee", engine: str = "einsum") -> BayesNet:
    """Load, validate and compile a network for inference.

    ``reference`` is a network id (latest version), ``id@version``, a file path (YAML, BIF, XMLBIF) or an
    already-read :class:`Network`. ``engine`` is ``"einsum"`` (the compiled junction tree, default),
    ``"contract"`` (tensor contraction) or ``"pgmpy"`` (VariableElimination, the reference).
    A file already seen is not re-read: its validated, compiled form is kept in the cache (:mod:`bn.cache`),
    keyed by the sha256 of the file's bytes.
    """
    from bn.cache import load as cached_load

    return cached_load(reference, engine)
