"""Which published measurements (``draftfinder/data/published.json``) are about a given target/draft pair.

Used by ``find`` (the "published:" lines of each candidate, and its speedup basis) and by ``draftfinder
published`` (the filters). Pure lookups over :mod:`draftfinder.predict.published`; no I/O beyond loading it.

Model identity. A published row names its target and draft by Hub id (``Qwen/Qwen2.5-7B-Instruct``) and,
for GGUF rows, by file (``Qwen/Qwen2.5-7B-Instruct-GGUF/qwen2.5-7b-instruct-q8_0.gguf``); the dataset gives
the base model's id for quantized files. A model draftfinder evaluates is known by its id, a local path, its
GGUF file and the base model its files declare. Both sides are reduced to a *model key*: the last path part,
lower-cased, without ``.gguf``, a split-file ``-00001-of-00004`` tail, and every trailing quantization marker
(``-GGUF``, ``-Q8_0``, ``-fp16``, ``-AWQ``, ``-4bit`` …, :func:`draftfinder.models.family.strip_quant_suffixes`).
So ``Qwen/Qwen2.5-0.5B-Instruct``, ``bartowski/Qwen2.5-0.5B-Instruct-GGUF``, a folder ``Qwen__Qwen2.5-0.5B-Instruct``
and ``qwen2.5-0.5b-instruct-q8_0.gguf`` are one model; ``Qwen2.5-0.5B`` (base) and ``Qwen2.5-0.5B-Instruct``
are two. A row is *about the pair* when its target key and its draft key both match.

Same setup (the rule for a "published" speedup basis, :func:`exact_rows`): a row about the pair whose

1. weight formats equal the pair's, target and draft each (:func:`format_key`: GGUF type names, ``fp16`` =
   ``f16`` = ``float16``, ``bf16`` = ``bfloat16``; bf16 is not fp16, Q8_0 is not F16);
2. hardware preset is the chosen ``--hardware`` (aliases resolved), on one device (``hardware.count`` 1);
3. engine is the chosen engine (:func:`engine_key`: llama.cpp, vllm, sglang, transformers; MLX, gpt-fast,
   ExLlamaV2, T5X and research code are none of ours and never match);
4. task fits the chosen task when the source splits by task (:func:`task_fits`).

Only then does a published speedup stand in for the estimate. Rows about the pair on other hardware, engines
or formats are shown (labelled with their setup) but never change a number.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set

from draftfinder.predict.published import PublishedData, PublishedRow, load_published

ENGINE_KEYS = ("llama.cpp", "vllm", "sglang", "transformers", "draftfinder")
_SPLIT_RE = re.compile(r"-\d{5}-of-\d{5}$", re.IGNORECASE)
# GGUF file-type tails family.strip_quant_suffixes does not know (q4_0, q5_1, iq4_xs, f16, bf16, f32)
_GGUF_TYPE_RE = re.compile(r"[-_.](i?q\d(_[a-z0-9]+)*|tq\d_\d|f16|bf16|f32)$", re.IGNORECASE)
_FORMAT_ALIASES = {
    "f16": "f16", "fp16": "f16", "float16": "f16", "half": "f16", "torch.float16": "f16",
    "bf16": "bf16", "bfloat16": "bf16", "torch.bfloat16": "bf16",
    "f32": "f32", "fp32": "f32", "float32": "f32", "torch.float32": "f32",
}


# --- keys ---------------------------------------------------------------------------------------------

def model_key(name: Optional[str]) -> Optional[str]:
    """``Qwen/Qwen2.5-7B-Instruct-GGUF`` → ``qwen2.5-7b-instruct`` (see the module docstring); None for empty."""
    from draftfinder.models.family import strip_quant_suffixes

    if not name:
        return None
    text = str(name).strip().rstrip("/\\")
    if not text:
        return None
    last = re.split(r"[/\\]", text)[-1]
    if "__" in last:                                   # a folder named ORG__NAME (the HF-id-as-folder convention)
        last = last.split("__")[-1]
    if last.lower().endswith(".gguf"):
        last = last[:-5]
    last = _SPLIT_RE.sub("", last)
    previous = None
    while previous != last:
        previous = last
        last = _GGUF_TYPE_RE.sub("", strip_quant_suffixes(last))
    return last.lower() or None


def keys_of_names(names: Iterable[Optional[str]]) -> Set[str]:
    return {k for k in (model_key(n) for n in names) if k}


@lru_cache(maxsize=4096)
def row_model_keys(ref: Any) -> FrozenSet[str]:
    """Keys of a row's target or draft: its Hub id and, for a GGUF file on the Hub, its repository and file name
    (labels such as ``7B FP16`` are not names)."""
    if ref is None:
        return set()
    names = [ref.id]
    parts = str(ref.file or "").split("/")
    if len(parts) >= 3 and parts[-1].lower().endswith(".gguf"):     # ORG/REPO/file.gguf on the Hub
        names += ["/".join(parts[:2]), parts[-1]]
    return frozenset(keys_of_names(names))


def info_model_keys(info: Any, extra_names: Sequence[str] = ()) -> Set[str]:
    """Keys of a :class:`~draftfinder.find.results.ModelInfo`: id (or path), GGUF file, declared base model,
    the original of a quantized re-upload, and any other names it was found under."""
    from draftfinder.models.family import base_model_of

    mid = getattr(info, "model_id", None)
    names = [mid, getattr(info, "gguf_file", None), getattr(info, "base_model_id", None),
             base_model_of(mid) if mid else None, *extra_names]
    return keys_of_names(names)


def format_key(text: Optional[str]) -> Optional[str]:
    """A weight format for comparison: GGUF type names upper-cased (``Q4_K_M``), 16/32-bit float names unified
    (``fp16``/``F16``/``float16`` → ``f16``; ``bf16``/``bfloat16`` → ``bf16``), others lower-cased."""
    if not text:
        return None
    t = str(text).strip()
    low = t.lower()
    if low in _FORMAT_ALIASES:
        return _FORMAT_ALIASES[low]
    if re.fullmatch(r"(i?q\d\w*|tq\d\w*)", low):
        return t.upper()
    return low


def format_bits(key: Optional[str]) -> Optional[float]:
    """Approximate bits per weight of a :func:`format_key` — only to order rows by how close their formats are
    (GGUF ``Qn_*`` ≈ n + 0.5, ``Nbit``/``N.Nbpw`` = N, 16/32-bit floats); None when unknown."""
    if not key:
        return None
    k = key.lower()
    if k in ("f16", "bf16"):
        return 16.0
    if k == "f32":
        return 32.0
    m = re.match(r"i?q(\d)", k) or re.match(r"(?:int|fp)?(\d+(?:\.\d+)?)(?:bit|bpw)?", k)
    return float(m.group(1)) + (0.5 if k.startswith(("q", "iq")) else 0.0) if m else None


def _distance(a: Optional[str], b: Optional[str]) -> float:
    ba, bb = format_bits(a), format_bits(b)
    return abs(ba - bb) if ba is not None and bb is not None else 64.0


def info_format_key(info: Any) -> Optional[str]:
    """The weight format of a ModelInfo: GGUF file type, else the quantization method, else the config dtype."""
    quant = getattr(getattr(info, "quantization", None), "value", None)
    dtype = getattr(info, "dtype", None)
    if getattr(info, "gguf_file", None) and dtype:
        return format_key(dtype)
    if quant and quant not in ("none", "gguf"):
        return format_key(quant)
    return format_key(dtype)


def engine_key(engine: Optional[str]) -> Optional[str]:
    """A row's engine as one of :data:`ENGINE_KEYS`, or None when it is not an engine draftfinder models."""
    if not engine:
        return None
    e = engine.strip().lower()
    if e.startswith("llama.cpp") or e.startswith("llama-server") or e.startswith("llama-cpp"):
        return "llama.cpp"
    if e.startswith("vllm"):
        return "vllm"
    if e.startswith("sglang"):
        return "sglang"
    if e.startswith("transformers"):
        return "transformers"
    if e.startswith("draftfinder"):
        return "draftfinder"
    return None


def hardware_key(name: Optional[str]) -> Optional[str]:
    """A ``--hardware`` value as a preset name (aliases of ``hardware.json`` resolved, lower-cased)."""
    if not name:
        return None
    from draftfinder.predict.hardware_specs import hardware_aliases

    key = str(name).strip().lower()
    return hardware_aliases().get(key, key)


_GENERAL_TASKS = ("general", "mixed", "overall")


def task_fits(row_task: Optional[str], task: Optional[str]) -> bool:
    """Whether a row's task is the chosen one: ``general`` takes rows with no task or a mixed/overall one;
    ``summarization``, ``code``, ``chat`` take rows of that task (or no task)."""
    if not row_task or not task:
        return True
    rt = row_task.lower()
    if task == "general":
        return rt.startswith(_GENERAL_TASKS)
    return rt.startswith(task)


# --- text ---------------------------------------------------------------------------------------------

def hardware_label(row: PublishedRow) -> str:
    """``M4 Max``, ``A100 80 GB SXM4``, ``4x H100`` — the preset's short name, else the source's own words."""
    label = None
    if row.hardware_preset:
        from draftfinder.predict.hardware_specs import load_hardware_specs

        spec = load_hardware_specs().get(row.hardware_preset)
        if spec is not None:
            label = re.split(r",| \(", spec.description)[0]
            for prefix in ("Apple ", "GeForce ", "Instinct "):
                if label.startswith(prefix):
                    label = label[len(prefix):]
    label = label or row.hardware_name or "hardware not stated"
    if row.hardware_count and row.hardware_count > 1:
        label = f"{row.hardware_count}x {label}"
    return label


def engine_label(row: PublishedRow) -> str:
    key = engine_key(row.engine)
    if key == "llama.cpp":
        return "llama.cpp"
    return (row.engine or "engine not stated").split(" (")[0]


def acceptance_text(row: PublishedRow) -> Optional[str]:
    """``accepted/drafted 0.69``, ``AL 2.28``, ``α 0.75`` with the K when the source states one."""
    a = row.acceptance
    if a is None:
        return None
    name = {"alpha": "α", "rate": "accepted/drafted", "al": "AL"}.get(a.kind, a.kind)
    k = row.raw.get("k")
    dm = row.raw.get("draft_max")
    at = f" at K={k}" if k else (f" at draft-max {dm}" if dm else "")
    return f"{name} {a.value:.3g}{at}"


def setup_text(row: PublishedRow) -> str:
    """``M4 Max, llama.cpp, Q8_0 target, F16 draft``: where and with what a row was measured."""
    parts = [hardware_label(row), engine_label(row)]
    if row.target.quant:
        parts.append(f"{row.target.quant} target")
    if row.draft is not None and row.draft.quant:
        parts.append(f"{row.draft.quant} draft")
    return ", ".join(parts)


def short_line(row: PublishedRow, *, with_acceptance: bool = False) -> str:
    """``published: 1.66x on M4 Max, llama.cpp, Q8_0 target, F16 draft — draftbench``."""
    parts = [setup_text(row)]
    if row.speedup is not None:
        head = f"published: {row.speedup:.2f}x on "
    else:
        head = "published (no speedup): "
    text = head + ", ".join(parts)
    if with_acceptance:
        acc = acceptance_text(row)
        if acc:
            text += f", {acc}"
    return f"{text} — {row.source_id}"


def full_dict(row: PublishedRow, **extra: Any) -> Dict[str, Any]:
    """Every field of the row as the dataset holds it, plus ``short``, ``cite``, the acceptance converted to all
    three kinds when the source states a fixed K, and ``extra`` (match flags)."""
    out = dict(row.raw)
    out["short"] = short_line(row, with_acceptance=True)
    out["cite"] = row.cite()
    conv = converted_acceptance(row)
    if conv is not None:
        out["acceptance_kinds"] = conv
    out.update(extra)
    return out


def converted_acceptance(row: PublishedRow) -> Optional[Dict[str, Any]]:
    """The row's acceptance in all three kinds at the source's fixed K (``k``), labelled: the published
    figure keeps ``published``; conversions through the i.i.d. model are ``estimated``. None without a fixed K
    (draft-max alone does not say how many tokens a confidence-gated engine drafted)."""
    from draftfinder.constants import PUBLISHED
    from draftfinder.predict import acceptance_kinds as ak

    a, k = row.acceptance, row.raw.get("k")
    if a is None or not k or a.kind not in ak.KINDS:
        return None
    try:
        k = ak.check_k(k)
        ak.check_acceptance(a.value, a.kind, k)
        alpha, given, how = ak.alpha_from_given(a.value, a.kind, k, source=PUBLISHED,
                                                method=f"{row.source_id}: {a.definition}")
    except Exception:                      # a row outside its kind's range: show it as published, unconverted
        return None
    src = PUBLISHED if a.kind == "alpha" else "estimated"
    return ak.views_at_k(alpha, k, source=src, method=how, given=given).to_dict()


# --- matching -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PairMatch:
    """A published row about a pair, and how closely its setup is the one asked about."""

    row: PublishedRow
    same_formats: bool
    same_hardware: bool
    same_engine: bool
    task_fits: bool

    @property
    def same_setup(self) -> bool:
        return self.same_formats and self.same_hardware and self.same_engine and self.task_fits

    def to_dict(self) -> Dict[str, Any]:
        return full_dict(self.row, match={"same_formats": self.same_formats, "same_hardware": self.same_hardware,
                                          "same_engine": self.same_engine, "task_fits": self.task_fits,
                                          "same_setup": self.same_setup})


def rows_for_keys(target_keys: Set[str], draft_keys: Set[str],
                  data: Optional[PublishedData] = None) -> List[PublishedRow]:
    """Rows whose target key is in ``target_keys`` and whose draft key is in ``draft_keys``."""
    data = data or load_published()
    return [r for r in data.rows
            if r.draft is not None and row_model_keys(r.target) & target_keys and row_model_keys(r.draft) & draft_keys]


def match_pair(target: Any, draft: Any, *, hardware: Optional[str] = None, engine: Optional[str] = None,
               task: Optional[str] = None, target_names: Sequence[str] = (), draft_names: Sequence[str] = (),
               data: Optional[PublishedData] = None) -> List[PairMatch]:
    """Published rows about the pair (two ModelInfo), closest setup first.

    Order: same setup, then same formats, same hardware, same engine; then the nearest weight formats (bits per
    weight, target plus draft); then the source and row id (stable).
    """
    t_keys = info_model_keys(target, target_names)
    d_keys = info_model_keys(draft, draft_names)
    if not t_keys or not d_keys:
        return []
    t_fmt, d_fmt = info_format_key(target), info_format_key(draft)
    hw = hardware_key(hardware)
    eng = (engine or "").strip().lower() or None
    out = []
    for row in rows_for_keys(t_keys, d_keys, data):
        same_formats = (t_fmt is not None and d_fmt is not None and format_key(row.target.quant) == t_fmt
                        and format_key(row.draft.quant) == d_fmt)
        same_hw = hw is not None and row.hardware_preset == hw and (row.hardware_count or 1) == 1
        same_engine = eng is not None and engine_key(row.engine) == eng
        out.append(PairMatch(row, same_formats, same_hw, same_engine, task_fits(row.raw.get("task"), task)))
    out.sort(key=lambda m: (not m.same_setup, not m.same_formats, not m.same_hardware, not m.same_engine,
                            _distance(format_key(m.row.target.quant), t_fmt)
                            + _distance(format_key(m.row.draft.quant), d_fmt),
                            m.row.source_id, m.row.row_id))
    return out


def exact_rows(matches: Sequence[PairMatch]) -> List[PublishedRow]:
    """The rows whose published speedup may stand for the pair (same setup, a speedup given)."""
    return [m.row for m in matches if m.same_setup and m.row.speedup is not None]


def published_speedup(rows: Sequence[PublishedRow]) -> Optional[float]:
    """The median published speedup of same-setup rows (one row: its speedup), or None."""
    values = [float(r.speedup) for r in rows if r.speedup is not None]
    return statistics.median(values) if values else None


__all__ = ["ENGINE_KEYS", "PairMatch", "model_key", "keys_of_names", "row_model_keys", "info_model_keys",
           "format_key", "format_bits", "info_format_key", "engine_key", "hardware_key", "task_fits", "hardware_label",
           "engine_label", "acceptance_text", "setup_text", "short_line", "full_dict", "converted_acceptance", "rows_for_keys",
           "match_pair", "exact_rows", "published_speedup"]
