"""Sweep backends behind one interface (:mod:`.base`): ``engine``, ``hf``, ``llamacpp``, ``openai``, ``vllm``,
``sglang`` (servers started per cell: :mod:`.managed_server`), ``lmstudio`` (a running LM Studio).

Each backend class is built as ``Cls(cfg, options)`` (``cfg``: the :class:`~..config.SweepConfig`;
``options``: command-line extras such as ``llama_server``), and imported only when used.
"""

from __future__ import annotations

import importlib
from typing import Any, Dict, Optional

from draftfinder.errors import UsageError

BACKEND_CLASSES = {
    "engine": "draftfinder.sweep.backends.engine:EngineBackend",
    "hf": "draftfinder.sweep.backends.hf:HFBackend",
    "llamacpp": "draftfinder.sweep.backends.llamacpp:LlamaCppBackend",
    "openai": "draftfinder.sweep.backends.openai:OpenAIBackend",
    "vllm": "draftfinder.sweep.backends.vllm:VLLMBackend",
    "sglang": "draftfinder.sweep.backends.sglang:SGLangBackend",
    "lmstudio": "draftfinder.sweep.backends.lmstudio:LMStudioBackend",
}


def make_backend(cfg: Any, options: Optional[Dict[str, Any]] = None) -> Any:
    where = BACKEND_CLASSES.get(cfg.backend)
    if where is None:
        raise UsageError(f"unknown backend '{cfg.backend}'", hint=f"use one of {', '.join(BACKEND_CLASSES)}")
    module, cls = where.split(":")
    return getattr(importlib.import_module(module), cls)(cfg, dict(options or {}))
