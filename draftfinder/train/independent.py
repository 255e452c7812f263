"""``--method independent``: the target's own architecture cut to its first N decoder layers, trained to agree
with the target — a portable draft every engine takes.

The student is the target's config with ``num_hidden_layers = N`` (Gemma-3: its ``layer_types`` pattern cut to
the first N, so sliding/full attention stay where they were), the same tokenizer and the **full** vocabulary
(every engine's vocabulary checks pass: llama.cpp's, vLLM's, ours). Its weights start as the target's
embeddings, first N layers, final norm and LM head (tied when the target ties them): at step 0 it is exactly
the target's layer-skip self-draft ``layerskip:N`` (``engine/drafters.LayerSkipDrafter``), which the
distillation then improves. Saved as a standard Hugging Face folder (``config.json``, ``model.safetensors``,
the target's tokenizer files, ``generation_config.json``) that ``AutoModelForCausalLM.from_pretrained`` loads and
``--draft DIR`` uses everywhere.

Training batches are right padded with an attention mask (the loop groups sequences of similar length);
the loss runs over the positions ≥ each sequence's ``loss_from`` through :func:`losses.chunked_head_loss`
(logits never held for all positions at once: Gemma-3's head is 262,144 wide).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from draftfinder.errors import UsageError
from draftfinder.train.losses import chunked_head_loss
from draftfinder.train.student import EvalResult, eval_from_matches, register_student, target_argmax

DEFAULT_LAYERS = 3
HEAD_ROWS = 256                 # positions per LM-head chunk (logits [rows, V])


def text_config(model: Any) -> Any:
    """The decoder's config (a multimodal wrapper's ``text_config``, else the config itself)."""
    cfg = model.config
    return cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg


def check_layers(layers: int, total: Optional[int]) -> None:
    """``UsageError`` unless 1 ≤ layers < total (the target's decoder layers)."""
    if layers < 1:
        raise UsageError(f"--layers must be at least 1, got {layers}", hint=f"e.g. --layers {DEFAULT_LAYERS}")
    if total is not None and layers >= total:
        raise UsageError(f"--layers {layers}: the target has {total} decoder layers; a draft needs fewer",
                         hint=f"use --layers between 1 and {total - 1} (e.g. {min(DEFAULT_LAYERS, total - 1)})")


def student_config(target_model: Any, layers: int) -> Any:
    """The target's config with ``layers`` decoder layers (and ``layer_types`` cut to match), no quantization."""
    cfg = copy.deepcopy(target_model.config)
    text = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
    check_layers(layers, int(text.num_hidden_layers))
    text.num_hidden_layers = int(layers)
    if getattr(text, "layer_types", None) is not None:
        text.layer_types = list(text.layer_types)[:layers]
    for c in {id(cfg): cfg, id(text): text}.values():
        if hasattr(c, "quantization_config"):          # the GGUF the target came from, not this model
            delattr(c, "quantization_config")
        c.use_cache = True
    cfg.architectures = [type(target_model).__name__]
    return cfg


class IndependentStudent:
    """A shrunk copy of the target (module docstring); implements ``student.Student``."""

    method = "independent"

    def __init__(self, target: Any, *, layers: Optional[int] = None, seed: int = 0):
        import torch
        from transformers import AutoModelForCausalLM

        self.target = target
        self.layers = int(layers or DEFAULT_LAYERS)
        cfg = student_config(target.model, self.layers)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
        own = self.model.state_dict()
        keep = {k: v for k, v in target.model.state_dict().items() if k in own and _layer(k) < self.layers}
        missing, _ = self.model.load_state_dict(keep, strict=False)
        from draftfinder.engine.device import input_device

        self.device = input_device(target.model)           # the student trains beside the target (fp32)
        self.model.to(self.device)
        tied = {"lm_head.weight"} if getattr(text_config(self.model), "tie_word_embeddings", False) else set()
        left = [k for k in missing if k not in tied and "rotary" not in k]
        if left:
            raise UsageError(f"cannot initialise the student from the target: no weights for {', '.join(left[:3])}",
                             hint="use --method eagle3, or a target of a causal-LM architecture")
        self.model.train()

    # --- the protocol ----------------------------------------------------------------------------------
    def parameters(self) -> Any:
        return [p for p in self.model.parameters() if p.requires_grad]

    def loss(self, data: Any, batch: List[int], loss_kind: str) -> Any:
        import torch

        self.model.train()
        last, rows = self._hidden(data, batch)                                     # [B, L, H]
        h = torch.cat([last[b, s:e] for b, (_, s, e) in enumerate(rows)])         # [N, H]
        ids = torch.cat([data.topk_ids[i][s:e] for i, s, e in rows]).to(self.device)               # [N, k]
        probs = torch.cat([data.topk_probs[i][s:e] for i, s, e in rows]).to(self.device)
        return chunked_head_loss(loss_kind, h, self._head, ids, probs, rows=HEAD_ROWS)

    def evaluate(self, data: Any, indices: List[int], k_max: int) -> EvalResult:
        import torch

        self.model.eval()
        matches: List[List[bool]] = []
        try:
            with torch.inference_mode():
                for group in _groups(data, indices, 4096):
                    last, rows = self._hidden(data, group)
                    for b, (i, s, e) in enumerate(rows):
                        draft = torch.cat([self._head(last[b, r:min(e, r + HEAD_ROWS)]).argmax(-1)
                                           for r in range(s, e, HEAD_ROWS)]).cpu()    # [e − s]
                        matches.append((draft == target_argmax(data, i)[s:e]).tolist())
        finally:
            self.model.train()
        return eval_from_matches(matches, k_max)

    def state_dict(self) -> dict:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def load_state_dict(self, sd: dict) -> None:
        self.model.load_state_dict(sd)

    def save_pretrained(self, folder: Path) -> None:
        """config.json + model.safetensors, the target's tokenizer files and generation config."""
        from draftfinder.engine.loading import _quiet

        folder = Path(folder)
        self.model.eval()
        with _quiet():
            gen = getattr(self.target.model, "generation_config", None)
            if gen is not None:
                self.model.generation_config = copy.deepcopy(gen)
            self.model.save_pretrained(str(folder), safe_serialization=True)
            if self.target.tokenizer is not None:
                self.target.tokenizer.save_pretrained(str(folder))
        self.model.train()

    def cost_hint(self) -> Dict[str, Any]:
        text = text_config(self.model)
        return {"layers": self.layers, "target_layers": int(text_config(self.target.model).num_hidden_layers),
                "hidden": int(text.hidden_size), "head_vocab": int(self.model.get_output_embeddings().weight.shape[0]),
                "parameters": sum(p.numel() for p in {id(p): p for p in self.model.parameters()}.values()),
                "architecture": type(self.model).__name__}

    # --- helpers -----------------------------------------------------------------------------------------
    def _head(self, h: Any) -> Any:
        from draftfinder.measure.scoring import _head

        return _head(self.model, h, normed=True)

    def _hidden(self, data: Any, batch: List[int]) -> Tuple[Any, List[Tuple[int, int, int]]]:
        """The final-normed hidden states [B, L, H] of a right-padded batch, and per row (sequence index, first
        position trained, end)."""
        import torch

        lengths = [len(data.sequences[i].ids) for i in batch]
        width = max(lengths)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            ids[row, :lengths[row]] = torch.tensor(data.sequences[i].ids)
            mask[row, :lengths[row]] = 1
        padded = any(n != width for n in lengths)
        out = self.model.model(input_ids=ids.to(self.device),
                               attention_mask=mask.to(self.device) if padded else None, use_cache=False)
        rows = [(i, min(data.sequences[i].loss_from, n), n) for i, n in zip(batch, lengths)]
        return out.last_hidden_state, rows


def _layer(key: str) -> int:
    """The decoder layer index a state-dict key belongs to (−1 for the embeddings, norm and head)."""
    parts = key.split(".")
    for a, b in zip(parts, parts[1:]):
        if a == "layers" and b.isdigit():
            return int(b)
    return -1


def _groups(data: Any, indices: List[int], budget: int) -> List[List[int]]:
    """``indices`` in batches of similar length, Σ padded tokens ≤ ``budget``."""
    order = sorted(indices, key=lambda i: len(data.sequences[i].ids))
    out: List[List[int]] = []
    for i in order:
        n = len(data.sequences[i].ids)
        if out and (len(out[-1]) + 1) * n <= budget:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def _factory(target: Any, *, layers: Optional[int], draft_vocab: Optional[int], seed: int, data: Any) -> IndependentStudent:
    if draft_vocab is not None:
        raise UsageError("--draft-vocab applies to --method eagle3 only: an independent draft keeps the full "
                         "vocabulary (so every engine accepts it)", hint="leave --draft-vocab out")
    return IndependentStudent(target, layers=layers, seed=seed)


register_student("independent", _factory)
