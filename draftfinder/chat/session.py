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
from typing import Any, Callable, Dict, List, Optional, Tuple

from draftfinder.engine.base import SamplingConfig
from draftfinder.errors import DraftFinderError, UsageError
from draftfinder.chat.commands import DEFAULT_K_MAX, SlashCommands
from draftfinder.chat.results import ChatSettings, Output, StrategyRun, Turn

STRATEGIES = ("speculative", "ngram", "target", "draft")
WARMUP_TOKENS = 2

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

class ChatSession(SlashCommands):
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
