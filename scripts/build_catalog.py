#!/usr/bin/env python3
"""Generate ``draftfinder/data/catalog.json`` from real model files (default: ``../shared/fixtures``).

For each model folder (config.json, tokenizer files when present) it stores *facts*, not the files:
  - the architecture numbers of config.json (a fixed subset of keys, see CONFIG_KEYS);
  - the exact parameter count, by instantiating the config with transformers on the meta device
    (no memory, no weights) and counting unique parameters — the same shapes a checkpoint holds;
  - special tokens (from tokenizer_config.json / special_tokens_map.json);
  - the tokenizer's facts (``compat.facts.TokenizerFacts``: size, specials, fingerprint, per-block hashes,
    test-string encodings), shared between models with the same facts.

Usage: python scripts/build_catalog.py [--fixtures DIR] [--out FILE] [--check]
  --check  exit 1 when the committed catalog differs from a fresh build (used by the tests).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_FIXTURES = REPO.parent / "shared" / "fixtures"
DEFAULT_OUT = REPO / "draftfinder" / "data" / "catalog.json"

# Folder -> canonical Hub id where the folder name is a legacy alias.
CANONICAL = {
    "gpt2": "openai-community/gpt2",
    "distilgpt2": "distilbert/distilgpt2",
    "openai-community__gpt2-large": "openai-community/gpt2-large",
}

CONFIG_KEYS = [
    "model_type", "architectures", "hidden_size", "intermediate_size", "num_hidden_layers",
    "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings",
    "tie_word_embeddings", "torch_dtype", "dtype", "bos_token_id", "eos_token_id", "pad_token_id",
    "rope_theta", "sliding_window", "quantization_config",
    # GPT-2 / OPT naming
    "n_embd", "n_layer", "n_head", "n_positions", "n_inner", "ffn_dim", "word_embed_proj_dim",
    "do_layer_norm_before", "activation_function",
]
TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "tokenizer.model")


def model_id_for(folder: Path) -> str:
    return CANONICAL.get(folder.name, folder.name.replace("__", "/"))


def aliases_for(model_id: str) -> list:
    short = model_id.split("/")[-1]
    if model_id.startswith(("openai-community/", "distilbert/")):
        return [short]
    return []


def count_parameters(config: dict) -> int:
    """Unique parameters of the architecture, instantiated on the meta device (exact, no weights)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = AutoConfig.for_model(**{k: v for k, v in config.items() if k != "transformers_version"})
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg)
    return sum(p.numel() for p in model.parameters())


def special_tokens(folder: Path) -> dict:
    out = {}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        path = folder / name
        if not path.exists():
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        for key in ("bos_token", "eos_token", "pad_token", "unk_token"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("content")
            if value is not None and key not in out:
                out[key] = value
    return out


def build(fixtures: Path) -> dict:
    from draftfinder.models.family import detect_family
    from draftfinder.models.sources.base import ModelRecord
    from draftfinder.compat.facts import facts_from_tokenizer
    from draftfinder.compat.tokenizer import load_tokenizer

    sources = {}
    tsv = fixtures / "SOURCES.tsv"
    if tsv.exists():
        with tsv.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                sources.setdefault(row["model_id"], []).append(row["sha256"])

    models, tokenizers = {}, {}
    for folder in sorted(p for p in fixtures.iterdir() if (p / "config.json").is_file()):
        model_id = model_id_for(folder)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        entry = {
            "config": {k: config[k] for k in CONFIG_KEYS if k in config},
            "num_parameters": count_parameters(config),
            "parameters_method": "config.json instantiated with transformers on the meta device",
            "special_tokens": special_tokens(folder),
            "tokenizer": None,
            "family": detect_family(config, model_id),
            "aliases": aliases_for(model_id),
        }
        if any((folder / f).exists() for f in TOKENIZER_FILES):
            tok = load_tokenizer(ModelRecord(model_id=model_id, source="local", local_dir=folder))
            facts = facts_from_tokenizer(tok).to_dict()
            key = facts_from_tokenizer(tok).key      # fingerprint + specials: base/instruct EOS differ
            tokenizers[key] = facts
            entry["tokenizer"] = key
            entry["tokenizer_vocab_size"] = facts["n_tokens"]
        models[model_id] = entry
        print(f"  {model_id}: {entry['num_parameters']:,} params, family {entry['family']}, "
              f"tokenizer {'yes' if entry['tokenizer'] else 'no'}", file=sys.stderr)
    return {
        "schema": 1,
        "generated_by": "scripts/build_catalog.py",
        "generated_from": "real config/tokenizer files byte-identical to the Hub's (shared/fixtures, SOURCES.tsv)",
        "models": models,
        "tokenizers": tokenizers,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = ap.parse_args()
    if not args.fixtures.is_dir():
        print(f"fixtures folder not found: {args.fixtures}", file=sys.stderr)
        return 2
    data = build(args.fixtures)
    text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if args.check:
        same = args.out.exists() and args.out.read_text(encoding="utf-8") == text
        print("catalog is up to date" if same else f"catalog differs from a fresh build: {args.out}", file=sys.stderr)
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(data['models'])} models, {len(data['tokenizers'])} tokenizers, "
          f"{len(text) // 1024} KiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
