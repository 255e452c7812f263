#!/usr/bin/env python3
"""Rebuild ``draftfinder/data/catalog.json`` from a folder of real model files and a manifest of their origins.

The catalog ships *facts*, never the files. The files are gathered from public GitHub repositories that
carry byte-exact copies of the Hugging Face files (the manifest says where each came from, at which commit,
and its SHA-256); this script checks every present file against its manifest hash and derives per model:

  - ``config``: the architecture numbers of config.json (a fixed subset of keys, see CONFIG_KEYS);
  - ``num_parameters``: exact, by instantiating the config with transformers on the meta device (no memory,
    no weights) and counting unique parameters; when transformers cannot build the config, the formula of
    ``draftfinder.models.params.count_from_config``, labelled so in ``parameters_method``;
  - ``special_tokens`` (tokenizer_config.json / special_tokens_map.json, else the Hub API's tokenizer_config),
    ``has_chat_template`` + ``chat_template_sha256``;
  - ``tokenizer``: the key of the tokenizer's facts (``compat.facts.TokenizerFacts``: fingerprint, per-block
    hashes, test-string encodings) when the tokenizer files are present;
  - ``tokenizer_file_hashes``: {file name: digest} of the tokenizer files, from the copies and from public
    pins (Hub LFS pointers, download manifests: sha256; Hub API / HF-cache listings: git blob SHA-1) when the
    files themselves are not available;
  - ``is_instruct``, ``base_model``, ``family``, ``aliases``;
  - ``provenance``: {fact: where it came from} for every fact above;
  - ``published_num_parameters``: the Hub API's safetensors total when a source records it (a cross-check).

Layout of ``--sources DIR``: one folder per model, the Hub id with ``/`` written as ``__`` (``distilgpt2`` and
``gpt2`` as themselves); ``../shared/fixtures`` has this layout too.

Manifest (``--manifest FILE``, TSV with a header): ``model_id file kind repo path commit size sha256 note``.
``kind`` is ``copy`` (a byte-exact copy of repo:path@commit, present in DIR), ``reconstructed`` (present in DIR,
derived from a copy and verified against a public pin, the note says which), ``transcribed`` (present in DIR:
our JSON rendering of config values a repository transcribed from the Hub file, e.g. a Python dict of presets;
the values are the source's, the bytes are not the Hub's), ``pin`` (only the SHA-256 is known, from the listing
at repo:path@commit; no file) or ``pin-git-sha1`` (only the Hub's git blob SHA-1 is known — the ``blobId`` of
the Hub API's ``siblings``, a non-LFS file's ETag, an HF-cache ``blobs/<sha1>`` name — recorded at
repo:path@commit; the hash column then holds those 40 hex digits; no file). A pin's source is ``repo`` (owner/name)
+ ``path`` + a 40-hex ``commit``, or an http(s) URL in ``repo``; the note says what the listing is and which Hub
revision it names. In the catalog a pinned git blob SHA-1 is ``"git-sha1:<hex>"`` and a file pinned by both
algorithms carries both (``[sha256, "git-sha1:…"]``): the finder compares only like with like. A note containing "not hash-verified" marks a copy whose bytes no public pin
confirms; the provenance says so. ``../shared/fixtures/SOURCES.tsv`` is read as a
manifest too (no ``kind`` column: ``RECONSTRUCTED`` rows are reconstructed, the rest copies).

Usage: python scripts/build_catalog.py [--sources DIR] [--manifest FILE] [--out FILE] [--check] [--only ID ...]
  --check  exit 1 when the committed catalog differs from a fresh build (used by the tests).
  --only   build only these models (the tests rebuild the part that ../shared/fixtures covers).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_SOURCES = REPO.parent / "catalog_src"
DEFAULT_MANIFEST = REPO / "scripts" / "catalog_sources.tsv"
DEFAULT_OUT = REPO / "draftfinder" / "data" / "catalog.json"
SCHEMA = 2

# Folder -> canonical Hub id where the folder name is a legacy alias.
CANONICAL = {
    "gpt2": "openai-community/gpt2",
    "distilgpt2": "distilbert/distilgpt2",
    "openai-community__gpt2-large": "openai-community/gpt2-large",
}
LEGACY_ALIASES = {"openai-community/", "distilbert/"}   # owners whose models are also known by the bare name

CONFIG_KEYS = [
    "model_type", "architectures", "hidden_size", "intermediate_size", "num_hidden_layers",
    "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings",
    "tie_word_embeddings", "torch_dtype", "dtype", "bos_token_id", "eos_token_id", "pad_token_id",
    "rope_theta", "sliding_window", "quantization_config",
    # GPT-2 / OPT / GPT-NeoX naming
    "n_embd", "n_layer", "n_head", "n_positions", "n_inner", "ffn_dim", "word_embed_proj_dim",
    "do_layer_norm_before", "activation_function",
    # mixture of experts, built-in multi-token prediction
    "num_local_experts", "num_experts", "num_experts_per_tok", "moe_intermediate_size",
    "num_nextn_predict_layers",
]
TEXT_CONFIG_KEYS = ["model_type", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                    "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings", "torch_dtype",
                    "dtype", "bos_token_id", "eos_token_id", "sliding_window", "tie_word_embeddings",
                    "num_local_experts", "num_experts", "num_experts_per_tok"]
TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "tokenizer.model")     # any of these: a loadable tokenizer
HASHED_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "merges.txt", "tokenizer_config.json",
                "special_tokens_map.json", "added_tokens.json", "chat_template.jinja")
HUB_API_FILE = "hf_api.json"        # the Hub's /api/models/<id> answer, as a public mirror recorded it

# Words in a Hub id that mark a post-trained (chat / instruct / reasoning) model, and base ids they imply.
INSTRUCT_MARKERS = re.compile(r"(?i)(-instruct|-chat|-it(?=$|-)|-sft|-dpo|-rlhf|^qwq-|-r1-distill|distill-)")
BASE_MARKERS = re.compile(r"(?i)-base(?=$|-)")
# Families whose un-suffixed releases are post-trained (Qwen3's hybrid thinking models; base is "-Base").
INSTRUCT_BY_DEFAULT = re.compile(r"(?i)^qwen/qwen3-(?!.*-base)|^deepseek-ai/deepseek-r1|^qwen/qwq|^microsoft/phi-4|"
                                 r"vicuna-|^openai/gpt-oss-")


KINDS = ("copy", "reconstructed", "transcribed", "pin", "pin-git-sha1")
PINS = {"pin": "sha256", "pin-git-sha1": "git-sha1"}      # kind -> digest algorithm of its hash column
HASH_DIGITS = {"sha256": 64, "git-sha1": 40}


@dataclass
class SourceRow:
    """One manifest row: a file of a model and where it came from."""

    model_id: str
    file: str
    kind: str                 # copy | reconstructed | transcribed | pin | pin-git-sha1
    repo: str
    path: str
    commit: str
    size: Optional[int]
    sha256: str               # the hash column: a sha256, or a git blob SHA-1 for pin-git-sha1
    note: str

    @property
    def algorithm(self) -> str:
        return PINS.get(self.kind, "sha256")

    @property
    def digest(self) -> str:
        """The catalog's value: a bare sha256 (the first format, kept), else ``"<algorithm>:<hex>"``."""
        return self.sha256 if self.algorithm == "sha256" else f"{self.algorithm}:{self.sha256}"

    def origin(self) -> str:
        """``repo:path@commit12`` (or the URL / reconstruction note) — the provenance of facts from this file."""
        commit = (self.commit or "-")[:12]
        if self.kind == "reconstructed" or self.repo == "RECONSTRUCTED":
            return f"reconstructed {self.path}@{commit}, verified by sha256 {self.sha256[:12]} (see manifest note)"
        where = self.repo if self.repo.startswith(("http://", "https://")) else f"github:{self.repo}"
        label = {"pin": "pinned sha256 in", "pin-git-sha1": "pinned git blob SHA-1 in",
                 "transcribed": "values transcribed from"}.get(self.kind, "copy of")
        unverified = "; bytes not verified against a Hub pin" if "not hash-verified" in self.note.lower() else ""
        return f"{label} {where}:{self.path}@{commit}{unverified}"


class ManifestError(Exception):
    """A manifest row or a source file that does not agree with it (the build stops: never ship a guess)."""


def read_manifest(path: Path) -> Dict[str, List[SourceRow]]:
    rows: Dict[str, List[SourceRow]] = {}
    with path.open(encoding="utf-8") as fh:
        for n, raw in enumerate(csv.DictReader(fh, delimiter="\t"), start=2):
            repo = (raw.get("repo") or "").strip()
            kind = (raw.get("kind") or ("reconstructed" if repo == "RECONSTRUCTED" else "copy")).strip()
            if kind not in KINDS:
                raise ManifestError(f"{path}:{n}: unknown kind {kind!r} ({', '.join(KINDS)})")
            sha = (raw.get("sha256") or "").strip().lower()
            algo = PINS.get(kind, "sha256")
            if not re.fullmatch(r"[0-9a-f]{%d}" % HASH_DIGITS[algo], sha):
                raise ManifestError(f"{path}:{n}: {algo} {sha!r} is not {HASH_DIGITS[algo]} hex digits (kind {kind})")
            if kind in PINS and not (repo.startswith(("http://", "https://")) or (
                    re.fullmatch(r"[\w.-]+/[\w.-]+", repo) and (raw.get("path") or "").strip()
                    and re.fullmatch(r"[0-9a-f]{40}", (raw.get("commit") or "").strip()))):
                raise ManifestError(f"{path}:{n}: a {kind} row needs its source: repo owner/name + path + 40-hex "
                                    "commit, or an http(s) URL in repo")
            size = (raw.get("size") or "").strip()
            model_id = raw["model_id"].strip()
            model_id = CANONICAL.get(model_id.replace("/", "__"), model_id)
            row = SourceRow(model_id=model_id, file=raw["file"].strip(), kind=kind, repo=repo,
                            path=(raw.get("path") or "").strip(), commit=(raw.get("commit") or "").strip(),
                            size=int(size) if size.isdigit() else None, sha256=sha, note=(raw.get("note") or ""))
            rows.setdefault(row.model_id, []).append(row)
    return rows


def folder_name(model_id: str) -> str:
    for folder, canonical in CANONICAL.items():
        if canonical == model_id and "__" not in folder:
            return folder
    return model_id.replace("/", "__")


def model_id_for(folder: Path) -> str:
    return CANONICAL.get(folder.name, folder.name.replace("__", "/"))


RENAMED = [(re.compile(r"^meta-llama/Llama-3\.1-"), "meta-llama/Meta-Llama-3.1-")]   # the Hub still redirects


def aliases_for(model_id: str) -> list:
    if model_id.startswith(tuple(LEGACY_ALIASES)):
        return [model_id.split("/")[-1]]
    return [pattern.sub(old, model_id) for pattern, old in RENAMED if pattern.search(model_id)]


def file_digests(rows: List[SourceRow]):
    """``({file: digest or [digests]}, {file: provenance})`` of a model's tokenizer files: per file the first row
    of each digest algorithm (copies, then pins, in manifest order); one digest stays a plain value (a sha256 is
    bare hex, as in the first catalog format), several become a list, sha256 first."""
    found: Dict[str, Dict[str, SourceRow]] = {}
    for row in sorted(rows, key=lambda r: r.kind in PINS):
        if row.file in HASHED_FILES:
            found.setdefault(row.file, {}).setdefault(row.algorithm, row)
    values, origins = {}, {}
    for name, by_algo in found.items():
        chosen = [by_algo[a] for a in HASH_DIGITS if a in by_algo]
        values[name] = chosen[0].digest if len(chosen) == 1 else [r.digest for r in chosen]
        origins[name] = "; ".join((f"{r.algorithm}: " if len(chosen) > 1 else "") + r.origin() for r in chosen)
    return values, origins


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def count_parameters(config: dict) -> int:
    """Unique parameters of the architecture, instantiated on the meta device (exact, no weights)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = AutoConfig.for_model(**{k: v for k, v in config.items() if k != "transformers_version"})
    with torch.device("meta"):
        try:
            model = AutoModelForCausalLM.from_config(cfg)
        except ValueError:                         # composite (vision + text) configs: the whole checkpoint
            from transformers import AutoModelForImageTextToText
            model = AutoModelForImageTextToText.from_config(cfg)
    return sum(p.numel() for p in model.parameters())


def parameters(config: dict) -> tuple:
    """(count, method): meta-device count, else the labelled formula."""
    try:
        return count_parameters(config), "config.json instantiated with transformers on the meta device"
    except Exception as exc:  # an architecture this transformers cannot build: the formula, said so
        from draftfinder.models.params import count_from_config
        total = count_from_config(config).total
        return int(total), (f"formula (draftfinder.models.params.count_from_config): transformers could not "
                            f"instantiate the config ({type(exc).__name__})")


# Text-config numbers every consumer needs (draftfinder.models.params.dims_of); a composite checkpoint's config.json
# may leave them to the text config class's defaults (google/gemma-3-27b-it has no text_config.vocab_size).
TEXT_DEFAULTED_KEYS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                       "head_dim", "intermediate_size")


def text_config_defaults(config: dict) -> tuple:
    """``({key: value}, transformers class)`` of the :data:`TEXT_DEFAULTED_KEYS` a composite config's
    ``text_config`` leaves out, as transformers fills them when it loads the config (its text config class's
    defaults); ``({}, "")`` when none is missing or transformers cannot build the config."""
    text = config.get("text_config")
    if not isinstance(text, dict) or all(k in text for k in TEXT_DEFAULTED_KEYS):
        return {}, ""
    try:
        from transformers import AutoConfig

        cfg = AutoConfig.for_model(**{k: v for k, v in config.items() if k != "transformers_version"})
        loaded = cfg.get_text_config()
    except Exception:                               # an architecture this transformers cannot build: leave it out
        return {}, ""
    filled = {k: getattr(loaded, k) for k in TEXT_DEFAULTED_KEYS
              if k not in text and isinstance(getattr(loaded, k, None), int)}
    return filled, type(loaded).__name__


def _token_text(value):
    return value.get("content") if isinstance(value, dict) else value


def special_tokens(folder: Path, hub_api: Optional[dict]) -> tuple:
    """(special tokens, file they came from)."""
    out, used = {}, []
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        path = folder / name
        if not path.exists():
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        for key in ("bos_token", "eos_token", "pad_token", "unk_token"):
            value = _token_text(data.get(key))
            if value is not None and key not in out:
                out[key] = value
                used.append(name) if name not in used else None
    if not used and hub_api:
        tc = (hub_api.get("config") or {}).get("tokenizer_config") or {}
        for key in ("bos_token", "eos_token", "pad_token", "unk_token"):
            value = _token_text(tc.get(key))
            if value is not None:
                out[key] = value
        used = [HUB_API_FILE] if tc else []
    return out, used


def chat_template(folder: Path, hub_api: Optional[dict]) -> tuple:
    """(has template: bool | None when unknown, sha256 of the template text | None, file it came from)."""
    jinja = folder / "chat_template.jinja"
    if jinja.exists():
        return True, sha256_of(jinja), "chat_template.jinja"
    template, where = None, None
    tc_path = folder / "tokenizer_config.json"
    if tc_path.exists():
        template, where = json.loads(tc_path.read_text(encoding="utf-8")).get("chat_template"), "tokenizer_config.json"
    elif hub_api and "tokenizer_config" in (hub_api.get("config") or {}):
        template, where = hub_api["config"]["tokenizer_config"].get("chat_template"), HUB_API_FILE
    if where is None:
        return None, None, None
    if template is None:
        return False, None, where
    text = template if isinstance(template, str) else json.dumps(template, sort_keys=True, ensure_ascii=False)
    return True, hashlib.sha256(text.encode("utf-8")).hexdigest(), where


def is_instruct(model_id: str, has_template: Optional[bool]) -> tuple:
    """(is a chat/instruct model, the rule that said so)."""
    short = model_id.split("/")[-1]
    if BASE_MARKERS.search(short):
        return False, "model id: '-Base' suffix"
    if INSTRUCT_MARKERS.search(short) or INSTRUCT_MARKERS.search(model_id):
        return True, "model id: instruct/chat/-it/distill marker"
    if INSTRUCT_BY_DEFAULT.search(model_id):
        return True, "model id: a release line published post-trained (base checkpoints carry '-Base')"
    return False, "model id: no instruct/chat marker (base or pretrained model)"


_INSTRUCT_SUFFIX = re.compile(r"(?i)(-instruct|-chat|-it)(-v\d+(\.\d+)?|-\d{4})?(-hf)?$")


def base_model_of(model_id: str, instruct: bool, known: set) -> tuple:
    """(base model id, rule) for instruct variants whose base is in the catalog, by the naming convention."""
    if not instruct:
        return None, None
    owner, _, short = model_id.rpartition("/")
    candidates = []
    m = _INSTRUCT_SUFFIX.search(short)
    if m:
        stem = short[:m.start()]
        hf = "-hf" if short.lower().endswith("-hf") else ""
        candidates += [stem + hf, stem, stem + "-Base", stem + "-v0.1" if "v0.1" in short else stem]
    if "/" in model_id and short.startswith("Qwen3-"):
        candidates.append(short + "-Base")
    for cand in candidates:
        full = f"{owner}/{cand}" if owner else cand
        if full != model_id and full in known:
            return full, "naming convention: the same id without its instruct/chat suffix, present in the catalog"
    return None, None


def hub_api_facts(folder: Path) -> Optional[dict]:
    path = folder / HUB_API_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def build(sources: Path, manifest: Dict[str, List[SourceRow]], only: Optional[set] = None) -> dict:
    from draftfinder.models.family import detect_family
    from draftfinder.models.sources.base import ModelRecord
    from draftfinder.compat.facts import facts_from_tokenizer
    from draftfinder.compat.tokenizer import load_tokenizer

    folders = {model_id_for(p): p for p in sources.iterdir() if (p / "config.json").is_file()}
    wanted = sorted(m for m in folders if only is None or m in only)
    # base_model links only to models the manifest ships a config for: the same answer from any sources folder
    known = {m for m, rows in manifest.items() if any(r.file == "config.json" and r.kind not in PINS for r in rows)}
    models, tokenizers, facts_by_files = {}, {}, {}
    for model_id in wanted:
        folder = folders[model_id]
        rows = manifest.get(model_id, [])
        by_file = {r.file: r for r in rows if r.kind not in PINS}
        for row in by_file.values():                          # every present file must match its manifest hash
            path = folder / row.file
            if not path.exists():
                raise ManifestError(f"{model_id}: {row.file} listed as {row.kind} but missing in {folder}")
            if sha256_of(path) != row.sha256:
                raise ManifestError(f"{model_id}: {path} has sha256 {sha256_of(path)}, manifest says {row.sha256}")
        for path in folder.iterdir():                         # and no file may lack an origin
            if path.name not in by_file:
                raise ManifestError(f"{model_id}: {path} has no manifest row (where did it come from?)")

        def origin(name: str) -> str:
            return f"{name}: {by_file[name].origin()}"

        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        hub_api = hub_api_facts(folder)
        n_params, method = parameters(config)
        specials, special_files = special_tokens(folder, hub_api)
        has_template, template_sha, template_file = chat_template(folder, hub_api)
        instruct, instruct_rule = is_instruct(model_id, has_template)
        cfg = {k: config[k] for k in CONFIG_KEYS if k in config}
        if isinstance(config.get("text_config"), dict):
            cfg["text_config"] = {k: config["text_config"][k] for k in TEXT_CONFIG_KEYS if k in config["text_config"]}
        defaults, defaults_class = text_config_defaults(config)
        if defaults:
            cfg["text_config"] = dict(sorted({**cfg["text_config"], **defaults}.items()))
        entry = {
            "config": cfg,
            "num_parameters": n_params,
            "parameters_method": method,
            "special_tokens": specials,
            "has_chat_template": has_template,
            "chat_template_sha256": template_sha,
            "tokenizer": None,
            "tokenizer_file_hashes": {},
            "family": detect_family(config, model_id),
            "is_instruct": instruct,
            "base_model": None,
            "aliases": aliases_for(model_id),
        }
        provenance = {
            "config": origin("config.json"),
            "num_parameters": f"{method}; {origin('config.json')}",
            "family": "draftfinder.models.family.detect_family on config.json and the model id",
            "is_instruct": instruct_rule,
        }
        if defaults:
            import transformers
            provenance["config.text_config defaults"] = (
                f"{', '.join(sorted(defaults))}: absent from config.json's text_config; the defaults of transformers "
                f"{defaults_class} ({transformers.__version__}), the values transformers loads")
        if special_files:
            provenance["special_tokens"] = "; ".join(origin(f) for f in special_files)
        if template_file:
            provenance["chat_template"] = origin(template_file)
        if hub_api:
            total = (hub_api.get("safetensors") or {}).get("total")
            if total:
                entry["published_num_parameters"] = int(total)
                provenance["published_num_parameters"] = f"safetensors.total of {origin(HUB_API_FILE)}"
        entry["tokenizer_file_hashes"], file_origins = file_digests(rows)
        provenance.update({f"tokenizer_file_hashes.{name}": text for name, text in file_origins.items()})
        tok_files = sorted(f for f in by_file if f in HASHED_FILES)
        if any(f in by_file for f in TOKENIZER_FILES):
            files_key = tuple((f, by_file[f].sha256) for f in tok_files)
            facts = facts_by_files.get(files_key)
            if facts is None:
                tok = load_tokenizer(ModelRecord(model_id=model_id, source="local", local_dir=folder))
                facts = facts_by_files[files_key] = facts_from_tokenizer(tok)
            tokenizers[facts.key] = facts.to_dict()
            entry["tokenizer"] = facts.key
            entry["tokenizer_vocab_size"] = facts.n_tokens
            provenance["tokenizer"] = ("facts of the tokenizer loaded with transformers from "
                                       + ", ".join(origin(f) for f in tok_files))
        entry["provenance"] = provenance
        models[model_id] = entry
        print(f"  {model_id}: {n_params:,} params, family {entry['family']}, "
              f"tokenizer {'facts' if entry['tokenizer'] else ('hashes' if entry['tokenizer_file_hashes'] else 'no')}",
              file=sys.stderr)
    for model_id, entry in models.items():                       # needs every model known first
        base, rule = base_model_of(model_id, entry["is_instruct"], known)
        if base:
            entry["base_model"] = base
            entry["provenance"]["base_model"] = rule
    return {
        "schema": SCHEMA,
        "generated_by": "scripts/build_catalog.py",
        "generated_from": ("real config/tokenizer files byte-identical to the Hub's, gathered from public "
                           "GitHub repositories (scripts/catalog_sources.tsv: repository, path, commit, sha256)"),
        "models": models,
        "tokenizers": tokenizers,
    }


def render(data: dict) -> str:
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", "--fixtures", dest="sources", type=Path, default=DEFAULT_SOURCES,
                    help="folder of model folders (default: ../catalog_src beside the clone)")
    ap.add_argument("--manifest", type=Path, action="append",
                    help="manifest TSV (repeatable; default: scripts/catalog_sources.tsv)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--only", nargs="+", help="build only these model ids")
    ap.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = ap.parse_args()
    if not args.sources.is_dir():
        print(f"sources folder not found: {args.sources} (give --sources DIR)", file=sys.stderr)
        return 2
    manifest: Dict[str, List[SourceRow]] = {}
    for path in args.manifest or [DEFAULT_MANIFEST]:
        if not path.is_file():
            print(f"manifest not found: {path} (give --manifest FILE)", file=sys.stderr)
            return 2
        for model_id, rows in read_manifest(path).items():
            manifest.setdefault(model_id, []).extend(rows)
    try:
        data = build(args.sources, manifest, set(args.only) if args.only else None)
    except ManifestError as exc:
        print(f"build_catalog: {exc}", file=sys.stderr)
        return 1
    from draftfinder.models.sources.catalog import validate_catalog
    problems = validate_catalog(data, partial=bool(args.only))
    if problems:
        print("build_catalog: the built catalog is not sound:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    text = render(data)
    if args.check:
        same = args.out.exists() and args.out.read_text(encoding="utf-8") == text
        print("catalog is up to date" if same else f"catalog differs from a fresh build: {args.out}", file=sys.stderr)
        return 0 if same else 1
    from draftfinder.writer import describe, write_text
    where = write_text(args.out, text, flag="--out")
    print(f"wrote {describe(where)} ({len(data['models'])} models, {len(data['tokenizers'])} tokenizers, "
          f"{len(text) // 1024} KiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
