#!/usr/bin/env python3
"""How long does ``draftfinder find`` take over a folder of ≥ 20 local candidate models?

Builds a models folder from real files — every fixture model of ``../shared/fixtures`` (config + tokenizer
files) and the zoo GGUF files (SmolLM2-135M, Gemma-3-270M) — and runs find for a target against it,
offline (no Hub):

  cold process  ``python -m draftfinder TARGET --models-dir DIR --offline`` in a fresh process (imports,
                tokenizer loads, everything), median of ``--repeats``
  first call    ``DraftModelFinder(...).find()`` in this process, caches empty
  warm call     the same again (tokenizers and GGUF metadata cached in-process), median of ``--repeats``

Goal (issue 2): warm ≤ 5 s. Prints a table, ends with one headline line; the figures and the run's metadata
go to ``bench/results/find_latency.json`` (``--out`` for another file).

Usage: python bench/find_latency.py [--target Qwen/Qwen2.5-7B] [--repeats 3] [--out FILE]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, BenchRun, bench_parser

FIXTURES = REPO.parent / "shared" / "fixtures"
sys.path.insert(0, str(REPO / "tests"))


def build_models_dir(root: Path) -> tuple[Path, int]:
    from conftest import smollm2_gguf_path  # the same lookup the tests use

    models = root / "models"
    models.mkdir()
    n = 0
    for folder in sorted(FIXTURES.iterdir()):
        if (folder / "config.json").is_file():
            shutil.copytree(folder, models / folder.name)
            n += 1
    gguf = models / "gguf"
    gguf.mkdir()
    smol = smollm2_gguf_path()
    if smol is not None:
        (gguf / smol.name).symlink_to(smol)
        n += 1
    try:
        from draftfinder.models.sources.zoo import ZooSource

        gemma = ZooSource().resolve("zoo:gemma3-270m").gguf_path
        (gguf / gemma.name).symlink_to(gemma)
        n += 1
    except Exception as exc:  # zoo package not installed: bench the rest
        print(f"(gemma GGUF not available: {exc})", file=sys.stderr)
    return models, n


def catalog_find_times(targets: list, repeats: int) -> dict:
    """Warm offline find for targets known only from the built-in catalog (no --models-dir): median seconds
    per target over ``repeats`` calls after one warm-up call. A target with no compatible draft still counts
    (the time to decide that is the time a user waits)."""
    from draftfinder import DraftModelFinder
    from draftfinder.errors import NoCompatibleDraftsError

    out = {}
    for target in targets:
        times = []
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            try:
                DraftModelFinder(target, offline=True).find()
            except NoCompatibleDraftsError:
                pass
            times.append(time.perf_counter() - t0)
        out[target] = statistics.median(times[1:])
    return out


def main() -> int:
    ap = bench_parser(__doc__, engine=False)
    ap.add_argument("--target", default=str(FIXTURES / "Qwen__Qwen2.5-7B"),
                    help="target model (default: the Qwen2.5-7B fixture folder)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--catalog-targets", nargs="+", default=[
        "Qwen/Qwen2.5-7B-Instruct", "meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen3-32B",
        "meta-llama/Llama-3.3-70B-Instruct", "mistralai/Mixtral-8x7B-v0.1"],
                    help="targets timed from the built-in catalog alone (issue 11 goal: < 1 s warm)")
    args = ap.parse_args()
    run = BenchRun(args)

    with tempfile.TemporaryDirectory(prefix="df-bench-") as tmp:
        root = Path(tmp)
        # hermetic: empty HF cache, no Hub, no saved measurements of this user (they would change the result)
        env = {**os.environ, "HF_HOME": str(root / "hf"), "HF_HUB_OFFLINE": "1",
               "HF_HUB_DISABLE_TELEMETRY": "1", "DRAFTFINDER_HOME": str(root / "draftfinder")}
        os.environ.update({k: env[k] for k in ("HF_HOME", "HF_HUB_OFFLINE", "HF_HUB_DISABLE_TELEMETRY",
                                                "DRAFTFINDER_HOME")})
        models, n_local = build_models_dir(root)
        cmd = [sys.executable, "-m", "draftfinder", args.target, "--models-dir", str(models), "--offline",
               "-q", "--format", "json", "--top-n", "50"]

        cold = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
            cold.append(time.perf_counter() - t0)
            if proc.returncode not in (0, 6):
                print(proc.stderr, file=sys.stderr)
                return 1
        if proc.returncode == 0:
            json.loads(proc.stdout)                  # the answer must be one valid JSON document

        from draftfinder import DraftModelFinder

        def one() -> tuple[float, object]:
            t0 = time.perf_counter()
            finder = DraftModelFinder(args.target, offline=True, models_dirs=[str(models)])
            result = finder.find()
            return time.perf_counter() - t0, result

        first, result = one()
        warm = [one()[0] for _ in range(args.repeats)]
        catalog_warm = catalog_find_times(args.catalog_targets, args.repeats)

    evaluated = result.evaluated
    rows = [
        ("cold process (median)", statistics.median(cold)),
        ("first call in process", first),
        ("warm call (median)", statistics.median(warm)),
    ]
    print(f"find latency: target {Path(args.target).name}, {n_local} local models in --models-dir, "
          f"{evaluated} candidates evaluated ({len(result.candidates)} compatible, {len(result.rejected)} rejected)")
    print(f"{'phase':<24} {'seconds':>8}")
    for name, secs in rows:
        print(f"{name:<24} {secs:>8.2f}")
    print(f"compatible drafts: {', '.join(c.model_id for c in result.candidates)}")
    from draftfinder.models.sources.catalog import CatalogSource
    n_catalog = len(CatalogSource().models())
    for target, secs in catalog_warm.items():
        print(f"catalog find {target:<40} warm {secs:>6.3f} s ({n_catalog}-model catalog, offline)")
    figures = {
        "target": args.target, "local_models": n_local, "candidates_evaluated": evaluated,
        "compatible": [c.model_id for c in result.candidates],
        "cold_process_s": cold, "first_call_s": first, "warm_call_s": warm,
        "warm_median_s": statistics.median(warm), "cold_median_s": statistics.median(cold), "goal_warm_s": 5.0,
        "find_command": " ".join(["python"] + cmd[1:]), "repeats": args.repeats,
        "catalog_models": n_catalog, "catalog_warm_median_s": catalog_warm, "catalog_goal_warm_s": 1.0,
    }
    run.finish(figures)
    verdict = "meets" if figures["warm_median_s"] <= 5.0 else "MISSES"
    print(f"HEADLINE: find over {evaluated} candidates: warm {figures['warm_median_s']:.2f} s, "
          f"cold process {statistics.median(cold):.2f} s ({verdict} the ≤ 5 s warm goal); catalog targets: "
          f"slowest warm {max(catalog_warm.values()):.3f} s over {n_catalog} catalog models (goal < 1 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
