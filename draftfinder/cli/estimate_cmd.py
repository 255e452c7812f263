"""``draftfinder estimate``: the what-if calculator — speedup for every K from sizes, bits, layers and α.

    draftfinder estimate --target-params 7B --target-bits bf16 --target-layers 32 \\
                         --draft-params 500M --draft-bits q4_k_m --draft-layers 24 \\
                         --acceptance 0.7 [--acceptance-kind alpha|rate|al --acceptance-k K] \\
                         [--hardware a100-80gb] [--engine vllm] [--max-k 16] \\
                         [--target-kv-heads 8 --target-head-dim 128 ...] [--ctx 4096] [--concurrency 16] \\
                         [--format table|json|yaml]

Without ``--acceptance`` the acceptance prior (:mod:`draftfinder.predict.acceptance`) supplies α from the sizes,
``--task`` and ``--different-family``. Everything printed is an estimate from the latency model of
:mod:`draftfinder.predict.latency` and Leviathan et al. 2023 Theorem 3.8 (with the verify-cost extension), labelled
with its method; ``--measured`` labels a given α as measured, ``--cost-ratio`` supplies a measured c.

The device (``--hardware``, detected by default), engine, context and concurrency flags are those of ``find``
(:mod:`draftfinder.cli.device_flags`). The memory check counts both KV caches when ``--target-kv-heads`` /
``--target-head-dim`` (and the draft's) are given, else the weights only (and says so); a pair that does not fit
gets the verdict instead of a speedup. With ``--concurrency N`` the speedup, K and the K table are for N
requests decoded together; the concurrency table shows N = 1, 4, 16, 64 too.
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


def parse_kv(text: Any, flag: str) -> Any:
    from draftfinder.ranges import MAX_HEADS, MAX_HIDDEN_SIZE

    if text is None:
        return None
    high = MAX_HEADS if flag.endswith("kv-heads") else MAX_HIDDEN_SIZE
    example = "num_key_value_heads, e.g. 8" if flag.endswith("kv-heads") else "head_dim (hidden / heads), e.g. 128"
    return parse_number(text, flag, kind=int, low=1, high=high, hint=f"give the config's {example}")


def configure(parser: argparse.ArgumentParser) -> None:
    from draftfinder.cli.device_flags import add_device_flags
    from draftfinder.constants import MAX_K
    from draftfinder.report.output import FORMATS

    g = parser.add_argument_group("target model")
    g.add_argument("--target-params", required=True, metavar="N", help="parameters: 7B, 500M, 7e9, 7615616512")
    g.add_argument("--target-bits", default="16", metavar="B", help="bits/weight or a format (bf16, q8_0, q4_k_m, int4…); default 16")
    g.add_argument("--target-layers", required=True, metavar="L", help="transformer layers (config num_hidden_layers)")
    g.add_argument("--target-kv-heads", metavar="H", help="KV heads (config num_key_value_heads), for the memory check")
    g.add_argument("--target-head-dim", metavar="D", help="head size (config head_dim, or hidden / heads)")
    g = parser.add_argument_group("draft model")
    g.add_argument("--draft-params", required=True, metavar="N")
    g.add_argument("--draft-bits", default="16", metavar="B")
    g.add_argument("--draft-layers", required=True, metavar="L")
    g.add_argument("--draft-kv-heads", metavar="H")
    g.add_argument("--draft-head-dim", metavar="D")
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
    add_device_flags(parser)
    parser.add_argument("--max-k", default=str(MAX_K), metavar="K", help=f"largest K to consider (default {MAX_K})")
    parser.add_argument("--format", default="table", choices=list(FORMATS), help="output format (default table)")


def _cost_ratio(text: str) -> float:
    return parse_number(text, "--cost-ratio", low=0, hint="c = draft step time / target step time, e.g. 0.05")


def _max_k(text: str) -> int:
    return parse_number(text, "--max-k", kind=int, low=1, high=64, hint="e.g. --max-k 16")


def _shape(params_text: str, bits_text: str, layers_text: str, kv_heads: Any, head_dim: Any, role: str) -> Any:
    """The latency model's ModelShape from the what-if flags: the format by name when the latency model knows it
    (its kernels depend on it), else the bits; the KV cache per token when the shape is given."""
    from draftfinder.predict.formats import weight_format
    from draftfinder.predict.latency import ModelShape
    from draftfinder.predict.memory import kv_bytes_per_token

    params = parse_params(params_text, f"--{role}-params")
    bits = parse_bits(bits_text, f"--{role}-bits")
    layers = parse_layers(layers_text, f"--{role}-layers")
    fmt: Any = bits
    if str(bits_text).strip().lower() in BITS_BY_NAME:
        try:
            fmt = weight_format(bits_text).name
        except ValueError:
            fmt = bits
    kv = kv_bytes_per_token(layers, kv_heads, head_dim) if kv_heads and head_dim else 0.0
    return ModelShape.from_bits(params, fmt, layers, kv_bytes_per_token=kv, name=role)


def _is_gguf_format(text: str) -> bool:
    key = str(text).strip().lower()
    return key in BITS_BY_NAME and (key.startswith("q") or key.startswith("iq"))


def build(args: argparse.Namespace) -> Dict[str, Any]:
    """Parse the flags and compute the payload (a plain dict; also used by tests)."""
    from draftfinder.cli.device_flags import parse_device_flags, resolve_device
    from draftfinder.constants import ESTIMATED
    from draftfinder.find.results import Provenance, to_plain
    from draftfinder.predict import device_latency
    from draftfinder.predict.acceptance import prior_acceptance
    from draftfinder.predict.concurrency import METHOD as CONCURRENCY_METHOD, concurrency_table
    from draftfinder.predict.devices import check_engine_on_device, default_engine, default_engine_reason
    from draftfinder.predict.memory import DEFAULT_CTX, ModelMemory, check_fit

    kv = {flag: parse_kv(getattr(args, flag[2:].replace("-", "_")), flag)
          for flag in ("--target-kv-heads", "--target-head-dim", "--draft-kv-heads", "--draft-head-dim")}
    target = _shape(args.target_params, args.target_bits, args.target_layers, kv["--target-kv-heads"],
                    kv["--target-head-dim"], "target")
    draft = _shape(args.draft_params, args.draft_bits, args.draft_layers, kv["--draft-kv-heads"],
                   kv["--draft-head-dim"], "draft")
    max_k = _max_k(args.max_k)
    cost_ratio = _cost_ratio(args.cost_ratio) if args.cost_ratio is not None else None
    flags = parse_device_flags(args)
    device = resolve_device(flags)
    gguf = _is_gguf_format(args.target_bits)
    engine = check_engine_on_device(flags["engine"], device) if flags.get("engine") else default_engine(device, gguf=gguf)
    engine_source = "--engine" if flags.get("engine") else default_engine_reason(device, gguf=gguf)
    ctx, n = flags.get("ctx", DEFAULT_CTX), flags.get("concurrency", 1)

    given = acceptance_flags.parse(args)          # --acceptance in its --acceptance-kind, as α (None: the prior)
    if args.acceptance is None:
        if args.measured:
            raise UsageError("--measured labels an --acceptance value, but none was given",
                             hint="add --acceptance A, or drop --measured to use the prior")
        acceptance: Any = prior_acceptance(target.params, draft.params, same_family=not args.different_family,
                                           task=args.task, draft_bits=draft.bits_per_param,
                                           target_bits=target.bits_per_param)
        alpha, alpha_source, alpha_method, figure = acceptance.alpha, acceptance.source, acceptance.method, None
        result = device_latency.evaluate(target, draft, acceptance, device, engine, max_k, ctx=ctx,
                                         cost_ratio=cost_ratio)
    else:
        alpha, figure, alpha_source, alpha_method = given
        if figure.kind != "alpha" and figure.mean_drafted is None:
            # a rate or AL at K: converted with the engine's own drafting policy (llama.cpp's confidence gate
            # drafts fewer than K tokens; predict/drafting.py), not the fixed-K inversion
            result = device_latency.evaluate(
                target, draft, figure.value, device, engine, max_k, ctx=ctx, cost_ratio=cost_ratio,
                acceptance_kind=figure.kind, acceptance_k=figure.k, acceptance_source=alpha_source,
                acceptance_method=f"given with --acceptance-kind {figure.kind} --acceptance-k {figure.k}",
            )
            alpha = result.acceptance_rate
            prov = result.provenance["acceptance_rate"]
            alpha_method = f"{prov.method}: {prov.detail}" if prov.detail else prov.method
        else:
            result = device_latency.evaluate(
                target, draft, alpha, device, engine, max_k, ctx=ctx, cost_ratio=cost_ratio,
                acceptance_source=alpha_source, acceptance_method=alpha_method,
            )
    target_mem = ModelMemory.from_shape("target", target.params, target.bits_per_param, layers=target.num_layers,
                                        kv_heads=kv["--target-kv-heads"], head_dim=kv["--target-head-dim"],
                                        missing_hint="add --target-kv-heads and --target-head-dim")
    draft_mem = ModelMemory.from_shape("draft", draft.params, draft.bits_per_param, layers=draft.num_layers,
                                       kv_heads=kv["--draft-kv-heads"], head_dim=kv["--draft-head-dim"],
                                       missing_hint="add --draft-kv-heads and --draft-head-dim")
    fit = check_fit(target_mem, draft_mem, device, ctx=ctx, sequences=n)
    table = concurrency_table(target, draft, alpha, device, engine, requested=n, max_k=max_k, ctx=ctx,
                              target_memory=target_mem, draft_memory=draft_mem, alpha_source=alpha_source)
    payload: Dict[str, Any] = {
        "target": {"params": target.params, "bits_per_param": target.bits_per_param, "num_layers": target.num_layers},
        "draft": {"params": draft.params, "bits_per_param": draft.bits_per_param, "num_layers": draft.num_layers},
        "size_ratio": draft.params / target.params,
    }
    payload.update(result.to_dict())
    if n > 1:                      # the headline numbers are for N requests decoded together
        level = table.at(n)
        best = max(level.speedup_by_k, key=lambda k: (level.speedup_by_k[k], -k))
        payload.update({
            "speedup_by_k": to_plain(level.speedup_by_k), "verify_cost_by_k": to_plain(level.verify_cost_by_k),
            "recommended_k": best, "speedup": level.speedup_by_k[best], "cost_ratio": level.cost_ratio,
            "target_step_ms": level.target_step_ms, "target_tokens_per_s": level.plain_tokens_per_s,
            "draft_step_ms": level.cost_ratio * level.target_step_ms,
            "speculative_tokens_per_s": level.plain_tokens_per_s * level.speedup_by_k[best],
            "worthwhile": level.speedup_by_k[best] > 1.0, "speedup_low": None, "speedup_high": None,
            "break_even_acceptance": None,
        })
        for key, method in (("speedup", CONCURRENCY_METHOD), ("speedup_by_k", CONCURRENCY_METHOD),
                            ("recommended_k", f"argmax of expected speedup over k = 1…{max_k} at N = {n}"),
                            ("cost_ratio", f"latency model at batch N = {n}"),
                            ("verify_cost_by_k", f"latency model at batch N = {n}")):
            payload["provenance"][key] = to_plain(Provenance(ESTIMATED, method, f"N = {n}; α {alpha_source}"))
    if fit.fits is False:          # no speedup for a pair that cannot run there: the verdict instead
        payload.update({"speedup": None, "speedup_by_k": {}, "recommended_k": None, "speculative_tokens_per_s": None,
                        "speedup_low": None, "speedup_high": None, "break_even_acceptance": None,
                        "worthwhile": False})
        payload["provenance"]["speedup"] = to_plain(Provenance(ESTIMATED, "does not fit", fit.verdict))
    payload["hardware"] = device.name
    payload["device"] = device.to_dict()
    payload["engine"] = {"name": engine, "chosen_by": engine_source,
                         "latency_model": device_latency.engine_note(engine, device)}
    payload["ctx_tokens"] = ctx
    payload["concurrency"] = n
    payload["fit"] = fit.to_dict()
    payload["concurrency_table"] = table.to_dict()
    k_views = payload.get("recommended_k") or max_k
    payload["acceptance_kinds"] = acceptance_flags.views(alpha, int(k_views), alpha_source, alpha_method, figure)
    return payload


def _fmt_params(n: float) -> str:
    for div, suf in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.3g}{suf}"
    return f"{n:.0f}"


def render_table(d: Dict[str, Any]) -> str:
    """Plain-text table of a :func:`build` payload (after ``schema.to_plain``)."""
    from draftfinder.report.table import concurrency_lines, device_lines

    prov = d.get("provenance", {})
    fit = d.get("fit") or {}

    def label(key: str) -> str:
        p = prov.get(key) or {}
        return f"[{p.get('source', '?')}: {p.get('method', '')}]"

    lines = device_lines(d)
    n = d.get("concurrency", 1)
    per = f" per step of {n} requests" if n > 1 else ""
    lines += [
        f"target       {_fmt_params(d['target']['params'])} params, {d['target']['bits_per_param']:g} bits/weight, "
        f"{d['target']['num_layers']} layers: {d['target_step_ms']:.3g} ms/token{per}, "
        f"{d['target_tokens_per_s']:.3g} tok/s plain  {label('target_step_ms')}",
        f"draft        {_fmt_params(d['draft']['params'])} params, {d['draft']['bits_per_param']:g} bits/weight, "
        f"{d['draft']['num_layers']} layers: {d['draft_step_ms']:.3g} ms/token{per}  (size ratio {d['size_ratio']:.3g})",
    ]
    alpha = f"{d['acceptance_rate']:.3f}"
    if d.get("acceptance_low") is not None:
        alpha += f" (band {d['acceptance_low']:.3f}–{d['acceptance_high']:.3f})"
    lines.append(f"acceptance α {alpha}  {label('acceptance_rate')}")
    lines += acceptance_flags.table_lines(d.get("acceptance_kinds"))
    lines.append(f"cost ratio c {d['cost_ratio']:.4g}  {label('cost_ratio')}")
    lines.append(f"memory       {fit.get('verdict')}  [estimated: weights + both KV caches at {fit.get('ctx_tokens')} "
                 f"tokens × {fit.get('sequences')} request(s)]")
    for note in fit.get("notes") or []:
        lines.append(f"             {note}")
    lines.append("")
    if d.get("speedup") is None:
        lines.append(f"no speedup: the pair {fit.get('verdict')} — choose a smaller format (--target-bits), more "
                     "devices (--device-count), a shorter --ctx or other --hardware")
    else:
        lines.append("   K  verify cost  speedup" + (f"   (N = {n} requests decoded together)" if n > 1 else ""))
        best = int(d["recommended_k"])
        for k in sorted(d["speedup_by_k"], key=int):
            mark = "  ← recommended" if int(k) == best else ""
            lines.append(f"{int(k):4d}  {d['verify_cost_by_k'][k]:11.3f}  {d['speedup_by_k'][k]:6.2f}x{mark}")
        lines.append(f"     verify cost {label('verify_cost_by_k')}")
        lines.append(f"     speedup {label('speedup_by_k')}")
        lines.append("")
        verdict = (f"recommended K = {best}: expected speedup {d['speedup']:.2f}x "
                   f"({d['speculative_tokens_per_s']:.3g} tok/s), {d['expected_tokens_per_step']:.2f} tokens per "
                   "target pass" if n == 1 else
                   f"recommended K = {best} at N = {n}: expected speedup {d['speedup']:.2f}x per request "
                   f"({d['speculative_tokens_per_s']:.3g} tok/s over the {n} requests)")
        if d.get("speedup_low") is not None:
            verdict += f"; {d['speedup_low']:.2f}x–{d['speedup_high']:.2f}x over the α band"
        lines.append(verdict + "  [estimated]")
        if not d.get("worthwhile", True):
            be = d.get("break_even_acceptance")
            lines.append("speculative decoding does not pay here: even the best K is slower than plain decoding"
                         + (f" (break-even α at K={best}: {be:.3f})" if be is not None else ""))
    if d.get("concurrency_table"):
        lines += ["", "concurrency (speedup per request):"]
        lines += concurrency_lines(d["concurrency_table"], n)
        if prov.get("cost_ratio", {}).get("source") == "measured":
            lines.append("   (the concurrency table uses the latency model's c; --cost-ratio was measured at batch 1)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from draftfinder.report.output import emit

    emit(build(args), args.format, table=render_table)
    return 0
