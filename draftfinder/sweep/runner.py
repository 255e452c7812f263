"""The sweep loop: every cell (baseline per target, then target × draft × K), ``runs`` repetitions over the
task prompts, results written atomically after every cell, resumable, failures recorded and skipped.

Every cell records the settings it was measured with (``cell["settings"]``: :func:`measured_settings`). A
results file is resumed only when its stored cells were measured with the settings of this run (and the same
target path / drafter spec per cell); otherwise the run is refused with one line naming the differing keys and
the fix (``--fresh`` discards the stored cells, another ``--results`` keeps them), so the file's header never
claims settings its cells were not measured with. Files written before cells carried settings: the header's
settings are taken as the cells' settings.

A cell's figures are draftbench's (mean/median tok/s, mean TTFT, mean total time, acceptance) plus the
speedup over the same target's baseline (both measured here, same prompts and settings), tokens per step,
whether greedy outputs matched the baseline token for token, and the estimator's prediction
(:mod:`.predict`). A draft cell whose backend proves it did not draft (llama-server without
``--spec-type``) is ``flagged``, never reported as a speculative result.

``settings.concurrency`` levels above 1 (server backends) are measured after each cell's single-stream part and
stored in the cell, resumable per (cell, N): :mod:`.concurrency`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from draftfinder.errors import DraftFinderError, UsageError, bug_line, redact
from draftfinder.sweep.backends.base import close_quietly
from draftfinder.measure.prompts import Prompt, load_prompts, read_prompts_file
from draftfinder.sweep.concurrency import pending_levels, refresh_levels
from draftfinder.sweep.config import Entry, SweepConfig
from draftfinder.sweep.results import DONE, SweepResults, now, output_digest, summarize_runs

Log = Callable[[str], None]


@dataclass
class Cell:
    target: Entry
    draft: Optional[Entry] = None
    k: Optional[int] = None

    @property
    def title(self) -> str:
        if self.draft is None:
            return f"{self.target.label} (baseline)"
        return f"{self.target.label} + {self.draft.label}" + (f" K={self.k}" if self.k is not None else "")


def plan_cells(cfg: SweepConfig) -> List[Cell]:
    """Baseline of each target, then its drafts × K (openai: one cell per endpoint, K as the entry says)."""
    cells: List[Cell] = []
    for t in cfg.targets:
        cells.append(Cell(t))
        for d in cfg.drafts:
            if cfg.backend == "openai":
                if d.target in (None, t.label):
                    cells.append(Cell(t, d, d.k))
            elif cfg.backend == "lmstudio":              # its REST API takes the draft, not K: one cell each
                cells.append(Cell(t, d, None))
            else:
                cells.extend(Cell(t, d, k) for k in cfg.settings.k)
    return cells


def sweep_prompts(cfg: SweepConfig) -> List[Prompt]:
    s = cfg.settings
    if s.prompts_file:
        base = Path(cfg.source).parent if cfg.source else Path.cwd()
        path = Path(s.prompts_file).expanduser()
        return read_prompts_file(path if path.is_absolute() else base / path)[: s.prompts]
    return load_prompts(s.task, limit=s.prompts)


def _machine() -> Dict[str, Any]:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "python": platform.python_version()}


# settings that change what a cell measures; not port, timeout_s, api_key_env (how to reach it), nor k (the
# cell's own key). llama-server's own knobs matter only to the llamacpp backend.
MEASURED_SETTINGS = ("runs", "warmup", "max_tokens", "temperature", "task", "prompts", "prompts_file", "seed",
                     "threads")
LLAMACPP_SETTINGS = ("gpu_layers", "ctx_size", "llama_bin")
SERVER_SETTINGS = ("ctx_size", "server_bin", "tensor_parallel_size", "gpu_memory_fraction")   # vllm, sglang
IN_PROCESS_SETTINGS = ("device", "dtype")        # engine, hf (as requested; the resolved pair is in describe())


def measured_settings(cfg: SweepConfig, prompts: List[Prompt]) -> Dict[str, Any]:
    """The settings a cell of this run is measured with (stored in the cell), with a digest of the prompt texts
    (``prompts_sha1``: an edited prompts file is another measurement)."""
    s = dataclasses.asdict(cfg.settings)
    keys = MEASURED_SETTINGS + (LLAMACPP_SETTINGS if cfg.backend == "llamacpp" else ()) \
        + (SERVER_SETTINGS if cfg.backend in ("vllm", "sglang") else ()) \
        + (IN_PROCESS_SETTINGS if cfg.backend in ("engine", "hf") else ())
    out = {k: s[k] for k in keys}
    out["prompts_sha1"] = hashlib.sha1("\0".join(f"{p.id}\0{p.text}" for p in prompts).encode()).hexdigest()[:16]
    return out


def _stored_settings(res: SweepResults, cell: Dict[str, Any]) -> Dict[str, Any]:
    """What a stored cell was measured with: its own record, else (older files) the header's settings."""
    own = cell.get("settings")
    return own if isinstance(own, dict) else dict(res.meta.get("settings") or {})


def settings_mismatch(res: SweepResults, cfg: SweepConfig, settings: Dict[str, Any]) -> Dict[str, Tuple[Any, Any]]:
    """``{key: (stored, now)}`` for every setting (and per-cell target path / drafter spec) where a stored cell
    differs from this run; keys a stored cell does not record are not compared."""
    diffs: Dict[str, Tuple[Any, Any]] = {}
    for c in res.cells:
        stored = _stored_settings(res, c)
        for key, value in settings.items():
            if key in stored and stored[key] != value and key not in diffs:
                diffs[key] = (stored[key], value)
    for cell in plan_cells(cfg):
        c = res.find(cell.target.label, cell.draft.label if cell.draft else None, cell.k)
        if c is None:
            continue
        now_ = {"target_path": cell.target.path or cell.target.url,
                "draft_spec": cell.draft.spec if cell.draft and cfg.backend != "openai" else None,
                "adaptive": bool(cell.draft.adaptive) if cell.draft else None}
        for key, value in now_.items():
            label = f"{key} of '{cell.title}'"
            if key in c and c[key] != value and label not in diffs:
                diffs[label] = (c[key], value)
    return diffs


def open_results(cfg: SweepConfig, path: Path, *, fresh: bool = False,
                 settings: Optional[Dict[str, Any]] = None) -> SweepResults:
    """The results file to continue (same sweep, same settings) or a new one. A file of another sweep, or one
    whose cells were measured with other ``settings`` (:func:`measured_settings`), is never overwritten or
    mixed silently: :class:`UsageError` names the difference; ``fresh=True`` starts over."""
    if path.exists() and not fresh:
        res = SweepResults.load(path)
        old = (res.meta.get("name"), res.meta.get("backend"))
        if old != (cfg.name, cfg.backend):
            raise UsageError(f"{path} holds the results of sweep '{old[0]}' (backend {old[1]}), not '{cfg.name}' "
                             f"({cfg.backend})", hint="pass another --results path, or --fresh to overwrite it")
        diffs = settings_mismatch(res, cfg, settings) if settings is not None else {}
        if "prompts_sha1" in diffs and {"task", "prompts", "prompts_file"} & set(diffs):
            del diffs["prompts_sha1"]              # implied by the key that changed the prompts
        elif "prompts_sha1" in diffs:
            diffs["prompt texts"] = diffs.pop("prompts_sha1")
        if diffs:
            what = "; ".join(f"{k} {_show(a)} → {_show(b)}" for k, (a, b) in diffs.items())
            raise UsageError(f"{path} holds {len(res.cells)} cell(s) measured with other settings ({what})",
                             hint="pass --fresh to discard them and start over, or another --results file to keep "
                                  "them; or rerun with the stored settings to resume")
        return res
    return SweepResults(path=path, meta={"timestamp": now()})


def _show(value: Any) -> str:
    return "none" if value is None else (value if isinstance(value, str) else json.dumps(value))


def run_sweep(cfg: SweepConfig, results_path: Any, *, options: Optional[Dict[str, Any]] = None,
              fresh: bool = False, retry_failed: bool = False, log: Optional[Log] = None,
              progress: Optional[Callable[[int, int, str], None]] = None,
              should_stop: Optional[Callable[[], bool]] = None, backend: Any = None,
              executor: Any = None) -> SweepResults:
    """Run every cell not yet done in ``results_path``; returns the results (also on disk).

    ``executor`` (:mod:`.executors`) runs the cells: ``LocalExecutor`` (the default) one after another in this
    process, ``RayExecutor`` as Ray tasks; either way each record is merged here as it arrives.
    Ctrl-C (KeyboardInterrupt) stops at once: the running cell is dropped (it reruns on resume), every finished
    cell is already on disk, and the exception propagates after the file is marked ``interrupted``.
    """
    from draftfinder.version import __version__
    from draftfinder.sweep.backends import make_backend
    from draftfinder.sweep.executors import LocalExecutor, SweepJob

    log = log or (lambda line: None)
    path = Path(results_path).expanduser()
    prompts = sweep_prompts(cfg)
    if not prompts:
        raise UsageError("the sweep has no prompts", hint="check settings.task / settings.prompts_file")
    settings = measured_settings(cfg, prompts)
    res = open_results(cfg, path, fresh=fresh, settings=settings)
    executor = executor or LocalExecutor()
    own_backend = backend is None
    if backend is None and executor.builds_backend_here:
        backend = make_backend(cfg, options)
    cells = plan_cells(cfg)
    todo = [c for c in cells if not _done(res, c, retry_failed, cfg.settings)]
    if todo:
        executor.start(cfg)         # ray: joins / starts the cluster, or raises before anything is written
    try:
        res.meta.update({"name": cfg.name, "hardware": cfg.hardware, "backend": cfg.backend,
                         "model_family": cfg.model_family, "settings": cfg.to_dict()["settings"],
                         "config": cfg.to_dict(), "config_path": cfg.source, "draftfinder_version": __version__,
                         "machine": _machine(),
                         "backend_info": _safe_describe(backend) if backend else res.meta.get("backend_info"),
                         "executor": executor.describe(), "prompts": [p.id for p in prompts], "status": "running"})
        skipped = len(cells) - len(todo)
        if skipped:
            log(f"resuming: {skipped} of {len(cells)} cells already in {path}")
        res.save()
        job = SweepJob(cfg=cfg, options=dict(options or {}), backend=backend, cells=cells, todo=todo,
                       prompts=prompts, settings=settings, results=res, log=log, progress=progress,
                       should_stop=should_stop, retry_failed=retry_failed)
        try:
            executor.run(job)
        except KeyboardInterrupt:
            res.meta["status"] = "interrupted"
            res.save()
            raise
    finally:
        executor.stop()             # ray: shutdown (a local cluster started here stops), on every exit path
        if own_backend and backend is not None and hasattr(backend, "close"):   # what a backend set up (lms)
            try:
                backend.close()
            except Exception:
                pass
    complete = all(_done(res, c, False, cfg.settings) for c in cells)
    res.meta["status"] = "complete" if complete else "partial"
    refresh_speedups(res)
    res.save()
    return res


def _safe_describe(backend: Any) -> Dict[str, Any]:
    try:
        return backend.describe()
    except Exception as exc:
        return {"error": redact(str(exc))[:200]}


def _done(res: SweepResults, cell: Cell, retry_failed: bool, settings: Any = None) -> bool:
    """Is the cell's single-stream part done (and, given ``settings``, every concurrency level)?"""
    c = res.find(cell.target.label, cell.draft.label if cell.draft else None, cell.k)
    if c is None or c.get("status") not in DONE:
        return False
    if retry_failed and c.get("status") == "failed":
        return False
    return settings is None or not pending_levels(c, settings, retry_failed)


def run_cell(cfg: SweepConfig, backend: Any, cell: Cell, prompts: List[Prompt], log: Log,
             baseline: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """One cell: open, ``runs`` × prompts requests, close. A failure becomes a ``failed`` record. A greedy draft
    cell whose output differs from ``baseline`` gets ``divergence`` (first different token and its cause, asked
    from the still-open server: :mod:`.divergence`)."""
    s = cfg.settings
    record: Dict[str, Any] = {
        "target": cell.target.label, "draft": cell.draft.label if cell.draft else None, "k": cell.k,
        "draft_type": cell.draft.type if cell.draft else None,
        "draft_spec": cell.draft.spec if cell.draft and cfg.backend != "openai" else None,
        "adaptive": bool(cell.draft.adaptive) if cell.draft else None,
        "target_path": cell.target.path or cell.target.url, "status": "ok", "started": now(),
    }
    t0 = time.perf_counter()
    runs: List[Dict[str, Any]] = []
    session = None
    try:
        session = backend.open(cell.target, cell.draft, cell.k, dataclasses.replace(s, concurrency=[1]))
        record["command"] = getattr(session, "command", None)
        if s.warmup:                                   # untimed: first-call costs (allocations, caches) excluded
            short = dataclasses.replace(s, max_tokens=min(s.max_tokens, 16))
            for _ in range(s.warmup):
                session.generate(prompts[0], short)
        for r in range(s.runs):
            for p in prompts:
                g = session.generate(p, s)
                row = {"run": r + 1, "prompt_id": p.id, "tokens": g.tokens, "tps": g.tps, "tps_source": g.tps_source,
                       "ttft_s": g.ttft_s, "total_s": g.total_s, "prompt_s": g.prompt_s,
                       "prompt_tokens": g.prompt_tokens, "drafted": g.drafted, "accepted": g.accepted,
                       "speculative": g.speculative, "steps": g.extra.get("steps"),
                       "output_sha1": output_digest(g.token_ids), "token_ids": g.token_ids,
                       "text_sha1": hashlib.sha1((g.text or "").encode()).hexdigest()[:16],
                       "text_head": (g.text or "")[:120]}
                if g.extra.get("flag"):
                    row["flag"] = g.extra["flag"]
                runs.append(row)
        if cell.draft is not None and float(s.temperature or 0) == 0:
            from draftfinder.sweep import divergence

            div = divergence.examine(baseline, {"runs": runs}, session, prompts)
            if div is not None:
                record["divergence"] = div
                log(f"  output differs from the baseline at token #{div['position']} of {div['prompt_id']}: "
                    f"{div['explanation']} ({div['detail']})")
    except KeyboardInterrupt:
        raise
    except DraftFinderError as err:
        record.update(status="failed", error=err.line())
    except Exception as exc:  # a backend bug or a crash of the model code: recorded, the sweep goes on
        record.update(status="failed", error=bug_line(exc))
    finally:
        close_quietly(session)
    record["duration_s"] = time.perf_counter() - t0
    record["finished"] = now()
    record["runs"] = runs
    record.update(summarize_runs(runs) if runs else {"mean_tps": None, "median_tps": None, "mean_ttft": None,
                                                      "mean_total_time": None, "acceptance_rate": None})
    record["acceptance_definition"] = _acceptance_definition(cfg.backend) if cell.draft else None
    if record["status"] == "ok" and cell.draft is not None:
        flags = [r for r in runs if r.get("speculative") is False]
        if flags:
            record["status"] = "flagged"
            record["flag"] = flags[0].get("flag") or "the backend reported no drafting for this draft cell"
        if cfg.backend != "openai" or cell.k is not None:
            from draftfinder.sweep.predictions import predict_cell

            record["prediction"] = predict_cell(cfg, cell.target, cell.draft, cell.k, measured=record)
    if record["status"] == "failed":
        log(f"  failed: {record['error']}")
    elif record.get("mean_tps") is not None:
        acc = record.get("acceptance_rate")
        log(f"  {record['mean_tps']:.2f} tok/s (measured)" + (f", acceptance {acc:.0%} (measured)" if acc is not None else "")
            + (f" — FLAGGED: {record['flag']}" if record["status"] == "flagged" else ""))
    return record


def _acceptance_definition(backend: str) -> str:
    return {
        "engine": "accepted draft tokens / drafted tokens (draftfinder engine SpecStats)",
        "hf": "not exposed by transformers assisted generation",
        "llamacpp": "timings.draft_n_accepted / timings.draft_n (llama-server)",
        "openai": "server-reported (llama-server timings or vLLM spec_decode counters) when available",
        "vllm": "vllm:spec_decode_num_accepted_tokens / num_draft_tokens (Prometheus /metrics, delta per request)",
        "sglang": "accepted / drafted tokens per request, derived from SGLang's cumulative avg_spec_accept_length "
                  "(/get_server_info) and this session's token counts",
        "lmstudio": "stats.accepted_draft_tokens_count / total_draft_tokens_count (LM Studio REST API v0)",
    }.get(backend, "")


def refresh_speedups(res: SweepResults) -> None:
    """speedup = cell mean tok/s ÷ its target's baseline mean tok/s; greedy output match vs the baseline."""
    greedy = float((res.meta.get("settings") or {}).get("temperature", 0) or 0) == 0
    for c in res.cells:
        if c.get("draft") is None:
            continue
        base = res.baseline(c["target"])
        ok = c.get("status") in ("ok", "flagged") and c.get("mean_tps") and base and base.get("mean_tps")
        c["speedup"] = (c["mean_tps"] / base["mean_tps"]) if ok else None
        c["baseline_tps"] = base.get("mean_tps") if base else None
        if greedy and base and c.get("runs"):
            # token ids where the backend returns them, else the text (OpenAI-compatible servers)
            ref = {(r.get("run"), r.get("prompt_id")): r for r in base.get("runs") or []}
            pairs = []
            for r in c["runs"]:
                b = ref.get((r.get("run"), r.get("prompt_id")))
                if b is None:
                    continue
                key = "output_sha1" if r.get("output_sha1") and b.get("output_sha1") else "text_sha1"
                if r.get(key) and b.get(key):
                    pairs.append((r[key], b[key]))
            c["outputs_match_baseline"] = (sum(a == b for a, b in pairs) / len(pairs)) if pairs else None
            from draftfinder.sweep import divergence

            divergence.refresh(base, c)
    refresh_levels(res.cells, greedy)
