"""``--method eagle3``: an EAGLE-3 head trained on the target's own distributions with training-time test.

EAGLE-3 (Li et al. 2025, "EAGLE-3: Scaling up Inference Acceleration of Large Language Models via Training-Time
Test"): the head (``engine/eagle3_head.py``) reads the target's low/mid/high hidden states (teacher data
``hidden``, layers ``eagle3_layers(L)`` = (2, L//2, L−3)) and the next token's embedding.

- Draft vocabulary (§3.2): the ``draft_vocab`` target ids that are most often the target's argmax in the train
  split (ties and a short list filled from the teacher's top-k mass), sorted; ``d2t``/``t2d`` as speculators.
- Training-time test (§3.3): steps 1..T (``ttt_steps``, default 3): step 1 on the target's features, step j on
  step j − 1's outputs; step j at position i is trained on the teacher's distribution at row i + j. Losses are
  weighted 0.8^(j−1) (EAGLE-3's decay; ``STEP_DECAY``) and normalised by the weights' sum.
- Distillation on the teacher's top-k restricted to V_d: target ids outside the draft vocabulary lose their mass
  and the rest is renormalised; rows with no mass inside V_d carry no loss (in evaluation they are misses).
  Forward KL (default), reverse KL on the top-k support, or TVD — DistillSpec (Zhou et al. 2023, §3).
- ``evaluate``: α = step-1 greedy agreement with the target's argmax (draft argmax mapped through d2t); chain
  acceptance per draft position 1..k_max by rolling the head on its own outputs (its prenorm fed back, its own
  draft token read next): position j counts only where drafts 1..j−1 were accepted and the teacher sequence went
  on with those very tokens (elsewhere the teacher's rows are not conditioned on the draft's context).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import torch

from draftfinder.errors import UsageError
from draftfinder.train.losses import EPS, LOSSES as LOSS_KINDS
from draftfinder.train.student import EvalResult, register_student

DEFAULT_DRAFT_VOCAB = 8192       # SmolLM2: 96.8 % of the target's argmax tokens (issue 12's experiment)
DEFAULT_TTT_STEPS = 3
STEP_DECAY = 0.8                 # EAGLE-3's per-step loss weight 0.8^j


def select_draft_vocab(data: Any, size: int, target_vocab: int, split: str = "train") -> torch.Tensor:
    """The ``size`` target ids most often the teacher's argmax over ``split`` (then by top-k mass, then the
    lowest ids), sorted ascending: the draft vocabulary (EAGLE-3 §3.2; d2t offsets are then ≥ 0)."""
    size = max(1, min(int(size), int(target_vocab)))
    argmax: Counter = Counter()
    mass = torch.zeros(int(target_vocab), dtype=torch.float64)
    for s, seq in enumerate(data.sequences):
        if seq.split != split:
            continue
        ids = data.topk_ids[s].long()
        probs = data.topk_probs[s].double()
        argmax.update(ids[:, 0].tolist())
        mass.index_add_(0, ids.reshape(-1).clamp(0, target_vocab - 1), probs.reshape(-1))
    chosen = [t for t, _ in sorted(argmax.items(), key=lambda kv: (-kv[1], kv[0])) if 0 <= t < target_vocab][:size]
    if len(chosen) < size:
        taken = set(chosen)
        order = torch.argsort(-mass, stable=True).tolist()
        chosen += [t for t in order if t not in taken][: size - len(chosen)]
    return torch.tensor(sorted(chosen), dtype=torch.long)


def topk_loss(logits: torch.Tensor, ids: torch.Tensor, probs: torch.Tensor, kind: str) -> Tuple[torch.Tensor,
                                                                                                 torch.Tensor]:
    """Per-row distillation loss of draft logits [R, V_d] against the teacher's top-k restricted to V_d.

    ``train/losses.py``'s three divergences (DistillSpec, Zhou et al. 2023; same formulas, same top-k
    treatment) on the support S = the teacher's top-k ids inside V_d: ``ids`` [R, k] are draft ids (−1 for a
    target id outside V_d, whose mass is dropped); p̃ = probs renormalised over S; log q = log_softmax(logits).
    fkl: Σ_S p̃ (log p̃ − log q); rkl: D_KL(q̂ ‖ p̃) − log Σ_S q with q̂ = q renormalised over S;
    tvd: ½ (Σ_S |p̃ − q| + (1 − Σ_S q)). Returns (loss [R], usable rows [R]: some teacher mass inside V_d)."""
    if kind not in LOSS_KINDS:
        raise UsageError(f"unknown loss '{kind}'", hint=f"use one of: {', '.join(LOSS_KINDS)}")
    inside = ids >= 0
    p = probs.float() * inside
    total = p.sum(-1, keepdim=True)
    usable = total.squeeze(-1) > 0
    p = p / total.clamp_min(EPS)
    logq = torch.log_softmax(logits.float(), dim=-1).gather(-1, ids.clamp_min(0))       # [R, k]
    support = inside & (p > 0)
    logp = torch.log(p.clamp_min(EPS))
    if kind == "fkl":
        loss = (p * (logp - logq)).masked_fill(~support, 0.0).sum(-1)
    elif kind == "rkl":
        masked = logq.masked_fill(~support, float("-inf"))
        log_mass = torch.logsumexp(masked, dim=-1, keepdim=True)                          # log Σ_S q
        logq_hat = masked - log_mass
        loss = (logq_hat.exp() * (logq_hat - logp)).masked_fill(~support, 0.0).sum(-1) - log_mass.squeeze(-1)
    else:
        q = logq.exp().masked_fill(~support, 0.0)
        loss = 0.5 * ((p - q).abs().masked_fill(~support, 0.0).sum(-1) + (1 - q.sum(-1)).clamp_min(0))
    return loss.masked_fill(~usable, 0.0), usable


@dataclass
class _Batch:
    fused_in: torch.Tensor        # [B, M, 3, H_t] target features at positions 0..M−1
    tokens: torch.Tensor          # [B, M + T − 1] ids shifted by one (0-padded)
    topk_ids: torch.Tensor        # [B, M + T, k] teacher rows 0..M+T−1 as draft ids (−1 outside V_d)
    topk_probs: torch.Tensor      # [B, M + T, k]
    argmax: torch.Tensor          # [B, M + T] teacher argmax (target ids)
    next_ids: torch.Tensor        # [B, M + T] ids[r + 1] (−1 past the end)
    trained: torch.Tensor         # [B, M + T] bool: row r exists and r ≥ loss_from


class Eagle3Student:
    """The Student protocol (``train/student.py``) for an EAGLE-3 head."""

    method = "eagle3"

    def __init__(self, target: Any, *, data: Any, draft_vocab: Optional[int] = None, seed: int = 0,
                 ttt_steps: int = DEFAULT_TTT_STEPS):
        from draftfinder.engine.eagle3_head import Eagle3Head

        if getattr(data, "hidden", None) is None or len(tuple(data.hidden_layers)) != 3:
            raise UsageError("the teacher data has no hidden states of three target layers (EAGLE-3 needs them)",
                             hint="rebuild the teacher data with --method eagle3 (delete the .work folder's teacher.pt)")
        import torch

        bad = sum(1 for h in data.hidden if not bool(torch.isfinite(h).all()))
        if bad:
            raise UsageError(f"the teacher data's hidden states are not finite in {bad} sequences (float16 overflow: "
                             f"teacher data written before hidden states were kept in bfloat16)",
                             hint="delete the .work folder's teacher.pt and rerun the same command (the "
                                  "continuations are kept)")
        if not 1 <= int(ttt_steps) <= 8:
            raise UsageError(f"training-time-test steps must be in 1..8, got {ttt_steps}")
        self.target = target
        self.ttt_steps = int(ttt_steps)
        model = target.model
        vocab = int(model.get_output_embeddings().weight.shape[0])
        size = int(draft_vocab or DEFAULT_DRAFT_VOCAB)
        self.head = Eagle3Head.from_target(model, draft_vocab_size=min(size, vocab),
                                           aux_layers=tuple(data.hidden_layers), seed=seed)
        draft_ids = select_draft_vocab(data, min(size, vocab), vocab)
        self.head.set_vocab(draft_ids)
        with torch.no_grad():                     # start from the target's own output geometry for these ids
            self.head.lm_head.weight.copy_(model.get_output_embeddings().weight[draft_ids])
        self._refresh_index()

    def _refresh_index(self) -> None:
        index = torch.full((self.head.t2d.numel(),), -1, dtype=torch.long)          # on the CPU, as the data
        index[self.head.draft_ids.cpu()] = torch.arange(self.head.d2t.numel(), dtype=torch.long)
        self._t2d_index = index                   # target id → draft id, −1 outside V_d

    # --- protocol ----------------------------------------------------------------------------------------
    def parameters(self) -> Iterable[torch.nn.Parameter]:
        return self.head.trainable()

    def state_dict(self) -> dict:
        return {k: v.detach().clone() for k, v in self.head.state_dict().items()}

    def load_state_dict(self, sd: dict) -> None:
        self.head.load_state_dict(sd)
        self._refresh_index()

    def cost_hint(self) -> Dict[str, Any]:
        return {"layers": 1, "hidden": int(self.head.config.hidden_size),
                "head_vocab": int(self.head.spec.draft_vocab_size),
                "target_layers_fed": list(self.head.spec.aux_layers), "ttt_steps": self.ttt_steps,
                "parameters": int(sum(p.numel() for p in self.head.parameters()))}

    def save_pretrained(self, folder: Path) -> None:
        from draftfinder.engine.eagle3_format import save_head

        record = getattr(self.target, "record", None)
        verifier = getattr(record, "model_id", None) or self.target.name
        model = self.target.model
        architectures = getattr(model.config, "architectures", None) or [type(model).__name__]   # GGUF: None
        save_head(self.head, Path(folder), verifier=verifier, verifier_architectures=architectures)

    def loss(self, data: Any, batch: List[int], loss_kind: str) -> torch.Tensor:
        self.head.train()
        b = self._batch(data, batch, self.ttt_steps)
        outs = self.head.ttt_forward(self.head.fuse(b.fused_in), b.tokens, self.ttt_steps)
        m = b.fused_in.shape[1]
        total = b.fused_in.new_zeros(())
        weight_sum = 0.0
        for j, out in enumerate(outs, start=1):
            rows = slice(j, j + m)                                           # teacher row i + j
            valid = b.trained[:, rows]
            if not bool(valid.any()):
                continue
            per_row, usable = topk_loss(out.logits[valid], b.topk_ids[:, rows][valid], b.topk_probs[:, rows][valid],
                                        loss_kind)
            n = int(usable.sum())
            w = STEP_DECAY ** (j - 1)
            weight_sum += w
            if n:
                total = total + w * per_row.sum() / n
        return total / weight_sum if weight_sum else total

    @torch.no_grad()
    def evaluate(self, data: Any, indices: List[int], k_max: int, batch_size: int = 8) -> Any:
        """α and chain acceptance per draft position 1..k_max (module docstring), on ``indices``."""
        self.head.eval()
        k_max = max(1, int(k_max))
        reached = [0] * k_max
        accepted = [0] * k_max
        draft_ids = self.head.draft_ids
        for lo in range(0, len(indices), batch_size):
            b = self._batch(data, list(indices[lo: lo + batch_size]), k_max)
            outs = self.head.ttt_forward(self.head.fuse(b.fused_in), b.tokens, k_max)
            m = b.fused_in.shape[1]
            alive = b.trained[:, 1: 1 + m].clone()                           # start i: row i + 1 is trained
            for j, out in enumerate(outs, start=1):
                rows = slice(j, j + m)
                ok = alive & b.trained[:, rows]
                draft = draft_ids[out.logits.argmax(-1)]                     # [B, M] target ids
                hit = ok & (draft == b.argmax[:, rows])
                reached[j - 1] += int(ok.sum())
                accepted[j - 1] += int(hit.sum())
                # go on only where the teacher's sequence continued with the accepted token
                alive = hit & (b.next_ids[:, rows] == b.argmax[:, rows])
        per_position = [a / r if r else 0.0 for a, r in zip(accepted, reached)]
        return EvalResult(acceptance=per_position[0], per_position=per_position, tokens=reached[0])

    # --- batches -----------------------------------------------------------------------------------------
    def _batch(self, data: Any, batch: Sequence[int], steps: int) -> _Batch:
        seqs = [data.sequences[s] for s in batch]
        lengths = [len(q.ids) for q in seqs]
        m = max(1, max(lengths) - 1)
        rows = m + steps
        b = len(batch)
        h = data.hidden[batch[0]]
        k = int(data.topk_ids[batch[0]].shape[1])
        fused_in = torch.zeros(b, m, h.shape[1], h.shape[2])
        tokens = torch.zeros(b, m + steps - 1, dtype=torch.long)
        topk_ids = torch.full((b, rows, k), -1, dtype=torch.long)
        topk_probs = torch.zeros(b, rows, k)
        argmax = torch.full((b, rows), -1, dtype=torch.long)
        next_ids = torch.full((b, rows), -1, dtype=torch.long)
        trained = torch.zeros(b, rows, dtype=torch.bool)
        for r, (s, seq, n) in enumerate(zip(batch, seqs, lengths)):
            if n < 2:
                continue
            ids = torch.tensor(seq.ids, dtype=torch.long)
            fused_in[r, : n - 1] = data.hidden[s][: n - 1].float()
            tokens[r, : n - 1] = ids[1:]
            t_ids = data.topk_ids[s].long()[:rows]
            topk_ids[r, : t_ids.shape[0]] = self._t2d_index[t_ids.clamp(0, self._t2d_index.numel() - 1)]
            topk_probs[r, : t_ids.shape[0]] = data.topk_probs[s][:rows].float()
            argmax[r, : t_ids.shape[0]] = t_ids[:, 0]
            next_ids[r, : min(n - 1, rows)] = ids[1: 1 + min(n - 1, rows)]
            trained[r, max(0, int(seq.loss_from)): min(n, rows)] = True
        device = self.head.d2t.device                    # built on the CPU (the data's), used on the head's device
        return _Batch(*(t.to(device) for t in (fused_in, tokens, topk_ids, topk_probs, argmax, next_ids, trained)))


def make_eagle3_student(target: Any, *, layers: Optional[int] = None, draft_vocab: Optional[int] = None,
                        seed: int = 0, data: Any = None) -> Eagle3Student:
    """The registry's factory (``make_student("eagle3", …)``). ``layers`` must be 1 or None (one head layer)."""
    if layers not in (None, 1):
        raise UsageError(f"--layers {layers}: an EAGLE-3 head has exactly one decoder layer",
                         hint="leave --layers out with --method eagle3")
    return Eagle3Student(target, data=data, draft_vocab=draft_vocab, seed=seed)


register_student("eagle3", make_eagle3_student)
