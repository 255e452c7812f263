"""``vllm`` backend: ``vllm serve`` started per target × draft × K cell with that cell's speculative config.

Command of a cell (options spelled as this vLLM's ``--help`` lists them, :mod:`.server_help`)::

    vllm serve TARGET --host 127.0.0.1 --port PORT --seed SEED --max-model-len CTX --tensor-parallel-size TP
               [--gpu-memory-utilization F] [--speculative-config JSON]

The speculative config per draft type follows vLLM's ``SpeculativeConfig`` (``vllm/config/speculative.py``,
the fields :mod:`draftfinder.lint.vllm` checks) and its docs (docs.vllm.ai, "Speculative Decoding":
``docs/features/speculative_decoding/{draft_model,n_gram,eagle,mtp}.md``):

==========  ==========================================================================================
model       ``{"method": "draft_model", "model": PATH, "num_speculative_tokens": K}``
ngram       ``{"method": "ngram", "num_speculative_tokens": K, "prompt_lookup_max": n-1,
            "prompt_lookup_min": n-1}`` (our order n = n−1 matched tokens + 1, as in the llamacpp backend)
eagle(3)    ``{"method": "eagle"|"eagle3", "model": HEAD, "num_speculative_tokens": K}``
mtp         ``{"method": "mtp", "num_speculative_tokens": K}`` (the target's own MTP layers)
==========  ==========================================================================================

vLLM before ``--speculative-config`` (≤ 0.7; the v0.7.1 docs: ``--speculative_model``,
``--num_speculative_tokens``, ``--ngram-prompt-lookup-max``) gets those flags instead; EAGLE there is inferred
from the head's name and MTP does not exist (a one-line error). The config is checked first with
:func:`draftfinder.lint.vllm.check_config` (an error there is a config problem, named before any server
starts); what only the server knows (the target's architecture, an EAGLE-3 interface, MTP layers) it refuses
at start, which :mod:`.managed_server` reports with vLLM's last log line.

Requests stream through the ``openai`` request path; acceptance is vLLM's own Prometheus counters at
``/metrics`` (``vllm:spec_decode_num_draft_tokens_total`` / ``…num_accepted_tokens_total``, older names without
``_total``), read before and after each request (exact: the sweep is the server's only client). A draft cell
whose server exports no spec-decode counters did not speculate: ``speculative=False`` and a ``flag`` (the
runner marks the cell ``flagged``). ``settings.gpu_layers`` has no vLLM meaning (recorded, not passed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from draftfinder.errors import UsageError
from draftfinder.sweep.backends.base import Generation
from draftfinder.sweep.backends.llama_command import HOST
from draftfinder.sweep.backends.server_help import ServerHelp, find_vllm
from draftfinder.sweep.backends.server_session import ManagedServerBackend, ServerSession
from draftfinder.sweep.config import Entry, Settings

NO_COUNTERS = ("vLLM exported no spec_decode counters at /metrics: the server did not speculate "
               "(check the cell's --speculative-config in the server log)")


def model_path(entry: Entry) -> str:
    """The model argument: a local path (``~`` expanded) when it exists, else the name as given (a Hub id)."""
    name = str(entry.path or entry.model or "")
    if name.startswith("zoo:"):
        raise UsageError(f"'{entry.label}': {name} is a GGUF zoo model; vLLM serves Hugging Face checkpoints",
                         hint="give a model folder or Hub id, or run zoo models with backend engine or llamacpp")
    p = Path(name).expanduser()
    return str(p) if p.exists() else name


def speculative_config(draft: Entry, k: Optional[int]) -> Dict[str, Any]:
    """The ``--speculative-config`` object of a draft entry and K (module doc)."""
    k = int(k or 4)
    if draft.type == "model":
        return {"method": "draft_model", "model": model_path(draft), "num_speculative_tokens": k}
    if draft.type == "ngram":
        n = max(1, draft.n - 1)
        return {"method": "ngram", "num_speculative_tokens": k, "prompt_lookup_max": n, "prompt_lookup_min": n}
    if draft.type in ("eagle", "eagle3"):
        return {"method": draft.type, "model": model_path(draft), "num_speculative_tokens": k}
    if draft.type == "mtp":
        return {"method": "mtp", "num_speculative_tokens": k}
    raise UsageError(f"draft '{draft.label}': {draft.type} drafts have no vLLM equivalent",
                     hint="run layer-skip self-drafts with backend engine")


def legacy_flags(help_: ServerHelp, draft: Entry, spec: Dict[str, Any]) -> List[str]:
    """The same config for a vLLM without ``--speculative-config`` (module doc)."""
    model_flag = help_.first("--speculative-model", "--speculative_model")
    k_flag = help_.first("--num-speculative-tokens", "--num_speculative_tokens")
    if model_flag is None or k_flag is None:
        raise UsageError(f"this vLLM ({help_.version or help_.program[0]}) lists neither --speculative-config nor "
                         "--speculative-model", hint="update vLLM (pip install -U vllm)")
    k = str(spec["num_speculative_tokens"])
    if draft.type == "ngram":
        lo, hi = help_.first("--ngram-prompt-lookup-min"), help_.first("--ngram-prompt-lookup-max")
        out = [model_flag, "[ngram]", k_flag, k]
        if hi:
            out += [hi, str(spec["prompt_lookup_max"])]
        if lo:
            out += [lo, str(spec["prompt_lookup_min"])]
        return out
    if draft.type == "mtp" or (draft.type in ("eagle", "eagle3") and "eagle" not in spec["model"].lower()):
        raise UsageError(f"draft '{draft.label}': this vLLM ({help_.version or 'without --speculative-config'}) "
                         f"cannot run {draft.type} drafts", hint="update vLLM (pip install -U vllm)")
    return [model_flag, spec["model"], k_flag, k]


def build_command(help_: ServerHelp, target: Entry, draft: Optional[Entry], k: Optional[int], settings: Settings,
                  port: int) -> List[str]:
    """The exact ``vllm serve`` argv of one cell (module doc)."""
    argv = list(help_.program) + [model_path(target), "--host", HOST, "--port", str(port)]
    if help_.has("--seed"):
        argv += ["--seed", str(settings.seed)]
    if help_.has("--max-model-len"):
        argv += ["--max-model-len", str(settings.ctx_size)]
    tp = help_.first("--tensor-parallel-size", "-tp")
    if tp:
        argv += [tp, str(settings.tensor_parallel_size)]
    elif settings.tensor_parallel_size != 1:
        raise UsageError("this vLLM lists no --tensor-parallel-size", hint="set settings.tensor_parallel_size to 1")
    if settings.gpu_memory_fraction is not None:
        flag = help_.first("--gpu-memory-utilization")
        if flag is None:
            raise UsageError("this vLLM lists no --gpu-memory-utilization", hint="remove settings.gpu_memory_fraction")
        argv += [flag, f"{settings.gpu_memory_fraction:g}"]
    if draft is not None:
        spec = speculative_config(draft, k)
        flag = help_.first("--speculative-config", "-sc")
        if flag is None:
            argv += legacy_flags(help_, draft, spec)
        else:
            preflight(spec, target, settings, draft)
            argv += [flag, json.dumps(spec, separators=(",", ":"))]
    return argv


def preflight(spec: Dict[str, Any], target: Entry, settings: Settings, draft: Entry) -> None:
    """Refuse, before any server starts, a config :func:`draftfinder.lint.vllm.check_config` calls an error."""
    from draftfinder.lint.vllm import check_config

    for f in check_config(spec, target.path, settings.tensor_parallel_size, resolve=False):
        if f.severity == "error":
            raise UsageError(f"draft '{draft.label}': vLLM would refuse --speculative-config "
                             f"{json.dumps(spec)}: {f.message}", hint=f.fix)


def acceptance(session: ServerSession, g: Generation) -> None:
    """A draft cell whose server exports no spec-decode counters did not speculate (module doc)."""
    if session.draft is None:
        return
    g.extra.setdefault("acceptance_source", "vllm /metrics delta")
    if session.client._metrics is False and g.drafted is None:   # noqa: SLF001 — the openai path's own memory
        g.speculative = False
        g.extra["flag"] = NO_COUNTERS


class VLLMBackend(ManagedServerBackend):
    """Starts ``vllm serve`` per cell. ``options``: none of its own (the binary: ``settings.server_bin``)."""

    name = "vllm"
    server_name = "vLLM server"

    find_help = staticmethod(find_vllm)
    build_command = staticmethod(build_command)
    acceptance = staticmethod(acceptance)

    def describe(self) -> Dict[str, Any]:
        s = self.cfg.settings
        return {"backend": "vllm", **self.help.to_dict(), "tensor_parallel_size": s.tensor_parallel_size,
                "gpu_memory_fraction": s.gpu_memory_fraction,
                "speculative_flag": self.help.first("--speculative-config", "-sc") or "--speculative-model",
                "acceptance_sources": ["vllm /metrics delta"]}
