"""``draftfinder chat``: an interactive REPL that runs each prompt through several decoding strategies side by side.

    draftfinder chat --target T [--draft D] [--k N] [--length N] [--adaptive]
        [--processor NAME] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--chat/--no-chat]
        [--top-k-filler N] [--device DEV] [--dtype DT] [--offline] [--models-dir DIR] [--threads N]

``T`` and a model ``D``: zoo names (``zoo:smollm2-135m``), local folders, .gguf files, Hub ids when reachable.
``D`` may also be ``ngram`` / ``ngram:basic:N`` / ``ngram:onelevel:N`` or ``layerskip:N`` (default ``ngram``).
Startup shows what was loaded and the tokenizer compatibility verdict, warms every model up (untimed), then
reads prompts and slash commands (``/help``; the table is ``chat/session.py`` ``COMMANDS``). Each prompt runs
every enabled strategy — speculative, n-gram assisted, target only, draft only — with the same prompt ids
and seed, and prints their texts, time, tokens/s, acceptance and the measured speedups; under greedy the
speculative outputs must equal the target's, and a ✓ says they do. The flags set the session's starting
values; the slash commands change them. Ctrl-C cancels a running generation; Ctrl-D or /quit leaves.
"""

from __future__ import annotations

import argparse

from draftfinder.errors import UsageError

HELP = "interactive REPL: each prompt through speculative, n-gram, target-only and draft-only decoding, side by side"

DEFAULT_DRAFT = "ngram"


def configure(p: argparse.ArgumentParser) -> None:
    from draftfinder.chat.results import DEFAULT_LENGTH
    from draftfinder.cli.generate_cmd import add_sampling_arguments, add_threads_argument

    m = p.add_argument_group("models")
    m.add_argument("--target", required=True, metavar="T",
                   help="target model: zoo:NAME, a .gguf file, a folder or a Hub id")
    m.add_argument("--draft", default=DEFAULT_DRAFT, metavar="D",
                   help="ngram | ngram:basic:N | ngram:onelevel:N | layerskip:N | a draft model name/path/zoo:NAME "
                        f"(default {DEFAULT_DRAFT})")
    from draftfinder.cli.run_device_flags import add_run_device_arguments

    add_run_device_arguments(m)
    m.add_argument("--offline", action="store_true", default=None,
                   help="never ask the Hub: zoo, local paths, --models-dir and the HF cache only")
    m.add_argument("--models-dir", action="append", default=None, metavar="DIR", help="folder with local models")
    add_threads_argument(m)
    g = p.add_argument_group("starting settings (slash commands change them)")
    g.add_argument("--k", "--gamma", dest="k", type=int, default=4, metavar="N",
                   help="tokens drafted per step (/gamma; default 4)")
    g.add_argument("--adaptive", action="store_true", help="adaptive K (/adaptive)")
    g.add_argument("--length", "--max-new-tokens", dest="length", type=int, default=DEFAULT_LENGTH, metavar="N",
                   help=f"new tokens at most per strategy (/length; default {DEFAULT_LENGTH})")
    add_sampling_arguments(g, "seed of every strategy's sampler (default 0)")
    g.add_argument("--chat", action=argparse.BooleanOptionalAction, default=None,
                   help="chat template (/chat; default: on for instruct models that have one)")
    g.add_argument("--top-k-filler", type=int, default=1, metavar="N",
                   help="n-gram drafters: also record the target's top N tokens per verified position (default 1)")


def check_args(args: argparse.Namespace) -> None:
    """Raise ``UsageError`` for values the session would refuse, before anything is loaded."""
    from draftfinder.chat.commands import MAX_LENGTH
    from draftfinder.engine.base import MAX_K
    from draftfinder.cli.generate_cmd import check_threads

    from draftfinder.cli.run_device_flags import check_run_device_args
    from draftfinder.ranges import check_number

    check_run_device_args(args)

    check_number(args.k, "--k", kind=int, low=1, high=MAX_K, hint="K is the tokens drafted per step, e.g. 4")
    check_number(args.length, "--length", kind=int, low=1, high=MAX_LENGTH, hint="e.g. --length 128")
    check_number(args.top_k_filler, "--top-k-filler", kind=int, low=1, hint="e.g. --top-k-filler 1")
    if not args.draft.strip():
        raise UsageError("--draft is empty", hint="use ngram, layerskip:N or a draft model name")
    check_threads(args.threads)
    from draftfinder.engine.drafter_specs import parse_drafter_spec

    parse_drafter_spec(args.draft)


def run(args: argparse.Namespace) -> int:
    check_args(args)
    from draftfinder.chat.repl import run_repl
    from draftfinder.chat.results import ChatSettings
    from draftfinder.chat.session import ChatSession
    from draftfinder.engine.base import validate_sampling
    from draftfinder.report.output import info
    from draftfinder.cli.generate_cmd import _instruct_names, decide_chat, load_target_and_drafter, resolve_sampling
    from draftfinder.engine.threads import busy_machine_hint

    sampling, note = resolve_sampling(args)
    validate_sampling(sampling)
    if note:
        info(note)
    from draftfinder.cli.run_device_flags import resolve_run_device

    target, drafter = load_target_and_drafter(args.target, args.draft, offline=args.offline,
                                              models_dir=args.models_dir, top_k_filler=args.top_k_filler, say=info,
                                              threads=args.threads, place=resolve_run_device(args))
    import torch

    busy = busy_machine_hint(torch.get_num_threads())
    if busy:
        info(f"hint: {busy}")
    chat, hint = decide_chat(args.chat, target.tokenizer, _instruct_names(target))
    if hint:
        info(f"hint: {hint}")
    settings = ChatSettings(gamma=args.k, length=args.length, sampling=sampling, chat=chat,
                            top_k_filler=args.top_k_filler, adaptive=args.adaptive)
    session = ChatSession(target, drafter, settings=settings)
    info("warming up (untimed) …")
    session.warm_up()
    return run_repl(session)
