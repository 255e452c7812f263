"""``draftfinder estimate``: the what-if calculator — speedup for every K from sizes, bits, layers and α.

    draftfinder estimate --target-params 7B --target-bits bf16 --target-layers 32 \\
                         --draft-params 500M --draft-bits q4_k_m --draft-layers 24 \\
                         --acceptance 0.7 [--acceptance-kind alpha|rate|al --acceptance-k K]
                         [--hardware a100-80gb] [--max-k 16] [--format table|json|yaml]

Without ``--acceptance`` the acceptance prior (:mod:`draftfinder.predict.acceptance`) supplies α from the sizes,
``--task`` and ``--different-family``. Everything printed is an estimate from the latency model of
:mod:`draftfinder.predict.latency` and Leviathan et al. 2023 Theorem 3.8 (with the verify-cost extension), labelled
with its method; ``--measured`` labels a given α as measured, ``--cost-ratio`` supplies a measured c.
``--acceptance-kind rate|al`` reads ``--acceptance`` as accepted ÷ drafted or acceptance length at
``--acceptance-k`` (cli/acceptance_flags.py); α, accepted ÷ drafted and AL are printed at the recommended K.
"""

from __future__ import annotations

import argparse
import re
from typing import Any, Dict

from draftfinder.cli import acceptance_flags
from draftfinder.errors import NumberError, UsageError
from draftfinder.ranges import MAX_LAYERS, MAX_PARAMETERS, check_number, parse_number

HELP = "what-if calculator: expected speedup for every K from model sizes, bits, layers and acceptance rate"

# Bits per weight by format name. Sources:
# - ggml block layouts (ggml/src/ggml-common.h): Q8_0 = 32 int8 + one fp16 scale = 34 bytes / 32 weights
#   = 8.5; Q4_0 = 16 + 2 bytes = 4.5; Q4_1 = 16 + 2 + 2 = 5.0; Q5_0 = 22 bytes = 5.5; Q5_1 = 24 bytes = 6.0.
# - k-quant and i-quant mixes: whole-file averages for Llama-3.1-8B from llama.cpp tools/quantize/README.md
#   (Q2_K 3.1593, Q3_K_S 3.6429, Q3_K_L 4.2979, Q4_K_S 4.6672, Q4_K_M 4.8944, Q5_K_S 5.5704, Q5_K_M 5.7036,
#   Q6_K 6.5633, IQ4_XS 4.4597). Mixes vary a little by model; pass a number for an exact file.
# - nf4 with double quantization: 4 + 0.127 bits (Dettmers et al. 2023, QLoRA, §3 "Double Quantization").
# - int8 / int4 / fp8 / gptq / awq: nominal widths; per-row or per-group scales are not counted.
BITS_BY_NAME: Dict[str, float] = {
    "fp32": 32.0, "f32": 32.0, "float32": 32.0,
    "fp16": 16.0, "f16": 16.0, "float16": 16.0, "half": 16.0,
    "bf16": 16.0, "bfloat16": 16.0,
    "fp8": 8.0, "float8": 8.0,
    "int8": 8.0, "bnb-8bit": 8.0,
    "int4": 4.0, "gptq": 4.0, "awq": 4.0,
    "nf4": 4.127, "bnb-4bit": 4.127,
    "q8_0": 8.5, "q5_1": 6.0, "q5_0": 5.5, "q4_1": 5.0, "q4_0": 4.5,
    "q6_k": 6.5633, "q5_k_m": 5.7036, "q5_k_s": 5.5704, "q4_k_m": 4.8944, "q4_k_s": 4.6672,
    "q3_k_l": 4.2979, "q3_k_s": 3.6429, "q2_k": 3.1593, "iq4_xs": 4.4597,
}

_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
_PARAMS_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMbBgGtT]?)\s*$")


def parse_params(text: str, flag: str = "--params") -> float:
    """``7e9``, ``7B``, ``1.5b``, ``500M``, ``7615616512`` → parameter count in [1, ``ranges.MAX_PARAMETERS``]."""
    m = _PARAMS_RE.match(str(text).replace("_", "").replace(",", ""))
    hint = "write it like 7B, 1.5B, 500M, 7e9 or 7615616512"
    if not m:
        raise NumberError(flag, "a parameter count", str(text), hint=hint)
    value = float(m.group(1)) * _SUFFIX[m.group(2).lower()]
    try:
        return check_number(value, flag, low=1, high=MAX_PARAMETERS, unit="parameters", hint=hint)
    except NumberError as err:
        raise NumberError(flag, err.expected, str(text), hint=hint) from None


def parse_bits(text: str, flag: str = "--bits") -> float:
    """A number of bits per weight (0 < bits ≤ 64) or a format name from :data:`BITS_BY_NAME`."""
    key = str(text).strip().lower()
    if key in BITS_BY_NAME:
        return BITS_BY_NAME[key]
    hint = f"give bits per weight (e.g. 16 for bf16, 4.5) or one of: {', '.join(BITS_BY_NAME)}"
    return parse_number(text, flag, low=0, high=64, low_open=True, unit="bits per weight or a format name",
                        hint=hint)


def parse_layers(text: str, flag: str = "--layers") -> int:
    return parse_number(text, flag, kind=int, low=1, high=MAX_LAYERS,
                        hint="give num_hidden_layers from the model's config.json, e.g. 32")


def parse_acceptance(text: str, flag: str = "--acceptance") -> float:
    """``0.7`` or ``70%`` → α = 0.7 (in [0, 1); other kinds: predict/acceptance_kinds.py parse_acceptance)."""
    from draftfinder.predict.acceptance_kinds import parse_acceptance as parse_kind

    return parse_kind(text, "alpha", name=flag)


def configure(parser: argparse.ArgumentParser) -> None:
    from draftfinder.constants import DEFAULT_HARDWARE, MAX_K
    from draftfinder.predict.latency import PROFILES
    from draftfinder.report.output import FORMATS

    g = parser.add_argument_group("target model")
    g.add_argument("--target-params", required=True, metavar="N", help="parameters: 7B, 500M, 7e9, 7615616512")
    g.add_argument("--target-bits", default="16", metavar="B", help="bits/weight or a format (bf16, q8_0, q4_k_m, int4…); default 16")
    g.add_argument("--target-layers", required=True, metavar="L", help="transformer layers (config num_hidden_layers)")
    g = parser.add_argument_group("draft model")
    g.add_argument("--draft-params", required=True, metavar="N")
    g.add_argument("--draft-bits", default="16", metavar="B")
    g.add_argument("--draft-layers", required=True, metavar="L")
    g = parser.add_argument_group("acceptance and cost")
    g.add_argument("--acceptance", metavar="A",
                   help="acceptance, of the kind --acceptance-kind says (default α: 0.7 or 70%%); omitted: the "
                        "prior fitted to published measurements")
    g.add_argument("--measured", action="store_true", help="label the --acceptance value as measured")
    acceptance_flags.add_flags(g)
    g.add_argument("--task", default="general", choices=["general", "code", "chat", "summarization"],
                   help="task, for the prior when --acceptance is omitted: summarization applies the fitted summarization "
                        "offset (Leviathan et al. 2023, CNN/DM vs En-De); general, code and chat use the same prior "
                        "(no published within-study contrast for them)")
    g.add_argument("--different-family", action="store_true",
                   help="draft shares the tokenizer but not the family (prior only)")
    g.add_argument("--cost-ratio", metavar="C", help="a measured c (draft step / target step) instead of the latency model's")
    parser.add_argument("--hardware", default=DEFAULT_HARDWARE, metavar="H",
                        help=f"hardware profile: {', '.join(PROFILES)} (default {DEFAULT_HARDWARE})")
    parser.add_argument("--max-k", default=str(MAX_K), metavar="K", help=f"largest K to consider (default {MAX_K})")
    parser.add_argument("--format", default="table", choices=list(FORMATS), help="output format (default table)")


def _cost_ratio(text: str) -> float:
    return parse_number(text, "--cost-ratio", low=0, hint="c = draft step time / target step time, e.g. 0.05")


def _max_k(text: str) -> int:
    return parse_number(text, "--max-k", kind=int, low=1, high=64, hint="e.g. --max-k 16")


def build(args: argparse.Namespace) -> Dict[str, Any]:
    """Parse the flags and compute the payload (a plain dict; also used by tests)."""
    from draftfinder.predict.acceptance import prior_acceptance
    from draftfinder.predict.estimator import SpeedupEstimator
    from draftfinder.predict.latency import ModelShape, get_profile

    target = ModelShape(parse_params(args.target_params, "--target-params"),
                        parse_bits(args.target_bits, "--target-bits"),
                        parse_layers(args.target_layers, "--target-layers"))
    draft = ModelShape(parse_params(args.draft_params, "--draft-params"),
                       parse_bits(args.draft_bits, "--draft-bits"),
                       parse_layers(args.draft_layers, "--draft-layers"))
    profile = get_profile(args.hardware)
    max_k = _max_k(args.max_k)
    cost_ratio = _cost_ratio(args.cost_ratio) if args.cost_ratio is not None else None

    given = acceptance_flags.parse(args)          # --acceptance in its --acceptance-kind, as α (None: the prior)
    if args.acceptance is None:
        if args.measured:
            raise UsageError("--measured labels an --acceptance value, but none was given",
                             hint="add --acceptance A, or drop --measured to use the prior")
        acceptance: Any = prior_acceptance(target.params, draft.params, same_family=not args.different_family,
                                           task=args.task, draft_bits=draft.bits_per_param,
                                           target_bits=target.bits_per_param)
        result = SpeedupEstimator.evaluate(target, draft, acceptance, profile, max_k, cost_ratio=cost_ratio)
        kinds = acceptance_flags.views(acceptance.alpha, result.recommended_k, acceptance.source, acceptance.method)
    else:
        alpha, figure, a_source, a_method = given
        result = SpeedupEstimator.evaluate(
            target, draft, alpha, profile, max_k, cost_ratio=cost_ratio,
            acceptance_source=a_source, acceptance_method=a_method,
        )
        kinds = acceptance_flags.views(alpha, result.recommended_k, a_source, a_method, figure)
    payload: Dict[str, Any] = {
        "target": {"params": target.params, "bits_per_param": target.bits_per_param, "num_layers": target.num_layers},
        "draft": {"params": draft.params, "bits_per_param": draft.bits_per_param, "num_layers": draft.num_layers},
        "size_ratio": draft.params / target.params,
    }
    payload.update(result.to_dict())
    payload["acceptance_kinds"] = kinds
    payload["hardware_profile"] = profile.to_dict()
    return payload


def _fmt_params(n: float) -> str:
    for div, suf in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.3g}{suf}"
    return f"{n:.0f}"


def render_table(d: Dict[str, Any]) -> str:
    """Plain-text table of a :func:`build` payload (after ``schema.to_plain``)."""
    prov = d.get("provenance", {})
    hwp = d["hardware_profile"]

    def label(key: str) -> str:
        p = prov.get(key) or {}
        return f"[{p.get('source', '?')}: {p.get('method', '')}]"

    lines = [
        f"hardware     {hwp['name']}: {hwp['memory_bandwidth_gb_s']:g} GB/s × {hwp['bandwidth_efficiency']:.3g}, "
        f"{hwp['peak_tflops']:g} TFLOPS × {hwp['compute_efficiency']:.3g}, {hwp['per_layer_overhead_ms']:.3g} ms/layer",
        f"target       {_fmt_params(d['target']['params'])} params, {d['target']['bits_per_param']:g} bits/weight, "
        f"{d['target']['num_layers']} layers: {d['target_step_ms']:.3g} ms/token, "
        f"{d['target_tokens_per_s']:.3g} tok/s plain  {label('target_step_ms')}",
        f"draft        {_fmt_params(d['draft']['params'])} params, {d['draft']['bits_per_param']:g} bits/weight, "
        f"{d['draft']['num_layers']} layers: {d['draft_step_ms']:.3g} ms/token  (size ratio {d['size_ratio']:.3g})",
    ]
    alpha = f"{d['acceptance_rate']:.3f}"
    if d.get("acceptance_low") is not None:
        alpha += f" (band {d['acceptance_low']:.3f}–{d['acceptance_high']:.3f})"
    lines.append(f"acceptance α {alpha}  {label('acceptance_rate')}")
    lines += acceptance_flags.table_lines(d.get("acceptance_kinds"))
    lines.append(f"cost ratio c {d['cost_ratio']:.4g}  {label('cost_ratio')}")
    lines.append("")
    lines.append("   K  verify cost  speedup")
    best = int(d["recommended_k"])
    for k in sorted(d["speedup_by_k"], key=int):
        mark = "  ← recommended" if int(k) == best else ""
        lines.append(f"{int(k):4d}  {d['verify_cost_by_k'][k]:11.3f}  {d['speedup_by_k'][k]:6.2f}x{mark}")
    lines.append(f"     verify cost {label('verify_cost_by_k')}")
    lines.append(f"     speedup {label('speedup_by_k')}")
    lines.append("")
    verdict = (f"recommended K = {best}: expected speedup {d['speedup']:.2f}x "
               f"({d['speculative_tokens_per_s']:.3g} tok/s), {d['expected_tokens_per_step']:.2f} tokens per target pass")
    if d.get("speedup_low") is not None:
        verdict += f"; {d['speedup_low']:.2f}x–{d['speedup_high']:.2f}x over the α band"
    lines.append(verdict + "  [estimated]")
    if not d.get("worthwhile", True):
        lines.append(f"speculative decoding does not pay here: even the best K is slower than plain decoding "
                     f"(break-even α at K={best}: {d['break_even_acceptance']:.3f})")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from draftfinder.report.output import emit

    emit(build(args), args.format, table=render_table)
    return 0
