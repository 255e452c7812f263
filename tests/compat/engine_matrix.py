"""The engine matrix: crafted target/draft pairs, what our verdict predicts for each, and what the engine does.

Used by ``tests/compat/test_engine_matrix.py`` (which asserts prediction == observation, case by case) and by
``bench/engine_matrix.py`` (which writes the observations to ``bench/results/engine_matrix.json`` for the
README table "Verdicts checked against the engines"). Nothing here decides a verdict: predictions come from
:mod:`draftfinder.compat.engine_rules` on the facts of the real files, observations from the real engines.

**llama.cpp** (:data:`LLAMA_CASES`): the target is the zoo SmolLM2-135M-Instruct GGUF, each draft a variant of
that same file (:mod:`tests.compat.gguf_variants`: same weights, one tokenizer fact changed). One
``llama-server`` per case, bound to 127.0.0.1 and stopped in ``finally`` (:func:`observe_llama`), with
``--spec-type draft-simple`` and greedy decoding of 12 tokens. Outcomes:

- ``drafts``  — the final chunk's ``timings`` has ``draft_n`` > 0;
- ``refuses`` — the server serves the target alone: no ``draft_n``, and its log says "the target and draft
  vocabs are not compatible" (``common_speculative_are_compatible`` returned false, draft-simple threw);
- ``errors``  — the server did not start or the request failed.

A verdict predicts ``drafts`` for mode ``shared-vocab``, ``refuses`` for ``refused`` (anything else predicts
nothing and fails the case).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from tests.compat.gguf_variants import Variant, write_variant

SMOLLM2_BOS, SMOLLM2_EOS = 1, 2            # tokenizer.ggml.bos_token_id / eos_token_id of the zoo file

LLAMA_CASES: List[Variant] = [
    Variant("copy", "byte-identical copy of the target"),
    Variant("eos-id", "EOS id 2 → 0 (neither side adds EOS)",
            metadata={"tokenizer.ggml.eos_token_id": ("UINT32", 0)}),
    Variant("eos-id-added", "EOS id 2 → 0 and add_eos_token true",
            metadata={"tokenizer.ggml.eos_token_id": ("UINT32", 0), "tokenizer.ggml.add_eos_token": ("BOOL", True)}),
    Variant("bos-id", "BOS id 1 → 0 (neither side adds BOS)",
            metadata={"tokenizer.ggml.bos_token_id": ("UINT32", 0)}),
    Variant("add-bos", "add_bos_token false → true",
            metadata={"tokenizer.ggml.add_bos_token": ("BOOL", True)}),
    Variant("token-3", "text of id 3 changed (below SPEC_VOCAB_CHECK_START_TOKEN_ID = 5)",
            token_text={3: "<repo_name_renamed>"}),
    Variant("token-7", "text of id 7 changed (<gh_stars> → <gh_stars_renamed>)",
            token_text={7: "<gh_stars_renamed>"}),
    Variant("extra-128", "128 extra tokens (and embedding rows)", extra_tokens=128),
    Variant("extra-129", "129 extra tokens (and embedding rows)", extra_tokens=129),
    Variant("extra-200", "200 extra tokens (and embedding rows)", extra_tokens=200),
    Variant("vocab-type", "tokenizer.ggml.model gpt2 → llama (BPE → SPM)",
            metadata={"tokenizer.ggml.model": ("STRING", "llama")}),
]

PREDICTS = {"shared-vocab": "drafts", "refused": "refuses"}
NOT_COMPATIBLE = "the target and draft vocabs are not compatible"
SPEC_LOG = re.compile(r"spec .*?: (.*must match target model.*)$")


@dataclass
class Observation:
    """What one engine did with one pair."""

    outcome: str                                   # drafts | refuses | errors
    drafted: Optional[int] = None                  # tokens drafted (llama-server timings draft_n)
    accepted: Optional[int] = None
    detail: str = ""                               # the engine's own words (log line / exception)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class MatrixRow:
    """One case: the crafted pair, our verdict's prediction and the engine's behaviour."""

    engine: str
    case: str
    description: str
    mode: str                                      # our verdict's mode
    predicted: str
    observed: Observation
    reason: str = ""                               # our verdict's first reason
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def agrees(self) -> bool:
        return self.predicted == self.observed.outcome

    def to_dict(self) -> Dict[str, Any]:
        return {"engine": self.engine, "case": self.case, "description": self.description, "mode": self.mode,
                "predicted": self.predicted, "observed": self.observed.to_dict(), "agrees": self.agrees,
                "reason": self.reason, **self.extra}


# --- llama.cpp ----------------------------------------------------------------------------------------

def variant_path(src: Path, variant: Variant, cache: Path) -> Path:
    """The variant's file under ``cache``, written once (keyed by the source file and the variant's spec)."""
    stat = src.stat()
    key = hashlib.sha256(repr((src.name, stat.st_size, variant.metadata, sorted(variant.token_text.items()),
                               variant.extra_tokens, _writer_version())).encode()).hexdigest()[:16]
    path = cache / f"{src.stem}.{variant.name}.{key}.gguf"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial")
        write_variant(src, tmp, variant)
        os.replace(tmp, path)
    return path


def _writer_version() -> str:
    """Hash of the variant writer's source: a changed writer makes new files."""
    return hashlib.sha256(Path(__file__).with_name("gguf_variants.py").read_bytes()).hexdigest()[:12]


def gguf_facts(path: Path):
    """Tokenizer facts of a GGUF file, loaded the way ``draftfinder find`` loads a local .gguf candidate."""
    from draftfinder.compat import facts as vocab
    from draftfinder.compat import tokenizer as loading
    from draftfinder.models.sources.base import ModelRecord

    return vocab.facts_from_tokenizer(loading.load_tokenizer(ModelRecord(model_id=path.name, source="gguf",
                                                                         gguf_path=path)))


def predict_llama(target: Path, draft: Path):
    """``(verdict, predicted outcome)`` of llama.cpp for the pair (GGUF files: n_vocab is the token count)."""
    from draftfinder.compat.engine_rules import llama_cpp_verdict

    verdict = llama_cpp_verdict(gguf_facts(target), gguf_facts(draft), None, None)
    return verdict, PREDICTS.get(verdict.mode, f"no prediction ({verdict.mode})")


def observe_llama(binary: Any, target: Path, draft: Path, *, n_predict: int = 12, timeout_s: float = 180.0
                  ) -> Observation:
    """Run ``llama-server -m target -md draft --spec-type draft-simple`` on 127.0.0.1 and classify what it did.

    The server is stopped before this returns, whatever happens (``start_server`` stops a server that fails to
    start; ``close`` in ``finally`` stops the one that did)."""
    from draftfinder.errors import DraftFinderError
    from draftfinder.sweep.backends.llamacpp import start_server

    f = binary.flags

    def argv(port: int) -> List[str]:
        out = [binary.path, f.get("model"), str(target), f.get("model_draft"), str(draft),
               f.get("spec_type"), "draft-simple", f.get("draft_max"), "4"]
        if f.has("draft_min"):
            out += [f.get("draft_min"), "0"]
        if f.has("draft_p_min"):
            out += [f.get("draft_p_min"), "0"]
        out += [f.get("parallel"), "1", f.get("ctx_size"), "512", f.get("host"), "127.0.0.1",
                f.get("port"), str(port), f.get("threads"), "1"]
        if f.has("no_webui"):
            out.append(f.get("no_webui"))
        return out

    try:
        session = start_server(argv, timeout_s=timeout_s)
    except DraftFinderError as e:
        return Observation("errors", detail=str(e)[:400])
    try:
        try:
            final = session.complete({"prompt": "The capital of France is", "n_predict": n_predict,
                                      "temperature": 0.0, "top_k": 1, "cache_prompt": False})
        except DraftFinderError as e:
            return Observation("errors", detail=str(e)[:400])
        log = session.log_path.read_text(encoding="utf-8", errors="replace")
    finally:
        session.close()
    timings = final.get("timings") or {}
    why = [m.group(1).strip() for m in map(SPEC_LOG.search, log.splitlines()) if m]
    if int(timings.get("draft_n") or 0) > 0:
        return Observation("drafts", int(timings["draft_n"]), int(timings.get("draft_n_accepted") or 0),
                           detail=f"draft_n {timings['draft_n']}, accepted {timings.get('draft_n_accepted')}")
    if NOT_COMPATIBLE in log:
        return Observation("refuses", detail="; ".join(why + [NOT_COMPATIBLE]))
    return Observation("errors", detail=f"no draft_n and no refusal in the log (timings {timings})")


def llama_row(binary: Any, target: Path, variant: Variant, cache: Path) -> MatrixRow:
    draft = variant_path(target, variant, cache)
    verdict, predicted = predict_llama(target, draft)
    observed = observe_llama(binary, target, draft)
    failed = [c.name for c in verdict.checks if c.required and not c.passed]
    return MatrixRow("llama.cpp", variant.name, variant.description, verdict.mode, predicted, observed,
                     reason=verdict.reasons[0], extra={"failed_checks": failed})
