"""Speedup and best K when N requests are decoded together (``--concurrency N``, as vLLM and SGLang serve).

With N sequences in the batch, every forward pass carries N × (new tokens) tokens. Plain decoding takes one
target pass of N × 1 tokens per generated token; one speculative round takes K draft passes of N × 1 tokens and
one verify pass of N × (K+1) tokens, and yields E[tokens] = (1 − α^(K+1)) / (1 − α) tokens per sequence
(Leviathan et al. 2023, §3.1 Eq. 1). So, per sequence::

    speedup_N(K) = E[tokens] · T_target(1 token × N) / (K · T_draft(1 token × N) + T_target(K+1 tokens × N))

which is Leviathan's Theorem 3.8 with c = T_draft/T_target and the verify cost v = T_target(K+1)/T_target(1),
both taken at batch N (:func:`draftfinder.predict.speedup.expected_speedup`). At N = 1 the verify pass is
memory-bound and costs about one step; as N grows the pass turns compute-bound, v(K) grows towards K+1 and
speculation stops paying: the best K falls, and past some N no K beats plain decoding (speculation off).

Sanity check, not a fit: vLLM's blog ("How Speculative Decoding Boosts vLLM Performance by up to 2.8x",
2024-10-17) measured a draft model (Qwama-0.5B for Llama3-70B on 4×H100) at up to 1.5× at low load (QPS 1)
and a 1.4× slowdown at high load (rows ``vllm-blog-2024-10/*`` of ``draftfinder/data/published.json``, role
validation). ``tests/predict/test_concurrency.py`` checks the direction on that setup.

Each level also says whether target + draft + N KV caches fit (:mod:`draftfinder.predict.memory`), and gives K
in the form the engines take it: vLLM ``--max-num-seqs N --speculative-config '{"num_speculative_tokens": K,
...}'``, llama-server ``-np N --spec-draft-n-max K`` (``--draft-max K`` before 2026 builds; ``-c`` = N × ctx,
since llama-server splits its context over the N slots), SGLang ``--max-running-requests N
--speculative-algorithm STANDALONE --speculative-num-steps K --speculative-eagle-topk 1
--speculative-num-draft-tokens K+1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from draftfinder.constants import ESTIMATED
from draftfinder.find.results import Provenance, to_plain
from draftfinder.predict import speedup as est
from draftfinder.predict.device_latency import step_ms
from draftfinder.predict.memory import DEFAULT_CTX, MemoryFit, ModelMemory, check_fit

DEFAULT_LEVELS = (1, 4, 16, 64)
MAX_CONCURRENCY = 4096
METHOD = ("Leviathan et al. 2023 Thm 3.8 at batch N: E[tokens]·T_t(1×N) / (K·T_d(1×N) + T_t((K+1)×N)), "
          "both passes from the latency model at batch N")


def levels_for(requested: Optional[int]) -> List[int]:
    """1, 4, 16, 64 — plus ``requested`` when it is another N."""
    out = set(DEFAULT_LEVELS)
    if requested is not None:
        out.add(int(requested))
    return sorted(out)


@dataclass
class ConcurrencyLevel:
    """One N: the best K (None: speculation does not pay, or the pair does not fit) and its speedup."""

    concurrency: int
    recommended_k: Optional[int]
    speedup: Optional[float]                   # per sequence, at recommended_k; 1.0 when off; None: does not fit
    speedup_by_k: Dict[int, float]
    verify_cost_by_k: Dict[int, float]         # T_target((K+1)×N) / T_target(1×N)
    cost_ratio: float                          # c = T_draft(1×N) / T_target(1×N)
    target_step_ms: float                      # one plain decoding step of the whole batch
    plain_tokens_per_s: float                  # whole batch, plain decoding
    speculative_tokens_per_s: Optional[float]  # whole batch, at recommended_k
    fits: Optional[bool]
    fit_verdict: str
    vllm: str                                  # K as vLLM takes it
    llama_cpp: str                             # K as llama-server takes it
    sglang: str                                # K as SGLang takes it

    @property
    def speculation_on(self) -> bool:
        return self.recommended_k is not None


@dataclass
class ConcurrencyTable:
    """Speedup and K per concurrency level for one pair on one device and engine."""

    device: str
    engine: str
    acceptance_rate: float
    ctx_tokens: int
    requested: int
    levels: List[ConcurrencyLevel]
    provenance: Dict[str, Provenance] = field(default_factory=dict)

    def at(self, n: int) -> ConcurrencyLevel:
        return next(level for level in self.levels if level.concurrency == n)

    def to_dict(self) -> Dict[str, Any]:
        return to_plain(self)


def _engine_forms(k: Optional[int], n: int, ctx: int, draft_name: str) -> Dict[str, str]:
    if k is None:
        return {"vllm": f"--max-num-seqs {n}, no --speculative-config (speculation off)",
                "llama_cpp": f"-np {n} -c {n * ctx}, no -md (speculation off)",
                "sglang": f"--max-running-requests {n}, no --speculative-algorithm (speculation off)"}
    return {"vllm": f'--max-num-seqs {n} --speculative-config \'{{"model": "{draft_name}", '
                    f'"num_speculative_tokens": {k}, "method": "draft_model"}}\'',
            "llama_cpp": f"-np {n} -c {n * ctx} --spec-draft-n-max {k} (older builds: --draft-max {k})",
            "sglang": f"--max-running-requests {n} --speculative-algorithm STANDALONE --speculative-num-steps {k} "
                      f"--speculative-eagle-topk 1 --speculative-num-draft-tokens {k + 1}"}


def concurrency_level(target: Any, draft: Any, alpha: float, device: Any, engine: str, n: int, *, max_k: int,
                      ctx: int = DEFAULT_CTX, target_memory: Optional[ModelMemory] = None,
                      draft_memory: Optional[ModelMemory] = None, draft_name: str = "DRAFT") -> ConcurrencyLevel:
    """The best K and its speedup at concurrency ``n`` (module docstring formula)."""
    t1 = step_ms(target, 1, device, engine, batch=n, ctx=ctx)
    td = step_ms(draft, 1, device, engine, batch=n, ctx=ctx)
    c = td / t1
    verify = {k: step_ms(target, k + 1, device, engine, batch=n, ctx=ctx) / t1 for k in range(1, max_k + 1)}
    curve = {k: est.expected_speedup(alpha, k, c, verify[k]) for k in verify}
    best = max(curve, key=lambda k: (curve[k], -k))
    fit: Optional[MemoryFit] = None
    if target_memory is not None:
        fit = check_fit(target_memory, draft_memory, device, ctx=ctx, sequences=n)
    fits = None if fit is None else fit.fits
    plain = n * 1000.0 / t1
    if fits is False:
        k, speedup, spec = None, None, None
    elif curve[best] > 1.0:
        k, speedup, spec = best, curve[best], plain * curve[best]
    else:
        k, speedup, spec = None, 1.0, plain
    forms = _engine_forms(k, n, ctx, draft_name)
    return ConcurrencyLevel(concurrency=n, recommended_k=k, speedup=speedup, speedup_by_k=curve,
                            verify_cost_by_k=verify, cost_ratio=c, target_step_ms=t1, plain_tokens_per_s=plain, speculative_tokens_per_s=spec, fits=fits,
                            fit_verdict=fit.verdict if fit is not None else "fit not checked",
                            vllm=forms["vllm"], llama_cpp=forms["llama_cpp"], sglang=forms["sglang"])


def concurrency_table(target: Any, draft: Any, alpha: float, device: Any, engine: str, *,
                      requested: Optional[int] = None, levels: Optional[Sequence[int]] = None, max_k: int = 16,
                      ctx: int = DEFAULT_CTX, target_memory: Optional[ModelMemory] = None,
                      draft_memory: Optional[ModelMemory] = None, draft_name: str = "DRAFT",
                      alpha_source: str = ESTIMATED) -> ConcurrencyTable:
    """:func:`concurrency_level` for each of ``levels`` (default 1, 4, 16, 64 and ``requested``)."""
    ns = sorted(set(levels)) if levels is not None else levels_for(requested)
    rows = [concurrency_level(target, draft, alpha, device, engine, n, max_k=max_k, ctx=ctx,
                              target_memory=target_memory, draft_memory=draft_memory, draft_name=draft_name)
            for n in ns]
    prov = {
        "speedup": Provenance(ESTIMATED, METHOD, f"α {alpha_source}; device {device.label}, engine {engine}"),
        "recommended_k": Provenance(ESTIMATED, f"argmax over K = 1…{max_k}; off when no K beats plain decoding"),
        "fits": Provenance(ESTIMATED, "weights + both KV caches at ctx × N sequences ≤ usable memory"),
    }
    return ConcurrencyTable(device=device.label, engine=engine, acceptance_rate=alpha, ctx_tokens=ctx,
                            requested=requested or 1, levels=rows, provenance=prov)


__all__ = ["ConcurrencyLevel", "ConcurrencyTable", "DEFAULT_LEVELS", "MAX_CONCURRENCY", "concurrency_level",
           "concurrency_table", "levels_for"]
