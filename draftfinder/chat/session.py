"""The state of a ``draftfinder chat`` session and its slash commands; no terminal I/O here.

:meth:`ChatSession.handle` takes one input line and returns an :class:`Output`: a slash command changes a
setting and answers with a message; anything else is a prompt, run through every enabled strategy in turn
with the same prompt ids, sampling settings and seed (the seed CLI's flow, ``../shared/seeds/004_…txt``):

==============  ==========================================================================================
strategy        what runs
==============  ==========================================================================================
speculative     ``speculative_generate(target, drafter)`` with the ``--draft`` drafter (model, layer-skip
                or n-gram), K = ``/gamma``, optionally adaptive K
ngram           the same with an n-gram drafter built from ``/set_ngramstorage``, ``/top_k_filler``,
                ``/reset_in_between`` (NASD). Off by default when ``--draft`` is itself n-gram (the two
                would be the same run); the n-gram settings then apply to both
target          ``autoregressive_generate(target)``: the baseline every speedup is measured against
draft           ``autoregressive_generate`` with the drafter's model (a draft model, or the layer-skip
                truncated target); none for an n-gram drafter, which has no model
==============  ==========================================================================================

Every number a turn carries is measured (wall clock, one run each, in this process). Under greedy the
speculative outputs must equal the target's token for token (Leviathan et al. 2023, Theorem 1), which the
turn reports per strategy. Bad input raises :class:`~draftfinder.errors.UsageError` inside and comes back as
an ``Output`` with ``error=True`` and the one-line message: the session never dies on bad input.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from draftfinder.engine.base import PROCESSORS, SamplingConfig
from draftfinder.engine.ngram import STORAGE_KINDS
from draftfinder.errors import DraftFinderError, UsageError
from draftfinder.ranges import parse_number
from draftfinder.chat.results import ChatSettings, Output, StrategyRun, Turn

STRATEGIES = ("speculative", "ngram", "target", "draft")
MAX_LENGTH = 8192             # a longer /length is most likely a typo
MAX_K = 64                    # = engine/speculative.py MAX_K (not imported: that module loads torch)
DEFAULT_K_MAX = 16            # ceiling of adaptive K (HeuristicK), raised to /gamma when /gamma is larger
WARMUP_TOKENS = 2

CACHE_NOTE = ("the KV cache is always on: draftfinder's engine (engine/speculative.py) has no cache-free path, "
              "so /cache cannot turn it off")

# name → (arguments, one-line help); the order of /help
COMMANDS: Dict[str, Tuple[str, str]] = {
    "gamma": ("N", "draft N tokens per speculative step (K), 1..64"),
    "length": ("N", "generate at most N new tokens per strategy"),
    "processor": ("NAME [ARGS]", "sampling: greedy | multinomial [T] | topk [K [T]] | nucleus [P [T]] | "
                                 "topknucleus [K [P [T]]]  (K top-k, P top-p, T temperature; omitted → kept)"),
    "seed": ("N", "seed of the sampler, the same for every strategy"),
    "speculative": ("[on|off]", "toggle speculative decoding with the drafter"),
    "ngram": ("[on|off]", "toggle n-gram assisted speculative decoding (NASD)"),
    "target": ("[on|off]", "toggle target-only generation (the baseline of the speedups)"),
    "drafter": ("[on|off]", "toggle drafter-only generation (draft models and layer-skip only)"),
    "adaptive": ("[on|off]", "toggle adaptive K: +2 after a step whose drafts were all accepted, −1 otherwise"),
    "cache": ("", "the KV cache (always on in this engine)"),
    "chat": ("[on|off]", "toggle the chat template; while on, the conversation is kept and sent each turn"),
    "clear": ("", "forget the conversation history"),
    "debug": ("[on|off]", "toggle the token view: accepted / rejected drafts, target corrections and bonuses"),
    "set_ngramstorage": ("basic|onelevel N", "n-gram storage kind and order N ≥ 2 (starts an empty storage)"),
    "top_k_filler": ("N", "n-gram: also record the target's top N tokens at each verified position"),
    "reset_in_between": ("[on|off]", "toggle clearing the n-gram storage before each prompt"),
    "settings": ("", "show every setting"),
    "help": ("", "this list and the legend of the token view"),
    "quit": ("", "leave the session (Ctrl-D too)"),
}
ALIASES = {"exit": "quit", "q": "quit", "k": "gamma", "reset": "clear", "h": "help", "?": "help"}
_ON, _OFF = ("on", "1", "true", "yes"), ("off", "0", "false", "no")


# --- helpers ------------------------------------------------------------------------------------------

def drafter_kind(drafter: Any) -> str:
    """``ngram`` | ``layerskip`` | ``model`` (anything with a ``.loaded`` model) | ``other``."""
    from draftfinder.engine.drafters import LayerSkipDrafter
    from draftfinder.engine.ngram import NGramDrafter

    if isinstance(drafter, NGramDrafter):
        return "ngram"
    if isinstance(drafter, LayerSkipDrafter):
        return "layerskip"
    return "model" if getattr(drafter, "loaded", None) is not None else "other"


def describe_sampling(cfg: SamplingConfig) -> str:
    """``greedy`` / ``topknucleus K=50 P=0.9 T=0.8``, then the seed."""
    parts = [cfg.processor]
    if cfg.processor in ("topk", "topknucleus"):
        parts.append(f"K={cfg.top_k}")
    if cfg.processor in ("nucleus", "topknucleus"):
        parts.append(f"P={cfg.top_p:g}")
    if not cfg.greedy:
        parts.append(f"T={cfg.temperature:g}")
    return " ".join(parts) + f", seed {cfg.seed}"


def _int(args: Sequence[str], usage: str, lo: int, hi: int) -> int:
    if len(args) != 1:
        raise UsageError(f"{usage} takes one number", hint=f"e.g. {usage.split()[0]} {max(lo, min(hi, 4))}")
    return parse_number(args[0], usage, kind=int, low=lo, high=hi, hint=f"give a number from {lo} to {hi}")


# /processor's numeric slots: kind and range (the same ranges validate_sampling enforces).
_SLOT_RANGES = {"top_k": dict(kind=int, low=1), "top_p": dict(low=0, high=1, low_open=True),
                "temperature": dict(low=0, low_open=True)}


def _number(text: str, what: str, kind: type) -> Any:
    return parse_number(text, f"/processor {what}", **_SLOT_RANGES.get(what, dict(kind=kind)),
                        hint="e.g. /processor topknucleus 50 0.9 0.8 (K, P, temperature)")


def parse_processor(args: Sequence[str], current: SamplingConfig) -> SamplingConfig:
    """``/processor NAME [ARGS]``: positional arguments by processor, omitted ones kept from ``current``::

        greedy                     (no arguments)
        multinomial [T]
        topk        [K [T]]
        nucleus     [P [T]]
        topknucleus [K [P [T]]]    e.g. /processor topknucleus 50 0.9 0.8
    """
    from draftfinder.engine.base import validate_sampling

    if not args:
        raise UsageError("/processor needs a name", hint=f"use one of: {', '.join(PROCESSORS)}")
    name, rest = args[0].lower(), list(args[1:])
    slots = {"greedy": (), "multinomial": ("temperature",), "topk": ("top_k", "temperature"),
             "nucleus": ("top_p", "temperature"), "topknucleus": ("top_k", "top_p", "temperature")}
    if name not in slots:
        close = difflib.get_close_matches(name, PROCESSORS, n=1)
        raise UsageError(f"/processor: unknown processor '{name}'",
                         hint=(f"did you mean {close[0]}? " if close else "") + f"use one of: {', '.join(PROCESSORS)}")
    if len(rest) > len(slots[name]):
        usage = " ".join(f"[{s}]" for s in slots[name]) or "no arguments"
        raise UsageError(f"/processor {name} takes {usage}, got {len(rest)} argument(s)",
                         hint="e.g. /processor topknucleus 50 0.9 0.8 (K, P, temperature)")
    values = {slot: _number(text, slot, int if slot == "top_k" else float) for slot, text in zip(slots[name], rest)}
    cfg = dataclasses.replace(current, processor=name, **values)
    validate_sampling(cfg)
    return cfg


def compatibility_verdict(target: Any, drafter: Any) -> Tuple[bool, str]:
    """(compatible?, one line) for the startup banner. n-gram and layer-skip drafters use the target's ids."""
    kind = drafter_kind(drafter)
    if kind == "ngram":
        return True, "same tokenizer: n-gram drafts are token ids taken from the sequence itself"
    if kind == "layerskip":
        return True, "same tokenizer: the layer-skip drafter is the target's own first layers"
    draft = getattr(drafter, "loaded", None)
    if draft is None or target.tokenizer is None or getattr(draft, "tokenizer", None) is None:
        return True, "not checked: a tokenizer is missing"
    if draft.tokenizer is target.tokenizer:
        return True, "same tokenizer object"
    from draftfinder.compat.checks import EnhancedTokenizerChecker

    res = EnhancedTokenizerChecker.verify_compatibility(target.tokenizer, draft.tokenizer, target.name, draft.name)
    if res.is_compatible:
        line = (f"compatible: {res.num_passed_tests}/{res.num_test_strings} test strings tokenize identically, "
                f"score {res.compatibility_score:.0f}/100")
        return True, line + (f"; warning: {res.warnings[0]}" if res.warnings else "")
    return False, "incompatible: " + ("; ".join(res.incompatibility_reasons[:2]) or "tokenizers differ")


# --- the session --------------------------------------------------------------------------------------

class ChatSession:
    """A loaded target and drafter, the settings, the conversation; ``handle(line) -> Output``."""

    def __init__(self, target: Any, drafter: Any, *, settings: Optional[ChatSettings] = None):
        self.target = target
        self.drafter = drafter
        self.kind = drafter_kind(drafter)
        self.settings = settings or ChatSettings()
        self.history: List[Dict[str, str]] = []
        self._nasd: Any = None
        s = self.settings
        if self.kind == "ngram":                        # the --draft spec names the storage of both n-gram runs
            s.ngram_storage, s.ngram_n = drafter.storage.kind, drafter.n
            self._apply_ngram(drafter)
        if s.ngram is None:
            s.ngram = self.kind != "ngram"
        if s.drafter and self.draft_model is None:
            s.drafter = False
        if s.chat and not self.has_template:
            s.chat = False

    # --- facts ----------------------------------------------------------------------------------------
    @property
    def has_template(self) -> bool:
        return bool(getattr(self.target.tokenizer, "chat_template", None))

    @property
    def draft_model(self) -> Any:
        """The drafter's own model (a ``LoadedModel``) for draft-only runs; None for n-gram drafters."""
        return getattr(self.drafter, "loaded", None)

    def label(self, strategy: str) -> str:
        if strategy == "speculative":
            return f"speculative ({self.drafter.name})"
        if strategy == "ngram":
            return f"n-gram ({self.nasd().name})"
        if strategy == "target":
            return "target only"
        return f"draft only ({getattr(self.drafter, 'name', 'drafter')})"

    def plan(self) -> List[str]:
        """The strategies a prompt runs now, in order."""
        s = self.settings
        on = {"speculative": s.speculative, "ngram": s.ngram, "target": s.target,
              "draft": s.drafter and self.draft_model is not None}
        return [name for name in STRATEGIES if on[name]]

    def nasd(self) -> Any:
        """The n-gram drafter of the ``ngram`` strategy (built on first use and after /set_ngramstorage)."""
        if self._nasd is None:
            from draftfinder.engine.ngram import NGramDrafter

            s = self.settings
            self._nasd = NGramDrafter(storage=s.ngram_storage, n=s.ngram_n, top_k_filler=s.top_k_filler,
                                      reset_between=s.reset_in_between)
        return self._nasd

    def token_text(self, token_id: int) -> str:
        """One token's text, special tokens included (for the token view); ``#id`` without a tokenizer."""
        tok = self.target.tokenizer
        return f"#{token_id}" if tok is None else tok.decode([int(token_id)], skip_special_tokens=False)

    def describe(self) -> Dict[str, Any]:
        """Facts for the startup banner: what was loaded and whether the pair is compatible."""
        t = self.target
        ok, verdict = compatibility_verdict(t, self.drafter)
        draft = self.draft_model
        if self.kind == "ngram":
            draft_vocab = f"the target's ({t.vocab_size})"
        elif draft is not None:
            draft_vocab = str(draft.vocab_size)
        else:
            draft_vocab = "?"
        return {
            "target": t.name, "target_class": type(t.model).__name__,
            "target_layers": getattr(t.model.config, "num_hidden_layers", None),
            "target_vocab": t.vocab_size,
            "tokenizer_size": len(t.tokenizer) if t.tokenizer is not None else None,
            "drafter": self.drafter.name, "drafter_kind": self.kind, "drafter_vocab": draft_vocab,
            "compatible": ok, "verdict": verdict,
            "chat": self.settings.chat, "has_template": self.has_template,
            "strategies": [self.label(n) for n in self.plan()],
        }

    # --- input ----------------------------------------------------------------------------------------
    def handle(self, line: str, *, should_stop: Optional[Callable[[], bool]] = None,
               progress: Optional[Callable[[str], None]] = None) -> Output:
        """Run one input line: a slash command, or a prompt through every enabled strategy."""
        text = line.strip()
        if not text:
            return Output()
        try:
            if text.startswith("/"):
                return self.command(text)
            return Output(turn=self.generate(text, should_stop=should_stop, progress=progress))
        except DraftFinderError as err:
            return Output(message=err.line("chat"), error=True)

    def command(self, text: str) -> Output:
        parts = text[1:].split()
        name = parts[0].lower() if parts else ""
        name = ALIASES.get(name, name)
        if name not in COMMANDS:
            close = difflib.get_close_matches(name, COMMANDS, n=1)
            raise UsageError(f"unknown command '{text.split()[0]}'",
                             hint=(f"did you mean /{close[0]}? " if close else "") + "/help lists the commands")
        return getattr(self, f"_cmd_{name}")(parts[1:])

    # --- commands -------------------------------------------------------------------------------------
    def _toggle(self, name: str, args: Sequence[str]) -> bool:
        current = bool(getattr(self.settings, name))
        if not args:
            return not current
        word = args[0].lower()
        if len(args) > 1 or word not in _ON + _OFF:
            raise UsageError(f"/{name} takes on, off or nothing (toggle), got '{' '.join(args)}'",
                             hint=f"e.g. /{name} off")
        return word in _ON

    def _switch(self, name: str, args: Sequence[str], what: str) -> Output:
        value = self._toggle(name, args)
        setattr(self.settings, name, value)
        msg = f"{what}: {'on' if value else 'off'}"
        if not self.plan():
            msg += " — every strategy is off now: turn one on (/speculative, /ngram, /target, /drafter)"
        return Output(message=msg)

    def _cmd_gamma(self, args):
        self.settings.gamma = _int(args, "/gamma N", 1, MAX_K)
        note = " (initial K; adaptive K is on)" if self.settings.adaptive else ""
        return Output(message=f"K (draft tokens per step) = {self.settings.gamma}{note}")

    def _cmd_length(self, args):
        self.settings.length = _int(args, "/length N", 1, MAX_LENGTH)
        return Output(message=f"length: at most {self.settings.length} new tokens per strategy")

    def _cmd_processor(self, args):
        self.settings.sampling = parse_processor(args, self.settings.sampling)
        return Output(message=f"processor: {describe_sampling(self.settings.sampling)}")

    def _cmd_seed(self, args):
        self.settings.sampling = dataclasses.replace(self.settings.sampling, seed=_int(args, "/seed N", 0, 2**63 - 1))
        return Output(message=f"seed: {self.settings.sampling.seed} (every strategy uses it)")

    def _cmd_speculative(self, args):
        return self._switch("speculative", args, f"speculative decoding ({self.drafter.name})")

    def _cmd_ngram(self, args):
        return self._switch("ngram", args, f"n-gram assisted decoding ({self.nasd().name})")

    def _cmd_target(self, args):
        return self._switch("target", args, "target-only generation")

    def _cmd_drafter(self, args):
        if self.draft_model is None:
            self._toggle("drafter", args)                      # still reject a bad argument first
            raise UsageError(f"draft-only generation is not available: the drafter {self.drafter.name} is an n-gram "
                             "lookup, it has no model to generate with",
                             hint="start chat with --draft MODEL or --draft layerskip:N for a draft-only run")
        return self._switch("drafter", args, f"drafter-only generation ({self.drafter.name})")

    def _cmd_adaptive(self, args):
        value = self._toggle("adaptive", args)
        self.settings.adaptive = value
        if value:
            k, ceiling = self.settings.gamma, max(DEFAULT_K_MAX, self.settings.gamma)
            return Output(message=f"adaptive K: on (starts at K={k}, +2 after a step whose drafts were all accepted, "
                                  f"−1 otherwise, within 1..{ceiling})")
        return Output(message=f"adaptive K: off (K={self.settings.gamma} every step)")

    def _cmd_cache(self, args):
        if args and (len(args) > 1 or args[0].lower() not in _ON + _OFF):
            raise UsageError(f"/cache takes on, off or nothing, got '{' '.join(args)}'", hint="e.g. /cache")
        return Output(message=CACHE_NOTE)

    def _cmd_chat(self, args):
        value = self._toggle("chat", args)
        if value and not self.has_template:
            raise UsageError("the target's tokenizer has no chat template", hint="prompts stay plain text (/chat off)")
        self.settings.chat = value
        if not value:
            dropped, self.history = len(self.history) // 2, []
            return Output(message="chat template: off (prompts are plain text" +
                                  (f"; {dropped} earlier turn(s) forgotten)" if dropped else ")"))
        return Output(message="chat template: on (the conversation is kept; /clear forgets it)")

    def _cmd_clear(self, args):
        dropped, self.history = len(self.history) // 2, []
        return Output(message=f"conversation cleared ({dropped} turn(s) forgotten)")

    def _cmd_debug(self, args):
        self.settings.debug = self._toggle("debug", args)
        return Output(message=f"token view: {'on' if self.settings.debug else 'off'}", legend=self.settings.debug)

    def _cmd_set_ngramstorage(self, args):
        if len(args) != 2 or args[0].lower() not in STORAGE_KINDS:
            raise UsageError("/set_ngramstorage takes a kind (basic or onelevel) and an order N",
                             hint="e.g. /set_ngramstorage onelevel 3")
        kind, n = args[0].lower(), _int(args[1:], "/set_ngramstorage KIND N", 2, 32)
        self.settings.ngram_storage, self.settings.ngram_n = kind, n
        self._nasd = None
        which = "the n-gram strategy"
        if self.kind == "ngram":
            from draftfinder.engine.ngram import NGramDrafter

            self.drafter = NGramDrafter(storage=kind, n=n, top_k_filler=self.settings.top_k_filler,
                                        reset_between=self.settings.reset_in_between)
            which += " and the speculative drafter"
        return Output(message=f"n-gram storage: {kind}, n={n}, empty (for {which})")

    def _cmd_top_k_filler(self, args):
        self.settings.top_k_filler = _int(args, "/top_k_filler N", 1, self.target.vocab_size)
        self._apply_ngram()
        return Output(message=f"top_k_filler: {self.settings.top_k_filler} (1 records the accepted tokens only)")

    def _cmd_reset_in_between(self, args):
        self.settings.reset_in_between = self._toggle("reset_in_between", args)
        self._apply_ngram()
        state = "cleared before each prompt" if self.settings.reset_in_between else "kept across prompts"
        return Output(message=f"reset_in_between: {'on' if self.settings.reset_in_between else 'off'} "
                              f"(the n-gram storage is {state})")

    def _cmd_settings(self, args):
        return Output(message=self.settings_text())

    def _cmd_help(self, args):
        return Output(message=help_text(), legend=True)

    def _cmd_quit(self, args):
        return Output(quit=True)

    def _apply_ngram(self, *drafters: Any) -> None:
        """Copy top_k_filler and reset_in_between to the n-gram drafters (they read them on every run)."""
        targets = list(drafters) or [d for d in (self._nasd, self.drafter if self.kind == "ngram" else None) if d]
        for d in targets:
            d.top_k_filler = self.settings.top_k_filler
            d.reset_between = self.settings.reset_in_between

    def settings_text(self) -> str:
        s = self.settings
        onoff = lambda v: "on" if v else "off"          # noqa: E731
        chat = (f"{onoff(s.chat)}, {len(self.history) // 2} turn(s) in the conversation" if self.has_template
                else "off (the target's tokenizer has no chat template)")
        rows = [
            ("gamma (K)", f"{s.gamma}" + (" initial" if s.adaptive else "")),
            ("adaptive K", onoff(s.adaptive) + (f" (1..{max(DEFAULT_K_MAX, s.gamma)})" if s.adaptive else "")),
            ("length", f"{s.length} new tokens at most"),
            ("processor", describe_sampling(s.sampling)),
            ("speculative", f"{onoff(s.speculative)} ({self.drafter.name})"),
            ("ngram", f"{onoff(s.ngram)} (ngram:{s.ngram_storage}:{s.ngram_n})"),
            ("target", onoff(s.target)),
            ("drafter", onoff(s.drafter) if self.draft_model is not None else "n/a (an n-gram drafter has no model)"),
            ("cache", "on (always: the engine has no cache-free path)"),
            ("chat", chat),
            ("debug", onoff(s.debug)),
            ("ngram storage", f"{s.ngram_storage}, n={s.ngram_n}"),
            ("top_k_filler", str(s.top_k_filler)),
            ("reset_in_between", onoff(s.reset_in_between)),
        ]
        width = max(len(name) for name, _ in rows) + 2
        return "\n".join(f"{name:<{width}}{value}" for name, value in rows)

    # --- generation -----------------------------------------------------------------------------------
    def encode(self, prompt: str) -> List[int]:
        """Prompt ids: through the chat template with the conversation so far when chat is on, else plain."""
        tok = self.target.tokenizer
        if tok is None:
            raise UsageError(f"'{self.target.name}' has no tokenizer", hint="load a model whose files include one")
        if self.settings.chat:
            messages = self.history + [{"role": "user", "content": prompt}]
            text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            ids = tok(text, add_special_tokens=False)["input_ids"]
        else:
            ids = tok(prompt)["input_ids"]
        if not ids:
            raise UsageError("the prompt tokenized to nothing", hint="type a longer prompt")
        return [int(i) for i in ids]

    def generate(self, prompt: str, *, should_stop: Optional[Callable[[], bool]] = None,
                 progress: Optional[Callable[[str], None]] = None) -> Turn:
        """Run ``prompt`` through every enabled strategy; ``should_stop()`` True cancels (polled between steps)."""
        plan = self.plan()
        if not plan:
            raise UsageError("every strategy is off", hint="turn one on: /speculative, /ngram, /target or /drafter")
        s = self.settings
        ids = self.encode(prompt)
        turn = Turn(prompt=prompt, prompt_token_ids=ids, chat=s.chat, earlier_turns=len(self.history) // 2,
                    sampling=dataclasses.replace(s.sampling), max_new_tokens=s.length, debug=s.debug)
        for strategy in plan:
            if should_stop is not None and should_stop():
                turn.cancelled = True
                break
            label = self.label(strategy)
            if progress is not None:
                progress(label)
            run = self._run(strategy, label, ids, turn.sampling, should_stop)
            turn.runs.append(run)
            if run.cancelled:
                turn.cancelled = True
                break
        if s.chat and not turn.cancelled and turn.reference is not None:
            self.history += [{"role": "user", "content": prompt},
                             {"role": "assistant", "content": turn.reference.result.text}]
        return turn

    def _run(self, strategy: str, label: str, ids: List[int], sampling: SamplingConfig,
             should_stop: Optional[Callable[[], bool]]) -> StrategyRun:
        from draftfinder.engine.adaptive import HeuristicK
        from draftfinder.engine.speculative import autoregressive_generate, speculative_generate

        s = self.settings
        model = self.draft_model if strategy == "draft" else self.target
        if strategy in ("speculative", "ngram"):
            drafter = self.drafter if strategy == "speculative" else self.nasd()
            adaptive = HeuristicK(k_min=1, k_max=max(DEFAULT_K_MAX, s.gamma)) if s.adaptive else None
            result = speculative_generate(self.target, drafter, ids, max_new_tokens=s.length, sampling=sampling,
                                          k=s.gamma, adaptive=adaptive, trace=True, should_stop=should_stop)
            result.strategy = strategy
            run = StrategyRun(strategy, label, result, k=s.gamma, adaptive=s.adaptive)
        else:
            result = autoregressive_generate(model, ids, max_new_tokens=s.length, sampling=sampling,
                                             should_stop=should_stop, strategy=strategy)
            run = StrategyRun(strategy, label, result)
        out = result.token_ids
        finished = len(out) >= s.length or (out and out[-1] in set(model.eos_token_ids))
        run.cancelled = bool(should_stop is not None and should_stop() and not finished)
        return run

    def warm_up(self) -> None:
        """Untimed 2-token runs of every model, so the first prompt's timings exclude first-call costs."""
        from draftfinder.engine.ngram import NGramDrafter
        from draftfinder.engine.speculative import autoregressive_generate, speculative_generate

        tok = self.target.tokenizer
        ids = (list(tok("Hello")["input_ids"]) if tok is not None else []) or [0]
        greedy = SamplingConfig()
        drafter = NGramDrafter() if self.kind == "ngram" else self.drafter     # keeps a kept n-gram storage clean
        speculative_generate(self.target, drafter, ids, max_new_tokens=WARMUP_TOKENS, sampling=greedy, k=2)
        autoregressive_generate(self.target, ids, max_new_tokens=WARMUP_TOKENS, sampling=greedy)
        if self.draft_model is not None:
            autoregressive_generate(self.draft_model, ids, max_new_tokens=WARMUP_TOKENS, sampling=greedy)


def help_text() -> str:
    """The command list of /help (the legend of the token view is added by the renderer)."""
    width = max(len(f"/{n} {a}".rstrip()) for n, (a, _) in COMMANDS.items()) + 2
    lines = ["commands (tab completes them; ↑/↓ recall earlier lines):"]
    lines += [f"  {f'/{n} {a}'.rstrip():<{width}}{h}" for n, (a, h) in COMMANDS.items()]
    lines.append("anything else is a prompt: it runs through every enabled strategy with the same seed.")
    lines.append("Ctrl-C cancels a running generation; Ctrl-D or /quit leaves.")
    return "\n".join(lines)


def completions(buffer: str) -> List[str]:
    """Candidates for the last word of ``buffer`` (the line typed so far), for tab completion."""
    words = buffer.split()
    ends_word = bool(buffer) and not buffer[-1].isspace()
    current = words[-1] if ends_word and words else ""
    before = words[:-1] if ends_word else words
    if not before:
        if not current.startswith("/") and current:
            return []
        return [f"/{n}" for n in COMMANDS if f"/{n}".startswith(current or "/")]
    name = ALIASES.get(before[0][1:].lower(), before[0][1:].lower()) if before[0].startswith("/") else ""
    if len(before) != 1 or name not in COMMANDS:
        return []
    if name == "processor":
        options: Sequence[str] = PROCESSORS
    elif name == "set_ngramstorage":
        options = STORAGE_KINDS
    elif COMMANDS[name][0] == "[on|off]":
        options = ("on", "off")
    else:
        return []
    return [o for o in options if o.startswith(current)]


__all__ = ["ChatSession", "ChatSettings", "Output", "Turn", "StrategyRun", "COMMANDS", "completions", "help_text",
           "parse_processor", "describe_sampling", "compatibility_verdict", "drafter_kind", "CACHE_NOTE"]
