"""draftfinder: choose a draft model and K for speculative decoding, and prove it by measuring.

The public API follows the DraftFinder manual (§11). Names are imported lazily so that ``import draftfinder``
and ``draftfinder --help`` stay fast (torch/transformers load only when a path needs them).
"""

from __future__ import annotations

import importlib
from typing import Any

from draftfinder.version import __version__

_EXPORTS = {
    "DraftModelFinder": "draftfinder.find.finder",
    "EnhancedTokenizerChecker": "draftfinder.compat.checks",
    "ModelAnalyzer": "draftfinder.models.analysis",
    "SpeedupEstimator": "draftfinder.predict.estimator",
    "ModelInfo": "draftfinder.find.results",
    "DraftModelCandidate": "draftfinder.find.results",
    "CompatibilityResult": "draftfinder.find.results",
    "Check": "draftfinder.find.results",
    "EngineVerdict": "draftfinder.find.results",
    "Provenance": "draftfinder.find.results",
    "Task": "draftfinder.find.results",
    "QuantizationType": "draftfinder.find.results",
    "QualityTier": "draftfinder.find.results",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'draftfinder' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
