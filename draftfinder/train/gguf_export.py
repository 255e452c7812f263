"""An independent draft (an HF folder of the target's architecture) → a GGUF that llama-server takes as ``-md``.

:func:`export_gguf` writes the draft's weights with the ``gguf`` library the way llama.cpp's own converter does,
and takes the vocabulary from the *target's* GGUF, so llama.cpp's draft-vs-target checks
(``common_speculative_are_compatible``: vocab type, add_bos/add_eos and their ids, n_vocab, token text from id 5;
:mod:`draftfinder.compat.engine_rules`) see the same vocabulary on both sides.

The rules, from llama.cpp's converter (``convert_hf_to_gguf.py``, split into ``conversion/`` — read at
ggml-org/llama.cpp@7bca1fd ``conversion/llama.py`` and @2bbcf7f ``conversion/base.py``, ``conversion/gemma.py``):

- **metadata** (``TextModel.set_gguf_parameters``): ``<arch>.block_count`` = the draft's ``num_hidden_layers``,
  ``context_length`` (``max_position_embeddings``), ``embedding_length`` (``hidden_size``), ``feed_forward_length``
  (``intermediate_size``), ``attention.head_count`` / ``head_count_kv``, ``rope.freq_base`` (``rope_theta``, in
  transformers 5 under ``rope_parameters``), ``attention.layer_norm_rms_epsilon``, ``attention.key_length`` /
  ``value_length`` when ``head_dim`` is given, ``general.file_type``, ``general.quantization_version``.
  llama adds ``vocab_size`` and ``rope.dimension_count`` (= ``head_dim``, else hidden / heads) and a linear
  rope scaling (``LlamaModel.set_gguf_parameters``); gemma3 adds ``attention.sliding_window`` and takes the
  defaults of ``Gemma3Model.set_gguf_parameters``.
- **tensor names**: gguf-py's ``TensorNameMap`` for the architecture (``map_tensor_name``); ``rotary_emb.inv_freq``
  is dropped; a tied ``lm_head`` is not written (llama.cpp uses ``token_embd`` when ``output.weight`` is absent,
  as in the zoo SmolLM2 file), an untied one becomes ``output.weight``; gemma3 never writes ``lm_head``.
- **llama q/k permutation** (``LlamaModel.permute``): HF stores the rotary halves of each head as
  ``[x_0..x_{d/2-1} | x_{d/2}..x_{d-1}]``, llama.cpp's ``llama`` graph rotates interleaved pairs, so the rows of
  ``q_proj`` (``n_head`` heads) and ``k_proj`` (``n_head_kv`` heads) are reordered:
  ``w.reshape(n, 2, rows // n // 2, cols).swapaxes(1, 2).reshape(rows, cols)``.
- **gemma3 norms** (``Gemma3Model.modify_tensors``): ``Gemma3RMSNorm`` computes ``x̂ · (1 + w)``, llama.cpp
  ``x̂ · w``, so every ``*norm.weight`` gets ``+ 1``; no q/k permutation (NeoX-style rope in llama.cpp).
- **types** (``ModelBase.prepare_tensors``): 1-D tensors and ``*_norm.weight`` are F32; the others take the
  file type (``f32`` / ``f16`` / ``q8_0``); a tensor Q8_0 cannot hold (a row not a multiple of 32) falls back
  to F16, as there.
- **vocabulary**: every ``tokenizer.*`` key of the target GGUF, value and type as stored (tokens, types, merges,
  pre-tokenizer, BOS/EOS/PAD ids, add_bos/add_eos, chat template). The draft's ``vocab_size`` must equal the
  target's token count: ``token_embd`` has one row per token.

The file is written through :func:`draftfinder.writer.write_produced` (a temporary file beside ``out_path``,
renamed at the end) and, before the rename, checked the way ``draftfinder find`` checks a GGUF pair
(:func:`~draftfinder.compat.engine_rules.llama_cpp_verdict` on both files' tokenizer facts): a file llama.cpp
would refuse as a draft never reaches ``out_path``.

:func:`measure_llama_server_pair` times the target GGUF alone and with the draft in llama-server
(``--spec-type draft-simple``), through the sweep's own cell loop (:func:`draftfinder.sweep.runner.run_cell`)
and llama-server backend (:class:`~draftfinder.sweep.backends.llamacpp.LlamaCppBackend`): servers bind
127.0.0.1 and are stopped on every exit path there.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from draftfinder.errors import GgufExportError

DTYPES = ("f16", "q8_0", "f32")
# HF ``model_type`` → llama.cpp architecture name (``general.architecture``) this module can write
HF_TO_GGUF_ARCH = {"llama": "llama", "gemma3": "gemma3", "gemma3_text": "gemma3"}
FIX_ARCH = "train the draft with the target's own architecture (draftfinder train TARGET --method independent)"


@dataclass
class GgufExport:
    """What :func:`export_gguf` wrote."""

    path: str
    arch: str                              # general.architecture
    dtype: str                             # f16 | q8_0 | f32 (1-D tensors and norms are F32 whatever it is)
    block_count: int                       # the draft's layers
    n_vocab: int                           # tokens in the copied vocabulary (= token_embd rows)
    tensors: int
    parameters: int
    file_bytes: int
    source_folder: str
    target_gguf: str
    vocab_checks_passed: Optional[bool]    # None when not checked (check_vocab=False)
    vocab_checks: List[Dict[str, Any]] = field(default_factory=list)   # llama.cpp's checks, each with both values
    vocab_check_source: str = ("draftfinder.compat.engine_rules.llama_cpp_verdict on the tokenizer facts of both "
                               "GGUF files (llama.cpp common_speculative_are_compatible)")

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------------
# config and input checks
# ---------------------------------------------------------------------------------------------------

def _read_config(folder: Path) -> Dict[str, Any]:
    if not folder.is_dir():
        raise GgufExportError(f"draft folder {folder} does not exist",
                              hint="give the folder draftfinder train --out wrote (config.json + model.safetensors)")
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GgufExportError(f"{folder} has no config.json: it is not a Hugging Face model folder",
                              hint="give the folder draftfinder train --out wrote") from None
    except (OSError, ValueError) as e:
        raise GgufExportError(f"cannot read {path}: {e}", hint="the file is damaged: train the draft again") from e
    if not isinstance(config, dict):
        raise GgufExportError(f"{path} is not a JSON object", hint="the file is damaged: train the draft again")
    if isinstance(config.get("text_config"), dict):           # composite configs: the text model's keys on top
        config = {**config, **config["text_config"]}
    return config


def _need(config: Dict[str, Any], key: str, folder: Path) -> Any:
    value = config.get(key)
    if value is None:
        raise GgufExportError(f"{folder}/config.json has no '{key}'",
                              hint="the config is incomplete: save the draft again with save_pretrained")
    return value


def _rope(config: Dict[str, Any], arch: str) -> Tuple[Optional[float], Optional[Dict[str, Any]]]:
    """``(rope_theta, scaling)`` of the (global-attention) layers: transformers 5 keeps them in ``rope_parameters``
    (per layer type for Gemma 3), older configs in ``rope_theta`` / ``rope_scaling``."""
    params = config.get("rope_parameters") or {}
    if isinstance(params.get("full_attention"), dict):
        params = params["full_attention"]
    theta = config.get("rope_theta", params.get("rope_theta"))
    scaling = config.get("rope_scaling") or (params if params.get("rope_type") not in (None, "default") else None)
    if scaling:
        kind = scaling.get("rope_type", scaling.get("type"))
        if kind in (None, "default"):
            scaling = None
        elif kind != "linear" or "factor" not in scaling:
            raise GgufExportError(f"rope scaling '{kind}' of the draft is not supported by this export (llama.cpp's "
                                  "converter adds tensors for it)", hint="export a draft without rope scaling or "
                                  "with linear scaling, or convert it with llama.cpp's convert_hf_to_gguf.py")
    return (float(theta) if theta is not None else None), scaling


def _target_vocab(target_gguf: Path) -> Tuple[str, List[Any], int, str]:
    """``(architecture, tokenizer fields, token count, general.name)`` of the target GGUF."""
    import gguf

    if not target_gguf.is_file():
        raise GgufExportError(f"target GGUF {target_gguf} does not exist", hint="give the target's .gguf file")
    with target_gguf.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise GgufExportError(f"{target_gguf} is not a GGUF file", hint="give the target's .gguf file")
    try:
        reader = gguf.GGUFReader(str(target_gguf))
    except Exception as e:
        raise GgufExportError(f"cannot read target GGUF {target_gguf}: {str(e).splitlines()[0][:200]}",
                              hint="the file may be truncated: re-download it") from e
    arch_field = reader.fields.get(gguf.Keys.General.ARCHITECTURE)
    tokens = reader.fields.get(gguf.Keys.Tokenizer.LIST)
    if arch_field is None or tokens is None:
        raise GgufExportError(f"target GGUF {target_gguf} has no architecture or no vocabulary",
                              hint="use a complete model GGUF as the target")
    fields = [f for f in reader.fields.values() if f.name.startswith("tokenizer.")]
    name = reader.fields.get(gguf.Keys.General.NAME)
    return (str(arch_field.contents()), fields, len(tokens.data),
            str(name.contents()) if name is not None else target_gguf.stem)


# ---------------------------------------------------------------------------------------------------
# tensors: HF names → llama.cpp names, with the converter's rules (module docstring)
# ---------------------------------------------------------------------------------------------------

def permute_qk(weights: Any, n_head: int, n_head_kv: Optional[int] = None) -> Any:
    """llama.cpp's ``LlamaModel.permute`` (module docstring): HF rotary-half row order → interleaved pairs."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2)
            .reshape(weights.shape))


def _hf_tensors(folder: Path) -> Iterator[Tuple[str, Any]]:
    """``(name, float tensor)`` of every tensor in the folder's safetensors files, in file order."""
    from safetensors import safe_open

    parts = sorted(folder.glob("model*.safetensors"))
    if not parts:
        raise GgufExportError(f"{folder} has no model*.safetensors", hint="save the draft with save_pretrained "
                              "(safetensors) or give the folder draftfinder train --out wrote")
    for part in parts:
        with safe_open(str(part), framework="pt", device="cpu") as f:
            for name in f.keys():
                yield name, f.get_tensor(name)


def _converted(folder: Path, arch: str, config: Dict[str, Any], n_vocab: int
               ) -> Iterator[Tuple[str, Any]]:
    """``(gguf name, float32 numpy array)`` per tensor llama.cpp needs (module docstring)."""
    import gguf
    import torch

    n_layers = int(config["num_hidden_layers"])
    n_head = int(config["num_attention_heads"])
    n_head_kv = int(config.get("num_key_value_heads") or n_head)
    tied = bool(config.get("tie_word_embeddings", arch == "gemma3"))
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA if arch == "llama" else gguf.MODEL_ARCH.GEMMA3, n_layers)
    seen = set()
    for name, data in _hf_tensors(folder):
        if name.endswith((".rotary_emb.inv_freq", ".attention.masked_bias", ".attention.bias")):
            continue
        if arch == "gemma3":
            if name.startswith(("multi_modal_projector.", "vision_tower.", "multimodal_projector.", "vision_model.")):
                continue
            name = name.replace("language_model.", "")
        if name == "lm_head.weight" and (tied or arch == "gemma3"):
            continue
        data = data.to(torch.float32)
        if arch == "llama" and name.endswith(("q_proj.weight", "q_proj.bias")):
            data = permute_qk(data, n_head, n_head)
        elif arch == "llama" and name.endswith(("k_proj.weight", "k_proj.bias")):
            data = permute_qk(data, n_head, n_head_kv)
        elif arch == "gemma3" and name.endswith("norm.weight"):
            data = data + 1.0
        new = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise GgufExportError(f"tensor '{name}' of {folder} has no llama.cpp name for architecture {arch}",
                                  hint=f"the folder is not a plain {arch} model: {FIX_ARCH}")
        if new in ("token_embd.weight", "output.weight") and data.shape[0] != n_vocab:
            raise GgufExportError(f"{name} has {data.shape[0]} rows but the target's vocabulary has {n_vocab} tokens",
                                  hint="the draft must keep the target's full vocabulary: " + FIX_ARCH)
        seen.add(new)
        yield new, data.numpy()
    missing = [n for n in ["token_embd.weight", "output_norm.weight"] + ([] if tied else ["output.weight"])
               + [f"blk.{i}.attn_q.weight" for i in range(n_layers)] if n not in seen]
    if missing:
        raise GgufExportError(f"{folder} lacks tensors llama.cpp needs: {', '.join(missing[:4])}"
                              + (" …" if len(missing) > 4 else ""),
                              hint="the weights are incomplete: save the draft again with save_pretrained")


def _qtype(name: str, data: Any, dtype: str) -> Any:
    """The GGML type of one tensor (``ModelBase.prepare_tensors``): 1-D and norms F32, the rest the file type."""
    import gguf

    Q = gguf.GGMLQuantizationType
    if data.ndim <= 1 or name.endswith("_norm.weight") or not name.endswith(".weight"):
        return Q.F32
    return {"f32": Q.F32, "f16": Q.F16, "q8_0": Q.Q8_0}[dtype]


# ---------------------------------------------------------------------------------------------------
# metadata
# ---------------------------------------------------------------------------------------------------

def _add_metadata(w: Any, arch: str, config: Dict[str, Any], folder: Path, dtype: str, n_vocab: int,
                  target_name: str) -> None:
    import gguf

    file_type = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                 "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[dtype]
    n_layers = int(_need(config, "num_hidden_layers", folder))
    hidden = int(_need(config, "hidden_size", folder))
    n_head = int(_need(config, "num_attention_heads", folder))
    theta, scaling = _rope(config, arch)
    w.add_type(gguf.GGUFType.MODEL)
    w.add_name(f"{target_name} draft ({n_layers} layers, draftfinder)")
    w.add_block_count(n_layers)
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(int(_need(config, "intermediate_size", folder)))
    w.add_head_count(n_head)
    w.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6 if arch == "gemma3" else 1e-5)))
    w.add_file_type(file_type)
    head_dim = config.get("head_dim")
    if arch == "llama":
        w.add_context_length(int(_need(config, "max_position_embeddings", folder)))
        w.add_head_count_kv(int(config.get("num_key_value_heads") or n_head))
        if theta is not None:
            w.add_rope_freq_base(theta)
        if head_dim is not None:
            w.add_key_length(int(head_dim))
            w.add_value_length(int(head_dim))
        w.add_vocab_size(n_vocab)
        w.add_rope_dimension_count(int(head_dim) if head_dim is not None else hidden // n_head)
    else:                                               # gemma3: Gemma3Model.set_gguf_parameters
        w.add_context_length(int(config.get("max_position_embeddings", 131072)))
        w.add_key_length(int(head_dim or 256))
        w.add_value_length(int(head_dim or 256))
        w.add_rope_freq_base(theta if theta is not None else 1_000_000.0)
        w.add_sliding_window(int(_need(config, "sliding_window", folder)))
        w.add_head_count_kv(int(config.get("num_key_value_heads", 4)))
    if scaling:
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(float(scaling["factor"]))
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _copy_tokenizer(w: Any, fields: Sequence[Any]) -> None:
    """Every ``tokenizer.*`` key of the target, with its stored type (as gguf-py's ``gguf_new_metadata.py``)."""
    import gguf

    for fld in fields:
        val_type = fld.types[0]
        sub_type = fld.types[-1] if val_type == gguf.GGUFValueType.ARRAY else None
        w.add_key_value(fld.name, fld.contents(), val_type, sub_type=sub_type)


# ---------------------------------------------------------------------------------------------------
# the export
# ---------------------------------------------------------------------------------------------------

def export_gguf(hf_folder: Path, target_gguf: Path, out_path: Path, *, dtype: str = "f16",
                check_vocab: bool = True) -> GgufExport:
    """Write the draft in ``hf_folder`` as a GGUF at ``out_path`` with ``target_gguf``'s vocabulary (module docstring).

    Raises :class:`GgufExportError` (one line) for a folder of another architecture than the target's, a
    vocabulary size other than the target's, missing weights or config keys, an unknown ``dtype``, and — with
    ``check_vocab`` — a result llama.cpp would refuse as a draft of the target; ``OutputError`` when
    ``out_path`` cannot be written. Nothing is left at ``out_path`` on any error.
    """
    import gguf

    from draftfinder.writer import write_produced

    hf_folder, target_gguf, out_path = Path(hf_folder).expanduser(), Path(target_gguf).expanduser(), \
        Path(out_path).expanduser()
    if dtype not in DTYPES:
        raise GgufExportError(f"unknown GGUF dtype '{dtype}'", hint=f"use one of {', '.join(DTYPES)}")
    config = _read_config(hf_folder)
    model_type = str(config.get("model_type") or "?")
    arch = HF_TO_GGUF_ARCH.get(model_type)
    target_arch, fields, n_vocab, target_name = _target_vocab(target_gguf)
    if arch is None or arch != target_arch:
        what = f"a {model_type} model" + (f" (llama.cpp architecture {arch})" if arch else "")
        raise GgufExportError(f"{hf_folder} is {what} but the target GGUF is {target_arch}: a draft GGUF must "
                              "share the target's architecture (this export writes llama and gemma3)",
                              hint=FIX_ARCH)
    vocab = config.get("vocab_size")
    if vocab != n_vocab:
        raise GgufExportError(f"{hf_folder} has vocab_size {vocab} but the target GGUF has {n_vocab} tokens: the "
                              "draft must keep the target's full vocabulary", hint=FIX_ARCH)
    if out_path.exists() and target_gguf.exists() and out_path.resolve() == target_gguf.resolve():
        raise GgufExportError(f"the output {out_path} is the target GGUF itself",
                              hint="name another file for the draft GGUF")
    counts = {"tensors": 0, "parameters": 0}
    verdict_box: Dict[str, Any] = {}

    def produce(tmp: Path) -> None:
        w = gguf.GGUFWriter(str(tmp), arch=arch)
        _add_metadata(w, arch, config, hf_folder, dtype, n_vocab, target_name)
        _copy_tokenizer(w, fields)
        for name, data in _converted(hf_folder, arch, config, n_vocab):
            qtype = _qtype(name, data, dtype)
            try:
                packed = gguf.quants.quantize(data, qtype)
            except gguf.QuantError:               # the converter's fallback: a row Q8_0 cannot block
                qtype = gguf.GGMLQuantizationType.F16
                packed = gguf.quants.quantize(data, qtype)
            w.add_tensor(name, packed, raw_dtype=qtype)
            counts["tensors"] += 1
            counts["parameters"] += int(data.size)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        if check_vocab:
            verdict = vocab_verdict(target_gguf, tmp)
            verdict_box["verdict"] = verdict
            if not verdict.compatible:
                failed = [c for c in verdict.checks if c.required and not c.passed]
                raise GgufExportError("the exported GGUF would fail llama.cpp's draft vocabulary checks: "
                                      + "; ".join(c.reason for c in failed),
                                      hint="report this as a draftfinder bug: the vocabulary is copied from the "
                                           "target GGUF")

    written = write_produced(out_path, produce, prefix=f".{out_path.name}.")
    verdict = verdict_box.get("verdict")
    return GgufExport(path=str(written), arch=arch, dtype=dtype, block_count=int(config["num_hidden_layers"]),
                      n_vocab=n_vocab, tensors=counts["tensors"], parameters=counts["parameters"],
                      file_bytes=written.stat().st_size, source_folder=str(hf_folder), target_gguf=str(target_gguf),
                      vocab_checks_passed=None if verdict is None else bool(verdict.compatible),
                      vocab_checks=[] if verdict is None else [_check_dict(c) for c in verdict.checks])


def _check_dict(check: Any) -> Dict[str, Any]:
    return check.to_dict()


def gguf_tokenizer_facts(path: Path) -> Any:
    """Tokenizer facts of a GGUF file, loaded the way ``draftfinder find`` loads a local .gguf candidate."""
    from draftfinder.compat import facts as vocab
    from draftfinder.compat import tokenizer as loading
    from draftfinder.models.sources.base import ModelRecord

    return vocab.facts_from_tokenizer(loading.load_tokenizer(ModelRecord(model_id=path.name, source="gguf",
                                                                         gguf_path=path)))


def vocab_verdict(target_gguf: Path, draft_gguf: Path) -> Any:
    """llama.cpp's verdict on the pair (:func:`~draftfinder.compat.engine_rules.llama_cpp_verdict`)."""
    from draftfinder.compat.engine_rules import llama_cpp_verdict

    return llama_cpp_verdict(gguf_tokenizer_facts(Path(target_gguf)), gguf_tokenizer_facts(Path(draft_gguf)),
                             None, None)


# ---------------------------------------------------------------------------------------------------
# llama-server: the target GGUF alone and with the draft GGUF
# ---------------------------------------------------------------------------------------------------

@dataclass
class LlamaServerPair:
    """Target-only vs ``-md draft --spec-type draft-simple`` in llama-server, same prompts and settings (measured)."""

    target_gguf: str
    draft_gguf: str
    n_max: int                                   # --spec-draft-n-max: tokens drafted per step
    max_tokens: int
    threads: Optional[int]
    prompts: List[str]                           # prompt ids
    target_tokens_per_s: Optional[float]         # mean of llama-server's timings.predicted_per_second
    spec_tokens_per_s: Optional[float]
    speedup: Optional[float]                     # spec / target
    draft_n: Optional[int]                       # sum of timings.draft_n over the prompts
    draft_n_accepted: Optional[int]
    acceptance: Optional[float]                  # draft_n_accepted / draft_n
    outputs_identical: Optional[bool]            # greedy token ids equal prompt by prompt
    status: str                                  # ok | flagged (loaded the draft, did not draft) | failed
    error: Optional[str] = None
    commands: Dict[str, Any] = field(default_factory=dict)
    per_prompt: List[Dict[str, Any]] = field(default_factory=list)
    source: str = ("measured: llama-server timings (predicted_per_second, draft_n, draft_n_accepted), one server "
                   "per side, untimed warm-up, draftfinder.sweep.runner.run_cell")

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def measure_llama_server_pair(target_gguf: Path, draft_gguf: Path, prompts: Sequence[Any], *, max_tokens: int = 64,
                              n_max: int = 2, threads: Optional[int] = None, runs: int = 1, ctx_size: int = 2048,
                              timeout_s: float = 600.0, llama_server: Optional[str] = None,
                              log: Optional[Callable[[str], None]] = None) -> Dict[str, Any]:
    """Run llama-server on ``target_gguf`` alone, then with ``-md draft_gguf --spec-type draft-simple`` and
    ``--spec-draft-n-max n_max``, greedy, over ``prompts`` (``measure.prompts.Prompt`` or plain strings); returns
    :class:`LlamaServerPair` as a dict. Both sides are cells of the sweep's loop (``run_cell``: warm-up,
    ``runs`` × prompts, server stopped in ``finally``); a draft that loads but never drafts is ``flagged``."""
    from draftfinder.measure.prompts import Prompt
    from draftfinder.sweep.backends.llamacpp import LlamaCppBackend
    from draftfinder.sweep.config import Entry, Settings, SweepConfig
    from draftfinder.sweep.runner import run_cell, Cell

    items = [p if isinstance(p, Prompt) else Prompt(id=f"prompt-{i + 1}", task="custom", text=str(p))
             for i, p in enumerate(prompts)]
    if not items:
        raise GgufExportError("no prompts to measure the GGUF pair on", hint="pass at least one prompt")
    target = Entry(label="target", path=str(target_gguf))
    draft = Entry(label="draft", path=str(draft_gguf), type="model")
    settings = Settings(runs=runs, warmup=1, max_tokens=max_tokens, temperature=0.0, ctx_size=ctx_size, port=0,
                        k=[n_max], threads=threads, timeout_s=timeout_s, llama_bin=llama_server)
    cfg = SweepConfig(name="gguf-pair", targets=[target], drafts=[draft], backend="llamacpp", settings=settings)
    backend = LlamaCppBackend(cfg, {"threads": threads} if threads else {})
    say = log or (lambda line: None)
    base = run_cell(cfg, backend, Cell(target), items, say)
    spec = run_cell(cfg, backend, Cell(target, draft, n_max), items, say, baseline=base)
    return _pair(target_gguf, draft_gguf, n_max, max_tokens, threads, items, base, spec).to_dict()


def _pair(target_gguf: Path, draft_gguf: Path, n_max: int, max_tokens: int, threads: Optional[int],
          items: Sequence[Any], base: Dict[str, Any], spec: Dict[str, Any]) -> LlamaServerPair:
    failed = [r for r in (base, spec) if r.get("status") == "failed"]
    t_tps, s_tps = base.get("mean_tps"), spec.get("mean_tps")
    ref = {(r["run"], r["prompt_id"]): r for r in base.get("runs") or []}
    rows, same = [], []
    for r in spec.get("runs") or []:
        b = ref.get((r["run"], r["prompt_id"]), {})
        identical = (r.get("token_ids") == b.get("token_ids")) if b.get("token_ids") is not None else None
        same.append(identical)
        rows.append({"run": r["run"], "prompt_id": r["prompt_id"], "tokens": r["tokens"],
                     "target_tokens_per_s": b.get("tps"), "spec_tokens_per_s": r.get("tps"),
                     "draft_n": r.get("drafted"), "draft_n_accepted": r.get("accepted"),
                     "outputs_identical": identical})
    drafted, accepted = spec.get("drafted"), spec.get("accepted")
    return LlamaServerPair(
        target_gguf=str(target_gguf), draft_gguf=str(draft_gguf), n_max=n_max, max_tokens=max_tokens,
        threads=threads, prompts=[p.id for p in items], target_tokens_per_s=t_tps, spec_tokens_per_s=s_tps,
        speedup=(s_tps / t_tps) if (t_tps and s_tps and not failed) else None, draft_n=drafted,
        draft_n_accepted=accepted, acceptance=(accepted / drafted) if drafted else None,
        outputs_identical=(all(same) if same and None not in same else None),
        status="failed" if failed else str(spec.get("status")), error="; ".join(r["error"] for r in failed) or None,
        commands={"target": base.get("command"), "spec": spec.get("command")}, per_prompt=rows)
