"""One draft candidate's numbers for ``find``: acceptance (prior or a saved measurement), the latency model on the
chosen device and engine, memory fit, the concurrency table, published evidence, quality score, warnings and
usage snippets — everything :class:`~draftfinder.find.finder.DraftModelFinder` ranks, for one pair."""

from __future__ import annotations

from typing import Any, Dict, Optional

from draftfinder import constants
from draftfinder.find.config import base_acceptance_alpha
from draftfinder.find.results import (CompatibilityResult, DraftModelCandidate, ModelInfo, Provenance,
                                     QuantizationType, Task)
# Engines whose step the saved measurements time (draftfinder measure runs our PyTorch engine).
MEASURED_ENGINES = ("draftfinder", "transformers")


def estimate_pair(finder: Any, target: ModelInfo, info: ModelInfo, compat: CompatibilityResult,
                  size_ratio: float, *, trained: Any = None) -> DraftModelCandidate:
    """The candidate for ``target`` × ``info`` under ``finder``'s config, device and engine (prepared from
    ``target`` when the finder has not been run). ``trained``: the :class:`~draftfinder.find.trained.TrainedDraft`
    when the draft was trained here — its report's measured figures stand in for a saved measurement."""
    from draftfinder.predict.acceptance import prior_acceptance
    from draftfinder.models.family import is_official
    from draftfinder.report.snippets import usage_snippets
    from draftfinder.find.ranking import candidate_warnings, quality_score, quality_tier, speedup_basis
    from draftfinder.find.published_basis import acceptance_views, evidence_for

    cfg = finder.config
    same_family = bool(target.model_family and target.model_family == info.model_family)
    # offline fingerprint checks run no test strings: identical tokenization is then proven, not sampled
    match_rate = compat.tokenization_match_rate if compat.num_test_strings else 1.0
    alpha = prior_acceptance(
        target.num_parameters, info.num_parameters,
        same_family=same_family,
        task=Task(cfg.task),
        draft_bits=info.bits_per_param,
        target_bits=target.bits_per_param,
        tokenization_match_rate=match_rate,
        base_rate=base_acceptance_alpha(cfg),          # performance.acceptance_kind converted to α
        same_family_bonus=cfg.performance.same_family_bonus,
        tokenizer_match_bonus=cfg.performance.tokenizer_match_bonus,
    )
    from draftfinder.measure import apply_measurement, measured_verify_costs
    from draftfinder.predict import device_latency
    from draftfinder.predict.concurrency import METHOD as CONCURRENCY_METHOD, concurrency_table
    from draftfinder.predict.memory import ModelMemory, check_fit

    # A saved `draftfinder measure` of this pair on this machine replaces the prior (labelled measured); its
    # cost ratio and verify costs only when the predictions are for this machine's CPU and the PyTorch engine
    # the measurement ran (a c timed here says nothing of an A100 or of llama.cpp).
    if getattr(finder, "_prepared_for", None) != target.model_id:      # _estimate called on its own
        finder._prepare_target(target)
    here = measured_here(finder.device, finder.engine)
    if trained is not None:          # a draft trained here: its report's held-out α, and c and v(K) timed here
        alpha, measured_c, v_costs, v_sources, v_method = trained.estimator_inputs(alpha, hardware=here)
    else:
        alpha, measured_c, _measurement = apply_measurement(alpha, target.model_id, info.model_id, cfg.task,
                                                            hardware=here)
        v_costs, v_sources, v_method = measured_verify_costs(_measurement, hardware=here)
    est = device_latency.evaluate(target, info, alpha, finder.device, finder.engine, cfg.max_k, ctx=cfg.ctx,
                                  cost_ratio=measured_c, verify_costs=v_costs, verify_cost_sources=v_sources,
                                  verify_cost_method=v_method)
    draft_memory = ModelMemory.from_info(info)
    fit = check_fit(finder._target_memory, draft_memory, finder.device, ctx=cfg.ctx, sequences=cfg.concurrency)
    table = concurrency_table(target, info, alpha.alpha, finder.device, finder.engine, requested=cfg.concurrency,
                              max_k=cfg.max_k, ctx=cfg.ctx, target_memory=finder._target_memory,
                              draft_memory=draft_memory, draft_name=info.model_id, alpha_source=alpha.source)
    speedup, best_k, curve = est.speedup, est.recommended_k, est.speedup_by_k
    provenance: Dict[str, Provenance] = dict(est.provenance)
    provenance["estimated_speedup"] = provenance.pop("speedup")
    if cfg.concurrency > 1:          # the headline numbers are for the requested concurrency
        level = table.at(cfg.concurrency)
        curve = level.speedup_by_k
        best_k = max(curve, key=lambda k: (curve[k], -k))
        speedup = curve[best_k]
        provenance["estimated_speedup"] = Provenance(constants.ESTIMATED, CONCURRENCY_METHOD,
                                                     f"N = {cfg.concurrency}; α {alpha.source}")
        provenance["recommended_k"] = Provenance(constants.ESTIMATED,
                                                 f"argmax of expected speedup at N = {cfg.concurrency}")
    if fit.fits is False:            # no speedup (nor K) for a pair that cannot run here: the verdict instead
        speedup, curve, best_k = None, {}, None
        provenance["estimated_speedup"] = Provenance(constants.ESTIMATED, "does not fit", fit.verdict)
        provenance.pop("recommended_k", None)
    provenance["fit"] = Provenance(constants.ESTIMATED, "weights + both KV caches ≤ usable memory",
                                   fit.verdict)
    memory_ratio = (info.memory_footprint_mb / target.memory_footprint_mb) if target.memory_footprint_mb else 0.0
    provenance["acceptance_rate_estimate"] = Provenance(alpha.source, alpha.method, alpha.detail)
    if trained is not None and measured_c is not None:
        provenance["cost_ratio"] = Provenance(constants.MEASURED, f"{trained.source_text()}: draft step ÷ target "
                                              "step, our engine on this machine", str(trained.report_path))
    # published measurements of this pair; one of the same setup (pair, formats, hardware preset, engine, task)
    # stands in for an estimated speedup at N = 1 (find/published_basis.py)
    evidence = evidence_for(target, info, cfg, basis=speedup_basis(provenance), engine=finder.engine)
    promoted = evidence.promoted and speedup is not None and cfg.concurrency == 1
    if promoted:
        speedup = evidence.speedup
        provenance["estimated_speedup"] = Provenance(constants.PUBLISHED, evidence.provenance_method(),
                                                     evidence.provenance_detail(est.speedup, est.recommended_k))
    model_speedup = est.speedup if promoted else None
    timed = (trained is not None and here is not None and trained.timed_here() and speedup is not None
             and trained.measured_speedup is not None and trained.measured_k is not None and cfg.concurrency == 1)
    if timed:                        # the speedup train measured with our engine here replaces the estimate
        model_speedup, speedup, best_k = est.speedup, trained.measured_speedup, trained.measured_k
        same = trained.measured.get("outputs_identical")
        provenance["estimated_speedup"] = Provenance(
            constants.MEASURED, f"{trained.source_text()}: our engine, target alone vs speculative at "
            f"K={best_k}" + ("" if same is None else f", outputs {'identical' if same else 'DIFFERENT'}"),
            str(trained.report_path))
        provenance["recommended_k"] = Provenance(constants.MEASURED, "the K draftfinder train measured",
                                                 str(trained.report_path))
    usable = speedup if speedup is not None else 1.0       # a pair that does not fit earns no speedup points
    breakdown = quality_score(usable, alpha.alpha, size_ratio, same_family,
                              match_rate,
                              cfg.performance.optimal_size_ratio_min, cfg.performance.optimal_size_ratio_max)
    score = round(breakdown.total, 1)
    engine_problems = [f"{name}: {'; '.join(v.reasons) or v.mode}" for name, v in compat.engines.items()
                       if not v.compatible]
    warnings = candidate_warnings(
        size_ratio=size_ratio,
        quantized=info.quantization != QuantizationType.NONE,
        quantization=info.dtype or info.quantization.value,
        official=is_official(info.model_id) or info.source in ("local", "gguf", "zoo"),
        tokenization_match_rate=compat.tokenization_match_rate,
        num_tests=compat.num_test_strings,
        speedup=usable,
        engine_problems=engine_problems,
        is_peft=info.is_peft,
        basis=constants.PUBLISHED if promoted else constants.MEASURED if timed else constants.ESTIMATED,
    ) + list(compat.warnings)
    if fit.fits is False:
        warnings.insert(0, f"Does not fit: {fit.verdict}")
    provenance["num_parameters"] = Provenance(
        constants.EXACT if info.parameters_exact else constants.ESTIMATED, info.parameters_source)
    provenance["quality_score"] = Provenance(constants.ESTIMATED, "manual §4.3 weights over the estimates above")
    candidate = DraftModelCandidate(
        model_id=info.model_id,
        model_info=info,
        compatibility=compat,
        size_ratio=size_ratio,
        memory_ratio=memory_ratio,
        estimated_speedup=speedup,
        recommended_k=best_k,
        acceptance_rate_estimate=alpha.alpha,
        same_family=same_family,
        quality_tier=quality_tier(score, alpha.alpha, speedup if speedup is not None else 0.0),
        quality_score=score,
        warnings=warnings if cfg.output.show_warnings else [],
        cost_ratio=est.cost_ratio,
        verify_cost_ratio=est.verify_cost_by_k.get(best_k) if best_k is not None else None,
        speedup_by_k=curve,
        acceptance_low=alpha.low,
        acceptance_high=alpha.high,
        hardware=finder.device.name,
        provenance=provenance,
        engine=finder.engine,
        fit=fit,
        concurrency=table,
        acceptance_kinds=acceptance_views(alpha.alpha, best_k or est.recommended_k, alpha.source, alpha.method),
        published=evidence.to_list(),
        model_speedup=model_speedup,
        trained=trained.to_dict() if trained is not None else None,
    )
    candidate.speedup_basis = speedup_basis(provenance)
    candidate.usage = usage_snippets(target, candidate)
    return candidate


def measured_here(device: Any, engine: Optional[str]) -> Optional[str]:
    """``"cpu"`` (what :func:`measure.apply_measurement` calls this machine) when measured costs apply to the
    prediction: this machine's CPU, detected or calibrated, and the PyTorch engine; else None."""
    if device.kind == "cpu" and device.is_this_machine and engine in MEASURED_ENGINES:
        return "cpu"
    return None
