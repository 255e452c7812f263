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
    Variant("no-add-bos-key", "add_bos_token key removed (pre-tokenizer smollm: llama.cpp's BPE default, no BOS)",
            metadata={"tokenizer.ggml.add_bos_token": ("BOOL", None)}),
    Variant("llama-bpe-no-add-bos-key", "add_bos_token key removed, pre-tokenizer smollm → llama-bpe (llama.cpp's "
            "default for Llama-3-style files: BOS added)",
            metadata={"tokenizer.ggml.add_bos_token": ("BOOL", None), "tokenizer.ggml.pre": ("STRING", "llama-bpe")}),
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


# --- transformers ---------------------------------------------------------------------------------------
#
# Each case: real tokenizers (fixture files, or fixture files altered in a temporary folder) and tiny
# random-weight models built from the fixtures' real configs, shrunk to 2 layers × 32 wide but keeping
# ``vocab_size`` (the fact transformers decides by). Two calls per case, greedy, 8 new tokens:
#
#   plain  generate(**inputs, assistant_model=draft)
#   uad    generate(**inputs, assistant_model=draft, tokenizer=target_tok, assistant_tokenizer=draft_tok)
#
# Each call ``errors`` (the ValueError of _validate_generation_mode), ``drafts`` (the candidate generator
# proposed tokens that mean to the target what the draft meant), or ``misreads`` (the generator passed the
# draft's ids to the target unchanged, and those ids spell other text in the target's tokenizer — checked
# on the ids the draft really proposed). The observation is "plain/uad".

HF_PREDICTS = {"same-tokenizer": "drafts/errors", "universal-assisted-decoding": "errors/drafts",
               "rejected": "misreads/errors"}


@dataclass(frozen=True)
class HFCase:
    """A transformers case: fixture names of the two sides and how the draft's files are altered."""

    name: str
    description: str
    target: str
    draft: str
    alter: str = ""                       # "" | "swap-ids" | "add-200"


HF_CASES: List[HFCase] = [
    HFCase("same-tokenizer", "gpt2 → distilgpt2 (identical tokenizer files, vocab_size 50257 both)",
           "gpt2", "distilgpt2"),
    HFCase("padded-vocab", "Qwen2.5-7B → Qwen2.5-0.5B (identical tokenizer, vocab_size 152064 vs 151936)",
           "Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-0.5B"),
    HFCase("other-family", "gpt2 → Qwen2.5-0.5B (other tokenizer, other vocab_size)", "gpt2", "Qwen/Qwen2.5-0.5B"),
    HFCase("same-size-other-vocab", "Llama-2-7b → Mistral-7B-v0.1 (other tokenizer, vocab_size 32000 both)",
           "meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1"),
    HFCase("swapped-ids", "gpt2 → gpt2 tokenizer with ids 1000/1001 swapped (altered, vocab_size 50257 both)",
           "gpt2", "gpt2", alter="swap-ids"),
    HFCase("added-200", "gpt2 → gpt2 tokenizer + 200 added tokens, draft vocab_size 50457 (altered)",
           "gpt2", "gpt2", alter="add-200"),
]


def _fixture_folder(name: str) -> Path:
    from tests.conftest import fixture_dir

    return fixture_dir(name)


def _altered_folder(case: HFCase, root: Path) -> Path:
    """The draft's tokenizer + config files, altered as the case says, in a folder of their own."""
    import json
    import shutil

    src = _fixture_folder(case.draft)
    dst = root / f"{case.name}-draft"
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    config = json.loads((dst / "config.json").read_text())
    if case.alter == "swap-ids":                      # merges name token strings, so swapping two ids keeps
        vocab = json.loads((dst / "vocab.json").read_text(encoding="utf-8"))    # the tokenizer valid
        by_id = {i: t for t, i in vocab.items()}
        a, b = by_id[1000], by_id[1001]
        vocab[a], vocab[b] = 1001, 1000
        (dst / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    elif case.alter == "add-200":
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(dst))
        tok.add_tokens([f"<extra_token_{i}>" for i in range(200)])
        tok.save_pretrained(str(dst))
        config["vocab_size"] = len(tok)
    (dst / "config.json").write_text(json.dumps(config))
    return dst


def _record(model_id: str, folder: Path):
    import json

    from draftfinder.models.sources.base import ModelRecord

    return ModelRecord(model_id=model_id, source="local", local_dir=folder,
                       config=json.loads((folder / "config.json").read_text()))


def tiny_model(config: Dict[str, Any], seed: int):
    """A 2-layer, 32-wide random model of the config's architecture and real ``vocab_size`` (init 0.3, as
    ``tests/enginekit.py``: peaked next-token distributions)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    shrink = {"num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4,
              "num_key_value_heads": 2, "head_dim": 8, "n_layer": 2, "n_embd": 32, "n_head": 4, "n_inner": 64,
              "initializer_range": 0.3, "max_position_embeddings": 256, "n_positions": 256,
              "bos_token_id": None, "eos_token_id": None, "pad_token_id": None, "sliding_window": None}
    data = dict(config)
    model_type = data.pop("model_type")
    keep = {k: v for k, v in shrink.items() if k in data or model_type == "gpt2" and k.startswith("n_")
            or k in ("initializer_range", "bos_token_id", "eos_token_id", "pad_token_id", "num_hidden_layers",
                     "hidden_size", "num_attention_heads")}
    data.update(keep)
    data.pop("torch_dtype", None)
    data.pop("dtype", None)
    cfg = AutoConfig.for_model(model_type, **data)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg)
    model.eval().requires_grad_(False)
    gc = model.generation_config
    gc.eos_token_id = gc.pad_token_id = gc.bos_token_id = None
    return model


class _Spy:
    """Records the candidate generator transformers chose and the ids it proposed (wraps, changes nothing)."""

    def __init__(self) -> None:
        self.generator: Optional[str] = None
        self.proposed: List[List[int]] = []

    def __enter__(self) -> "_Spy":
        from transformers.generation.utils import GenerationMixin

        self._orig = GenerationMixin._get_candidate_generator
        spy = self

        def wrapped(model, *args, **kwargs):
            gen = spy._orig(model, *args, **kwargs)
            spy.generator = type(gen).__name__
            inner = gen.get_candidates

            def get_candidates(input_ids, **kw):
                out = inner(input_ids, **kw)
                spy.proposed.append([int(i) for i in out[0][0, input_ids.shape[1]:]])
                return out

            gen.get_candidates = get_candidates
            return gen

        GenerationMixin._get_candidate_generator = wrapped
        return self

    def __exit__(self, *exc: Any) -> None:
        from transformers.generation.utils import GenerationMixin

        GenerationMixin._get_candidate_generator = self._orig


def _hf_call(target, draft, inputs, extra: Dict[str, Any], t_tok, d_tok, expected) -> Observation:
    import torch

    with _Spy() as spy, torch.no_grad():
        try:
            out = target.generate(**inputs, assistant_model=draft, max_new_tokens=8, do_sample=False, **extra)
        except ValueError as e:
            return Observation("errors", detail=str(e).split(" (see ")[0][:300])
    proposed = [i for step in spy.proposed for i in step]
    same_output = out[0].tolist() == expected
    detail = f"{spy.generator}: {len(proposed)} tokens proposed; output {'=' if same_output else '≠'} target alone"
    if spy.generator == "AssistedCandidateGenerator" and proposed:
        # the draft's ids go to the target unchanged: do they spell the same tokens in both tokenizers? First
        # on the ids the draft proposed, then on every id both vocabularies have (a random tiny draft need not
        # have proposed the one id that differs)
        as_draft, as_target = d_tok.convert_ids_to_tokens(proposed), t_tok.convert_ids_to_tokens(proposed)
        if as_draft != as_target:
            differ = sum(a != b for a, b in zip(as_draft, as_target))
            return Observation("misreads", len(proposed), detail=f"{detail}; {differ} of the proposed ids spell "
                               f"other tokens for the target (e.g. draft {as_draft[0]!r} = target {as_target[0]!r})")
        shared = list(range(min(len(t_tok), len(d_tok))))
        differ_ids = [i for i, a, b in zip(shared, d_tok.convert_ids_to_tokens(shared),
                                           t_tok.convert_ids_to_tokens(shared)) if a != b]
        if differ_ids:
            i = differ_ids[0]
            return Observation("misreads", len(proposed), detail=f"{detail}; ids passed unchanged, and "
                               f"{len(differ_ids)} shared ids spell other tokens for the target (e.g. id {i}: draft "
                               f"{d_tok.convert_ids_to_tokens(i)!r} = target {t_tok.convert_ids_to_tokens(i)!r})")
    outcome = "drafts" if proposed else "errors"
    return Observation(outcome, len(proposed), detail=detail if proposed else f"{detail}: nothing drafted")


def hf_row(case: HFCase, root: Path) -> MatrixRow:
    """Predict with ``transformers_verdict`` from the two sides' files, then run both calls."""
    import torch

    from draftfinder.compat import facts as vocab
    from draftfinder.compat import tokenizer as loading
    from draftfinder.compat.engine_rules import transformers_verdict

    t_rec = _record(case.target, _fixture_folder(case.target))
    d_folder = _altered_folder(case, root) if case.alter else _fixture_folder(case.draft)
    d_rec = _record(f"{case.draft} ({case.alter})" if case.alter else case.draft, d_folder)
    t_tok, d_tok = loading.load_tokenizer(t_rec), loading.load_tokenizer(d_rec)
    verdict = transformers_verdict(vocab.facts_from_tokenizer(t_tok), vocab.facts_from_tokenizer(d_tok),
                                   t_rec.config, d_rec.config)
    predicted = HF_PREDICTS.get(verdict.mode, f"no prediction ({verdict.mode})")

    target, draft = tiny_model(t_rec.config, seed=0), tiny_model(d_rec.config, seed=1)
    inputs = t_tok("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        expected = target.generate(**inputs, max_new_tokens=8, do_sample=False)[0].tolist()
    plain = _hf_call(target, draft, inputs, {}, t_tok, d_tok, expected)
    uad = _hf_call(target, draft, inputs, {"tokenizer": t_tok, "assistant_tokenizer": d_tok}, t_tok, d_tok, expected)
    observed = Observation(f"{plain.outcome}/{uad.outcome}", detail=f"plain: {plain.detail} | uad: {uad.detail}")
    return MatrixRow("transformers", case.name, case.description, verdict.mode, predicted, observed,
                     reason=verdict.reasons[0], extra={"plain": plain.to_dict(), "uad": uad.to_dict()})
