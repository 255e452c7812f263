"""Load a model's weights and tokenizer for generation, whatever the name: zoo, .gguf file, folder or Hub id.

Names go through :class:`~draftfinder.models.resolver.Resolver` (same order as everywhere else), then:

===========  ====================================================================================================
source       how the weights load
===========  ====================================================================================================
zoo, gguf    ``AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)``: transformers dequantizes the GGUF to
             ``dtype`` (needs the ``accelerate`` package); tokenizer from the GGUF (``vocab.load_tokenizer``)
local,       ``from_pretrained(folder)`` (config.json + safetensors/bin in the folder)
hf-cache
hub          ``from_pretrained(model_id)``: downloads the weights; only when the resolver reached the Hub
catalog      refused: the catalog knows facts, not weights
===========  ====================================================================================================

Models are put in eval mode with gradients off and cached per (name, dtype, device) for the process, so the REPL and
the benchmarks load each model once. Loading prints nothing: transformers' warnings and progress bars are
silenced (STYLE habit 7). SmolLM2-135M takes ~12 s from its GGUF on 2 cores, Gemma-3-270M ~30 s.

Devices (``engine/device.py``): ``device`` None or "cpu" loads exactly as before (no ``device_map``); an accelerator
gets ``device_map={"": device}`` (weights straight onto it), or ``device_map="auto"`` with ``max_memory`` when the
placement spreads a large target over the visible GPUs; ``LoadedModel.placement`` records the decision and the
devices that hold weights, ``LoadedModel.device`` is where inputs go.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from draftfinder.errors import (
    DraftFinderError,
    MissingDependencyError,
    ModelFileError,
    ModelNotFoundError,
    NetworkError,
    UsageError,
)
from draftfinder.models.sources.base import ModelRecord


@dataclass
class LoadedModel:
    """A model ready to generate: the torch module, its tokenizer and what the resolver knew about it."""

    name: str                                 # the name it was loaded under
    model: Any                                # transformers PreTrainedModel (causal LM), eval mode
    tokenizer: Any = None                     # transformers tokenizer; None for models built in code (tests)
    record: Optional[ModelRecord] = None
    extra_eos_ids: List[int] = field(default_factory=list)   # more ids that end a generation (chat end-of-turn)
    placement: Any = None                     # engine.device.Placement (None: loaded on the CPU, as always)

    @property
    def device(self) -> Any:
        """The torch device inputs go to (the input embeddings'; the first GPU of a ``device_map``)."""
        from draftfinder.engine.device import input_device

        return input_device(self.model)

    @property
    def vocab_size(self) -> int:
        """Width of the model's logits (rows of the LM head; may exceed the tokenizer's size by padding)."""
        head = self.model.get_output_embeddings()
        if head is not None and getattr(head, "weight", None) is not None:
            return int(head.weight.shape[0])
        return int(self.model.config.get_text_config().vocab_size)

    @property
    def eos_token_ids(self) -> List[int]:
        """Ids that end a generation: the generation config's EOS, the tokenizer's EOS and ``extra_eos_ids``."""
        ids: List[int] = []
        gen = getattr(self.model, "generation_config", None)
        for value in (getattr(gen, "eos_token_id", None),
                      getattr(self.tokenizer, "eos_token_id", None) if self.tokenizer is not None else None,
                      self.extra_eos_ids):
            if value is None:
                continue
            for i in (value if isinstance(value, (list, tuple)) else [value]):
                if int(i) not in ids:
                    ids.append(int(i))
        return ids

    def decode(self, token_ids: List[int]) -> str:
        """Text of ``token_ids`` (special tokens dropped); "" without a tokenizer."""
        if self.tokenizer is None:
            return ""
        return self.tokenizer.decode(token_ids, skip_special_tokens=True)


_MODELS: Dict[Tuple[str, str], LoadedModel] = {}
_LOCK = threading.Lock()


def clear_model_cache() -> None:
    """Forget every loaded model (tests; a long-running REPL that wants the memory back)."""
    with _LOCK:
        _MODELS.clear()


def load_model(name: str, *, resolver: Any = None, dtype: Any = None, device: Any = None,
               requested_device: Optional[str] = None) -> LoadedModel:
    """The model called ``name`` (``zoo:NAME``, a .gguf path, a model folder or a Hub id), loaded once per process.

    ``dtype`` defaults to ``torch.float32`` (GGUF weights are dequantized to it); also "bf16", "fp16", "fp32".
    ``device`` (a resolved device: "cpu", "cuda:N", "mps"; None = "cpu") is where the weights go; with
    ``requested_device`` "cuda" or "auto" a model too large for the first GPU is spread over every visible GPU
    with ``device_map="auto"`` (``engine.device.plan_placement``; the decision is in ``LoadedModel.placement``).
    Raises ``ModelNotFoundError`` (nothing by that name), ``ModelFileError`` (files exist but cannot be loaded),
    ``MissingDependencyError`` (torch / accelerate missing), or the resolver's own errors
    (``ZooModelMissingError``, network errors).
    """
    torch = _import("torch", "running models")
    dtype = _dtype(torch, dtype)
    device = str(device or "cpu")
    key = (name.strip(), str(dtype)) if device == "cpu" else (name.strip(), str(dtype), device)
    with _LOCK:
        if key in _MODELS:
            return _MODELS[key]
        if resolver is None:
            from draftfinder.models.resolver import Resolver

            resolver = Resolver()
        record = resolver.resolve(name.strip())
        file_key = (_file_identity(record), str(dtype)) + (() if device == "cpu" else (device,))
        if file_key in _MODELS:                      # same files under another name (zoo:x and its path):
            loaded = dataclasses.replace(_MODELS[file_key], name=name.strip(), record=record)   # same weights
        else:
            placement = None if device == "cpu" else _plan(record, dtype, device, requested_device or device)
            loaded = _load_record(name.strip(), record, dtype, token=getattr(resolver, "token", None),
                                  placement=placement)
            _MODELS[file_key] = loaded
        _MODELS[key] = loaded
        return loaded


def _plan(record: ModelRecord, dtype: Any, device: str, requested: str) -> Any:
    """Where a model goes on an accelerator (``engine.device.plan_placement`` with the real torch's GPUs)."""
    from draftfinder.engine.device import estimate_weights_bytes, plan_placement, probe

    short = {"torch.bfloat16": "bf16", "torch.float16": "fp16"}.get(str(dtype), "fp32")
    return plan_placement(requested, device, estimate_weights_bytes(record, short), probe())


_SHORT_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32", "half": "float16"}


def _dtype(torch: Any, dtype: Any) -> Any:
    """``None`` → float32; a torch dtype; or its name ("float32", "bfloat16", "float16", "float64", or the
    short "fp32", "bf16", "fp16")."""
    if dtype is None:
        return torch.float32
    if isinstance(dtype, str):
        name = dtype.strip().lower().replace("torch.", "")
        value = getattr(torch, _SHORT_DTYPES.get(name, name), None)
        if not isinstance(value, torch.dtype) or not value.is_floating_point:
            raise UsageError(f"unknown dtype '{dtype}'", hint="use float32, bfloat16, float16 or float64")
        return value
    return dtype


def _file_identity(record: ModelRecord) -> str:
    if record.gguf_path is not None:
        return "gguf:" + str(Path(record.gguf_path).resolve())
    if record.local_dir is not None:
        return "dir:" + str(Path(record.local_dir).resolve())
    return f"{record.source}:{record.model_id}"


def _placement_kwargs(placement: Any) -> Dict[str, Any]:
    """``from_pretrained`` keywords for a placement: nothing on the CPU (weights load there, as always);
    ``device_map={"": device}`` for one accelerator (loaded straight onto it); ``device_map="auto"`` and
    ``max_memory`` when spread over GPUs (accelerate's ``infer_auto_device_map``)."""
    if placement is None:
        return {}
    _import("accelerate", f"placing weights on {placement.device}")
    if placement.device_map == "auto":
        return {"device_map": "auto", "max_memory": dict(placement.max_memory or {})}
    return {"device_map": {"": placement.device}}


def _load_record(name: str, record: ModelRecord, dtype: Any, *, token: Optional[str] = None,
                 placement: Any = None) -> LoadedModel:
    transformers = _import("transformers", "running models")
    place = _placement_kwargs(placement)
    if record.gguf_path is not None:
        path = Path(record.gguf_path)
        _import("accelerate", "loading GGUF weights with transformers")
        model = _from_pretrained(transformers, path, str(path.parent), dtype, gguf_file=path.name, **place)
        tokenizer = _tokenizer(record)
    elif record.local_dir is not None and record.source in ("local", "hf-cache"):
        model = _from_pretrained(transformers, record.local_dir, str(record.local_dir), dtype, **place)
        tokenizer = _tokenizer(record)
    elif record.source == "hub":
        try:
            model = _from_pretrained(transformers, record.model_id, record.model_id, dtype, token=token, **place)
        except ModelFileError as err:
            if isinstance(err.__cause__, OSError):          # connection refused, timeout, missing files on the Hub
                raise NetworkError(f"the weights of {record.model_id}", problem=err.message) from err
            raise
        tokenizer = _hub_tokenizer(transformers, record.model_id, token)
    else:
        raise ModelNotFoundError(
            name, where=f"the local disk or in the HF cache (the {record.source} source has its facts, not its weights)",
            hint="go online so the weights can be downloaded, or pass the model folder / .gguf file")
    model.eval()
    model.requires_grad_(False)
    if placement is not None:
        from draftfinder.engine.device import weight_devices

        placement.devices = weight_devices(model)
    return LoadedModel(name=name, model=model, tokenizer=tokenizer, record=record, placement=placement)


def _from_pretrained(transformers: Any, where: Any, path: str, dtype: Any, **kwargs: Any) -> Any:
    try:
        with _quiet():
            return transformers.AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **kwargs)
    except DraftFinderError:
        raise
    except ImportError as err:
        raise MissingDependencyError(getattr(err, "name", None) or "a package", f"loading {where}") from err
    except (OSError, ValueError, KeyError, RuntimeError, TypeError, EOFError) as err:
        raise ModelFileError(where, _short(err), hint=_load_hint(err)) from err


def _load_hint(err: Exception) -> str:
    text = str(err)
    if "not supported" in text or "Unrecognized" in text or "does not recognize" in text:
        return "this transformers version cannot run this architecture as a causal LM; pick another model"
    if "no file named" in text or "does not appear to have" in text:
        return "the folder has a config but no weights (model.safetensors / pytorch_model.bin): download them"
    return "check that the file is complete and of the right kind (re-download it if it was truncated)"


def _short(err: Exception, limit: int = 300) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= limit else text[:limit] + "…"


def _tokenizer(record: ModelRecord) -> Any:
    from draftfinder.compat.tokenizer import load_tokenizer

    return load_tokenizer(record)


def _hub_tokenizer(transformers: Any, model_id: str, token: Optional[str]) -> Any:
    from draftfinder.errors import TokenizerLoadError

    try:
        with _quiet():
            return transformers.AutoTokenizer.from_pretrained(model_id, token=token)
    except (OSError, ValueError) as err:
        raise TokenizerLoadError(model_id, _short(err)) from err


def _import(module: str, purpose: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependencyError(module, purpose) from err


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No warnings, no log lines, no progress bars while transformers loads (the library never prints).

    transformers' own bars obey ``disable_progress_bar``; its GGUF dequantizer calls tqdm directly, so that
    module's ``tqdm`` is swapped for a disabled one during the load (stderr itself is left alone: a CLI
    spinner on another thread keeps drawing).
    """
    from transformers.utils import logging as hf_logging

    from draftfinder.compat.tokenizer import quiet_transformers

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    gguf_utils = sys.modules.get("transformers.modeling_gguf_pytorch_utils")
    if gguf_utils is None:
        try:
            import transformers.modeling_gguf_pytorch_utils as gguf_utils
        except ImportError:
            gguf_utils = None
    original = getattr(gguf_utils, "tqdm", None)
    if original is not None:
        gguf_utils.tqdm = functools.partial(original, disable=True)
    try:
        with quiet_transformers():
            yield
    finally:
        if original is not None:
            gguf_utils.tqdm = original
        if bars:
            hf_logging.enable_progress_bar()
