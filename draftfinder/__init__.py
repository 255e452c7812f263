"""draftfinder: choose a draft model and K for speculative decoding, and prove it by measuring.

The public API follows the DraftFinder manual (§11). Names are imported lazily so that ``import draftfinder``
and ``draftfinder --help`` stay fast (torch/transformers load only when a path needs them).
"""

from __future__ import annotations

import importlib
from typing import Any

from .version import __version__

_EXPORTS = {
    "DraftModelFinder": "draftfinder.finder",
    "EnhancedTokenizerChecker": "draftfinder.compat",
    "ModelAnalyzer": "draftfinder.modelinfo",
    "SpeedupEstimator": "draftfinder.estimator",
    "ModelInfo": "draftfinder.schema",
    "DraftModelCandidate": "draftfinder.schema",
    "CompatibilityResult": "draftfinder.schema",
    "Check": "draftfinder.schema",
    "EngineVerdict": "draftfinder.schema",
    "Provenance": "draftfinder.schema",
    "Task": "draftfinder.schema",
    "QuantizationType": "draftfinder.schema",
    "QualityTier": "draftfinder.schema",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'draftfinder' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
