"""``draftfinder sweep``: measured target × draft × K sweeps (draftbench's sweep.py, resumable, offline charts).

  draftfinder sweep --init [PATH]                      write an example config (zoo model, offline drafters)
  draftfinder sweep --config FILE [--results R.json] [--chart C.html] [--fresh] [--retry-failed]
  draftfinder sweep --config FILE --executor ray [--address HOST:6379]   cells as Ray tasks (local cluster without --address)
  draftfinder sweep --config-dir DIR                   every *.json/*.yaml except example_*, one after another
  draftfinder sweep --results R.json --chart C.html --chart-only
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, List, Optional

from draftfinder.errors import DraftFinderError, UsageError, interrupt_exit_code

HELP = ("run measured target × draft × K sweeps (engine, hf, llamacpp, openai, vllm, sglang, lmstudio) with "
        "offline HTML charts")
DEFAULT_INIT = "sweep.json"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="sweep config (draftbench JSON, or YAML)")
    p.add_argument("--config-dir", metavar="DIR", help="run every *.json / *.yaml in DIR except example_*")
    p.add_argument("--results", metavar="FILE",
                   help="results JSON (default results/<hardware>_<backend>_<name>.json); resumed when it exists "
                        "and its cells were measured with this run's settings (else refused: see --fresh); missing "
                        "folders are created; must be a regular file (a symlink to one is followed)")
    p.add_argument("--chart", metavar="FILE",
                   help="chart HTML (default: the results path with .html); its folder must exist; `-`: the HTML "
                        "goes to stdout and the tables to stderr")
    p.add_argument("--chart-only", action="store_true", help="rebuild the chart (and tables) from --results; run nothing")
    p.add_argument("--no-chart", action="store_true", help="do not write the HTML chart")
    p.add_argument("--results-dir", metavar="DIR", default="results", help="where default results/charts go (results)")
    p.add_argument("--init", nargs="?", const=DEFAULT_INIT, metavar="PATH",
                   help=f"write an example config to PATH (default {DEFAULT_INIT}; `-`: stdout) and exit")
    p.add_argument("--force", action="store_true", help="--init: overwrite an existing file")
    p.add_argument("--fresh", action="store_true",
                   help="discard the cells of an existing results file and start over. Without it, a results "
                        "file whose cells were measured with other settings (runs, warmup, max_tokens, temperature, "
                        "task, prompts and their texts, seed, threads; llamacpp also gpu_layers, ctx_size, "
                        "llama_bin; engine and hf also device, dtype) or with another target path / drafter under the same label is refused, naming "
                        "the differing keys: nothing is rerun or mixed. Pass another --results to keep both")
    p.add_argument("--retry-failed", action="store_true", help="rerun cells that failed in an earlier run")
    p.add_argument("--llama-server", metavar="PATH", help="llamacpp backend: the llama-server binary to start")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: cells one after another in this process (default); ray: each cell a Ray task "
                        "(pip install 'draftfinder[ray]'), results merged into the same --results file here")
    p.add_argument("--address", metavar="ADDR",
                   help="--executor ray: a running Ray cluster (HOST:6379, ray://HOST:10001 or auto; default "
                        "$RAY_ADDRESS, else a local cluster started on this machine and stopped at the end)")
    g = p.add_argument_group("overrides of the config's settings")
    g.add_argument("--k", metavar="LIST", help="K values, e.g. 2,4,8")
    g.add_argument("--runs", type=int, metavar="N")
    g.add_argument("--max-tokens", type=int, metavar="N")
    g.add_argument("--prompts", type=int, metavar="N", help="prompts per run")
    g.add_argument("--task", choices=("general", "code", "chat", "summarization"))
    g.add_argument("--concurrency", metavar="LIST", help="simultaneous streams per cell, e.g. 1,4,16 (server backends)")
    p.add_argument("--format", choices=("table", "json"), default="table", help="final output on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    from draftfinder.sweep.config import write_example

    if args.init:
        from draftfinder.writer import describe

        path = write_example(args.init, force=args.force)
        if isinstance(path, Path):
            _note(f"Example sweep config written to {path} (edit targets/drafts, then: draftfinder sweep "
                  f"--config {path})")
        else:
            _note(f"Example sweep config written to {describe(path)}")
        return 0
    if args.chart_only:
        return _chart_only(args)
    if args.config and args.config_dir:
        raise UsageError("--config and --config-dir cannot be combined", hint="pass one of them")
    if args.config_dir:
        return _config_dir(args)
    if not args.config:
        raise UsageError("no sweep config given",
                         hint="pass --config FILE (draftfinder sweep --init writes an example), or --config-dir DIR")
    return _one(args, args.config, args.results, args.chart)


# ---------------------------------------------------------------------------------------------------

def _overrides(cfg: Any, args: argparse.Namespace) -> None:
    s = cfg.settings
    from draftfinder.ranges import check_number, parse_number
    from draftfinder.sweep.config import MAX_SWEEP_K

    if args.k:
        parts = [x for x in args.k.split(",") if x.strip()]
        if not parts:
            raise UsageError(f"--k: '{args.k}' is not a comma-separated list of whole numbers", hint="e.g. --k 2,4,8")
        s.k = sorted({parse_number(x, "--k", kind=int, low=1, high=MAX_SWEEP_K, hint="e.g. --k 2,4,8") for x in parts})
    for name in ("runs", "max_tokens", "prompts"):
        value = getattr(args, name)
        if value is not None:
            setattr(s, name, check_number(value, f"--{name.replace('_', '-')}", kind=int, low=1))
    if args.task:
        s.task = args.task
    if args.concurrency:
        from draftfinder.sweep.config import MAX_CONCURRENCY, check_concurrency

        parts = [x for x in args.concurrency.split(",") if x.strip()]
        if not parts:
            raise UsageError(f"--concurrency: '{args.concurrency}' is not a comma-separated list of whole numbers",
                             hint="e.g. --concurrency 1,4,16")
        s.concurrency = sorted({1} | {parse_number(x, "--concurrency", kind=int, low=1, high=MAX_CONCURRENCY,
                                                   hint="e.g. --concurrency 1,4,16") for x in parts})
        check_concurrency(s.concurrency, cfg.backend, source="--concurrency")


def _executor(args: argparse.Namespace) -> Any:
    from draftfinder.constants import ray_address
    from draftfinder.sweep.executors import import_ray, make_executor

    executor = getattr(args, "executor", None) or "local"
    address = getattr(args, "address", None)
    if executor == "ray":
        import_ray()                          # missing ray: one line before anything runs
        address = address or ray_address()
    return make_executor(executor, address=address)


def _paths(cfg: Any, args: argparse.Namespace, results: Optional[str], chart: Optional[str]):
    rpath = Path(results) if results else Path(args.results_dir) / f"{cfg.default_stem()}.json"
    cpath = Path(chart) if chart else rpath.with_suffix(".html")
    return rpath, cpath


def _note(line: str) -> None:
    """A status line ("saved to …"): stderr, so that stdout carries only data (the tables, or a `-` file)."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _check_outputs(args: argparse.Namespace, rpath: Path, cpath: Path) -> None:
    """Refuse unusable --results / --chart paths before any cell runs (nothing is written here)."""
    from draftfinder.writer import check_destination, is_regular_destination

    if not is_regular_destination(rpath):
        raise UsageError(f"--results {rpath}: not a regular file (the sweep rewrites it after every cell and reads "
                         "it back to resume)", hint="name a file, e.g. --results results/my_sweep.json; for the "
                         "results on stdout add --format json")
    check_destination(rpath, flag="--results", create_parents=True)
    if not args.no_chart:            # the default chart sits beside the results, whose folder the sweep creates
        check_destination(cpath, flag="--chart", create_parents=cpath.parent == rpath.parent)


def _data_stream(cpath: Optional[Path], args: argparse.Namespace):
    """Where the tables go: stdout, unless the chart HTML is the data written there (`--chart -`)."""
    from draftfinder.writer import STDOUT, resolve_output

    if cpath is None or getattr(args, "no_chart", False):
        return sys.stdout
    return sys.stderr if resolve_output(cpath) == STDOUT else sys.stdout


def _one(args: argparse.Namespace, config: str, results: Optional[str], chart: Optional[str]) -> int:
    from draftfinder.sweep.config import load_sweep_config
    from draftfinder.sweep.runner import plan_cells, run_sweep

    cfg = load_sweep_config(config)
    _overrides(cfg, args)
    executor = _executor(args)
    rpath, cpath = _paths(cfg, args, results, chart)
    _check_outputs(args, rpath, cpath)
    cells = plan_cells(cfg)
    log = (lambda line: None) if args.quiet else (lambda line: sys.stderr.write(line + "\n"))
    log(f"Sweep '{cfg.name}': {len(cfg.targets)} target(s) × {len(cfg.drafts)} draft(s) × K {cfg.settings.k} "
        f"→ {len(cells)} cells, backend {cfg.backend}, {cfg.settings.runs} run(s) × {cfg.settings.prompts} "
        f"{cfg.settings.task} prompt(s), max_tokens {cfg.settings.max_tokens}"
        + (f", concurrency {cfg.settings.concurrency}" if len(cfg.settings.concurrency) > 1 else ""))
    progress = None if args.quiet or not sys.stderr.isatty() else _EtaProgress()
    options = {"llama_server": args.llama_server}
    try:
        res = run_sweep(cfg, rpath, options=options, fresh=args.fresh, retry_failed=args.retry_failed, log=log,
                        progress=progress, executor=executor)
    except KeyboardInterrupt as exc:
        if progress:
            progress.close()
        sys.stderr.write(f"draftfinder: interrupted — finished cells are saved in {rpath}; "
                         f"run the same command again to resume\n")
        try:
            _write_chart(rpath, cpath, args)
        except DraftFinderError as err:
            log(f"chart not written: {err.line()}")
        return interrupt_exit_code(exc)
    if progress:
        progress.close()
    _report(res, args, stream=_data_stream(cpath, args))
    _note(f"Results saved to {rpath}")
    _write_chart(rpath, cpath, args)          # a failed chart write is an error (exit 2); the results are saved
    failed = [c for c in res.cells if c.get("status") == "failed"]
    return 0 if not failed else 1


def _write_chart(rpath: Path, cpath: Path, args: argparse.Namespace) -> None:
    """Write the chart from the saved results and say where, only after it was written."""
    if args.no_chart or not rpath.exists():
        return
    from draftfinder.sweep.charts import write_chart
    from draftfinder.sweep.results import SweepResults
    from draftfinder.writer import describe

    _note(f"Chart saved to {describe(write_chart(SweepResults.load(rpath), cpath))}")


def _chart_only(args: argparse.Namespace) -> int:
    from draftfinder.sweep.results import SweepResults

    results = args.results
    if not results and args.config:
        from draftfinder.sweep.config import load_sweep_config

        results = str(_paths(load_sweep_config(args.config), args, None, None)[0])
    if not results:
        raise UsageError("--chart-only needs the results file", hint="pass --results FILE (and --chart FILE)")
    res = SweepResults.load(results)
    cpath = Path(args.chart) if args.chart else Path(results).with_suffix(".html")
    from draftfinder.sweep.charts import write_chart
    from draftfinder.writer import check_destination, describe

    check_destination(cpath, flag="--chart")
    _report(res, args, stream=_data_stream(cpath, args))
    _note(f"Chart saved to {describe(write_chart(res, cpath))}")
    return 0


def _config_dir(args: argparse.Namespace) -> int:
    folder = Path(args.config_dir).expanduser()
    if not folder.is_dir():
        raise UsageError(f"--config-dir {folder} is not a folder", hint="pass the folder holding your sweep configs")
    if args.results or args.chart:
        raise UsageError("--results/--chart name one file; with --config-dir each config gets its own",
                         hint="use --results-dir DIR instead")
    configs = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".json", ".yaml", ".yml")
                     and not p.name.startswith("example_"))
    if not configs:
        raise UsageError(f"no *.json / *.yaml configs in {folder} (example_* files are skipped)",
                         hint="copy an example to a new name, or run draftfinder sweep --init DIR/my_sweep.json")
    summary: List[tuple] = []
    for p in configs:
        sys.stderr.write(f"\n=== {p.name} ===\n")
        try:
            code = _one(args, str(p), None, None)
            summary.append((p.name, "ok" if code == 0 else "some cells failed"))
        except DraftFinderError as err:
            sys.stderr.write(f"draftfinder: error: {err.line('sweep')} (skipping {p.name})\n")
            summary.append((p.name, f"failed: {err.line('sweep')}"))
        except KeyboardInterrupt as exc:
            summary.append((p.name, "interrupted"))
            _print_summary(summary)
            return interrupt_exit_code(exc)
    _print_summary(summary)
    return 0 if all(s == "ok" for _, s in summary) else 1


def _print_summary(summary: List[tuple]) -> None:
    print("\n=== Sweep summary ===")
    for name, status in summary:
        print(f"  {name}: {status}")


# ---------------------------------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------------------------------

def _fmt(v: Any, spec: str = ".2f", none: str = "—") -> str:
    return none if v is None else format(v, spec)


def _report(res: Any, args: argparse.Namespace, stream: Any = None) -> None:
    out = stream or sys.stdout
    if args.format == "json":
        print(json.dumps(res.to_dict(), indent=2, ensure_ascii=False), file=out)
        return
    print(results_table(res), file=out)
    from draftfinder.sweep.concurrency import concurrency_table

    table = concurrency_table(res.cells)
    if table:
        print("\n" + table, file=out)
    try:
        from draftfinder.sweep.recommend import format_table, recommend

        print(file=out)
        print(format_table(recommend(res)), file=out)
    except ImportError:
        pass


def results_table(res: Any) -> str:
    """One line per cell; every figure measured on this machine except the prediction column."""
    head = (f"{'target':<22} {'draft':<20} {'K':>3} {'tok/s':>7} {'speedup':>8} {'accept':>7} {'predicted':>10} "
            f"{'same out':>8}  status")
    lines = [f"Sweep '{res.meta.get('name')}' — backend {res.meta.get('backend')}, hardware {res.meta.get('hardware')} "
             f"(tok/s, speedup, acceptance: measured; predicted: see provenance)", head]
    for c in res.cells:
        pred = c.get("prediction") or {}
        p = pred.get("speedup")
        mark = "o" if pred.get("same_engine") is False else ("m" if pred.get("provenance") == "measured" else "e")
        ptxt = "—" if p is None else f"{p:.2f}× {mark}"
        match = c.get("outputs_match_baseline")
        status = c.get("status", "ok")
        if status == "failed":
            status += f": {c.get('error', '')[:60]}"
        elif status == "flagged":
            status += f": {c.get('flag', '')[:60]}"
        lines.append(f"{str(c.get('target'))[:22]:<22} {str(c.get('draft') or '(baseline)')[:20]:<20} "
                     f"{_fmt(c.get('k'), 'd', '—'):>3} {_fmt(c.get('mean_tps')):>7} "
                     f"{(_fmt(c.get('speedup')) + '×') if c.get('speedup') is not None else '—':>8} "
                     f"{_fmt(c.get('acceptance_rate'), '.0%'):>7} {ptxt:>10} "
                     f"{_fmt(match, '.0%'):>8}  {status}")
    lines.append("predicted: m = from a saved draftfinder measure (measured α, c, v(K)), e = estimated (prior or measured α "
                 "+ latency model), o = from inputs of another engine (e.g. PyTorch figures beside llama.cpp cells: "
                 "orientation only; see prediction.reason)")
    from draftfinder.sweep.divergence import describe

    diverged = [line for line in (describe(c) for c in res.cells) if line]
    if diverged:
        lines.append("same out < 100%: the first token where the draft cell's greedy output differs from the baseline, "
                     "and why (measured)")
        lines.extend(f"  {line}" for line in diverged)
    return "\n".join(lines)


class _EtaProgress:
    """rich progress bar with ETA on stderr (cells)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self._p = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                           TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[label]}"),
                           console=Console(file=sys.stderr), transient=True)
        self._task = None

    def __call__(self, i: int, n: int, label: str) -> None:
        if self._task is None:
            self._p.start()
            self._task = self._p.add_task("sweep", total=n, label=label)
        self._p.update(self._task, completed=i - 1, total=n, label=label)

    def close(self) -> None:
        if self._task is not None:
            self._p.stop()
