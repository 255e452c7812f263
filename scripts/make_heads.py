#!/usr/bin/env python3
"""Writes draftfinder/data/heads.json: the published draft heads, each with the public table that lists it.

Usage: python scripts/make_heads.py draftfinder/data/heads.json

Sources (read with git from public snapshots; the commit of each is recorded per entry): SafeAILab/EAGLE
README.md (EAGLE-3 and EAGLE model tables), vllm-project/speculators README.md (Supported Models), FasterDecoding/
Medusa README.md (Medusa-1/2 tables), vLLM docs/features/speculative_decoding/mlp.md (MLP speculator list).
Published speedups are copied from rows already in data/published.json (row_id named), never typed in.
"""
import json
EAGLE = {"repo": "SafeAILab/EAGLE", "path": "README.md", "commit": "cb7e0841fe0c206c6ed74a197ad5e2a1f13f5a2b"}
SPEC = {"repo": "vllm-project/speculators", "path": "README.md", "commit": "c05b95b303f7d4f21e8d7624e0ffa1c2d9b4d73b"}
MED = {"repo": "FasterDecoding/Medusa", "path": "README.md", "commit": "e2a5d20c048a9b0a4092e6933c34313687422518"}
MLP = {"repo": "vllm-project/vllm", "path": "docs/features/speculative_decoding/mlp.md", "commit": None}
heads = []
def add(repo_id, target, method, prov, where, official=None, params_b=None, published=None, notes=None):
    heads.append({"repo_id": repo_id, "target": target, "method": method, "official": official,
                  "params_b": params_b, "published": published or [],
                  "provenance": dict(prov, where=where), "notes": notes or []})
t3 = "EAGLE-3 Models on Hugging Face table"
add("yuhuili/EAGLE3-Vicuna1.3-13B", "lmsys/vicuna-13b-v1.3", "eagle3", EAGLE, t3, True,
    published=[{"row_id": "spec-bench/A100/Vicuna-13B-v1.3/EAGLE3/mixed", "speedup": 3.02, "kind": "speedup",
                "setup": "Spec-Bench, 1x A100 80GB, mixed tasks, PyTorch reference code", "source": "data/published.json"}])
add("yuhuili/EAGLE3-LLaMA3.1-Instruct-8B", "meta-llama/Llama-3.1-8B-Instruct", "eagle3", EAGLE, t3, True)
add("yuhuili/EAGLE3-LLaMA3.3-Instruct-70B", "meta-llama/Llama-3.3-70B-Instruct", "eagle3", EAGLE, t3, True)
add("yuhuili/EAGLE3-DeepSeek-R1-Distill-LLaMA-8B", "deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "eagle3", EAGLE, t3, True)
add("AngelSlim/Qwen3-8B_eagle3", "Qwen/Qwen3-8B", "eagle3", EAGLE, t3, False)
add("AngelSlim/Qwen3-14B_eagle3", "Qwen/Qwen3-14B", "eagle3", EAGLE, t3, False)
add("AngelSlim/Qwen3-32B_eagle3", "Qwen/Qwen3-32B", "eagle3", EAGLE, t3, False)
add("Tengyunw/qwen3_8b_eagle3", "Qwen/Qwen3-8B", "eagle3", EAGLE, t3, False)
add("lmsys/Qwen3-235B-A22B-EAGLE3", "Qwen/Qwen3-235B-A22B", "eagle3", EAGLE, t3, False)
add("lmsys/sglang-EAGLE3-Llama-4-Scout-17B-16E-Instruct-v1", "meta-llama/Llama-4-Scout-17B-16E-Instruct", "eagle3", EAGLE, t3, False)
t1 = "EAGLE Models on Hugging Face table (# EAGLE Parameters column)"
for rid, target, p in [
    ("yuhuili/EAGLE-Vicuna-7B-v1.3", "lmsys/vicuna-7b-v1.3", 0.24),
    ("yuhuili/EAGLE-Vicuna-13B-v1.3", "lmsys/vicuna-13b-v1.3", 0.37),
    ("yuhuili/EAGLE-Vicuna-33B-v1.3", "lmsys/vicuna-33b-v1.3", 0.56),
    ("yuhuili/EAGLE-llama2-chat-7B", "meta-llama/Llama-2-7b-chat-hf", 0.24),
    ("yuhuili/EAGLE-llama2-chat-13B", "meta-llama/Llama-2-13b-chat-hf", 0.37),
    ("yuhuili/EAGLE-llama2-chat-70B", "meta-llama/Llama-2-70b-chat-hf", 0.99),
    ("yuhuili/EAGLE-mixtral-instruct-8x7B", "mistralai/Mixtral-8x7B-Instruct-v0.1", 0.28),
    ("yuhuili/EAGLE-LLaMA3-Instruct-8B", "meta-llama/Meta-Llama-3-8B-Instruct", 0.25),
    ("yuhuili/EAGLE-LLaMA3-Instruct-70B", "meta-llama/Meta-Llama-3-70B-Instruct", 0.99),
    ("yuhuili/EAGLE-Qwen2-7B-Instruct", "Qwen/Qwen2-7B-Instruct", 0.26),
    ("yuhuili/EAGLE-Qwen2-72B-Instruct", "Qwen/Qwen2-72B-Instruct", 1.05),
    ("yuhuili/EAGLE-LLaMA3.1-Instruct-8B", "meta-llama/Llama-3.1-8B-Instruct", 0.25),
]:
    pub = []
    if rid == "yuhuili/EAGLE-llama2-chat-13B":
        pub = [{"row_id": "eagle-readme-gptfast/llama2-chat-13b/fp16", "speedup": 2.15, "kind": "speedup",
                "setup": "EAGLE+gpt-fast vs gpt-fast, MT-bench, 1x A100, fp16", "source": "data/published.json"}]
    if rid == "yuhuili/EAGLE-Vicuna-7B-v1.3":
        pub = [{"row_id": "spec-bench/3090/Vicuna-7B-v1.3/EAGLE/mixed", "speedup": 2.03, "kind": "speedup",
                "setup": "Spec-Bench, 1x RTX 3090, mixed tasks, PyTorch reference code", "source": "data/published.json"}]
    add(rid, target, "eagle", EAGLE, t1, True, p, pub, ["EAGLE-2 uses the same weights with a dynamic draft tree"])
add("Zjcxy-SmartAI/Eagle-Qwen2.5-14B-Instruct", "Qwen/Qwen2.5-14B-Instruct", "eagle", EAGLE, t1, False, 0.33)
ts = "Supported Models table (Verifier Architecture / Training Support)"
for rid, target in [
    ("RedHatAI/Llama-3.1-8B-Instruct-speculator.eagle3", "meta-llama/Llama-3.1-8B-Instruct"),
    ("RedHatAI/Llama-3.3-70B-Instruct-speculator.eagle3", "meta-llama/Llama-3.3-70B-Instruct"),
    ("RedHatAI/Qwen3-8B-speculator.eagle3", "Qwen/Qwen3-8B"),
    ("RedHatAI/Qwen3-14B-speculator.eagle3", "Qwen/Qwen3-14B"),
    ("RedHatAI/Qwen3-32B-speculator.eagle3", "Qwen/Qwen3-32B"),
    ("RedHatAI/gpt-oss-20b-speculator.eagle3", "openai/gpt-oss-20b"),
]:
    add(rid, target, "eagle3", SPEC, ts, None, notes=["speculators format: config names the verifier "
        "(speculators_config.verifier.name_or_path); `vllm serve HEAD` alone starts the target with it"])
tm = "Medusa-1 / Medusa-2 model tables"
for rid, target in [("FasterDecoding/medusa-vicuna-7b-v1.3", "lmsys/vicuna-7b-v1.3"),
                    ("FasterDecoding/medusa-vicuna-13b-v1.3", "lmsys/vicuna-13b-v1.3"),
                    ("FasterDecoding/medusa-vicuna-33b-v1.3", "lmsys/vicuna-33b-v1.3")]:
    add(rid, target, "medusa", MED, tm, True, notes=["Medusa-1: heads only; config.json has base_model_name_or_path"])
add("FasterDecoding/medusa-1.0-zephyr-7b-beta", "HuggingFaceH4/zephyr-7b-beta", "medusa", MED, tm, True,
    notes=["Medusa-2: the whole model was fine-tuned with the heads (serve it instead of the original target)"])
tmlp = "list of MLP speculators on the HF hub (quoted in public copies of the doc; commit not pinned)"
add("ibm-ai-platform/llama3-8b-accelerator", "meta-llama/Meta-Llama-3.1-8B-Instruct", "mlp-speculator", MLP, tmlp, True,
    notes=["target as in the doc's example (meta-llama/Meta-Llama-3.1-8B-Instruct)"])
add("ibm-ai-platform/llama3-70b-accelerator", "meta-llama/Meta-Llama-3-70B-Instruct", "mlp-speculator", MLP, tmlp, True,
    notes=["vLLM raises AttributeError 'MLPSpeculatorConfig' object has no attribute 'num_attention_heads' for this "
           "head (vllm-project/vllm#34106, fix #34163)"])
data = {"schema_version": 1,
        "description": "Published draft heads (EAGLE, EAGLE-3, Medusa, MLP speculators) for popular targets. "
                       "Every entry cites the public table that lists it (provenance: repo, path, commit, where). "
                       "Speedups are listed only where a source gives one, with its setup.",
        "generated_by": "scripts/make_heads.py",
        "heads": heads}
import sys
json.dump(data, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
print(len(heads))
