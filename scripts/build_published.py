#!/usr/bin/env python3
"""Rebuild ``draftfinder/data/published.json``: published speculative-decoding measurements with provenance.

Inputs
  --sources DIR   a folder holding the raw source files (kept out of this repository); every file is listed in
                  ``scripts/published_sources.tsv`` with the repository + path + commit (or URL + title) it came
                  from and its SHA-256, which is checked before anything is parsed.
  scripts/published_sources.tsv    the manifest: one line per source file (source id, role, parser, provenance).
  scripts/published_transcribed.json   rows typed in by hand from sources that have no machine-readable table
                  (docs, blog posts, issue threads); each lists the strings it was read from (``verify``), and the
                  build fails unless every one of them occurs in the raw file.

Parsers
  draftbench_results       draftbench ``results/*.json`` (alexziskind1/draftbench): one row per target+draft run,
                           with the same file's baseline run of that target; model files from its sweep configs.
  specbench_leaderboard    Spec-Bench ``Leaderboard.md``: one row per device x model x method x task column.
  leviathan_acceptance_py  the Leviathan et al. 2023 Table 3 alpha values already transcribed (with citations)
                           in ``draftfinder/predict/acceptance.py``.
  transcribed              rows from ``published_transcribed.json`` (numbers checked against the raw text).

Roles: draftbench is the only source a model may be fitted on ("training"); every other source is "validation".

Usage: python scripts/build_published.py --sources DIR [--out FILE] [--check]
  --check  build in memory and exit 1 when the committed file differs (nothing is written).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MANIFEST = REPO / "scripts" / "published_sources.tsv"
TRANSCRIBED = REPO / "scripts" / "published_transcribed.json"
DEFAULT_OUT = REPO / "draftfinder" / "data" / "published.json"
SCHEMA_VERSION = 1

ACCEPTANCE_KINDS = {
    "alpha": "expected per-token acceptance probability alpha = E(beta) = E[sum min(p, q)] (Leviathan et al. 2023, "
             "section 3.1)",
    "rate": "accepted draft tokens / drafted tokens (llama.cpp draft_n_accepted / draft_n; LM Studio 'accepted "
            "draft tokens'; draftbench acceptance_rate)",
    "al": "mean tokens produced per target forward pass, bonus token included (1.00 for plain decoding; "
          "Spec-Bench '#Mean Accepted Tokens', vLLM/SGLang 'acceptance length')",
}
DEFINITIONS = {
    "acceptance_kinds": ACCEPTANCE_KINDS,
    "speedup": "speculative tokens/s / baseline tokens/s of the same source; 'computed' = we divided the two "
               "published speeds, 'published' = the ratio as the source prints it",
    "roles": {"training": "may be fitted on (draftbench only)", "validation": "held out: report error, never fit"},
    "tokens_per_s": "decode tokens per second of one request as the source measured it (see each row's notes)",
}


# Facts that hold for every row of a source (kept here once instead of on each row).
SOURCE_NOTES = {
    "draftbench": [
        "llama-server run with its defaults for --draft-max/--draft-min/--draft-p-min (draftbench passes no draft "
        "flags; sweep.py and server.py at 991497a), -ngl 99, -c 4096, one request at a time",
        "tokens/s = (completion tokens - 1) / seconds after the first streamed token, mean over the 3 prompts of "
        "bench.py (runs = 1); the baseline is the same file's run of that target without a draft",
        "acceptance_rate = the last 'draft acceptance rate = ...' line of the server log (sweep.py "
        "parse_acceptance_rate); llama-server prints it per request (n_draft_accepted / n_draft_total), so it is "
        "the third prompt's rate only, not an average over the three",
        "engine version not stated (llama.cpp built from source; results dated 2026-02-05/06)",
        "hardware m4max-128gb -> preset m4-max: our reading, Apple sells 128 GB only with the 40-core-GPU M4 Max",
        "prompts (bench.py PROMPTS): a Python binary-search-tree class, a JSON array of 10 users, the 20 largest "
        "countries as a numbered list",
        "model files: configs/sweep_*.json at 4a5e872 map each label to a GGUF file (targets 14B-72B from "
        "bartowski/*-GGUF, 7B target and the drafts from Qwen/*-GGUF, 3B FP16 from bartowski)",
    ],
    "spec-bench": [
        "speedup = mean over 3 runs of (method tokens/s / vanilla autoregressive tokens/s), same device and "
        "environment (Leaderboard.md header)",
        "'#Mean Accepted Tokens' is published once per method and model (over all subtasks): it is attached to "
        "the row of the Overall column only",
        "SpS = speculative sampling with a separate draft model through transformers assisted generation "
        "(evaluation/inference_sps.py, drafter vicuna-68m per eval.sh); its draft length is transformers' default, "
        "not stated in the leaderboard",
    ],
    "leviathan2023": [
        "alpha values only: Table 3's gamma and walltime speedups are not transcribed (the table could not be "
        "read here); engine T5X for the T5 rows per the paper's abstract; hardware not transcribed",
    ],
}


class BuildError(Exception):
    """A source file is missing, differs from its manifest hash, or does not contain what a row says."""


# --- manifest -------------------------------------------------------------------------------------------

def read_manifest(path: Path = MANIFEST) -> List[Dict[str, Optional[str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [{k: (None if v == "-" else v) for k, v in r.items()} for r in rows]


def check_files(manifest: List[Dict[str, Optional[str]]], sources: Path) -> None:
    for entry in manifest:
        if not entry["file"]:
            continue
        f = sources / entry["file"]
        if not f.is_file():
            raise BuildError(f"source file missing: {f} (listed for {entry['source_id']} in {MANIFEST.name})")
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        if digest != entry["sha256"]:
            raise BuildError(f"{f}: sha256 {digest[:12]}… differs from the manifest's {str(entry['sha256'])[:12]}…; "
                             "re-fetch it at the listed commit")


def provenance(entry: Dict[str, Optional[str]]) -> Dict[str, Optional[str]]:
    """Where a row comes from: repository + path + commit when the source is a repository file, else URL + title
    (the sources table has both for every file)."""
    if entry["repo"] and entry["path"] and entry["commit"]:
        return {k: entry[k] for k in ("repo", "path", "commit")}
    return {k: entry[k] for k in ("url", "title")}


def sources_table(manifest: List[Dict[str, Optional[str]]]) -> List[Dict[str, Any]]:
    out: Dict[str, Dict[str, Any]] = {}
    for e in manifest:
        s = out.setdefault(e["source_id"], {"source_id": e["source_id"], "role": e["role"],
                                            "notes": SOURCE_NOTES.get(e["source_id"], []), "files": []})
        s["files"].append({**provenance(e), "file": e["file"], "sha256": e["sha256"], "parser": e["parser"],
                           "retrieved": e["retrieved"], "note": e["note"]})
    return list(out.values())


# --- row skeleton ---------------------------------------------------------------------------------------

def model(id: Optional[str] = None, label: Optional[str] = None, format: Optional[str] = None,
          quant: Optional[str] = None, file: Optional[str] = None) -> Dict[str, Optional[str]]:
    return {"id": id, "label": label, "format": format, "quant": quant, "file": file}


def new_row(**fields: Any) -> Dict[str, Any]:
    row: Dict[str, Any] = {
        "row_id": None, "source_id": None, "role": None, "engine": None, "engine_version": None,
        "method": "draft-model", "hardware": {"name": None, "preset": None, "count": None, "note": None},
        "target": model(), "draft": None, "k": None, "draft_max": None, "draft_min": None, "draft_p_min": None,
        "temperature": None, "task": None, "dataset": None, "acceptance": None,
        "baseline_tokens_per_s": None, "speculative_tokens_per_s": None, "speedup": None, "speedup_basis": None,
        "concurrency": None, "batch_size": None, "load": None, "location": None, "provenance": None,
        "notes": [], "extra": {},
    }
    row.update(fields)
    if row["speedup"] is None and row["baseline_tokens_per_s"] and row["speculative_tokens_per_s"]:
        row["speedup"] = round(row["speculative_tokens_per_s"] / row["baseline_tokens_per_s"], 4)
        row["speedup_basis"] = "computed"
    return row


# --- draftbench -----------------------------------------------------------------------------------------

GGUF_REPO_RE = re.compile(r"/models/(?P<owner>[^/]+)/(?P<repo>[^/]+-GGUF)/(?P<rest>.+)$")
DRAFTBENCH_QUANT = {"FP16": "F16"}


def _draftbench_files(configs: List[Path]) -> Dict[str, Dict[str, str]]:
    """label -> {'repo': 'Qwen/Qwen2.5-0.5B-Instruct-GGUF', 'file': ...} from the sweep configs."""
    out: Dict[str, Dict[str, str]] = {}
    for c in configs:
        cfg = json.loads(c.read_text(encoding="utf-8"))
        for m in cfg.get("targets", []) + cfg.get("drafts", []):
            mm = GGUF_REPO_RE.search(m["path"])
            if mm:
                out[m["label"]] = {"repo": f"{mm['owner']}/{mm['repo']}", "file": mm["rest"]}
    return out


def _draftbench_model(label: str, files: Dict[str, Dict[str, str]]) -> Dict[str, Optional[str]]:
    size, quant = label.split(" ", 1)
    f = files.get(label)
    return model(id=f"Qwen/Qwen2.5-{size}-Instruct", label=label, format="GGUF",
                 quant=DRAFTBENCH_QUANT.get(quant, quant), file=f"{f['repo']}/{f['file']}" if f else None)


def parse_draftbench(entries: List[Dict[str, Optional[str]]], sources: Path) -> List[Dict[str, Any]]:
    files = _draftbench_files([sources / e["file"] for e in entries if e["parser"] == "draftbench_config"])
    rows = []
    for e in entries:
        if e["parser"] != "draftbench_results":
            continue
        data = json.loads((sources / e["file"]).read_text(encoding="utf-8"))
        settings = data["settings"]
        baselines = {r["target"]: r for r in data["results"] if r["draft"] is None}
        for i, r in enumerate(data["results"]):
            if r["draft"] is None:
                continue
            base = baselines[r["target"]]
            acc = r.get("acceptance_rate")
            rows.append(new_row(
                row_id=f"draftbench/{data['name']}/{r['target']}/{r['draft']}",
                source_id=e["source_id"], role=e["role"], engine="llama.cpp (llama-server)",
                hardware={"name": data["hardware"], "preset": "m4-max", "count": 1, "note": None},
                target=_draftbench_model(r["target"], files), draft=_draftbench_model(r["draft"], files),
                temperature=settings["temperature"], task="mixed (code, JSON, list)", dataset="draftbench bench.py PROMPTS (3)",
                acceptance=None if acc is None else {
                    "value": acc, "kind": "rate",
                    "definition": "accepted / drafted, llama-server 'draft acceptance rate' of the last request only"},
                baseline_tokens_per_s=base["mean_tps"], speculative_tokens_per_s=r["mean_tps"],
                concurrency=1, batch_size=1,
                location=f"JSON /results/{i} (baseline /results/{data['results'].index(base)})",
                provenance=provenance(e),
                notes=[f"gpu_layers {settings['gpu_layers']}, ctx_size {settings['ctx_size']}, max_tokens "
                       f"{settings['max_tokens']}, runs {settings['runs']}"],
                extra={"baseline_median_tokens_per_s": base["median_tps"], "speculative_median_tokens_per_s": r["median_tps"],
                       "mean_ttft_s": r["mean_ttft"], "baseline_mean_ttft_s": base["mean_ttft"],
                       "wall_time_s": r.get("wall_time")},
            ))
    return rows


# --- Spec-Bench -----------------------------------------------------------------------------------------

SPECBENCH_METHOD = {"SAMD[EAGLE2]": "sam-decoding+eagle2", "EAGLE3": "eagle3", "EAGLE2": "eagle2", "EAGLE": "eagle",
                    "Hydra": "hydra", "SpS": "draft-model", "PLD": "ngram", "Medusa": "medusa",
                    "Recycling": "token-recycling", "REST": "rest", "Lookahead": "lookahead"}
SPECBENCH_TASK = {"Multi-turn Conversation": "chat", "Translation": "translation", "Summa-rization": "summarization",
                  "Question Answering": "qa", "Mathematical Reasoning": "math", "Retrieval-aug. Generation": "rag",
                  "Overall": "mixed"}
SPECBENCH_DEVICE = {"3090": ("a single NVIDIA GeForce RTX 3090 GPU (24GB)", "rtx3090"),
                    "A100": ("a single NVIDIA A100 GPU (80GB)", "a100-80gb")}


def _cells(line: str) -> List[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _num(cell: str) -> float:
    return float(cell.replace("*", "").rstrip("x"))


def parse_specbench(entry: Dict[str, Optional[str]], sources: Path) -> List[Dict[str, Any]]:
    text = (sources / entry["file"]).read_text(encoding="utf-8")
    rows: List[Dict[str, Any]] = []
    device = env = model_name = None
    header: List[str] = []
    for line in text.splitlines():
        if line.startswith("## Leaderboard on "):
            device, model_name = line.split()[-1], None
        elif line.startswith("- Testing environment:"):
            env = line.split(":", 1)[1].strip()
        elif line.startswith("- Experimental Settings:") and "Vicuna" in line:
            model_name = re.search(r"Vicuna-\d+B-v1\.3", line).group(0)
        elif line.startswith("### Vicuna"):
            model_name = line[4:].strip()
        elif line.startswith("| Models"):
            header = _cells(line)
        elif line.startswith("| [") and header and device:
            cells = _cells(line)
            name = re.match(r"\[(.*?)\]\(", cells[0]).group(1)
            method = SPECBENCH_METHOD[name]
            al = _num(cells[header.index("#Mean Accepted Tokens")])
            hw_name, preset = SPECBENCH_DEVICE[device]
            size = re.search(r"(\d+)B", model_name).group(1)
            for col, task in SPECBENCH_TASK.items():
                dataset = "Spec-Bench, all 6 subtasks" if col == "Overall" else f"Spec-Bench subtask '{col}'"
                speedup = _num(cells[header.index(col)])
                rows.append(new_row(
                    row_id=f"spec-bench/{device}/{model_name}/{name}/{task}",
                    source_id=entry["source_id"], role=entry["role"],
                    engine="transformers (assisted generation)" if method == "draft-model" else "PyTorch (method's reference code)",
                    engine_version=env, method=method,
                    hardware={"name": hw_name, "preset": preset, "count": 1,
                              "note": "A100 form factor (SXM/PCIe) not stated" if device == "A100" else None},
                    target=model(id=f"lmsys/vicuna-{size.lower()}b-v1.3", label=model_name, format="PyTorch", quant="fp16"),
                    draft=(model(label="vicuna-68m (Spec-Bench eval.sh; weights per NJUNLP/MCSD release)", format="PyTorch", quant="fp16")
                           if method == "draft-model" else None if method in ("ngram", "lookahead", "rest", "token-recycling")
                           else model(label=f"{name} heads/draft for {model_name}", format="PyTorch", quant="fp16")),
                    temperature=0.0, task=task, dataset=dataset,
                    acceptance={"value": al, "kind": "al", "definition": "Spec-Bench '#Mean Accepted Tokens' (1.00 = plain decoding), over all subtasks"}
                    if col == "Overall" else None,
                    speedup=speedup, speedup_basis="published", concurrency=1, batch_size=1,
                    location=f"Leaderboard on {device}{' / ' + model_name if device == 'A100' else ''}, row {name}, column {col}",
                    provenance=provenance(entry),
                    notes=[],
                ))
    if not rows:
        raise BuildError(f"{entry['file']}: no leaderboard rows found")
    return rows


# --- Leviathan (from acceptance.py) ---------------------------------------------------------------------

LEVIATHAN_DATASET = {"lm1b": "lm1b", "ende": "WMT EnDe", "cnndm": "CNN/DailyMail", "lamda": "LaMDA dialog"}


def parse_leviathan(entry: Dict[str, Optional[str]]) -> List[Dict[str, Any]]:
    from draftfinder.predict.acceptance import LEVIATHAN, PUBLISHED_ACCEPTANCE

    rows = []
    for p in PUBLISHED_ACCEPTANCE:
        if p.citation != LEVIATHAN:
            continue
        key = p.group.split("-")[1]
        rows.append(new_row(
            row_id=f"leviathan2023/{p.group}/{p.draft}",
            source_id=entry["source_id"], role=entry["role"],
            engine="T5X" if p.target.startswith("T5") else None, method="draft-model",
            target=model(label=p.target), draft=model(label=p.draft), temperature=float(p.temperature),
            task=p.task.value, dataset=LEVIATHAN_DATASET[key],
            acceptance={"value": p.alpha, "kind": "alpha", "definition": "alpha measured by the paper (Table 3)"},
            location=f"Table 3 (group {p.group})", provenance={**provenance(entry), "citation": p.citation},
            notes=[f"parameters: target {p.target_params:.3g}, draft {p.draft_params:.3g}", p.note] if p.note else
                  [f"parameters: target {p.target_params:.3g}, draft {p.draft_params:.3g}"],
            extra={"target_params": p.target_params, "draft_params": p.draft_params, "used_in_acceptance_fit": p.used_in_fit},
        ))
    return rows


# --- transcribed ----------------------------------------------------------------------------------------

def parse_transcribed(manifest: List[Dict[str, Optional[str]]], sources: Path,
                      path: Path = TRANSCRIBED) -> List[Dict[str, Any]]:
    by_file = {e["file"]: e for e in manifest if e["parser"] == "transcribed"}
    rows = []
    for t in json.loads(path.read_text(encoding="utf-8")):
        t = dict(t)
        entry = by_file.get(t.pop("file"))
        if entry is None or entry["source_id"] != t["source_id"]:
            raise BuildError(f"{t['row_id']}: its file is not a 'transcribed' entry of {t['source_id']} in the manifest")
        checks = {entry["file"]: t.pop("verify")}
        checks.update(t.pop("verify_files", {}))
        for fname, needles in checks.items():
            text = (sources / fname).read_text(encoding="utf-8")
            missing = [n for n in needles if n not in text]
            if missing or not needles:
                raise BuildError(f"{t['row_id']}: {fname} does not contain {missing or 'any checked string'}")
        rows.append(new_row(**t, role=entry["role"], provenance=provenance(entry)))
    return rows


# --- build ----------------------------------------------------------------------------------------------

def build(sources: Path) -> Dict[str, Any]:
    manifest = read_manifest()
    check_files(manifest, sources)
    rows: List[Dict[str, Any]] = []
    rows += parse_draftbench([e for e in manifest if e["source_id"] == "draftbench"], sources)
    for e in manifest:
        if e["parser"] == "specbench_leaderboard":
            rows += parse_specbench(e, sources)
        elif e["parser"] == "leviathan_acceptance_py":
            rows += parse_leviathan(e)
    rows += parse_transcribed(manifest, sources)
    ids = [r["row_id"] for r in rows]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise BuildError(f"duplicate row ids: {sorted(dup)[:3]}")
    counts: Dict[str, int] = {}
    for r in rows:
        counts[r["source_id"]] = counts.get(r["source_id"], 0) + 1
    return {"schema_version": SCHEMA_VERSION, "generated_by": "scripts/build_published.py",
            "definitions": DEFINITIONS, "row_counts": counts, "sources": sources_table(manifest), "rows": rows}


def render(payload: Dict[str, Any]) -> str:
    """Indented JSON with one row per line (readable diffs, ~1 line per measurement)."""
    head = {k: v for k, v in payload.items() if k != "rows"}
    text = json.dumps(head, indent=1, ensure_ascii=False)
    rows = ",\n".join("  " + json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in payload["rows"])
    return text[:-2] + ',\n "rows": [\n' + rows + "\n ]\n}\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", type=Path, required=True, help="folder with the raw source files of the manifest")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help=f"output JSON (default: {DEFAULT_OUT.relative_to(REPO)})")
    ap.add_argument("--check", action="store_true", help="exit 1 if the committed file differs from a fresh build")
    args = ap.parse_args()
    try:
        text = render(build(args.sources))
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.check:
        same = Path(args.out).read_text(encoding="utf-8") == text
        print("up to date" if same else f"{args.out} differs from a fresh build", file=sys.stderr)
        return 0 if same else 1
    from draftfinder.writer import describe, write_text

    where = write_text(args.out, text, flag="--out")
    print(f"wrote {describe(where)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
