"""Result types of a measurement (dataclasses; JSON through ``schema.to_plain``), the constants of the
method, and the machine the timings belong to."""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from draftfinder import constants
from draftfinder.find.results import Provenance, to_plain


MAX_K = constants.MAX_K                      # K = 1 … 16 are simulated and predicted
CONTEXT_BUCKETS = (0, 64, 128, 256, 512, 1024, 2048, 4096)   # bucket edges, tokens of context before a position
BOOTSTRAP_SAMPLES = 2000
CI_LEVEL = 0.95
CONTEXT_DROP_WARNING = 0.10                  # warn when the longest bucket's α is this far below the shortest's
MIN_BUCKET_POSITIONS = 30                    # buckets with fewer positions are shown but never warned about
DEFAULT_LIMIT = 6                            # prompts: ~1 min on 2 CPU cores for SmolLM2-135M
DEFAULT_MAX_NEW_TOKENS = 48
DEFAULT_TIMING_REPEATS = 3
SCHEMA_VERSION = 2                           # 2: verify costs labelled measured / interpolated / extrapolated

Progress = Callable[[str, int, int, str], None]     # (phase, done, total, label)



# ---------------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------------

@dataclass
class MachineInfo:
    """Where the timings were taken; ``machine_id`` keys the saved measurements."""

    machine_id: str                 # slug of CPU model and core count, e.g. amd-epyc-7b13-2c
    cpu: str
    cores: int
    torch_threads: int
    platform: str
    python: str
    torch: str
    transformers: str
    hostname: str
    device: str = "cpu"             # where the models ran (--device, resolved) and in which dtype
    dtype: str = "fp32"

    def to_dict(self) -> Dict[str, Any]:
        return to_plain(self)


@dataclass
class ContextBucket:
    """Acceptance over the continuation positions whose context (prompt + generated so far) is in a range."""

    context_tokens_min: int
    context_tokens_max: Optional[int]        # exclusive; None = no upper edge
    positions: int                           # positions with a proposal
    prompts: int
    greedy_agreement: Optional[float]
    alpha: Optional[float]
    alpha_low: Optional[float] = None
    alpha_high: Optional[float] = None


@dataclass
class AcceptanceResult:
    """Teacher-forced acceptance of one draft on the target's continuations."""

    alpha: Optional[float]                   # mean β = Σ min(p, q) over positions with a proposal
    alpha_low: Optional[float]
    alpha_high: Optional[float]
    greedy_agreement: Optional[float]        # mean [draft argmax = target token]
    greedy_agreement_low: Optional[float]
    greedy_agreement_high: Optional[float]
    positions: int                           # continuation positions scored
    proposed_positions: int                  # of those, where the draft proposed a token (n-gram: < positions)
    coverage: float                          # proposed / positions
    prompts: int
    by_context: List[ContextBucket] = field(default_factory=list)
    target_argmax_mismatches: Optional[int] = None   # positions where the target's full pass disagrees with its
                                                     # own generated token (near-ties; greedy runs only)


@dataclass
class KResult:
    """Everything predicted (and, for greedy, simulated) for one K."""

    k: int
    verify_cost: Optional[float]             # v(K) = T_target(K+1) / T_target(1); see verify_cost_source
    tokens_per_step_iid: Optional[float]     # Leviathan 2023 Eq. (1) with the measured α
    speedup_iid: Optional[float]             # Thm 3.8 with measured α, c, v(K)
    tokens_per_step_simulated: Optional[float] = None    # greedy replay (exact) / position-wise β (sampling)
    tokens_per_step_low: Optional[float] = None          # bootstrap over prompts (greedy replay)
    tokens_per_step_high: Optional[float] = None
    speedup_simulated: Optional[float] = None
    acceptance_simulated: Optional[float] = None         # accepted / drafts reached (the run's per-token α)
    accepted_per_drafted: Optional[float] = None         # accepted / drafted (what SpecStats.alpha reports)
    position_acceptance: List[Optional[float]] = field(default_factory=list)   # by position in the window
    accepted_hist: Dict[int, int] = field(default_factory=dict)
    steps: Optional[int] = None
    new_tokens: Optional[int] = None
    verify_cost_source: Optional[str] = None             # measured | interpolated | extrapolated


@dataclass
class TargetCost:
    """Target forward times after a KV cache of ``context_tokens`` tokens (median of ``repeats``)."""

    context_tokens: int
    pass_ms: Dict[int, float]                # tokens in one pass (1 … K+1) -> median ms (measured sizes only)
    verify_cost_by_k: Dict[int, float]       # K -> T(K+1)/T(1); modelled where the size was not measured
    interpolated_k: List[int]                # Ks whose verify cost is interpolated between measured Ks
    repeats: int
    warmup: int
    step_ms: float                           # T(1): one plain decoding step
    generation_tokens_per_s: Optional[float] = None    # plain greedy decoding of the continuations (decode only)
    load_average: Optional[float] = None     # 1-minute load average when the timing started (busy machine: noisy)
    extrapolated_k: List[int] = field(default_factory=list)   # Ks past the last measured one (affine model)
    verify_cost_source_by_k: Dict[int, str] = field(default_factory=dict)  # K -> measured|interpolated|extrapolated
    extrapolation_slope_per_k: Optional[float] = None         # Δv(K) per extra K used past the last measured K
    extrapolation_method: Optional[str] = None

    def verify_cost_source(self, k: int) -> str:
        """Where v(K) came from: measured, interpolated or extrapolated. Files written before the sources were
        recorded (schema ≤ 1) held every unmeasured K flat at the last value and called it interpolated: such
        a K reads as ``interpolated`` below the last measured K and ``extrapolated`` past it."""
        if k in self.verify_cost_source_by_k:
            return self.verify_cost_source_by_k[k]
        if k in self.extrapolated_k:
            return "extrapolated"
        if k in self.interpolated_k:
            measured = [j for j in self.verify_cost_by_k if j not in self.interpolated_k]
            return "extrapolated" if not measured or k > max(measured) else "interpolated"
        return "measured"

    def measured_verify_costs(self) -> Dict[int, float]:
        """Only the Ks whose verify pass was timed."""
        return {k: v for k, v in self.verify_cost_by_k.items() if self.verify_cost_source(k) == "measured"}


@dataclass
class DraftCost:
    """One draft step on this machine, relative to a target step."""

    step_ms: float                           # per drafted token (model drafts) or per call (n-gram)
    cost_ratio: float                        # c = step_ms / T_target(1)
    basis: str                               # "per token" | "per call"
    samples: int
    method: str
    cost_ratio_two_pending: Optional[float] = None   # model drafts: a draft call that first feeds 2 tokens (after a
                                                     # step whose drafts were all accepted) / T_target(1)


@dataclass
class Verification:
    """The engine run at the recommended K beside the target alone, on the same prompts, side by side."""

    k: int
    prompts: int
    new_tokens: int
    target_decode_s: float                   # Σ (total − prefill) of the target-only runs
    speculative_decode_s: float
    measured_speedup: float                  # target_decode_s / speculative_decode_s
    predicted_speedup: Optional[float]
    prediction_method: str
    observed_acceptance: Optional[float]     # accepted / drafts reached
    observed_accepted_per_drafted: Optional[float]
    observed_tokens_per_step: Optional[float]
    simulated_tokens_per_step: Optional[float]
    outputs_identical: Optional[bool]        # greedy: speculative tokens == target-only tokens
    total_speedup: Optional[float] = None    # with prefill included


@dataclass
class Measurement:
    """One target × draft × task measured on one machine: what ``draftfinder measure`` prints and saves."""

    target_id: str
    draft_id: str
    draft_kind: str                          # model | layerskip | ngram
    task: str
    sampling: Dict[str, Any]
    machine: MachineInfo
    prompts: int
    prompt_ids: List[str]
    prompts_source: str
    max_new_tokens: int
    generated_tokens: int
    acceptance: AcceptanceResult
    target_cost: Optional[TargetCost] = None
    draft_cost: Optional[DraftCost] = None
    by_k: Dict[int, KResult] = field(default_factory=dict)
    recommended_k: Optional[int] = None
    predicted_speedup: Optional[float] = None
    prediction_method: str = ""
    verification: Optional[Verification] = None
    provenance: Dict[str, Provenance] = field(default_factory=dict)
    warnings: List[str] = field(default_factory=list)
    partial: bool = False
    timings_s: Dict[str, float] = field(default_factory=dict)
    created_at: str = ""
    draftfinder_version: str = ""
    schema_version: int = SCHEMA_VERSION
    path: Optional[str] = None               # where it was saved

    @property
    def cost_ratio(self) -> Optional[float]:
        return self.draft_cost.cost_ratio if self.draft_cost else None

    def to_dict(self) -> Dict[str, Any]:
        return to_plain(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Measurement":
        return _from_plain(cls, data)


def _from_plain(tp: Any, value: Any) -> Any:
    """Rebuild a dataclass tree from :func:`schema.to_plain` output (dict keys back to int where typed so)."""
    import dataclasses
    import typing

    if value is None:
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union:
        inner = [a for a in args if a is not type(None)]
        return _from_plain(inner[0], value) if inner else value
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        known = {f.name for f in dataclasses.fields(tp)}
        return tp(**{k: _from_plain(hints[k], v) for k, v in value.items() if k in known})
    if origin in (list, List):
        return [_from_plain(args[0] if args else Any, v) for v in value]
    if origin in (dict, Dict):
        kt, vt = args if args else (Any, Any)
        return {(int(k) if kt is int else k): _from_plain(vt, v) for k, v in value.items()}
    return value



# ---------------------------------------------------------------------------------------------------
# machine
# ---------------------------------------------------------------------------------------------------

def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown cpu"


def machine_id() -> str:
    """Key of this machine's saved measurements: CPU model and core count (cheap: no torch import)."""
    cpu_short = re.sub(r"\s+\d+-core processor", "", _cpu_model(), flags=re.I)
    return f"{_slug(cpu_short)}-{os.cpu_count() or 1}c"


def machine_info(place: Any = None) -> MachineInfo:
    """This machine: CPU model and cores (the key of saved measurements), library versions, host name; the
    device and dtype of ``place`` (an ``engine.device.Target``; None: cpu, fp32). Measured on an accelerator, the
    key gets the device's name (``…-2c-nvidia-a100-sxm4-80gb``, ``…-mps``): GPU timings never replace the CPU's."""
    import torch
    import transformers

    cpu = _cpu_model()
    cores = os.cpu_count() or 1
    key = machine_id()
    if place is not None and place.device != "cpu":
        index = int(place.device.split(":")[1]) if place.device.startswith("cuda:") else 0
        gpus = place.accelerators.gpus if place.accelerators is not None else ()
        key += "-" + _slug(gpus[index].name if place.device.startswith("cuda") and index < len(gpus) else place.device)
    return MachineInfo(
        machine_id=key,
        cpu=cpu, cores=cores, torch_threads=torch.get_num_threads(), platform=platform.platform(),
        python=platform.python_version(), torch=torch.__version__, transformers=transformers.__version__,
        hostname=platform.node(),
        device=place.device if place is not None else "cpu", dtype=place.dtype if place is not None else "fp32",
    )
