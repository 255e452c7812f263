"""Ready-to-paste usage for each engine, filled with the recommended draft and K (manual §3.3, §7.6).

Flag names are those of the engines' current docs: transformers assisted generation
(``assistant_model``, ``num_assistant_tokens`` with ``num_assistant_tokens_schedule="constant"`` so K is not
re-tuned by its heuristic; ``tokenizer``/``assistant_tokenizer`` for Universal Assisted Decoding), vLLM
(``--speculative-config`` with ``"method": "draft_model"``), llama-server (``-md`` with ``--spec-type
draft-simple --spec-draft-n-max K``, ggml-org/llama.cpp#22964; older builds ``--draft-max``), SGLang
(``--speculative-algorithm STANDALONE`` for a separate draft model, with ``--speculative-num-steps K
--speculative-eagle-topk 1 --speculative-num-draft-tokens K+1``: SGLang's speculative decoding docs, "You have
a smaller draft LLM: use STANDALONE"; given only when ``--engine sglang`` is chosen, there is no SGLang verdict).
A snippet is given only for engines whose verdict accepts the pair (a refused llama.cpp pair gets none). The
snippet of the engine the estimates are for comes first.
"""

from __future__ import annotations

import json
from typing import Dict

from draftfinder.find.results import DraftModelCandidate, ModelInfo


def _load_kwargs(info: ModelInfo) -> str:
    if info.gguf_file and info.path:
        folder = info.path.rsplit("/", 1)[0] if info.path.endswith(".gguf") else info.path
        return f'"{folder}", gguf_file="{info.gguf_file}"'
    return f'"{info.path or info.model_id}"'


def transformers_snippet(target: ModelInfo, cand: DraftModelCandidate) -> str:
    mode = cand.compatibility.engines.get("transformers")
    uad = mode is not None and mode.mode == "universal-assisted-decoding"
    lines = [
        "import torch",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "",
        f"tokenizer = AutoTokenizer.from_pretrained({_load_kwargs(target)})",
        f"target = AutoModelForCausalLM.from_pretrained({_load_kwargs(target)}, dtype=\"auto\", device_map=\"auto\")",
        f"draft = AutoModelForCausalLM.from_pretrained({_load_kwargs(cand.model_info)}, dtype=\"auto\", device_map=\"auto\")",
    ]
    if uad:
        lines.append(f"draft_tokenizer = AutoTokenizer.from_pretrained({_load_kwargs(cand.model_info)})")
    lines += [
        "",
        'inputs = tokenizer("The future of AI is", return_tensors="pt").to(target.device)',
        "outputs = target.generate(",
        "    **inputs,",
        "    assistant_model=draft,",
        f"    num_assistant_tokens={cand.recommended_k},",
        '    num_assistant_tokens_schedule="constant",',
    ]
    if uad:
        lines += ["    tokenizer=tokenizer,", "    assistant_tokenizer=draft_tokenizer,  # config vocab sizes differ"]
    lines += [
        "    do_sample=False,",
        "    max_new_tokens=100,",
        ")",
        _speedup_comment(cand),
    ]
    return "\n".join(lines)


def _speedup_comment(cand: DraftModelCandidate) -> str:
    if cand.estimated_speedup is None and cand.fit is not None:
        return f"# {cand.fit.verdict}: this pair cannot run there as is"
    engine = f", {cand.engine}" if cand.engine else ""
    speedup = cand.model_speedup or cand.estimated_speedup      # the model's own, when a published one stands in
    return (f"# Estimated speedup: ~{speedup:.2f}x at K={cand.recommended_k} "
            f"(estimated for {cand.hardware}{engine}; measure it on your prompts)")


def vllm_snippet(target: ModelInfo, cand: DraftModelCandidate) -> str:
    spec = {"model": cand.model_id, "num_speculative_tokens": cand.recommended_k, "method": "draft_model"}
    verdict = cand.compatibility.engines.get("vllm")
    note = ""
    if verdict is not None and verdict.mode == "heterogeneous-vocab":
        spec["use_heterogeneous_vocab"] = True
        note = "\n# config vocab sizes differ: vLLM's default check rejects the pair; see the vLLM verdict"
    return f"vllm serve {target.model_id} \\\n  --speculative-config '{json.dumps(spec)}'{note}"


def llamacpp_snippet(target: ModelInfo, cand: DraftModelCandidate) -> str:
    t = target.path if (target.path or "").endswith(".gguf") else f"{target.model_id.split('/')[-1]}.gguf"
    d = cand.model_info.path if (cand.model_info.path or "").endswith(".gguf") else f"{cand.model_id.split('/')[-1]}.gguf"
    k = cand.recommended_k
    return (f"llama-server -m {t} -md {d} -np 1 --spec-type draft-simple --spec-draft-n-max {k}\n"
            f"# builds before --spec-type (2026): llama-server -m {t} -md {d} -np 1 --draft-max {k} --draft-min 0")


def sglang_snippet(target: ModelInfo, cand: DraftModelCandidate) -> str:
    k = cand.recommended_k
    return (f"python -m sglang.launch_server --model-path {target.model_id} \\\n"
            f"  --speculative-algorithm STANDALONE --speculative-draft-model-path {cand.model_id} \\\n"
            f"  --speculative-num-steps {k} --speculative-eagle-topk 1 --speculative-num-draft-tokens {k + 1}")


def usage_snippets(target: ModelInfo, cand: DraftModelCandidate) -> Dict[str, str]:
    """Snippets for the engines that accept this pair (all three when no verdict is known); the engine the
    estimates are for (``cand.engine``) first. None for a pair that does not fit the device (no K to give)."""
    if cand.recommended_k is None:
        return {}
    makers = {"transformers": transformers_snippet, "vllm": vllm_snippet, "llama.cpp": llamacpp_snippet}
    if cand.engine == "sglang":
        makers["sglang"] = sglang_snippet
    out = {}
    for engine, make in makers.items():
        verdict = cand.compatibility.engines.get(engine)
        if verdict is None or verdict.compatible:
            out[engine] = make(target, cand)
    if cand.engine in out:
        out = {cand.engine: out[cand.engine], **{k: v for k, v in out.items() if k != cand.engine}}
    return out
