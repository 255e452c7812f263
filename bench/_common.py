"""Shared helpers of the engine benchmarks (bench/engine_vs_hf.py, ngram_speedup.py, predicted_vs_measured.py,
measure_cost.py): machine/versions/load record, thread setup, model + prompt loading, side-by-side timing."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Any, Dict, List

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def bench_parser(doc: str) -> "argparse.ArgumentParser":
    """The options every engine bench has: --target (default the zoo SmolLM2), --threads (1), --json (off)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--target", default="zoo:smollm2-135m")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    return ap


def start(args) -> List[float]:
    """Set torch threads from ``--threads``; returns the load average before the run."""
    setup_threads(args.threads)
    return load_average()


def setup_threads(n: int) -> None:
    import torch

    torch.set_num_threads(int(n))


def load_average() -> List[float]:
    try:
        return list(os.getloadavg())
    except OSError:
        return []


def versions() -> Dict[str, Any]:
    out: Dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(),
                           "cpus": os.cpu_count()}
    for mod in ("torch", "transformers", "tokenizers"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:
            out[mod] = None
    try:
        import torch

        out["torch_threads"] = torch.get_num_threads()
    except Exception:
        pass
    return out


def machine_line(load_before: List[float], load_after: List[float]) -> str:
    v = versions()
    fmt = lambda l: "/".join(f"{x:.2f}" for x in l) if l else "n/a"
    return (f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads "
            f"{v.get('torch_threads')}, Python {v['python']}, torch {v['torch']}, transformers {v['transformers']}; "
            f"load avg (1/5/15 min) before {fmt(load_before)}, after {fmt(load_after)}")


def command_line() -> str:
    return "python " + " ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:])


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def encode(target: Any, prompts) -> List[List[int]]:
    from draftfinder.measure.prompts import encode_prompt

    return [encode_prompt(target.tokenizer, p) for p in prompts]
