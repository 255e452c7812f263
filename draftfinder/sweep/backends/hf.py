"""``hf`` backend: transformers' own assisted generation (``model.generate``), in this process.

Per draft type (transformers ``GenerationConfig`` names):

- ``model``: ``assistant_model=<draft>``, ``num_assistant_tokens=K``, ``num_assistant_tokens_schedule="constant"``
  (K fixed, as swept; ``"adaptive": true`` selects transformers' default +2/−1 ``"heuristic"`` schedule). When the draft's tokenizer
  differs from the target's, ``tokenizer`` and ``assistant_tokenizer`` are passed too (Universal Assisted
  Decoding);
- ``ngram``: ``prompt_lookup_num_tokens=K`` (transformers matches n-grams of size ≤ ``max_matching_ngram_size``,
  default 2; the entry's ``n`` − 1 is passed as that size);
- ``layerskip``: ``assistant_early_exit=layers`` (needs a model trained for early exit to draft well).

Timing: a streamer records when the first new token arrives (``ttft_s``); ``tps`` = tokens / (total − ttft)
(transformers does not report its prefill time). transformers does not expose how many drafted tokens were
accepted: ``drafted``/``accepted`` stay None (acceptance "not exposed").
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

from draftfinder.measure.prompts import Prompt, encode_prompt
from draftfinder.sweep.config import Entry, Settings
from draftfinder.sweep.backends.base import Generation, InProcessBackend, decode_tps


class _FirstTokenClock:
    """A transformers streamer (``put``/``end``) that notes the time of the first new-token ``put``."""

    def __init__(self) -> None:
        self.calls = 0
        self.first: Optional[float] = None
        self.clock: Any = time.perf_counter                # device.timer of the model's device

    def put(self, value: Any) -> None:
        self.calls += 1
        if self.calls == 2 and self.first is None:       # call 1 is the prompt
            self.first = self.clock()

    def end(self) -> None:
        pass


class HFSession:
    def __init__(self, target: Any, extra: Dict[str, Any], command: List[str]):
        self.target, self.extra, self.command = target, extra, command

    def generate(self, prompt: Prompt, settings: Settings) -> Generation:
        import torch

        from draftfinder.engine.device import timer

        ids = encode_prompt(self.target.tokenizer, prompt)
        eos = self.target.eos_token_ids
        device = self.target.device
        inp = torch.tensor([ids], dtype=torch.long, device=device)
        sample = settings.temperature > 0
        kw: Dict[str, Any] = dict(max_new_tokens=settings.max_tokens, do_sample=sample,
                                  eos_token_id=eos or None, pad_token_id=(eos[0] if eos else None))
        if sample:
            kw.update(temperature=settings.temperature, top_k=0, top_p=1.0)
            torch.manual_seed(settings.seed)
        clock = _FirstTokenClock()
        clock.clock = now = timer(device)
        t0 = now()
        with torch.inference_mode():
            out = self.target.model.generate(input_ids=inp, attention_mask=torch.ones_like(inp), streamer=clock,
                                             **kw, **self.extra)
        total = now() - t0
        new = out[0, len(ids):].tolist()
        ttft = (clock.first - t0) if clock.first else None
        tps, source = decode_tps(len(new), total, None, ttft)
        return Generation(tokens=len(new), total_s=total, tps=tps, tps_source=source, ttft_s=ttft,
                          prompt_tokens=len(ids), text=self.target.decode(new), token_ids=new)

    def close(self) -> None:
        self.extra = {}


class HFBackend(InProcessBackend):
    name = "hf"

    def open(self, target: Entry, draft: Optional[Entry], k: Optional[int], settings: Settings) -> HFSession:
        from draftfinder.engine.loading import load_model

        tgt = load_model(str(target.path), **self.load_kwargs())
        extra: Dict[str, Any] = {}
        if draft is not None:
            k = int(k or 4)
            schedule = "heuristic" if draft.adaptive else "constant"
            if draft.type == "ngram":
                extra = {"prompt_lookup_num_tokens": k, "max_matching_ngram_size": max(1, draft.n - 1)}
            elif draft.type == "layerskip":
                extra = {"assistant_early_exit": int(draft.layers), "num_assistant_tokens": k,
                         "num_assistant_tokens_schedule": schedule}
            else:
                dm = load_model(str(draft.path), dtype=self.place.dtype, device=str(tgt.device))
                extra = {"assistant_model": dm.model, "num_assistant_tokens": k,
                         "num_assistant_tokens_schedule": schedule, "assistant_confidence_threshold": 0.0}
                if dm.vocab_size != tgt.vocab_size or dm.tokenizer.get_vocab() != tgt.tokenizer.get_vocab():
                    extra.update(tokenizer=tgt.tokenizer, assistant_tokenizer=dm.tokenizer)
        shown = {k2: (v if isinstance(v, (int, float, str)) else f"<{draft.path}>") for k2, v in extra.items()
                 if k2 not in ("tokenizer", "assistant_tokenizer")}
        command = [f"model.generate(target={target.path!r}, " + ", ".join(f"{a}={b!r}" for a, b in shown.items()) + ")"]
        return HFSession(tgt, extra, command)
