"""The drafting methods ``find`` lists beside the draft models: published and discovered heads for the target,
its built-in MTP layers, and model-free drafting (always), each with the engines that run it, a usage snippet
per engine, and the speedup to expect with its basis.

One call: :func:`draft_methods` (used by ``find/finder.py`` after ranking). Heads first (EAGLE-3 before older
methods, official before third-party), then MTP, then model-free methods (n-gram, suffix, layer-skip).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from draftfinder import constants
from draftfinder.methods.heads import Head, heads_for
from draftfinder.methods.registry import get_method

DEFAULT_HEAD_K = 3      # EAGLE-3/EAGLE chain length the speculators heads ship (proposal_methods speculative_tokens)
DEFAULT_NGRAM_K = 4


@dataclass
class MethodOffer:
    """One way to draft for this target."""

    method: str                                   # registry id
    label: str
    draft: Optional[str]                          # head repo id; None for MTP and model-free methods
    engines: List[str]                            # engines that run it
    usage: Dict[str, str] = field(default_factory=dict)          # engine -> snippet
    expected_speedup: Optional[float] = None
    speedup_basis: str = "none"                   # measured | published | estimated | none
    basis_detail: str = ""
    by_task: List[Dict[str, Any]] = field(default_factory=list)
    provenance: str = ""                          # where this offer comes from (table, config key)
    rules: Dict[str, str] = field(default_factory=dict)          # engine -> "rule (source; version)"
    notes: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        return {"method": self.method, "label": self.label, "draft": self.draft, "engines": list(self.engines),
                "usage": dict(self.usage),
                "expected_speedup": None if self.expected_speedup is None else round(self.expected_speedup, 3),
                "speedup_basis": self.speedup_basis, "basis_detail": self.basis_detail, "by_task": list(self.by_task),
                "provenance": self.provenance, "rules": dict(self.rules), "notes": list(self.notes)}


def _rules(method: str) -> Dict[str, str]:
    m = get_method(method)
    return {name: f"{e.rule} ({e.source}; {e.version})" for name, e in m.engines.items() if e.supported}


def _gguf(target: Any) -> str:
    path = getattr(target, "path", None) or ""
    return path if path.endswith(".gguf") else f"{target.model_id.split('/')[-1]}.gguf"


def _vllm(target: Any, spec: Dict[str, Any]) -> str:
    return f"vllm serve {target.model_id} \\\n  --speculative-config '{json.dumps(spec)}'"


def _sglang(target: Any, algo: str, draft: Optional[str], k: int) -> str:
    d = f" --speculative-draft-model-path {draft}" if draft else ""
    steps = "" if algo == "NGRAM" else (f" \\\n  --speculative-num-steps {k} --speculative-eagle-topk 1 "
                                        f"--speculative-num-draft-tokens {k + 1}")
    return f"python -m sglang.launch_server --model-path {target.model_id} \\\n  --speculative-algorithm {algo}{d}{steps}"


def head_usage(target: Any, head: Head) -> Dict[str, str]:
    k = DEFAULT_HEAD_K
    out = {}
    if head.method in ("eagle", "eagle3", "medusa", "mlp-speculator"):
        vmethod = {"mlp-speculator": "mlp_speculator"}.get(head.method, head.method)
        spec = {"method": vmethod, "model": head.repo_id}
        if head.method in ("eagle", "eagle3"):
            spec["num_speculative_tokens"] = k
        if head.method == "mlp-speculator":
            spec["draft_tensor_parallel_size"] = 1
        out["vllm"] = _vllm(target, spec)
    if head.method in ("eagle", "eagle3"):
        out["sglang"] = _sglang(target, "EAGLE3" if head.method == "eagle3" else "EAGLE", head.repo_id, k)
    if head.method == "eagle3":
        out["llama.cpp"] = (f"llama-server -m {_gguf(target)} -md {head.repo_id.split('/')[-1]}.gguf "
                            f"--spec-type draft-eagle3 --spec-draft-n-max {k}\n# the head converted to GGUF first")
    return out


def _head_offer(target: Any, head: Head) -> MethodOffer:
    m = get_method(head.method)
    usage = head_usage(target, head)
    pub = head.published[0] if head.published else None
    offer = MethodOffer(
        method=head.method, label=m.label, draft=head.repo_id, engines=[e for e in m.engines_supported() if e in usage],
        usage=usage, provenance=head.provenance_line(), rules=_rules(head.method), notes=list(head.notes))
    if pub is not None:
        offer.expected_speedup, offer.speedup_basis = float(pub["speedup"]), constants.PUBLISHED
        offer.basis_detail = f"{pub['setup']} ({pub.get('row_id') or pub['source']})"
    else:
        offer.basis_detail = "no published speedup for this head recorded; measure it on your engine and prompts"
    if head.official is False:
        offer.notes.append("third-party head (the method's authors list it as unofficial)")
    return offer


def _mtp_offer(target: Any, layers: Any) -> MethodOffer:
    m = get_method("mtp")
    usage = {"vllm": _vllm(target, {"method": "mtp", "num_speculative_tokens": 1}),
             "sglang": _sglang(target, "EAGLE", None, 1),
             "llama.cpp": f"llama-server -m {_gguf(target)} --spec-type draft-mtp --spec-draft-n-max 1"}
    return MethodOffer(
        method="mtp", label=m.label, draft=None, engines=m.engines_supported(), usage=usage,
        basis_detail="no published speedup for this target's MTP layers recorded; measure it",
        provenance=(f"target config: {layers.key} = {layers.layers} ({layers.matched}; vLLM maps it to "
                    f"{layers.vllm_model_type}: {layers.source})"),
        rules=_rules("mtp"), notes=["K > 1 reruns the same MTP layer (vLLM warns: lower acceptance)"]
        if layers.layers == 1 else [])


def _model_free_offer(target: Any, method: str, task: str, n_layers: Optional[int]) -> MethodOffer:
    from draftfinder.methods.model_free import estimate

    m = get_method(method)
    est = estimate(method, task, target.model_id)
    usage: Dict[str, str] = {}
    k = DEFAULT_NGRAM_K
    if method == "ngram":
        usage = {"vllm": _vllm(target, {"method": "ngram", "num_speculative_tokens": k, "prompt_lookup_max": k,
                                        "prompt_lookup_min": 2}),
                 "sglang": _sglang(target, "NGRAM", None, k),
                 "llama.cpp": f"llama-server -m {_gguf(target)} --spec-type ngram-simple",
                 "transformers": f"target.generate(**inputs, prompt_lookup_num_tokens={k}, max_new_tokens=256)",
                 "draftfinder": f"draftfinder measure {target.model_id} --draft ngram --task {task}"}
    elif method == "suffix":
        usage = {"vllm": "pip install arctic-inference\n" + _vllm(target, {"method": "suffix"})}
    elif method == "layer-skip":
        n = max(1, (n_layers or 4) // 4)
        usage = {"transformers": f"target.generate(**inputs, assistant_early_exit={n}, max_new_tokens=256)"
                                 "  # LayerSkip-trained checkpoints draft well; others rarely",
                 "draftfinder": f"draftfinder measure {target.model_id} --draft layerskip:{n} --task {task}"}
    notes = []
    if method == "layer-skip":
        notes.append("N = a quarter of the target's layers, a starting point: measure a few N")
    return MethodOffer(method=method, label=m.label, draft=None, engines=m.engines_supported(), usage=usage,
                       expected_speedup=est.expected_speedup, speedup_basis=est.basis, basis_detail=est.basis_detail,
                       by_task=[f.to_dict() for f in est.by_task], provenance="model-free: offered for every target",
                       rules=_rules(method), notes=notes)


def draft_methods(target: Any, config: Optional[Dict[str, Any]], task: str, *, hub: Any = None,
                  log: Any = None) -> List[Dict[str, Any]]:
    """Every drafting method for ``target`` (a ``ModelInfo``; ``config`` its parsed config.json) as dicts:
    published heads (``data/heads.json``), heads discovered on the Hub when ``hub`` (a HubSource) is given,
    built-in MTP layers, then n-gram, suffix and layer-skip drafting with the speedup to expect for ``task``."""
    from draftfinder.errors import DraftFinderError
    from draftfinder.methods.mtp import detect_mtp

    heads = list(heads_for(target.model_id))
    if hub is not None:
        from draftfinder.methods.discovery import discover_heads

        try:
            known = {h.repo_id.lower() for h in heads}
            heads += [h for h in discover_heads(hub, target.model_id) if h.repo_id.lower() not in known]
        except DraftFinderError as err:
            if log:
                log(f"Hub search for draft heads failed: {err.message}")
    offers = [_head_offer(target, h) for h in heads]
    layers = detect_mtp(config)
    if layers is not None:
        offers.append(_mtp_offer(target, layers))
    for method in ("ngram", "suffix", "layer-skip"):
        offers.append(_model_free_offer(target, method, task, getattr(target, "num_layers", None)))
    return [o.to_dict() for o in offers]
