"""``draftfinder generate``: one prompt, two ways — speculative decoding and the target alone — side by side.

    draftfinder generate TARGET --draft D --prompt TEXT [--k N] [--adaptive] [--max-new-tokens N]
        [--processor greedy|multinomial|topk|nucleus|topknucleus] [--temperature T] [--top-k K] [--top-p P]
        [--seed S] [--chat/--no-chat] [--top-k-filler N] [--threads N] [--device DEV] [--dtype DT]
        [--format table|json|yaml]

``D`` is ``ngram`` / ``ngram:basic:N`` / ``ngram:onelevel:N`` (n-gram drafting, ``engine/ngram.py``),
``layerskip:N`` (the target's first N layers) or a draft model (``zoo:NAME``, a .gguf file, a folder, a Hub id).

Both runs use the same prompt ids, sampling settings and seed, one after the other in this process, after a
warm-up (a 2-token speculative run, not timed) so neither pays the first-call costs. Printed: both texts,
new tokens, time, tokens/s, target forward passes, acceptance α and tokens per step of the speculative run,
the speedup — *measured*: speculative tokens/s ÷ target-only tokens/s, one run each — and whether the two
token sequences are identical (guaranteed under greedy; under sampling they agree only in distribution).
``--format json|yaml`` adds both token id lists, the prompt ids and the full stats of both runs.

Chat template: ``--chat`` applies the target tokenizer's template (one user turn, generation prompt added)
when it has one; ``--no-chat`` never does; by default it is applied when the tokenizer has a template and
the target looks like an instruct model (``instruct``, ``chat`` or an ``it`` component in its name, files or
``base_model`` tags).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from draftfinder.errors import UsageError

HELP = "generate from one prompt with speculative decoding and with the target alone; compare text and speed"

DEFAULT_K = 4
DEFAULT_K_MAX = 16            # ceiling of --adaptive (HeuristicK), raised to --k when --k is larger
WARMUP_TOKENS = 2

_INSTRUCT_RE = re.compile(r"instruct|chat|(?:^|[-_./:])it(?:$|[-_./:])", re.IGNORECASE)


# Which parameters each processor reads (engine/sampling.py); the others have no effect on it.
PROCESSOR_PARAMETERS = {"greedy": (), "multinomial": ("temperature",), "topk": ("top_k", "temperature"),
                        "nucleus": ("top_p", "temperature"), "topknucleus": ("top_k", "top_p", "temperature")}
SAMPLING_DEFAULTS = {"temperature": 1.0, "top_k": 50, "top_p": 0.9}


def add_sampling_arguments(group: Any, seed_help: str) -> None:
    """--processor, --temperature, --top-k, --top-p, --seed (shared by ``generate`` and ``chat``)."""
    from draftfinder.engine.base import PROCESSORS

    group.add_argument("--processor", default=None, metavar="NAME",
                       help=f"sampling: {' | '.join(PROCESSORS)}. Default: greedy, unless a sampling flag is "
                            "given: --temperature alone means multinomial, --top-k topk, --top-p nucleus, "
                            "--top-k with --top-p topknucleus (--temperature 0 alone means greedy)")
    group.add_argument("--temperature", type=float, default=None, metavar="T",
                       help="softmax temperature of the sampling processors (default 1.0)")
    group.add_argument("--top-k", type=int, default=None, metavar="K", help="for topk / topknucleus (default 50)")
    group.add_argument("--top-p", type=float, default=None, metavar="P", help="for nucleus / topknucleus (default 0.9)")
    group.add_argument("--seed", type=int, default=0, metavar="S", help=seed_help)


def resolve_sampling(args: argparse.Namespace) -> Tuple[Any, Optional[str]]:
    """``(SamplingConfig, note)`` from the sampling flags; ``note`` says which processor a flag implied.

    A sampling flag never goes unused: without ``--processor`` it picks the processor that reads it (see
    ``add_sampling_arguments``); with a ``--processor`` that does not read it, it is an error naming both.
    """
    from draftfinder.engine.base import PROCESSORS, SamplingConfig
    from draftfinder.ranges import check_number

    given = {name: getattr(args, name) for name in SAMPLING_DEFAULTS if getattr(args, name, None) is not None}
    note = None
    processor = args.processor
    if processor is None:
        if "top_k" in given and "top_p" in given:
            processor = "topknucleus"
        elif "top_k" in given:
            processor = "topk"
        elif "top_p" in given:
            processor = "nucleus"
        elif "temperature" in given and given["temperature"] != 0:
            processor = "multinomial"
        else:
            processor = "greedy"
            given.pop("temperature", None)       # --temperature 0 alone: greedy, as in sweep's settings
        if given:
            flags = " ".join(f"--{n.replace('_', '-')} {given[n]:g}" for n in given)
            note = f"sampling: {flags} implies --processor {processor}"
    elif processor not in PROCESSORS:
        raise UsageError(f"--processor: unknown processor '{processor}'", hint=f"use one of: {', '.join(PROCESSORS)}")
    unused = [n for n in given if n not in PROCESSOR_PARAMETERS[processor]]
    if unused:
        flags = ", ".join(f"--{n.replace('_', '-')}" for n in unused)
        readers = sorted(p for p, params in PROCESSOR_PARAMETERS.items() if set(unused) <= set(params))
        raise UsageError(f"{flags} has no effect with --processor {processor}",
                         hint=f"use a processor that reads it ({', '.join(readers)}), or drop --processor to let "
                              "the flags choose")
    values = {**SAMPLING_DEFAULTS, **given}
    if processor != "greedy":
        check_number(values["temperature"], "--temperature", low=0, low_open=True,
                     hint="use --processor greedy (or no sampling flag) for deterministic output")
        check_number(values["top_k"], "--top-k", kind=int, low=1, hint="e.g. --top-k 50")
        check_number(values["top_p"], "--top-p", low=0, high=1, low_open=True, hint="e.g. --top-p 0.9")
    cfg = SamplingConfig(processor=processor, temperature=float(values["temperature"]), top_k=int(values["top_k"]),
                         top_p=float(values["top_p"]), seed=args.seed)
    return cfg, note


def add_threads_argument(group: Any) -> None:
    """--threads (generate, chat, measure): torch's CPU threads; the default is ``engine.threads``'s."""
    from draftfinder.engine.threads import THREADS_HELP, default_threads

    group.add_argument("--threads", type=int, default=None, metavar="N", help=THREADS_HELP.format(default=default_threads()))


def check_threads(threads: Optional[int]) -> None:
    from draftfinder.ranges import check_number

    if threads is not None:                # None: the default of engine/threads.py
        check_number(threads, "--threads", kind=int, low=1, hint="e.g. --threads 1")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("target_model", metavar="TARGET", help="target model: zoo:NAME, a .gguf file, a folder or a Hub id")
    g = p.add_argument_group("drafting")
    g.add_argument("--draft", required=True, metavar="D",
                   help="ngram | ngram:basic:N | ngram:onelevel:N | layerskip:N | eagle3:DIR (an EAGLE-3 head folder, "
                        "the prefix optional) | a draft model name/path/zoo:NAME")
    g.add_argument("--k", type=int, default=DEFAULT_K, metavar="N", help=f"tokens drafted per step (default {DEFAULT_K})")
    g.add_argument("--adaptive", action="store_true",
                   help="adapt K after each step: +2 when all drafts were accepted, −1 otherwise (transformers' "
                        f"heuristic), within 1..max({DEFAULT_K_MAX}, --k)")
    g.add_argument("--top-k-filler", type=int, default=None, metavar="N",
                   help="n-gram drafters: also record the target's top N tokens at each verified position "
                        "(default 1: the accepted tokens only)")
    r = p.add_argument_group("generation")
    r.add_argument("--prompt", required=True, metavar="TEXT", help="the prompt (a user message when --chat)")
    r.add_argument("--max-new-tokens", type=int, default=64, metavar="N", help="new tokens at most (default 64)")
    add_sampling_arguments(r, "seed of both runs' sampler (default 0)")
    r.add_argument("--chat", action=argparse.BooleanOptionalAction, default=None,
                   help="apply the tokenizer's chat template (default: on for instruct models that have one)")
    m = p.add_argument_group("models")
    m.add_argument("--offline", action="store_true", default=None,
                   help="never ask the Hub: zoo, local paths, --models-dir and the HF cache only")
    m.add_argument("--models-dir", action="append", default=None, metavar="DIR", help="folder with local models")
    add_threads_argument(m)
    from draftfinder.cli.run_device_flags import add_run_device_arguments

    add_run_device_arguments(m)
    o = p.add_argument_group("output")
    o.add_argument("--format", default="table", metavar="FMT", help="table | json | yaml (default table)")
    o.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")


# --- results ------------------------------------------------------------------------------------------

@dataclass
class GenerateComparison:
    """One ``generate`` run: settings, the two generations and what compares them."""

    target: str
    draft: str                                  # the --draft spec as given
    drafter: str                                # the drafter's own name (e.g. ngram:basic:3, layerskip:8)
    prompt: str
    chat_template: bool                         # whether the chat template was applied
    prompt_token_ids: List[int]
    sampling: Dict[str, Any]
    k: int                                      # initial K
    adaptive: bool
    top_k_filler: Optional[int]                 # n-gram drafters only (None for the others)
    speculative: Any                            # engine.base.GenerationResult
    target_only: Any                            # engine.base.GenerationResult
    machine: Dict[str, Any] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        """The two runs produced the same token ids."""
        return list(self.speculative.token_ids) == list(self.target_only.token_ids)

    @property
    def speedup(self) -> Optional[float]:
        """Measured: speculative tokens/s ÷ target-only tokens/s (None when either made no token)."""
        a, b = self.speculative.stats.tokens_per_s, self.target_only.stats.tokens_per_s
        return a / b if a and b else None

    def to_dict(self) -> Dict[str, Any]:
        from draftfinder.find.results import Provenance

        greedy = self.sampling.get("processor") == "greedy"
        return {
            "target": self.target, "draft": self.draft, "drafter": self.drafter,
            "prompt": self.prompt, "chat_template": self.chat_template,
            "prompt_tokens": len(self.prompt_token_ids), "prompt_token_ids": list(self.prompt_token_ids),
            "sampling": dict(self.sampling), "k": self.k, "adaptive": self.adaptive,
            "top_k_filler": self.top_k_filler,
            "speculative": self.speculative.to_dict(),
            "target_only": self.target_only.to_dict(),
            "speedup": self.speedup,
            "identical": self.identical,
            "identical_expected": greedy,
            "machine": dict(self.machine),
            "provenance": {
                "speedup": Provenance(
                    "measured", "speculative tokens/s ÷ target-only tokens/s; same prompt ids, sampling and seed; "
                    "one run each, in this process, after an untimed warm-up",
                    detail="wall-clock, includes prefill; single runs on a possibly busy machine vary by several %").to_dict(),
                "alpha": Provenance("measured", "accepted draft tokens ÷ drafted tokens in the speculative run").to_dict(),
            },
        }


# --- pieces -------------------------------------------------------------------------------------------

def looks_instruct(names: Iterable[Optional[str]]) -> bool:
    """True when any of ``names`` (model name, id, file names, tags) marks an instruction-tuned model."""
    return any(name and _INSTRUCT_RE.search(str(name)) for name in names)


def _instruct_names(loaded: Any) -> List[str]:
    rec = getattr(loaded, "record", None)
    names = [loaded.name]
    if rec is not None:
        names += [rec.model_id, str(rec.gguf_path or "")] + list(rec.files or [])
        names += [t for t in (rec.tags or []) if t.startswith("base_model:")]
    return names


def build_prompt_ids(tokenizer: Any, prompt: str, chat: bool) -> List[int]:
    """Token ids of ``prompt``: through the chat template (one user turn + generation prompt) when ``chat``,
    else plain tokenization with the tokenizer's own special tokens (e.g. BOS)."""
    if chat:
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                             add_generation_prompt=True, tokenize=False)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    return list(tokenizer(prompt)["input_ids"])


def decide_chat(flag: Optional[bool], tokenizer: Any, names: Iterable[Optional[str]]) -> Tuple[bool, Optional[str]]:
    """(apply the template?, a hint for stderr or None)."""
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if flag is False:
        return False, None
    if flag is True:
        if not has_template:
            return False, "the target's tokenizer has no chat template: the prompt is used as plain text"
        return True, None
    return has_template and looks_instruct(names), None


def build_sampling(args: argparse.Namespace) -> Any:
    """The ``SamplingConfig`` of the flags (see :func:`resolve_sampling`)."""
    from draftfinder.engine.base import validate_sampling

    cfg, _ = resolve_sampling(args)
    validate_sampling(cfg)
    return cfg


def check_args(args: argparse.Namespace) -> None:
    """Raise ``UsageError`` for out-of-range numbers, formats and drafter specs, before anything is loaded
    (no torch import either: a typo is refused in well under a second)."""
    from draftfinder.engine.base import MAX_K
    from draftfinder.engine.drafter_specs import parse_drafter_spec
    from draftfinder.report.output import FORMATS

    if args.format not in FORMATS:
        raise UsageError(f"--format: unknown format '{args.format}'", hint=f"use one of: {', '.join(FORMATS)}")
    from draftfinder.ranges import check_number

    check_number(args.k, "--k", kind=int, low=1, high=MAX_K, hint="K is the tokens drafted per step, e.g. 4")
    check_number(args.max_new_tokens, "--max-new-tokens", kind=int, low=1, hint="e.g. --max-new-tokens 64")
    if not args.prompt.strip():
        raise UsageError("--prompt is empty", hint="give the text to continue, e.g. --prompt 'Tell me about owls'")
    if not args.draft.strip():
        raise UsageError("--draft is empty", hint="use ngram, layerskip:N or a draft model name")
    check_threads(args.threads)
    from draftfinder.cli.run_device_flags import check_run_device_args

    check_run_device_args(args)
    parse_drafter_spec(args.draft)
    if args.top_k_filler is not None:
        if args.draft.strip().partition(":")[0] != "ngram":
            raise UsageError("--top-k-filler applies to n-gram drafters only", hint="use it with --draft ngram[:KIND:N]")
        check_number(args.top_k_filler, "--top-k-filler", kind=int, low=1, hint="e.g. --top-k-filler 1")


def _machine(place: Any = None, target: Any = None) -> Dict[str, Any]:
    """Where the run ran: device and dtype (resolved from --device / --dtype), the target's placement, torch's
    threads, the CPU and the load."""
    import torch

    out = {"device": place.device if place is not None else "cpu", "dtype": place.dtype if place is not None else "fp32",
           "torch_threads": torch.get_num_threads(), "torch": str(torch.__version__),
           "cpu": _cpu_name(), "python": platform.python_version(), "load_avg_1m": _load()}
    if place is not None and place.accelerators is not None and place.accelerators.gpus:
        out["gpus"] = [g.name for g in place.accelerators.gpus]
    if target is not None and getattr(target, "placement", None) is not None:
        out["placement"] = target.placement.to_dict()
    return out


def _load() -> Optional[float]:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def _cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# --- command ------------------------------------------------------------------------------------------

def load_target_and_drafter(target_name: str, draft_spec: str, *, offline: bool, models_dir: Any,
                            top_k_filler: Optional[int], say: Callable[[str], None],
                            threads: Optional[int] = None, place: Any = None) -> Tuple[Any, Any]:
    """The target (``load_model``) and the drafter ``draft_spec`` for it, through one resolver (shared by
    ``generate`` and ``chat``). ``top_k_filler`` goes to n-gram drafters only. The spec, the names and the
    tokenizers are checked first (``drafter_specs.check_drafter_spec``): a bad drafter is refused before torch
    is even imported. Then torch's threads are set (``threads``; None: ``engine.threads.default_threads``).
    ``place`` (``engine.device.Target``, from --device / --dtype): where and in which dtype the target and a
    draft model load (None: the CPU in float32); the draft model goes on the target's (first) device."""
    from draftfinder import constants
    from draftfinder.engine.drafter_specs import check_drafter_spec
    from draftfinder.models.resolver import Resolver

    resolver = Resolver(token=constants.env_token(), offline=bool(offline) or constants.hub_offline(),
                        models_dirs=models_dir or ())
    say(f"checking drafter {draft_spec} for {target_name} …")
    check_drafter_spec(draft_spec, target_name, resolver)
    from draftfinder.engine.device import load_kwargs
    from draftfinder.engine.drafters import make_drafter
    from draftfinder.engine.loading import load_model
    from draftfinder.engine.threads import apply_threads

    apply_threads(threads)
    say(f"loading {target_name}{_on(place)} …")
    target = load_model(target_name, resolver=resolver, **load_kwargs(place))
    if target.tokenizer is None:
        raise UsageError(f"'{target_name}' has no tokenizer", hint="pass a model whose folder or GGUF holds one")
    say(f"preparing drafter {draft_spec} …")
    extra: Dict[str, Any] = {"resolver": resolver}
    if top_k_filler is not None and draft_spec.strip().partition(":")[0] == "ngram":
        extra["top_k_filler"] = top_k_filler
    from draftfinder.engine.drafter_specs import parse_drafter_spec

    if place is not None and parse_drafter_spec(draft_spec).kind == "model":
        extra.update(dtype=place.dtype, device=str(target.device))       # a draft model: beside the target
    return target, make_drafter(draft_spec, target, **extra)


def _on(place: Any) -> str:
    return "" if place is None else f" on {place.device} ({place.dtype})"


def run(args: argparse.Namespace) -> int:
    check_args(args)
    sampling, note = resolve_sampling(args)
    from draftfinder.engine.base import validate_sampling
    from draftfinder.engine.threads import busy_machine_hint
    from draftfinder.report.output import emit, info

    validate_sampling(sampling)
    say = (lambda m: None) if args.quiet else info
    if note:
        say(note)
    from draftfinder.cli.run_device_flags import resolve_run_device

    place = resolve_run_device(args)
    target, drafter = load_target_and_drafter(args.target_model, args.draft, offline=args.offline,
                                              models_dir=args.models_dir, top_k_filler=args.top_k_filler, say=say,
                                              threads=args.threads, place=place)

    from draftfinder.engine.adaptive import HeuristicK
    from draftfinder.engine.speculative import autoregressive_generate, speculative_generate

    chat, hint = decide_chat(args.chat, target.tokenizer, _instruct_names(target))
    if hint:
        say(f"hint: {hint}")
    prompt_ids = build_prompt_ids(target.tokenizer, args.prompt, chat)
    if not prompt_ids:
        raise UsageError("the prompt tokenized to nothing", hint="give a longer --prompt")
    adaptive = HeuristicK(k_min=1, k_max=max(DEFAULT_K_MAX, args.k)) if args.adaptive else None

    import torch

    busy = busy_machine_hint(torch.get_num_threads())
    if busy:
        say(f"hint: {busy}")
    # warm-up, not timed: the first forwards of a process pay allocation and kernel-selection costs
    speculative_generate(target, drafter, prompt_ids, max_new_tokens=WARMUP_TOKENS, sampling=sampling, k=args.k)
    say(f"generating with speculative decoding ({drafter.name}, k={args.k}{', adaptive' if adaptive else ''}) …")
    spec = speculative_generate(target, drafter, prompt_ids, max_new_tokens=args.max_new_tokens,
                                sampling=sampling, k=args.k, adaptive=adaptive)
    spec.strategy = "speculative"
    say("generating with the target alone …")
    base = autoregressive_generate(target, prompt_ids, max_new_tokens=args.max_new_tokens, sampling=sampling)

    result = GenerateComparison(
        target=args.target_model, draft=args.draft, drafter=getattr(drafter, "name", args.draft),
        prompt=args.prompt, chat_template=chat, prompt_token_ids=prompt_ids,
        sampling={"processor": sampling.processor, "temperature": sampling.temperature, "top_k": sampling.top_k,
                  "top_p": sampling.top_p, "seed": sampling.seed},
        k=args.k, adaptive=bool(args.adaptive), top_k_filler=getattr(drafter, "top_k_filler", None),
        speculative=spec, target_only=base, machine=_machine(place, target))
    emit(result.to_dict(), args.format, table=render_table)
    return 0


# --- table --------------------------------------------------------------------------------------------

def _num(value: Any, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def render_table(d: Dict[str, Any]) -> str:
    """The human view of :meth:`GenerateComparison.to_dict`."""
    s, b = d["speculative"], d["target_only"]
    ss, bs = s["stats"], b["stats"]
    samp = d["sampling"]
    how = samp["processor"] if samp["processor"] == "greedy" else (
        f"{samp['processor']} T={samp['temperature']:g} top_k={samp['top_k']} top_p={samp['top_p']:g}")
    lines = [
        f"target  {d['target']}    drafter  {d['drafter']}    k={d['k']}{' (adaptive)' if d['adaptive'] else ''}",
        f"{how}, seed {samp['seed']}    chat template {'on' if d['chat_template'] else 'off'}    "
        f"prompt {d['prompt_tokens']} tokens",
        "",
        f"── speculative ({d['drafter']}) " + "─" * 20,
        s["text"],
        "── target only " + "─" * 20,
        b["text"],
        "",
    ]
    rows = [
        ("", "speculative", "target only"),
        ("new tokens", str(ss["new_tokens"]), str(bs["new_tokens"])),
        ("time (s)", _num(ss["total_s"], ".2f"), _num(bs["total_s"], ".2f")),
        ("tokens/s", _num(ss["tokens_per_s"], ".1f"), _num(bs["tokens_per_s"], ".1f")),
        ("target forwards", str(ss["steps"]), str(bs["steps"])),
        ("acceptance α", _num(ss["alpha"], ".3f") + f" ({ss['accepted']}/{ss['drafted']})", "–"),
        ("tokens per step", _num(ss["tokens_per_step"], ".2f"), _num(bs["tokens_per_step"], ".2f")),
    ]
    width = max(len(r[0]) for r in rows) + 2
    for name, a, c in rows:
        lines.append(f"{name:<{width}}{a:>16}{c:>14}")
    lines.append("")
    lines.append(f"speedup (measured, tokens/s ratio, one run each): {_num(d['speedup'], '.2f')}x")
    same = "yes" if d["identical"] else "no"
    if d["identical_expected"]:
        lines.append(f"greedy outputs identical: {same}" + ("" if d["identical"] else "  ← unexpected under greedy"))
    else:
        lines.append(f"outputs identical: {same} (sampling: equal only in distribution, not token for token)")
    return "\n".join(lines)

