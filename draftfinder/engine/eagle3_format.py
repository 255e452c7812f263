"""The speculators format of an EAGLE-3 head: ``config.json`` + ``model.safetensors``, as vLLM loads it.

Taken from (read, not imported: ``speculators`` is not a dependency):

- neuralmagic/speculators @ 20cdbf9d7f6f8141a8497d3ae8c517b5eb133d50 (2025-08-21),
  ``src/speculators/models/eagle3.py``: ``Eagle3SpeculatorConfig`` (``speculators_model_type: "eagle3"``,
  ``architectures: ["Eagle3Speculator"]``, ``transformer_layer_config`` = a transformers config's
  ``to_diff_dict()``, ``draft_vocab_size``, ``norm_before_residual``, ``target_hidden_size``) and
  ``Eagle3Speculator`` (tensors ``embed_tokens.weight``, ``fc.weight`` [H, 3·H_t], ``layers.0.*`` of
  ``Eagle3DecoderLayer``, ``norm.weight``, ``lm_head.weight`` [V_d, H], buffers ``d2t`` int64 [V_d] — target id
  = draft id + d2t — and ``t2d`` bool [V_t]); ``src/speculators/config.py`` (``speculators_config``:
  ``algorithm``, ``proposal_methods`` [{``proposal_type: "greedy"``, ``speculative_tokens``, ``verifier_accept_k``,
  ``accept_tolerance``}], ``default_proposal_method``, ``verifier`` {``name_or_path``, ``architectures``});
  ``src/speculators/convert/eagle/eagle3_converter.py`` (``tie_word_embeddings: false`` in the layer config).
- vllm-project/vllm ``vllm/transformers_utils/configs/speculators/base.py`` @ 94699746 (required keys:
  ``speculators_config.proposal_methods[0].speculative_tokens``, ``speculators_config.verifier.name_or_path``,
  ``speculators_model_type``, ``transformer_layer_config`` a dict) and ``algos.py`` @ cfb173ab (eagle3 reads
  ``draft_vocab_size``, ``target_hidden_size``, ``norm_before_residual`` — default *true* when absent, so it is
  always written — and ``eagle_aux_hidden_state_layer_ids``); ``vllm/model_executor/models/llama_eagle3.py``
  @ 583507d1 (weight names: ``layers.0.self_attn.{q,k,v}_proj`` over 2H, ``layers.0.hidden_norm``, ``fc``,
  ``norm``, ``lm_head``, ``d2t``; ``t2d`` skipped; embeddings shared with the target when absent).

Layer ids: vLLM's ``eagle_aux_hidden_state_layer_ids`` index the *input* of a target layer (``llama.py``: the
hidden state is taken before layer ``idx`` runs = HF ``hidden_states[idx]``), while draftfinder's teacher data
keeps the *output* of layer l (HF ``hidden_states[l + 1]``): the file stores l + 1 so vLLM feeds the head what
it was trained on. ``draftfinder_aux_layer_outputs`` keeps our own convention beside it.

Embeddings are not written (they are the target's, frozen; vLLM shares the target's when the shapes match).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from draftfinder.errors import ModelFileError, UsageError

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
SPECULATORS_VERSION = "0.1.0"          # the format version of the source commit above (pyproject: git-versioned)
DEFAULT_SPECULATIVE_TOKENS = 3


def is_eagle3_folder(path: Any) -> bool:
    """True when ``path`` is a folder whose config.json says ``speculators_model_type: "eagle3"``."""
    try:
        folder = Path(str(path)).expanduser()
        if not (folder / CONFIG).is_file():
            return False
        return read_config(folder).get("speculators_model_type") == "eagle3"
    except (OSError, ValueError, ModelFileError):
        return False


def read_config(folder: Path) -> Dict[str, Any]:
    path = Path(folder) / CONFIG
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelFileError(str(path), f"cannot read it as JSON ({err})") from err
    if not isinstance(data, dict):
        raise ModelFileError(str(path), "it is not a JSON object")
    return data


def speculators_config(head: Any, *, verifier: str, verifier_architectures: Any,
                       speculative_tokens: int = DEFAULT_SPECULATIVE_TOKENS) -> Dict[str, Any]:
    """The config.json payload of ``head`` (an ``Eagle3Head``) for the target named ``verifier``."""
    import transformers

    layer = head.config.to_diff_dict()
    layer.update(num_hidden_layers=1, vocab_size=int(head.spec.target_vocab_size), tie_word_embeddings=False)
    layer.pop("architectures", None)
    layer.pop("_name_or_path", None)
    aux = [int(i) for i in head.spec.aux_layers]
    return {
        "architectures": ["Eagle3Speculator"],
        "speculators_model_type": "eagle3",
        "speculators_version": SPECULATORS_VERSION,
        "speculators_config": {
            "algorithm": "eagle3",
            "proposal_methods": [{"proposal_type": "greedy", "speculative_tokens": int(speculative_tokens),
                                  "verifier_accept_k": 1, "accept_tolerance": 0.0}],
            "default_proposal_method": "greedy",
            "verifier": {"name_or_path": verifier, "architectures": list(verifier_architectures or [])},
        },
        "transformer_layer_config": layer,
        "draft_vocab_size": int(head.spec.draft_vocab_size),
        "norm_before_residual": bool(head.spec.norm_before_residual),
        "target_hidden_size": int(head.spec.target_hidden_size),
        "eagle_aux_hidden_state_layer_ids": [i + 1 for i in aux],
        "draftfinder_aux_layer_outputs": aux,
        "torch_dtype": str(head.fc.weight.dtype).replace("torch.", ""),
        "transformers_version": transformers.__version__,
    }


def head_tensors(head: Any) -> Dict[str, Any]:
    """The tensors to write: the head's state dict (fc, layers.0.*, norm, lm_head, d2t, t2d), contiguous."""
    return {name: t.detach().contiguous() for name, t in head.state_dict().items()}


def save_head(head: Any, folder: Path, *, verifier: str, verifier_architectures: Any = None,
              speculative_tokens: int = DEFAULT_SPECULATIVE_TOKENS) -> None:
    """Write config.json and model.safetensors of ``head`` into ``folder`` (through the one writer)."""
    from safetensors.torch import save_file

    from draftfinder.writer import write_json, write_produced

    folder = Path(folder)
    write_json(folder / CONFIG, speculators_config(head, verifier=verifier,
                                                   verifier_architectures=verifier_architectures,
                                                   speculative_tokens=speculative_tokens))
    tensors = head_tensors(head)
    write_produced(folder / WEIGHTS, lambda tmp: save_file(tensors, str(tmp), metadata={"format": "pt"}))


def load_head(folder: Any, target: Any) -> Tuple[Any, Dict[str, Any]]:
    """(an ``Eagle3Head`` for ``target`` — a ``LoadedModel`` — with the weights of ``folder``, its config).

    The head is rebuilt from the target's own layer classes, so the folder must have been trained for a target
    of the same shape: hidden size, vocabulary and layer count are checked (``UsageError`` naming both)."""
    from safetensors.torch import load_file

    from draftfinder.engine.eagle3_head import Eagle3Head

    folder = Path(str(folder)).expanduser()
    config = read_config(folder)
    if config.get("speculators_model_type") != "eagle3":
        raise UsageError(f"{folder} is not an EAGLE-3 head (config.json has no speculators_model_type 'eagle3')")
    model = target.model
    text = model.config.get_text_config()
    layer = config.get("transformer_layer_config") or {}
    want = {"hidden_size": int(text.hidden_size), "vocab_size": int(model.get_output_embeddings().weight.shape[0])}
    got = {"hidden_size": int(config.get("target_hidden_size") or layer.get("hidden_size") or 0),
           "vocab_size": int(layer.get("vocab_size") or 0)}
    total = len(model.model.layers)
    aux = _aux_layers(config) or (1, total // 2 - 1, total - 4)   # vLLM's default ids (2, L//2, L−3) are inputs
    if got != want or not aux or max(aux) >= total:
        verifier = ((config.get("speculators_config") or {}).get("verifier") or {}).get("name_or_path")
        raise UsageError(f"the EAGLE-3 head in {folder} was made for '{verifier}' (hidden {got['hidden_size']}, "
                         f"vocabulary {got['vocab_size']}, layers {aux}), not for '{target.name}' (hidden "
                         f"{want['hidden_size']}, vocabulary {want['vocab_size']}, {total} layers)",
                         hint="draft with a head trained for this target (draftfinder train TARGET --method eagle3)")
    path = folder / WEIGHTS
    try:
        tensors = load_file(str(path))
    except (OSError, ValueError, RuntimeError) as err:
        raise ModelFileError(str(path), f"cannot read the head's weights ({err})") from err
    head = Eagle3Head.from_target(model, draft_vocab_size=int(config["draft_vocab_size"]), aux_layers=aux,
                                  norm_before_residual=bool(config.get("norm_before_residual", True)))
    tensors.pop("embed_tokens.weight", None)
    missing, unexpected = head.load_state_dict(tensors, strict=False)
    if missing or unexpected:
        raise ModelFileError(str(path), f"tensors do not match the head (missing {sorted(missing)[:4]}, "
                                        f"unexpected {sorted(unexpected)[:4]})")
    head.eval()
    head.requires_grad_(False)
    return head, config


def _aux_layers(config: Dict[str, Any]) -> Tuple[int, ...]:
    ours: Optional[Any] = config.get("draftfinder_aux_layer_outputs")
    if isinstance(ours, list) and ours:
        return tuple(int(i) for i in ours)
    vllm = config.get("eagle_aux_hidden_state_layer_ids")
    if isinstance(vllm, list) and vllm:
        return tuple(int(i) - 1 for i in vllm)
    return ()
