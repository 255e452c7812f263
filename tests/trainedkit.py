"""A draft "trained here" for tests: the zoo target truncated to its first layers, saved as a Hugging Face folder,
with a ``train_report.json`` in the contract's schema whose figures are COMPUTED from that folder, not invented.

TEST FIXTURE: no training ran (``training.steps`` 0, ``stopped_because`` says so). The held-out acceptance is a
real teacher-forced greedy-agreement pass of the truncated model over the target's own greedy continuations of
a few prompts, c and v(K) are timed on this machine, and the measured speedup is our engine, target alone vs
speculative, side by side — all by :func:`draftfinder.measure.measure` (``verify=True``), which ``train``'s
report uses for the same figures.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any, Dict

TARGET = "zoo:smollm2-135m"


def truncate_target(folder: Path, layers: int = 2, target: str = TARGET) -> Path:
    """Save the first ``layers`` decoder layers of ``target`` (dequantized, fp32) + its head and tokenizer."""
    import torch
    import transformers

    from draftfinder.engine.loading import load_model

    lm = load_model(target)
    config = lm.model.config.__class__.from_dict(lm.model.config.to_dict())
    config.num_hidden_layers = layers
    if isinstance(getattr(config, "layer_types", None), list):
        config.layer_types = config.layer_types[:layers]
    small = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    keep = {k: v for k, v in lm.model.state_dict().items()
            if not k.startswith("model.layers.") or int(k.split(".")[2]) < layers}
    missing, unexpected = small.load_state_dict(keep, strict=False)
    assert not unexpected and all("lm_head" in k for k in missing), (missing, unexpected)
    small.tie_weights()
    folder.mkdir(parents=True, exist_ok=True)
    small.save_pretrained(folder)
    lm.tokenizer.save_pretrained(folder)
    return folder


def write_report(folder: Path, *, target: str = TARGET, report_target: str = None, task: str = "general",
                 prompts: int = 2, max_new_tokens: int = 16) -> Dict[str, Any]:
    """Measure the folder as a draft of ``target`` and write ``train_report.json`` (contract schema) into it;
    ``report_target`` names another target in the report (the figures stay this pair's). Returns the report."""
    from draftfinder.measure import measure
    from draftfinder.measure.results import machine_info
    from draftfinder.writer import write_json

    m = measure(target, [str(folder)], task=task, limit=prompts, max_new_tokens=max_new_tokens, verify=True,
                save=False, max_k=4, timing_ks=[1, 2, 3, 4], timing_repeats=1)[0]
    v = m.verification
    tc = m.target_cost
    layers = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("num_hidden_layers")
    report = {
        "fixture": "TEST FIXTURE (tests/trainedkit.py): the target truncated, not trained; every figure below is "
                   "measured on this folder by draftfinder.measure, not invented",
        "target": report_target or target, "method": "independent", "task": task, "loss": "fkl", "seed": 0,
        "layers": layers, "draft_vocab": None,
        "data": {"train_prompts": 0, "held_out_prompts": list(m.prompt_ids), "train_tokens": 0,
                 "held_out_tokens": m.generated_tokens, "corpus_tokens": 0,
                 "generation_s": m.timings_s.get("generate_s"), "scoring_s": m.timings_s.get("score_s")},
        "training": {"steps": 0, "minutes": 0.0, "stopped_because": "test fixture: truncated, not trained",
                     "best_step": 0},
        "curves": {"step": [], "loss": [], "held_out_acceptance": []},
        "held_out": {"acceptance": m.acceptance.greedy_agreement,
                     "per_position": [], "source": "measured: teacher-forced greedy agreement (draftfinder.measure)"},
        "cost_ratio_c": {"value": m.draft_cost.cost_ratio, "source": "measured"},
        "verify_costs": {str(k): tc.verify_cost_by_k[k] for k in tc.measured_verify_costs()},
        "predicted_speedup": {str(k): r.speedup_iid for k, r in m.by_k.items() if r.speedup_iid is not None},
        "measured": {"K": v.k, "speedup": v.measured_speedup,
                     "target_tokens_per_s": v.new_tokens / v.target_decode_s if v.target_decode_s else None,
                     "spec_tokens_per_s": v.new_tokens / v.speculative_decode_s if v.speculative_decode_s else None,
                     "outputs_identical": v.outputs_identical, "prompts": v.prompts, "source": "measured"},
        "machine": machine_info().to_dict(),
        "command": "tests/trainedkit.py write_report",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    write_json(folder / "train_report.json", report)
    return report
