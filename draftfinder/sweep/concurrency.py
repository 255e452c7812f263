"""Concurrency levels of a sweep cell: N simultaneous streams through one server, aggregate throughput,
per-request latency, and speedup per level (``settings.concurrency``, e.g. ``[1, 4, 16]``).

For every cell and every level N > 1 the backend opens a server for N streams (``backend.open`` with
``settings.concurrency == [N]``: llama-server ``-np N``, each slot ``ctx_size`` of context; an OpenAI-compatible
server batches as it is configured). Each of ``settings.runs`` runs sends the task prompts in *waves*: N requests
released together (threads waiting on one event), the next wave once all N have finished. A run's requests are
the prompts cycled to the smallest multiple of N that covers every prompt — ``ceil(P / N) · N`` requests, request
``i`` on prompt ``i mod P`` — so the baseline and the draft cells send the same requests at the same N. Untimed
first: ``settings.warmup`` waves of N short requests (every slot warmed). Level 1 is the cell's own
single-stream loop (``runs`` × prompts, one at a time): its figures are read from the cell's ``runs``, nothing is
measured twice, and old results files (no levels) get it too.

The figures of a level (all measured here; pure functions below, formulas in their docstrings):

- ``aggregate_tokens_per_s`` = Σ output tokens ÷ Σ wave wall time (release → the wave's last token): the
  server's throughput with N streams in flight, the tail of each wave included. At N = 1 it is Σ tokens ÷
  Σ request time (prefill and HTTP included), so it differs from the cell's ``mean_tps`` (the server's decode
  tok/s); the speedup-vs-concurrency chart and table use the aggregate at every N.
- ``tpot_ms`` per request = (total − TTFT) ÷ (tokens − 1) × 1000, time per output token after the first
  (vLLM ``benchmarks/benchmark_serving.py``'s TPOT); ``ttft_s`` = send → first streamed token. Mean and median.
- ``speedup`` = a draft cell's aggregate tok/s ÷ the same target's baseline aggregate tok/s at the same N.
- ``outputs_match_baseline``: share of requests (greedy only) whose output equals the baseline's at the same N
  (same run, same request index). ``outputs_match_single_stream``: share equal to the same cell's N = 1 output
  for the same run and prompt — below 100 % means batching changed the arithmetic (CPU kernels sum in another
  order for another batch shape), which no drafter can be blamed for.
- ``drafted`` / ``accepted``: sums of the requests' own counts (llama-server ``timings``); a session with
  ``spec_counters()`` (vLLM ``/metrics``: cumulative, server-wide) is differenced over the whole level instead,
  because per-request deltas of overlapping requests count each other's drafts.

Storage: ``cell["concurrency"]``, a list of level dicts sorted by ``n`` (level 1 derived, ``source`` says so).
Resume works per (cell, N): a cell is done when its single-stream part and every requested level are done; a
finished level is never rerun (only a failed one, with ``--retry-failed``). ``concurrency`` is not one of the
settings that make a stored cell stale: adding 16 to ``[1, 4]`` measures only the new level.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import statistics
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from draftfinder.errors import DraftFinderError, bug_line
from draftfinder.sweep.backends.base import close_quietly
from draftfinder.measure.prompts import Prompt
from draftfinder.sweep.results import output_digest

LEVEL_DONE = ("ok", "failed", "flagged")
SINGLE_STREAM_SOURCE = "the cell's single-stream runs (runs × prompts, one request at a time)"
WAVE_SOURCE = "measured: waves of N simultaneous streamed requests"
WARMUP_MAX_TOKENS = 16


# ---------------------------------------------------------------------------------------------------
# pure figures
# ---------------------------------------------------------------------------------------------------

def wave_plan(n_prompts: int, n: int) -> List[List[int]]:
    """The prompt index of every request of one run, by wave: ``ceil(P / N) · N`` requests, request ``i`` on
    prompt ``i mod P``, N per wave (module doc)."""
    if n_prompts < 1 or n < 1:
        return []
    total = math.ceil(n_prompts / n) * n
    idx = [i % n_prompts for i in range(total)]
    return [idx[w * n:(w + 1) * n] for w in range(total // n)]


def tpot_ms(tokens: Optional[int], total_s: Optional[float], ttft_s: Optional[float]) -> Optional[float]:
    """Time per output token after the first, in ms: ``(total_s − ttft_s) / (tokens − 1) · 1000`` (vLLM
    ``benchmark_serving.py``); None without a TTFT or with fewer than 2 tokens."""
    if tokens is None or tokens < 2 or total_s is None or ttft_s is None or total_s < ttft_s:
        return None
    return (total_s - ttft_s) / (tokens - 1) * 1000.0


def aggregate_tokens_per_s(tokens: int, wall_s: float) -> Optional[float]:
    """All output tokens ÷ the wall time they took (Σ over waves); None for no time."""
    return tokens / wall_s if wall_s > 0 else None


def _mean(xs: List[Optional[float]]) -> Optional[float]:
    xs = [x for x in xs if x is not None]
    return statistics.fmean(xs) if xs else None


def _median(xs: List[Optional[float]]) -> Optional[float]:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize_level(rows: List[Dict[str, Any]], wall_s: float) -> Dict[str, Any]:
    """A level's figures from its request rows and the summed wall time of its waves (module doc)."""
    tokens = sum(int(r.get("tokens") or 0) for r in rows)
    tpots = [tpot_ms(r.get("tokens"), r.get("total_s"), r.get("ttft_s")) for r in rows]
    drafted = [r.get("drafted") for r in rows]
    accepted = [r.get("accepted") for r in rows]
    counts = bool(rows) and all(d is not None and a is not None for d, a in zip(drafted, accepted))
    total_drafted = sum(drafted) if counts else None
    total_accepted = sum(accepted) if counts else None
    return {
        "aggregate_tokens_per_s": aggregate_tokens_per_s(tokens, wall_s),
        "tokens": tokens, "wall_s": wall_s, "requests": len(rows),
        "mean_tpot_ms": _mean(tpots), "median_tpot_ms": _median(tpots),
        "mean_ttft_s": _mean([r.get("ttft_s") for r in rows]), "median_ttft_s": _median([r.get("ttft_s") for r in rows]),
        "mean_request_tps": _mean([r.get("tps") for r in rows]),
        "drafted": total_drafted, "accepted": total_accepted,
        "acceptance_rate": (total_accepted / total_drafted) if total_drafted else None,
    }


# ---------------------------------------------------------------------------------------------------
# the levels of a record
# ---------------------------------------------------------------------------------------------------

def wanted_levels(settings: Any) -> List[int]:
    """The levels measured by :func:`run_levels` (N > 1; level 1 is the cell itself)."""
    return [n for n in (getattr(settings, "concurrency", None) or [1]) if n > 1]


def find_level(record: Dict[str, Any], n: int) -> Optional[Dict[str, Any]]:
    for lvl in record.get("concurrency") or []:
        if isinstance(lvl, dict) and lvl.get("n") == n:
            return lvl
    return None


def put_level(record: Dict[str, Any], level: Dict[str, Any]) -> None:
    """Add or replace the level with the same ``n``; levels stay sorted by ``n``."""
    levels = [lvl for lvl in record.get("concurrency") or [] if isinstance(lvl, dict) and lvl.get("n") != level["n"]]
    record["concurrency"] = sorted(levels + [level], key=lambda lvl: lvl["n"])


def pending_levels(record: Optional[Dict[str, Any]], settings: Any, retry_failed: bool = False) -> List[int]:
    """The wanted levels of a stored cell still to measure: missing, or failed when ``retry_failed``. A cell whose
    single-stream part failed has none (its server did not serve one stream)."""
    if record is None or record.get("status") not in ("ok", "flagged"):
        return []
    out = []
    for n in wanted_levels(settings):
        lvl = find_level(record, n)
        if lvl is None or lvl.get("status") not in LEVEL_DONE or (retry_failed and lvl.get("status") == "failed"):
            out.append(n)
    return out


# ---------------------------------------------------------------------------------------------------
# measuring
# ---------------------------------------------------------------------------------------------------

def run_wave(session: Any, prompts: List[Prompt], settings: Any) -> Tuple[float, List[Tuple[Any, float]]]:
    """Send ``prompts`` at once, one thread each (released together by one event), through ``session.generate``.

    Returns ``(wall_s, [(Generation or the exception raised, end offset s), …])`` in ``prompts`` order; wall =
    release → the last request's end. Threads are daemons: a Ctrl-C here propagates at once, and closing the
    session (the caller's ``finally``) ends the requests still in flight."""
    go = threading.Event()
    out: List[Any] = [None] * len(prompts)
    ends: List[float] = [0.0] * len(prompts)
    t0_box: List[float] = [0.0]

    def worker(i: int, prompt: Prompt) -> None:
        go.wait()
        try:
            out[i] = session.generate(prompt, settings)
        except BaseException as exc:      # reported to the caller, which decides
            out[i] = exc
        ends[i] = time.perf_counter() - t0_box[0]

    threads = [threading.Thread(target=worker, args=(i, p), daemon=True, name=f"draftfinder-stream-{i}")
               for i, p in enumerate(prompts)]
    for t in threads:
        t.start()
    t0_box[0] = time.perf_counter()
    go.set()
    for t in threads:
        t.join()
    return max(ends) if ends else 0.0, list(zip(out, ends))


def request_row(g: Any, run: int, wave: int, slot: int, index: int, prompt: Prompt, end_s: float) -> Dict[str, Any]:
    row = {"run": run, "wave": wave, "slot": slot, "index": index, "prompt_id": prompt.id, "tokens": g.tokens,
           "ttft_s": g.ttft_s, "total_s": g.total_s, "end_s": end_s, "tpot_ms": tpot_ms(g.tokens, g.total_s, g.ttft_s),
           "tps": g.tps, "tps_source": g.tps_source, "drafted": g.drafted, "accepted": g.accepted,
           "speculative": g.speculative,
           "output_sha1": output_digest(getattr(g, "token_ids", None)),
           "text_sha1": hashlib.sha1((g.text or "").encode()).hexdigest()[:16]}
    if g.extra.get("flag"):
        row["flag"] = g.extra["flag"]
    return row


def run_level(backend: Any, cell: Any, prompts: List[Prompt], settings: Any, n: int,
              log: Callable[[str], None] = lambda line: None) -> Dict[str, Any]:
    """One level: open a server for ``n`` streams, warm every slot, ``runs`` × the waves of :func:`wave_plan`,
    close (in ``finally``: on success, failure and Ctrl-C). A failure becomes a ``failed`` level."""
    s = dataclasses.replace(settings, concurrency=[n])
    level: Dict[str, Any] = {"n": n, "status": "ok", "source": WAVE_SOURCE, "started": _now()}
    t_start = time.perf_counter()
    rows: List[Dict[str, Any]] = []
    waves: List[Dict[str, Any]] = []
    session = None
    counters_before = None
    try:
        session = backend.open(cell.target, cell.draft, cell.k, s)
        level["command"] = getattr(session, "command", None)
        template = getattr(session, "prompt_text", None)
        if callable(template):                       # chat templates applied before any wave is timed
            for p in prompts:
                template(p)
        plan = wave_plan(len(prompts), n)
        short = dataclasses.replace(s, max_tokens=min(s.max_tokens, WARMUP_MAX_TOKENS))
        for _ in range(s.warmup):
            check_wave(run_wave(session, [prompts[i] for i in plan[0]], short)[1])
        counters = getattr(session, "spec_counters", None)
        counters_before = counters() if callable(counters) else None
        for r in range(s.runs):
            for w, idx in enumerate(plan):
                wall, results = run_wave(session, [prompts[i] for i in idx], s)
                gens = check_wave(results)
                for slot, ((g, end), i) in enumerate(zip(results, idx)):
                    rows.append(request_row(g, r + 1, w + 1, slot, w * n + slot, prompts[i], end))
                waves.append({"run": r + 1, "wave": w + 1, "wall_s": wall, "tokens": sum(g.tokens for g in gens)})
        after = counters() if callable(counters) and counters_before is not None else None
    except KeyboardInterrupt:
        raise
    except DraftFinderError as err:
        level.update(status="failed", error=err.line())
        after = None
    except Exception as exc:  # a backend bug: recorded, the sweep goes on
        level.update(status="failed", error=bug_line(exc))
        after = None
    finally:
        close_quietly(session)
    level["duration_s"] = time.perf_counter() - t_start
    level["finished"] = _now()
    level.update(summarize_level(rows, sum(w["wall_s"] for w in waves)))
    level["waves"] = waves
    level["requests_detail"] = rows
    level["acceptance_source"] = "per-request counts" if level.get("drafted") is not None else None
    if counters_before is not None and after is not None and "drafted" in after and "accepted" in after:
        level["drafted"] = int(round(after["drafted"] - counters_before["drafted"]))
        level["accepted"] = int(round(after["accepted"] - counters_before["accepted"]))
        level["acceptance_rate"] = level["accepted"] / level["drafted"] if level["drafted"] else None
        level["acceptance_source"] = "server counters differenced over the level"
    if level["status"] == "ok" and cell.draft is not None:
        flagged = [r for r in rows if r.get("speculative") is False]
        if flagged:
            level["status"] = "flagged"
            level["flag"] = flagged[0].get("flag") or "the backend reported no drafting at this concurrency"
    return level


def check_wave(results: List[Tuple[Any, float]]) -> List[Any]:
    """The generations of a wave, or the first exception one of its requests raised (re-raised here)."""
    for g, _ in results:
        if isinstance(g, BaseException):
            raise g
    return [g for g, _ in results]


def run_levels(backend: Any, cell: Any, prompts: List[Prompt], settings: Any, record: Dict[str, Any], *,
               log: Callable[[str], None], save: Callable[[Dict[str, Any]], None],
               retry_failed: bool = False) -> Dict[str, Any]:
    """Measure the pending levels of ``record`` (:func:`pending_levels`) one by one, calling ``save(record)``
    after each, so a Ctrl-C or a crash loses at most the level being measured."""
    for n in pending_levels(record, settings, retry_failed):
        log(f"  concurrency {n}: {n} simultaneous streams")
        level = run_level(backend, cell, prompts, settings, n, log)
        put_level(record, level)
        if level["status"] == "failed":
            log(f"  concurrency {n} failed: {level['error']}")
        elif level.get("aggregate_tokens_per_s") is not None:
            log(f"  concurrency {n}: {level['aggregate_tokens_per_s']:.1f} tok/s aggregate, TPOT "
                f"{_fmt(level.get('median_tpot_ms'), '.1f')} ms median (measured)"
                + (f" — FLAGGED: {level['flag']}" if level["status"] == "flagged" else ""))
        save(record)
    return record


def _now() -> str:
    from draftfinder.sweep.results import now

    return now()


def _fmt(x: Optional[float], spec: str = ".2f") -> str:
    return "—" if x is None else format(x, spec)


# ---------------------------------------------------------------------------------------------------
# derived figures (after every cell, and when a results file is read)
# ---------------------------------------------------------------------------------------------------

def single_stream_level(cell: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """Level 1 from the cell's own runs (each a wave of one: wall = its ``total_s``); None without runs."""
    runs = [r for r in cell.get("runs") or [] if isinstance(r, dict)]
    if not runs or cell.get("status") not in ("ok", "flagged"):
        return None
    level = {"n": 1, "status": cell.get("status"), "source": SINGLE_STREAM_SOURCE}
    if cell.get("flag"):
        level["flag"] = cell["flag"]
    level.update(summarize_level(runs, sum(float(r.get("total_s") or 0.0) for r in runs)))
    return level


def _rows(cell: Dict[str, Any], level: Dict[str, Any]) -> List[Dict[str, Any]]:
    """A level's request rows, each with ``index`` (its place in the run's request list, :func:`wave_plan`)."""
    if level.get("n") != 1:
        return [r for r in level.get("requests_detail") or [] if isinstance(r, dict)]
    out, seen = [], {}
    for r in cell.get("runs") or []:
        i = seen.get(r.get("run"), 0)
        seen[r.get("run")] = i + 1
        out.append({**r, "index": i})
    return out


def _same(a: Dict[str, Any], b: Dict[str, Any]) -> Optional[bool]:
    key = "output_sha1" if a.get("output_sha1") and b.get("output_sha1") else "text_sha1"
    if not a.get(key) or not b.get(key):
        return None
    return a[key] == b[key]


def _share(pairs: List[Optional[bool]]) -> Optional[float]:
    known = [p for p in pairs if p is not None]
    return sum(known) / len(known) if known else None


def refresh_levels(cells: List[Dict[str, Any]], greedy: bool) -> None:
    """Level 1 of every cell from its runs, then per level: speedup vs the same target's baseline at the same
    N, and (greedy) outputs vs that baseline and vs the cell's own single-stream outputs (module doc)."""
    for c in cells:
        one = single_stream_level(c)
        if one is not None:
            put_level(c, one)
        elif c.get("concurrency"):
            c["concurrency"] = [lvl for lvl in c["concurrency"] if isinstance(lvl, dict) and lvl.get("n") != 1]
    bases = {c["target"]: c for c in cells if c.get("draft") is None and c.get("status") == "ok"}
    for c in cells:
        levels = [lvl for lvl in c.get("concurrency") or [] if isinstance(lvl, dict)]
        if not wanted_any(c):
            continue
        single = {(r.get("run"), r.get("prompt_id")): r for r in c.get("runs") or []}
        base = bases.get(c["target"]) if c.get("draft") is not None else None
        for lvl in levels:
            rows = _rows(c, lvl)
            if greedy and lvl.get("n") != 1:
                lvl["outputs_match_single_stream"] = _share(
                    [_same(r, single[(r.get("run"), r.get("prompt_id"))]) for r in rows
                     if (r.get("run"), r.get("prompt_id")) in single])
            if c.get("draft") is None:
                continue
            blvl = find_level(base, lvl["n"]) if base else None
            ok = lvl.get("status") in ("ok", "flagged") and blvl and blvl.get("status") == "ok"
            b_tps = blvl.get("aggregate_tokens_per_s") if blvl else None
            lvl["baseline_aggregate_tokens_per_s"] = b_tps
            lvl["speedup"] = (lvl["aggregate_tokens_per_s"] / b_tps) if ok and b_tps and \
                lvl.get("aggregate_tokens_per_s") else None
            if greedy and blvl:
                ref = {(r.get("run"), r.get("index")): r for r in _rows(base, blvl)}
                lvl["outputs_match_baseline"] = _share([_same(r, ref[(r.get("run"), r.get("index"))]) for r in rows
                                                        if (r.get("run"), r.get("index")) in ref])
    for c in cells:                     # level 1 alone: the cell's own figures say it all (files stay as they were)
        if c.get("concurrency") is not None and not wanted_any(c):
            del c["concurrency"]


def wanted_any(cell: Dict[str, Any]) -> bool:
    """Does the cell hold a measured level above 1?"""
    return any(isinstance(lvl, dict) and (lvl.get("n") or 1) > 1 for lvl in cell.get("concurrency") or [])


# ---------------------------------------------------------------------------------------------------
# the CLI table
# ---------------------------------------------------------------------------------------------------

def concurrency_table(cells: List[Dict[str, Any]]) -> Optional[str]:
    """One line per cell × level, for cells measured at more than one level; None when there are none."""
    rows = [(c, lvl) for c in cells if wanted_any(c) for lvl in c.get("concurrency") or [] if isinstance(lvl, dict)]
    if not rows:
        return None
    lines = ["Concurrency (measured: N simultaneous streams; agg tok/s = all output tokens ÷ wall time of the waves; "
             "speedup = agg tok/s ÷ the baseline's at the same N; TPOT = (total − TTFT) ÷ (tokens − 1), median; "
             "N=1 from the cell's single-stream runs)",
             f"{'target':<22} {'draft':<20} {'K':>3} {'N':>4} {'agg tok/s':>9} {'speedup':>8} {'TPOT ms':>8} "
             f"{'TTFT s':>7} {'accept':>7} {'=base':>6} {'=N1':>6}  status"]
    for c, lvl in rows:
        status = lvl.get("status", "ok")
        if status == "failed":
            status += f": {str(lvl.get('error', ''))[:60]}"
        elif status == "flagged":
            status += f": {str(lvl.get('flag', ''))[:60]}"
        spd = lvl.get("speedup")
        lines.append(f"{str(c.get('target'))[:22]:<22} {str(c.get('draft') or '(baseline)')[:20]:<20} "
                     f"{'—' if c.get('k') is None else c['k']:>3} {lvl['n']:>4} "
                     f"{_fmt(lvl.get('aggregate_tokens_per_s'), '.1f'):>9} "
                     f"{(_fmt(spd) + '×') if spd is not None else '—':>8} {_fmt(lvl.get('median_tpot_ms'), '.1f'):>8} "
                     f"{_fmt(lvl.get('mean_ttft_s'), '.3f'):>7} {_fmt(lvl.get('acceptance_rate'), '.0%'):>7} "
                     f"{_fmt(lvl.get('outputs_match_baseline'), '.0%'):>6} "
                     f"{_fmt(lvl.get('outputs_match_single_stream'), '.0%'):>6}  {status}")
    lines.append("=base: greedy outputs equal to the baseline's at the same N; =N1: equal to this cell's own "
                 "single-stream outputs (below 100%: batching changed the arithmetic)")
    return "\n".join(lines)
