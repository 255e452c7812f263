"""THE training loop: AdamW over a Student (``student.Student``; the loop knows nothing else of it), held-out
evaluation, the best-by-held-out-acceptance weights, checkpoints, resume, Ctrl-C.

::

    eval at step 0 (fresh runs)                                   → α before training
    repeat until --steps, --max-minutes or Ctrl-C:
        batch  = the next group of train sequences of similar length, Σ padded tokens ≤ batch_tokens
        loss   = student.loss(data, batch, loss_kind); backward; clip ‖g‖ ≤ 1; AdamW step; lr schedule
        every eval_every steps: α = student.evaluate(held-out) → curves; better α → best weights (best.pt)
        every checkpoint_minutes: checkpoint.pt (student, optimizer, step, sampler position, curves, best)
    final eval; the student is given the best weights back

The kept weights are those of the best held-out acceptance (issue 12: "not the lowest loss"); ties go to the
later step. Learning rate: linear warmup over ``warmup_steps``, then cosine decay to ``min_lr_ratio`` × lr over
the run's length — its ``--steps``, or for ``--max-minutes`` its minutes (progress = training time / budget, so
a run stopped by time ends at the bottom of its schedule; a resumed run continues its schedule).

Batches: each epoch is a seeded shuffle (``random.Random(seed·1000 + epoch)``) of the train sequences, cut in
pools of 64, each pool sorted by length and cut by the token budget, the batches then shuffled: little padding,
random order, and the same sequence of batches on a resumed run (the checkpoint keeps epoch + position).

Files: ``work/checkpoint.pt`` (resumable state) and ``work/best.pt`` (the best weights), written through
``writer.write_produced`` (atomic; a failed write leaves the previous file). ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from draftfinder.errors import ModelFileError, TrainingDivergedError
from draftfinder.train.student import EvalResult, Student

CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"
POOL = 64
FORMAT_VERSION = 1


@dataclass
class LoopConfig:
    """How to train (flags of ``draftfinder train``)."""

    steps: Optional[int] = None              # stop after this many optimizer steps (total, across resumes)
    max_minutes: Optional[float] = None      # … or after this much training time (total, across resumes)
    lr: float = 5e-4
    weight_decay: float = 0.0
    warmup_steps: int = 20
    min_lr_ratio: float = 0.1
    batch_tokens: int = 2048                 # Σ padded tokens per batch
    loss: str = "fkl"
    eval_every: int = 25                     # steps between held-out evaluations
    k_max: int = 8                           # per-position acceptance up to this draft position
    checkpoint_minutes: float = 3.0
    seed: int = 0
    grad_clip: float = 1.0


@dataclass
class Status:
    """What the progress bar shows after each step (or eval)."""

    step: int
    total_steps: Optional[int]
    minutes: float                           # training time so far (all sessions)
    loss: Optional[float]
    acceptance: Optional[float]              # last held-out α
    best_acceptance: Optional[float]
    eta_s: Optional[float]
    phase: str = "train"                     # train | eval | checkpoint


@dataclass
class Curves:
    step: List[int] = field(default_factory=list)               # eval points
    loss: List[Optional[float]] = field(default_factory=list)   # mean train loss since the previous eval point
    held_out_acceptance: List[float] = field(default_factory=list)
    minutes: List[float] = field(default_factory=list)


@dataclass
class LoopResult:
    """The outcome of :func:`train_loop`."""

    steps: int                               # optimizer steps done (all sessions)
    minutes: float                           # training time (all sessions)
    stopped_because: str                     # steps | max_minutes | interrupted
    best_step: int
    best: Optional[EvalResult]               # held-out evaluation of the kept weights
    initial: Optional[EvalResult]            # held-out evaluation at step 0 (before training)
    curves: Curves
    resumed_from_step: int = 0               # 0: a fresh run
    sessions: int = 1
    tokens_seen: int = 0                     # Σ real tokens of the batches trained on

    @property
    def steps_per_s(self) -> Optional[float]:
        return self.steps / (self.minutes * 60) if self.minutes > 0 else None


def lr_factor(step: int, cfg: LoopConfig, progress: float) -> float:
    """Multiplier of ``cfg.lr`` at ``step``: linear warmup, then cosine from 1 to ``min_lr_ratio`` as
    ``progress`` (0 … 1, the share of the run done) goes from the end of warmup to 1 (SGDR's cosine,
    Loshchilov & Hutter 2017, without restarts)."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    p = min(1.0, max(0.0, progress))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p))


def epoch_batches(data: Any, indices: List[int], epoch: int, cfg: LoopConfig) -> List[List[int]]:
    """The batches of one epoch (module docstring), the same for the same seed and epoch."""
    rng = random.Random(cfg.seed * 1000 + epoch)
    order = list(indices)
    rng.shuffle(order)
    batches: List[List[int]] = []
    for p in range(0, len(order), POOL):
        current: List[int] = []
        for i in sorted(order[p:p + POOL], key=lambda j: len(data.sequences[j].ids)):
            n = len(data.sequences[i].ids)             # the longest so far (sorted): the padded width
            if current and (len(current) + 1) * n > cfg.batch_tokens:
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
    rng.shuffle(batches)
    return batches


def train_loop(student: Student, data: Any, cfg: LoopConfig, work: Path, *,
               should_stop: Optional[Callable[[], bool]] = None,
               on_status: Optional[Callable[[Status], None]] = None,
               settings: Optional[Dict[str, Any]] = None) -> LoopResult:
    """Train ``student`` on ``data`` (module docstring), checkpointing into the folder ``work``; resume from
    ``work/checkpoint.pt`` when it is there. ``should_stop()`` (Ctrl-C) is polled after every step: a checkpoint
    is written and the result says ``interrupted``. ``settings`` are stored in the checkpoint (the caller
    compares them on resume)."""
    import torch

    stop = should_stop or (lambda: False)
    train_idx = data.indices("train")
    held = data.indices("held_out")
    if not train_idx or not held:
        raise ValueError("teacher data needs train and held-out sequences")
    params = list(student.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.95))
    state = _State()
    ckpt = work / CHECKPOINT
    best_state: Optional[dict] = None
    if ckpt.is_file():
        saved = _load(ckpt)
        student.load_state_dict(saved["student"])
        opt.load_state_dict(saved["optimizer"])
        state = _State.from_dict(saved["state"])
        state.sessions += 1
        state.resumed_from_step = state.step
        if (work / BEST).is_file():
            best_state = _load(work / BEST)["student"]
    torch.manual_seed(cfg.seed * 31 + state.step)
    report = on_status or (lambda s: None)
    session_start = time.perf_counter()
    base_minutes = state.minutes

    def minutes() -> float:
        return base_minutes + (time.perf_counter() - session_start) / 60

    def progress() -> float:
        parts = []
        if cfg.steps:
            parts.append(state.step / cfg.steps)
        if cfg.max_minutes:
            parts.append(minutes() / cfg.max_minutes)
        return max(parts) if parts else 0.0

    def eta() -> Optional[float]:
        done = state.step - state.resumed_from_step
        el = time.perf_counter() - session_start
        left = []
        if cfg.steps and done > 0:
            left.append(el / done * max(0, cfg.steps - state.step))
        if cfg.max_minutes:
            left.append(max(0.0, cfg.max_minutes - minutes()) * 60)
        return min(left) if left else None

    def status(phase: str) -> Status:
        return Status(state.step, cfg.steps, minutes(), state.last_loss, state.last_acceptance(),
                      state.best_acceptance, eta(), phase)

    def evaluate() -> EvalResult:
        nonlocal best_state
        report(status("eval"))
        result = student.evaluate(data, held, cfg.k_max)
        state.record_eval(result, minutes())
        if state.best is None or result.acceptance >= state.best["acceptance"]:
            state.best = {"step": state.step, **result.to_dict()}
            best_state = student.state_dict()
            _save(work / BEST, {"format": FORMAT_VERSION, "student": best_state, "step": state.step})
        return result

    def checkpoint() -> None:
        report(status("checkpoint"))
        state.minutes = minutes()
        _save(ckpt, {"format": FORMAT_VERSION, "student": student.state_dict(), "optimizer": opt.state_dict(),
                     "state": state.to_dict(), "settings": settings or {}})
        state.last_checkpoint = time.perf_counter()

    if state.initial is None:
        state.initial = evaluate().to_dict()
    stopped = ""
    state.last_checkpoint = time.perf_counter()
    batches = epoch_batches(data, train_idx, state.epoch, cfg)
    while True:
        if cfg.steps is not None and state.step >= cfg.steps:
            stopped = "steps"
            break
        if cfg.max_minutes is not None and minutes() >= cfg.max_minutes:
            stopped = "max_minutes"
            break
        if stop():
            stopped = "interrupted"
            break
        if state.position >= len(batches):
            state.epoch += 1
            state.position = 0
            batches = epoch_batches(data, train_idx, state.epoch, cfg)
        batch = batches[state.position]
        for group in opt.param_groups:
            group["lr"] = cfg.lr * lr_factor(state.step, cfg, progress())
        loss = student.loss(data, batch, cfg.loss)
        if not bool(torch.isfinite(loss)):
            raise TrainingDivergedError(state.step + 1, float(loss.detach()), cfg.lr, work)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        state.step += 1
        state.position += 1
        state.tokens_seen += sum(len(data.sequences[i].ids) for i in batch)
        state.add_loss(float(loss.detach()))
        report(status("train"))
        if state.step % cfg.eval_every == 0:
            evaluate()
        if (time.perf_counter() - state.last_checkpoint) / 60 >= cfg.checkpoint_minutes:
            checkpoint()
    if stopped != "interrupted" and (not state.curves.step or state.curves.step[-1] != state.step):
        evaluate()                                    # the last weights get their chance to be the best
    checkpoint()
    if stopped != "interrupted" and best_state is not None:
        student.load_state_dict(best_state)
    best = EvalResult(**{k: state.best[k] for k in ("acceptance", "per_position", "tokens")}) if state.best else None
    initial = EvalResult(**state.initial) if state.initial else None
    return LoopResult(steps=state.step, minutes=state.minutes, stopped_because=stopped,
                      best_step=state.best["step"] if state.best else 0, best=best, initial=initial,
                      curves=state.curves, resumed_from_step=state.resumed_from_step, sessions=state.sessions,
                      tokens_seen=state.tokens_seen)


# ---------------------------------------------------------------------------------------------------

@dataclass
class _State:
    step: int = 0
    epoch: int = 0
    position: int = 0
    minutes: float = 0.0
    tokens_seen: int = 0
    sessions: int = 1
    resumed_from_step: int = 0
    initial: Optional[Dict[str, Any]] = None
    best: Optional[Dict[str, Any]] = None
    curves: Curves = field(default_factory=Curves)
    loss_sum: float = 0.0
    loss_n: int = 0
    last_loss: Optional[float] = None
    last_checkpoint: float = 0.0

    def add_loss(self, value: float) -> None:
        self.loss_sum += value
        self.loss_n += 1
        self.last_loss = value

    def last_acceptance(self) -> Optional[float]:
        return self.curves.held_out_acceptance[-1] if self.curves.held_out_acceptance else None

    @property
    def best_acceptance(self) -> Optional[float]:
        return self.best["acceptance"] if self.best else None

    def record_eval(self, result: EvalResult, minutes: float) -> None:
        self.curves.step.append(self.step)
        self.curves.loss.append(self.loss_sum / self.loss_n if self.loss_n else None)
        self.curves.held_out_acceptance.append(result.acceptance)
        self.curves.minutes.append(minutes)
        self.loss_sum, self.loss_n = 0.0, 0

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d.pop("last_checkpoint")
        return d

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "_State":
        d = dict(d)
        d["curves"] = Curves(**d["curves"])
        return cls(**d)


def _save(path: Path, payload: Dict[str, Any]) -> None:
    from draftfinder.writer import write_torch

    write_torch(path, payload)


def _load(path: Path) -> Dict[str, Any]:
    import torch

    try:
        d = torch.load(str(path), weights_only=True)
        if not isinstance(d, dict) or d.get("format") != FORMAT_VERSION:
            raise ValueError("not a checkpoint of this version")
        return d
    except (OSError, RuntimeError, ValueError, EOFError) as err:
        raise ModelFileError(path, f"unreadable checkpoint ({' '.join(str(err).split())[:200]})",
                             hint=f"delete {path.parent} to start the training over") from err


def read_settings(work: Path) -> Optional[Dict[str, Any]]:
    """The settings stored in ``work/checkpoint.pt`` (None when there is no checkpoint)."""
    path = work / CHECKPOINT
    return dict(_load(path).get("settings") or {}) if path.is_file() else None
