"""Shared helpers of the benchmarks: options, thread setup, prompts, and the result file every bench writes.

Every bench writes one JSON file (default ``bench/results/<bench>.json``, ``--out`` to choose another; the
README's Benchmarks section quotes only such committed files) holding its figures and, under ``"run"``:

    bench, command (exact, relative to the repository), commit (git HEAD; ``dirty`` lists uncommitted source
    files, results excluded), date (UTC), machine (CPU model, cores, machine id, platform, host), load average
    (1/5/15 min) before and after, duration, versions (python, torch, transformers, tokenizers, gguf, and what
    the bench adds, e.g. llama-server's build), torch threads.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
sys.path.insert(0, str(REPO))


def bench_parser(doc: str, *, engine: bool = True) -> "argparse.ArgumentParser":
    """The options every bench has: ``--out`` (the result file); engine benches add ``--target`` (default the
    zoo SmolLM2), ``--threads`` (1: the machine is shared; see the README) and ``--device`` / ``--dtype``
    (default cpu / auto, i.e. fp32 on the CPU: the committed figures; ``engine/device.py``)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    if engine:
        ap.add_argument("--target", default="zoo:smollm2-135m")
        ap.add_argument("--threads", type=int, default=1)
        ap.add_argument("--device", default="cpu", help="auto | cpu | cuda | cuda:N | mps (default cpu)")
        ap.add_argument("--dtype", default="auto", help="auto | bf16 | fp16 | fp32 (default auto: fp32 on the CPU)")
    stem = Path(sys.argv[0]).stem
    ap.add_argument("--out", default=str(RESULTS / f"{stem}.json"),
                    help=f"result file (default bench/results/{stem}.json); the run's metadata goes with the figures")
    return ap


class BenchRun:
    """What the result file records about the run itself; create it before the work, ``finish`` after."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.started = time.perf_counter()
        self.date = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        if getattr(args, "threads", None) is not None:
            setup_threads(args.threads)
        self.load_before = load_average()
        self.extra_versions: Dict[str, Any] = {}

    def metadata(self) -> Dict[str, Any]:
        return {"bench": Path(sys.argv[0]).name, "command": command_line(), **git_state(), "date": self.date,
                "duration_s": round(time.perf_counter() - self.started, 1), "machine": machine(),
                "load_average_before": self.load_before, "load_average_after": load_average(),
                "versions": {**versions(), **self.extra_versions}}

    def finish(self, figures: Dict[str, Any]) -> Path:
        """Write ``{"run": metadata, **figures}`` to ``--out`` (through draftfinder's writer) and print where."""
        from draftfinder.writer import write_json

        run = self.metadata()
        path = Path(self.args.out)
        # bench/results/ is the benches' own folder: made when missing; any other folder must exist
        write_json(path, {"run": run, **figures}, flag="--out", create_parents=path.resolve().parent == RESULTS)
        print(machine_line(run))
        print(f"command: {run['command']}")
        shown = path.resolve()
        print(f"results: {shown.relative_to(REPO) if shown.is_relative_to(REPO) else shown}")
        return path


def bench_place(args: argparse.Namespace) -> Any:
    """The resolved ``--device`` / ``--dtype`` (``engine.device.Target``); an absent device exits with its one
    line (code 2), before any weights load."""
    from draftfinder.engine.device import resolve
    from draftfinder.errors import DraftFinderError

    try:
        return resolve(getattr(args, "device", "cpu"), getattr(args, "dtype", "auto"))
    except DraftFinderError as err:
        print(f"{Path(sys.argv[0]).name}: {err.line()}", file=sys.stderr)
        raise SystemExit(2) from None


def setup_threads(n: int) -> None:
    import torch

    torch.set_num_threads(int(n))


def load_average() -> List[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def git_state() -> Dict[str, Any]:
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, check=False).stdout.rstrip("\n")

    dirty = [line[3:] for line in git("status", "--porcelain").splitlines()
             if line[3:] and not line[3:].startswith("bench/results/")]
    return {"commit": git("rev-parse", "HEAD").strip() or None, "dirty": dirty}


def machine() -> Dict[str, Any]:
    from draftfinder.measure.results import _cpu_model, machine_id

    out = {"cpu": _cpu_model(), "cores": os.cpu_count(), "machine_id": machine_id(), "platform": platform.platform(),
           "host": platform.node()}
    if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
        torch = sys.modules["torch"]
        out["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return out


def versions() -> Dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    out: Dict[str, Any] = {"python": platform.python_version()}
    for dist in ("torch", "transformers", "tokenizers", "gguf"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    if "torch" in sys.modules:
        out["torch_threads"] = sys.modules["torch"].get_num_threads()
    from draftfinder.version import __version__

    out["draftfinder"] = __version__
    return out


def machine_line(run: Dict[str, Any]) -> str:
    v, m = run["versions"], run["machine"]
    fmt = lambda l: "/".join(f"{x:.2f}" for x in l) if l else "n/a"
    return (f"machine: {m['cpu']}, {m['cores']} CPUs, torch threads {v.get('torch_threads')}, Python {v['python']}, "
            f"torch {v['torch']}, transformers {v['transformers']}; commit {str(run['commit'])[:10]}"
            f"{' (dirty)' if run['dirty'] else ''}; load avg (1/5/15 min) before {fmt(run['load_average_before'])}, "
            f"after {fmt(run['load_average_after'])}")


def command_line() -> str:
    """The command as typed, prefixed with ``cd DIR &&`` when it was not run from the repository root (so the
    relative paths in it, e.g. ``--out``, mean what they meant)."""
    import shlex

    cmd = "python " + shlex.join(sys.argv)
    cwd = Path.cwd().resolve()
    return cmd if cwd == REPO else f"cd {shlex.quote(os.path.relpath(cwd, REPO))} && {cmd}"


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def encode(target: Any, prompts) -> List[List[int]]:
    from draftfinder.measure.prompts import encode_prompt

    return [encode_prompt(target.tokenizer, p) for p in prompts]


def fmt_optional(x: Optional[float], spec: str = ".2f") -> str:
    return "—" if x is None else format(x, spec)
