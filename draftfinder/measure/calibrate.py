"""``draftfinder calibrate``: measure this machine with the engines installed here and build a
:class:`~draftfinder.predict.calibration.CalibratedProfile`.

Per model and engine the timings come from :mod:`.calibrate_llama` (llama-server, GGUF models) and
:mod:`.calibrate_engine` (our PyTorch engine); this module plans the run, checks every input before anything
heavy starts, turns the timings into :class:`EngineCalibration` entries, fits each engine's constants across its
models (:func:`fit_engine`) and hands back the profile (the CLI saves it). Interrupted (``should_stop``): what was
measured is kept, the profile is marked partial.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

from draftfinder.errors import UsageError
from draftfinder.predict.calibration import (DRAFTFINDER, ENGINES, LLAMA_CPP, MAX_BATCH, CalibratedProfile,
                                             EngineCalibration, EngineFit, check_name, now_iso, this_machine)

DEFAULT_MODELS = ("zoo:smollm2-135m", "zoo:gemma3-270m")
DEFAULT_CONTEXT = 256
DEFAULT_REPEATS = 3
ENGINE_ALIASES = {"llama.cpp": LLAMA_CPP, "llamacpp": LLAMA_CPP, "llama-server": LLAMA_CPP,
                  "draftfinder": DRAFTFINDER, "engine": DRAFTFINDER, "pytorch": DRAFTFINDER}


@dataclass
class CalibrationPlan:
    """What ``calibrate`` will measure (every field validated by :func:`make_plan`)."""

    name: str
    models: List[str]
    engines: List[str]
    threads: int
    max_batch: int = MAX_BATCH
    repeats: int = DEFAULT_REPEATS
    context_tokens: int = DEFAULT_CONTEXT
    llama_server: Optional[str] = None
    command: str = ""
    records: Dict[str, Any] = field(default_factory=dict)      # model name -> ModelInfo
    binary: Any = None                                          # llama_bin.LlamaBinary when llama.cpp is planned

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "models": self.models, "engines": self.engines, "threads": self.threads,
                "max_batch": self.max_batch, "repeats": self.repeats, "context_tokens": self.context_tokens}


def split_list(text: Optional[str], flag: str) -> List[str]:
    items = [x.strip() for x in (text or "").split(",") if x.strip()]
    if text is not None and not items:
        raise UsageError(f"{flag} is empty", hint=f"give a comma-separated list, e.g. {flag} "
                                                  + ("zoo:smollm2-135m" if flag == "--models" else "llama.cpp"))
    return items


def make_plan(*, name: str, models: Optional[str], engines: Optional[str], threads: Optional[int], max_batch: int,
              repeats: int, context_tokens: int, llama_server: Optional[str] = None, command: str = "",
              resolver: Any = None) -> CalibrationPlan:
    """Check every flag and model before anything is measured (one-line errors), and find llama-server."""
    from draftfinder.ranges import check_number

    check_name(name)
    check_number(max_batch, "--max-batch", kind=int, low=2, high=MAX_BATCH, hint=f"e.g. --max-batch {MAX_BATCH}")
    check_number(repeats, "--repeats", kind=int, low=1, high=50, hint="e.g. --repeats 3")
    check_number(context_tokens, "--context", kind=int, low=32, high=8192, hint=f"e.g. --context {DEFAULT_CONTEXT}")
    if threads is not None:
        check_number(threads, "--threads", kind=int, low=1, hint="e.g. --threads 1")
    wanted: List[str] = []
    for e in split_list(engines, "--engines") or list(ENGINES):
        key = ENGINE_ALIASES.get(e.lower())
        if key is None:
            raise UsageError(f"--engines: unknown engine '{e}'", hint=f"use {', '.join(ENGINES)} (comma-separated)")
        if key not in wanted:
            wanted.append(key)
    names = split_list(models, "--models") or list(DEFAULT_MODELS)
    if len(set(names)) != len(names):
        raise UsageError(f"--models lists a model twice: {', '.join(names)}", hint="name each model once")
    if threads is None:
        from draftfinder.engine.threads import default_threads

        threads = default_threads()
    plan = CalibrationPlan(name=name, models=names, engines=wanted, threads=int(threads), max_batch=int(max_batch),
                           repeats=int(repeats), context_tokens=int(context_tokens), llama_server=llama_server,
                           command=command)
    if LLAMA_CPP in wanted:                      # the binary before the models: a zoo model may take a while
        from draftfinder.measure.calibrate_llama import check_build
        from draftfinder.sweep.llama_bin import find_llama_server

        plan.binary = find_llama_server(llama_server)
        check_build(plan.binary)
    from draftfinder.models.analysis import ModelAnalyzer
    from draftfinder.models.resolver import Resolver

    resolver = resolver or Resolver()
    for m in names:
        record = resolver.resolve(m)
        if LLAMA_CPP in wanted and record.gguf_path is None:
            raise UsageError(f"--models: '{m}' has no GGUF file, and llama.cpp needs one",
                             hint="give its .gguf, or calibrate it with --engines draftfinder only")
        if record.source == "catalog":
            raise UsageError(f"--models: '{m}' is known only from the built-in catalog (no weights here)",
                             hint="give a local .gguf file, folder or zoo:NAME")
        plan.records[m] = (record, ModelAnalyzer.analyze_record(record))
    return plan


def run_calibration(plan: CalibrationPlan, *, progress: Optional[Callable[..., None]] = None,
                    should_stop: Optional[Callable[[], bool]] = None, resolver: Any = None) -> CalibratedProfile:
    """Measure every (engine, model) of ``plan`` in turn; the profile of what was measured (``partial`` when
    ``should_stop`` ended it early or a model could not be measured completely)."""
    from draftfinder.measure.results import _cpu_model

    stop = should_stop or (lambda: False)
    profile = CalibratedProfile(name=plan.name, machine_id=this_machine(), created_at=now_iso(), cpu=_cpu_model(),
                                threads=plan.threads, engines={e: [] for e in plan.engines},
                                versions=_versions(plan), command=plan.command)
    for engine in plan.engines:
        for model in plan.models:
            if stop():
                profile.partial = True
                break
            record, info = plan.records[model]
            if engine == LLAMA_CPP:
                cal = _llama(plan, model, record, info, progress, stop)
            else:
                cal = _engine(plan, model, info, progress, stop, resolver)
            if cal is not None:
                profile.engines[engine].append(cal)
                profile.partial = profile.partial or cal.partial
            else:
                profile.partial = True
    for engine, cals in profile.engines.items():
        fit = fit_engine(engine, cals)
        if fit is not None:
            profile.fits[engine] = fit
    return profile


def _versions(plan: CalibrationPlan) -> Dict[str, Optional[str]]:
    from importlib.metadata import PackageNotFoundError, version

    from draftfinder.version import __version__

    out: Dict[str, Optional[str]] = {"draftfinder": __version__}
    for dist in ("torch", "transformers"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    if plan.binary is not None:
        out["llama_server"] = plan.binary.version or None
        out["llama_server_package"] = plan.binary.package
        out["llama_server_path"] = plan.binary.path
    return out


# ---------------------------------------------------------------------------------------------------
# timings -> EngineCalibration
# ---------------------------------------------------------------------------------------------------

def _llama(plan: CalibrationPlan, model: str, record: Any, info: Any, progress: Any, stop: Any
           ) -> Optional[EngineCalibration]:
    from draftfinder.measure.calibrate_llama import FILLER_TEXT, LlamaCalibrator

    cal = LlamaCalibrator(plan.binary, str(record.gguf_path), threads=plan.threads,
                          context_tokens=plan.context_tokens, repeats=plan.repeats, max_batch=plan.max_batch,
                          progress=progress, should_stop=stop, label=model)
    res = cal.run()
    t = {b: s.median_ms for b, s in res.t_ms.items() if s.median_ms is not None}
    if 1 not in t:
        return None
    weight_bytes = res.bench_weight_bytes or info.memory_footprint_mb * 2**20
    notes = list(res.notes)
    overhead = 0.0
    overhead_method = "not measured (llama-bench unavailable): 0 assumed"
    if res.bench_decode_ms is not None:
        overhead = t[1] - res.bench_decode_ms
        overhead_method = (f"T(1) − llama-bench's bare decode step ({res.bench_decode_ms:.2f} ms: llama_decode of 1 "
                           f"token at depth {plan.context_tokens}, no sampling, same build and threads)")
        if overhead < 0:
            notes.append(f"per-step overhead came out negative ({overhead:.2f} ms: noise); stored as 0")
            overhead = 0.0
    draft_ms = None
    draft_method = "not measured"
    k = res.draft_k
    if res.draft_step is not None and res.draft_step.median_ms is not None and (k + 1) in t:
        draft_ms = (res.draft_step.median_ms - t[k + 1]) / k
        draft_method = (f"(step of a self-draft server − T({k + 1})) / {k}: --model-draft = the same GGUF, "
                        f"draft-simple, {k} drafts per step, every draft accepted (synthetic acceptance when the "
                        f"build has --spec-synth-rates); step {res.draft_step.median_ms:.2f} ms")
        if draft_ms <= 0:
            notes.append(f"draft step came out ≤ 0 ({draft_ms:.2f} ms: noise); not stored")
            draft_ms = None
    return EngineCalibration(
        engine=LLAMA_CPP, model=model, weight_format=(info.dtype or "unknown").lower(),
        params=float(res.bench_params or info.num_parameters), layers=int(info.num_layers), t_ms_by_batch=t,
        per_step_overhead_ms=overhead,
        effective_bandwidth_gb_s=_bandwidth(weight_bytes, t[1], overhead),
        draft_step_ms=draft_ms, weight_bytes=float(weight_bytes), hidden=int(info.hidden_size or 0),
        vocab=int(info.vocab_size or 0), context_tokens=plan.context_tokens, repeats=plan.repeats,
        t_ms_range_by_batch={b: s.range_ms for b, s in res.t_ms.items() if s.range_ms is not None},
        source=str(record.gguf_path),
        method={"t_ms_by_batch": ("llama-server's predicted_ms / steps (server clock) of requests whose every step "
                                  "verified exactly b tokens: b = 1 without speculation, b ≥ 2 with --spec-type "
                                  f"ngram-mod drafting b−1 copies of '{FILLER_TEXT}' that a +100 logit bias makes "
                                  f"the target accept (draft_n = (b−1)·steps and all accepted, checked per request); "
                                  f"after {plan.context_tokens} tokens of context, median of {plan.repeats} requests "
                                  f"after a warm-up"),
                "per_step_overhead_ms": overhead_method, "draft_step_ms": draft_method,
                "effective_bandwidth_gb_s": "weight_bytes / (T(1) − per_step_overhead_ms)",
                "weight_bytes": "llama-bench model_size (GGUF tensor bytes)" if res.bench_weight_bytes else
                                "GGUF tensor bytes (models.analysis)",
                "commands": "; ".join(" ".join(c) for c in res.commands.values())},
        partial=res.interrupted or len(t) < plan.max_batch or draft_ms is None, notes=notes)


def _engine(plan: CalibrationPlan, model: str, info: Any, progress: Any, stop: Any,
            resolver: Any) -> Optional[EngineCalibration]:
    from draftfinder.measure.calibrate_engine import DRAFT_K, EngineCalibrator

    res = EngineCalibrator(model, threads=plan.threads, context_tokens=plan.context_tokens, repeats=plan.repeats,
                           max_batch=plan.max_batch, progress=progress, should_stop=stop, label=model,
                           resolver=resolver).run()
    t = {b: s.median_ms for b, s in res.t_ms.items() if s.median_ms is not None}
    if 1 not in t:
        return None
    notes = list(res.notes)
    overhead = t[1] - (res.forward1_ms or t[1])
    if overhead < 0:
        notes.append(f"per-step overhead came out negative ({overhead:.2f} ms: noise); stored as 0")
        overhead = 0.0
    draft = res.draft_step.median_ms if res.draft_step is not None else None
    return EngineCalibration(
        engine=DRAFTFINDER, model=model, weight_format=res.weight_format, params=float(res.params),
        layers=int(info.num_layers), t_ms_by_batch=t, per_step_overhead_ms=overhead,
        effective_bandwidth_gb_s=_bandwidth(res.weight_bytes, t[1], overhead), draft_step_ms=draft,
        weight_bytes=res.weight_bytes, hidden=int(info.hidden_size or 0), vocab=int(info.vocab_size or 0),
        context_tokens=plan.context_tokens, repeats=plan.repeats,
        t_ms_range_by_batch={b: s.range_ms for b, s in res.t_ms.items() if s.range_ms is not None},
        source=str(getattr(info, "path", "") or model),
        method={"t_ms_by_batch": ("the engine's verify_s / steps: b = 1 plain decoding (autoregressive_generate), "
                                  "b ≥ 2 speculative_generate with K = b−1 drafts replayed from the model's own "
                                  f"greedy continuation (one b-token forward, greedy acceptance, KV rollback per "
                                  f"step); {plan.context_tokens} tokens of context, median of {plan.repeats} runs "
                                  f"after a warm-up"),
                "per_step_overhead_ms": (f"T(1) − the bare 1-token forward (engine.passcost.PassTimer, "
                                         f"{(res.forward1_ms or 0):.2f} ms): argmax over the vocabulary and the loop"),
                "draft_step_ms": (f"draft_s / drafted of speculative_generate with the model drafting for itself "
                                  f"(ModelDrafter, K = {DRAFT_K}, greedy)"),
                "effective_bandwidth_gb_s": "weight_bytes / (T(1) − per_step_overhead_ms)",
                "weight_bytes": f"Σ parameter bytes of the loaded model ({res.weight_format})"},
        partial=res.interrupted or len(t) < plan.max_batch or draft is None, notes=notes)


def _bandwidth(weight_bytes: float, t1_ms: float, overhead_ms: float) -> float:
    """GB/s of weights streamed in a 1-token step: bytes / (T(1) − overhead) (bytes/ms ÷ 1e6 = GB/s)."""
    return float(weight_bytes) / max(1e-6, t1_ms - overhead_ms) / 1e6


# ---------------------------------------------------------------------------------------------------
# the per-engine fit
# ---------------------------------------------------------------------------------------------------

def fit_engine(engine: str, cals: Sequence[EngineCalibration]) -> Optional[EngineFit]:
    """:class:`EngineFit` on every measured (model, b) of ``cals``: least squares on relative error of
    ``T(b) = o + W·u + (b−1)·2P·v`` for o (ms), u (ms/byte) and v (ms/FLOP). With one model (or models of equal
    weight bytes) o and u cannot be told apart: o is then the measured per-step overhead and only u, v are
    fitted. None when nothing was measured or the fit is not physical (u or v ≤ 0)."""
    rows, obs, keys = [], [], []
    for c in cals:
        for b, ms in sorted(c.t_ms_by_batch.items()):
            rows.append([1.0, c.weight_bytes, (b - 1) * 2.0 * c.params])
            obs.append(ms)
            keys.append((c, b))
    if not rows or not all(c.weight_bytes > 0 for c in cals):
        return None
    distinct = len({round(c.weight_bytes) for c in cals}) >= 2
    weights = [1.0 / y ** 2 for y in obs]
    if distinct:
        o, u, v = _lstsq(rows, obs, weights)
        how = "o, u, v fitted"
    else:
        o = statistics.mean(c.per_step_overhead_ms for c in cals)
        u, v = _lstsq([r[1:] for r in rows], [y - o for y in obs], weights)
        how = "o = the measured per-step overhead (one weight size: o and u not separable); u, v fitted"
    if u <= 0 or v <= 0:
        return None
    fit = EngineFit(engine=engine, per_step_overhead_ms=o, effective_bandwidth_gb_s=1.0 / u / 1e6,
                    effective_tflops=1.0 / v / 1e9, models=[c.model for c in cals], points=len(rows),
                    in_sample_median_abs_error=0.0, in_sample_max_abs_error=0.0,
                    method=f"weighted least squares (1/T²) over {len(rows)} (model, b) points of "
                           f"{len(cals)} model(s); {how}; errors are in-sample")
    errs = [abs(fit.step_ms(c.weight_bytes, c.params, b) - y) / y for (c, b), y in zip(keys, obs)]
    fit.in_sample_median_abs_error = statistics.median(errs)
    fit.in_sample_max_abs_error = max(errs)
    return fit


def _lstsq(rows: Sequence[Sequence[float]], obs: Sequence[float], weights: Sequence[float]) -> List[float]:
    """Weighted least squares through the normal equations with column scaling (tiny, well-posed systems)."""
    p = len(rows[0])
    scale = [max(abs(r[j]) for r in rows) or 1.0 for j in range(p)]
    a = [[sum(w * r[i] / scale[i] * r[j] / scale[j] for r, w in zip(rows, weights)) for j in range(p)]
         for i in range(p)]
    bvec = [sum(w * r[i] / scale[i] * y for r, y, w in zip(rows, obs, weights)) for i in range(p)]
    from draftfinder.predict.legacy_profiles import solve_linear

    try:
        x = solve_linear(a, bvec, tol=1e-12)
    except ValueError:
        raise UsageError("the calibration points do not determine the engine fit",
                         hint="calibrate models of different sizes (two zoo models by default)") from None
    return [x[i] / scale[i] for i in range(p)]
