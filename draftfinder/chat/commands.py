"""``draftfinder chat``'s slash commands: the table /help prints, their parsing, tab completion, and
the :class:`SlashCommands` mixin whose ``_cmd_NAME`` methods change a :class:`~draftfinder.chat.session.ChatSession`'s
settings. Bad input raises :class:`~draftfinder.errors.UsageError`; the session turns it into an error line."""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Dict, List, Sequence, Tuple

from draftfinder.chat.results import Output
from draftfinder.engine.base import MAX_K, PROCESSORS, SamplingConfig
from draftfinder.engine.ngram import STORAGE_KINDS
from draftfinder.errors import UsageError
from draftfinder.ranges import parse_number

MAX_LENGTH = 8192             # a longer /length is most likely a typo
DEFAULT_K_MAX = 16            # ceiling of adaptive K (HeuristicK), raised to /gamma when /gamma is larger

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



class SlashCommands:
    """The ``/NAME`` commands of a chat session (mixed into ``ChatSession``, whose settings they change)."""

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
