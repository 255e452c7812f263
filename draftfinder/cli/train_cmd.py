"""``draftfinder train``: distil a draft model from a target on this machine (issue 12).

    draftfinder train TARGET --out DIR [--method independent|eagle3] [--task code|chat|summarization|general |
                      --prompts FILE] [--held-out N] [--corpus PATH] [--corpus-tokens N] [--samples-per-prompt N]
                      [--max-new-tokens N] [--generator G] [--layers N] [--draft-vocab V] [--max-minutes M | --steps S]
                      [--loss fkl|rkl|tvd] [--lr X] [--batch-tokens N] [--eval-every N] [--checkpoint-minutes M]
                      [--measure-prompts N] [--measure-tokens N] [--no-measure] [--gguf] [--device DEV] [--dtype DT]
                      [--threads N] [--seed S] [--format table|json|yaml]

Order of work: flags, ``--out`` and ``--corpus`` checks, the prompt split and the target's layer count (from
metadata) — all before any weights load — then the target, the teacher data (cached in ``DIR.work/teacher.pt``),
training (checkpoints in ``DIR.work/``), the result written to ``DIR.tmp-<pid>/`` (model, tokenizer,
``train_report.json`` with the measured part) and renamed to ``DIR``. Ctrl-C once: what is done is kept (the
continuations and scored batches while the data is built, a checkpoint while training) and one line says how to
resume (rerun the same command; exit 130); twice: abort. Progress on stderr, the summary
(or the report with ``--format json|yaml``) on stdout.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional

from draftfinder.errors import EXIT_INTERRUPTED, UsageError
from draftfinder.report.progress import PhaseProgress, StopOnInterrupt

GGUF_NAME = "draft.gguf"           # --gguf's file inside the output folder
HELD_OUT_NAME = "held_out_prompts.json"   # the held-out prompts (measure --prompts, sweep prompts_file)

HELP = "train a draft model for a target on this machine (distilled from the target's own outputs)"
DEFAULT_MAX_MINUTES = 30.0


def configure(parser: argparse.ArgumentParser) -> None:
    from draftfinder.measure.prompts import TASKS
    from draftfinder.report.output import FORMATS
    from draftfinder.train.losses import DEFAULT_LOSS, LOSSES
    from draftfinder.train.student import methods

    parser.add_argument("target", metavar="TARGET", help="target model: zoo:NAME, a .gguf file, a folder or a Hub id")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the trained draft (created; "
                        "resumable state goes to DIR.work/ beside it)")
    parser.add_argument("--method", default="independent", choices=methods(),
                        help="independent (default): the target's architecture with fewer layers, portable to every "
                             "engine; eagle3: a one-layer head on the target's hidden states")
    g = parser.add_argument_group("data")
    g.add_argument("--task", default="code", choices=list(TASKS), help="built-in prompt set (default code: HumanEval)")
    g.add_argument("--prompts", metavar="FILE", help="your own prompts: a JSON list or one prompt per line")
    g.add_argument("--held-out", type=int, default=None, metavar="N",
                   help="prompts held out for measuring acceptance (default 30 of HumanEval's 164, else one in five)")
    g.add_argument("--corpus", metavar="PATH", help="also train on this text: a file or a folder of text/source "
                                                    "files (e.g. Python's standard library folder), scored by the target")
    g.add_argument("--corpus-tokens", type=int, default=200_000, metavar="N",
                   help="at most this many corpus tokens (default 200000)")
    g.add_argument("--samples-per-prompt", type=int, default=0, metavar="N",
                   help="also N sampled continuations (temperature 0.8) per train prompt (default 0)")
    g.add_argument("--max-new-tokens", type=int, default=256, metavar="N",
                   help="tokens the target generates per prompt (default 256)")
    g.add_argument("--generator", choices=("auto", "transformers", "llama-server"), default="auto",
                   help="who writes the continuations: llama-server on the target's GGUF (≈ 5× faster on a CPU), "
                        "transformers' batched generate, or auto (llama-server when the target is a GGUF and "
                        "llama-server is found); the teacher's distributions are always the PyTorch target's")
    g = parser.add_argument_group("model and training")
    g.add_argument("--layers", type=int, default=None, metavar="N", help="decoder layers of the draft (default 3)")
    g.add_argument("--draft-vocab", type=int, default=None, metavar="V", help="eagle3: draft vocabulary size")
    stop = g.add_mutually_exclusive_group()
    stop.add_argument("--max-minutes", type=float, default=None, metavar="M",
                      help=f"stop after M minutes of training, keeping the best weights (default {DEFAULT_MAX_MINUTES:g})")
    stop.add_argument("--steps", type=int, default=None, metavar="S", help="stop after S optimizer steps")
    g.add_argument("--loss", default=DEFAULT_LOSS, choices=list(LOSSES),
                   help="fkl (forward KL, default), rkl (reverse KL) or tvd (total variation) — DistillSpec")
    g.add_argument("--lr", type=float, default=5e-4, metavar="X", help="peak learning rate (default 5e-4)")
    g.add_argument("--batch-tokens", type=int, default=2048, metavar="N", help="tokens per batch (default 2048)")
    g.add_argument("--eval-every", type=int, default=25, metavar="N", help="steps between held-out evaluations "
                                                                            "(default 25)")
    g.add_argument("--checkpoint-minutes", type=float, default=3.0, metavar="M",
                   help="minutes between checkpoints (default 3)")
    g.add_argument("--seed", type=int, default=0)
    g = parser.add_argument_group("report and output")
    g.add_argument("--measure-prompts", type=int, default=10, metavar="N",
                   help="held-out prompts the speedup is measured on with our engine (default 10)")
    g.add_argument("--measure-tokens", type=int, default=64, metavar="N",
                   help="tokens generated per prompt in that measurement (default 64)")
    g.add_argument("--no-measure", action="store_true", help="skip the cost and speedup measurement")
    g.add_argument("--gguf", action="store_true", help="also write a GGUF draft (independent method; needs the "
                                                       "target's GGUF)")
    from draftfinder.cli.run_device_flags import add_run_device_arguments

    add_run_device_arguments(g)        # the target (teacher) in --dtype there; the student trains beside it in fp32
    g.add_argument("--threads", type=int, default=1, metavar="N", help="torch CPU threads (default 1)")
    parser.add_argument("--format", default="table", choices=list(FORMATS), help="output format (default table)")


def _check(args: argparse.Namespace) -> None:
    from draftfinder.ranges import check_number

    for flag, value, low in (("--corpus-tokens", args.corpus_tokens, 1), ("--samples-per-prompt", args.samples_per_prompt, 0),
                             ("--max-new-tokens", args.max_new_tokens, 8), ("--batch-tokens", args.batch_tokens, 64),
                             ("--eval-every", args.eval_every, 1), ("--measure-prompts", args.measure_prompts, 1),
                             ("--measure-tokens", args.measure_tokens, 8), ("--threads", args.threads, 1)):
        check_number(value, flag, kind=int, low=low)
    for flag, value in (("--steps", args.steps), ("--held-out", args.held_out), ("--layers", args.layers),
                        ("--draft-vocab", args.draft_vocab)):
        if value is not None:
            check_number(value, flag, kind=int, low=1)
    for flag, value in (("--max-minutes", args.max_minutes), ("--checkpoint-minutes", args.checkpoint_minutes),
                        ("--lr", args.lr)):
        if value is not None and not value > 0:
            raise UsageError(f"{flag} must be > 0, got {value}", hint=f"e.g. {flag} 3")
    from draftfinder.cli.run_device_flags import check_run_device_args

    check_run_device_args(args)
    if args.method == "independent" and args.draft_vocab is not None:
        raise UsageError("--draft-vocab applies to --method eagle3 only: an independent draft keeps the full "
                         "vocabulary so that every engine accepts it", hint="leave --draft-vocab out")


class _Progress(PhaseProgress):
    prefix = "train"


class _StopOnInterrupt(StopOnInterrupt):
    prefix = "train"

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        sys.stderr.write("\ntrain: stopping at the end of the current batch or step; what is done is kept for a "
                         "rerun to resume (Ctrl-C again to abort)\n")
        sys.stderr.flush()


class TrainBar:
    """One status line on stderr: step, loss, held-out acceptance, ETA (rewritten in place on a terminal,
    a plain line at most every ``every_s`` seconds and at every evaluation otherwise)."""

    def __init__(self, stream: Any = None, every_s: float = 30.0):
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = every_s
        self.last = 0.0
        self.open = False

    def __call__(self, s: Any) -> None:
        total = f"/{s.total_steps}" if s.total_steps else ""
        loss = "—" if s.loss is None else f"{s.loss:.3f}"
        acc = "—" if s.acceptance is None else f"{s.acceptance:.3f}"
        best = "" if s.best_acceptance is None else f" (best {s.best_acceptance:.3f})"
        eta = "" if s.eta_s is None else f" · ETA {_duration(s.eta_s)}"
        what = {"eval": " · evaluating held-out…", "checkpoint": " · checkpoint…"}.get(s.phase, "")
        line = (f"train: step {s.step}{total} · loss {loss} · held-out α {acc}{best} · "
                f"{s.minutes:.1f} min{eta}{what}")
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r\033[K" + line)
            self.open = True
        elif s.phase == "eval" or now - self.last >= self.every_s:
            self.stream.write(line + "\n")
            self.last = now
        self.stream.flush()

    def close(self) -> None:
        if self.open:
            self.stream.write("\n")
            self.open = False


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def settings_of(args: argparse.Namespace, split: Any) -> Dict[str, Any]:
    """What the run is (``DIR.work/settings.json``; ``output.DATA_KEYS``/``STUDENT_KEYS`` decide resumption)."""
    from draftfinder.train.independent import DEFAULT_LAYERS

    return {"target": args.target, "task": split.task, "prompts": str(Path(args.prompts).resolve()) if args.prompts
            else None, "held_out": split.held_out_ids, "corpus": str(Path(args.corpus).resolve()) if args.corpus else None,
            "corpus_tokens": args.corpus_tokens if args.corpus else None, "max_new_tokens": args.max_new_tokens,
            "samples_per_prompt": args.samples_per_prompt, "top_k": 64, "hidden_layers": None, "seed": args.seed,
            "method": args.method, "layers": args.layers or (DEFAULT_LAYERS if args.method == "independent" else None),
            "draft_vocab": args.draft_vocab, "loss": args.loss}


def build(args: argparse.Namespace, *, progress: Any, bar: TrainBar, should_stop: Any) -> Optional[Dict[str, Any]]:
    """The whole run; the report's dict, or None when interrupted (a checkpoint was saved)."""
    from draftfinder.engine.drafter_specs import layer_count
    from draftfinder.engine.loading import load_model
    from draftfinder.engine.threads import apply_threads
    from draftfinder.models.resolver import Resolver
    from draftfinder.report.output import info
    from draftfinder.find.trained import register_trained
    from draftfinder.train import output
    from draftfinder.train.independent import check_layers
    from draftfinder.train.loop import LoopConfig, train_loop
    from draftfinder.train.prompts import load_split
    from draftfinder.train.report import add_measurement, base_report
    from draftfinder.train.student import make_student
    from draftfinder.train.teacher import TeacherData, build_teacher_data, corpus_files, eagle3_layers
    from draftfinder.writer import write_json

    _check(args)
    out = Path(args.out).expanduser()
    output.check_out(out, args.target, args.method)
    if args.corpus:
        corpus_files(Path(args.corpus))                       # a missing corpus fails now, not after loading
    split = load_split(args.task, prompts_path=args.prompts, seed=args.seed, held_out=args.held_out)
    record = Resolver().resolve(args.target.strip())
    total_layers = layer_count(record.config)
    if args.method == "independent" and args.layers is not None:
        check_layers(args.layers, total_layers)
    settings = settings_of(args, split)
    if args.method == "eagle3" and total_layers:
        settings["hidden_layers"] = list(eagle3_layers(total_layers))
    work = output.work_dir(out)
    output.check_resume(work, settings, output.STUDENT_KEYS + output.DATA_KEYS, "checkpoint")
    from draftfinder.cli.run_device_flags import resolve_run_device
    from draftfinder.engine.device import load_kwargs

    place = resolve_run_device(args)                  # an absent device: one line, before any weights load
    settings.update(device=place.device, dtype=place.dtype)     # recorded (not a resume key: older work folders)
    apply_threads(args.threads)
    info(f"train: {len(split.train)} train / {len(split.held_out)} held-out prompts ({split.source}, seed {args.seed}); "
         f"held out: {', '.join(split.held_out_ids[:6])}{' …' if len(split.held_out_ids) > 6 else ''}")
    info(f"train: loading {args.target}")
    target = load_model(args.target, **load_kwargs(place))
    n_layers = int(target.model.config.get_text_config().num_hidden_layers)
    if args.method == "independent":
        check_layers(args.layers or 3, n_layers)
    hidden_layers = eagle3_layers(n_layers) if args.method == "eagle3" else ()
    settings["hidden_layers"] = list(hidden_layers) or None
    output.check_resume(work, settings, output.DATA_KEYS, "teacher data")
    _check_space(out, target, args, hidden_layers)
    output.write_settings(work, settings)
    teacher_file = work / output.TEACHER
    if teacher_file.is_file():
        data = TeacherData.load(teacher_file)
        info(f"train: teacher data from {teacher_file} (not regenerated)")
    else:
        data = build_teacher_data(target, split.train, split.held_out,
                                  corpus=Path(args.corpus) if args.corpus else None,
                                  max_new_tokens=args.max_new_tokens, hidden_layers=hidden_layers, progress=progress,
                                  samples_per_prompt=args.samples_per_prompt, corpus_tokens=args.corpus_tokens,
                                  seed=args.seed, should_stop=should_stop, generator=args.generator,
                                  threads=args.threads, continuations=work / output.CONTINUATIONS,
                                  scored=work / output.SCORED)
        progress.close()
        data.settings = settings
        data.save(teacher_file)
        shutil.rmtree(work / output.SCORED, ignore_errors=True)        # teacher.pt holds it all now
    s = data.summary()
    info(f"train: data {s['train_tokens']:,} train tokens ({s['continuation_tokens']:,} greedy, {s['sampled_tokens']:,} "
         f"sampled, {s['corpus_tokens']:,} corpus from {s['corpus_files']} files) · {s['held_out_tokens']:,} held-out "
         f"tokens · generation {_rate(s['generation_tokens_per_s'])} tok/s, scoring {_rate(s['scoring_tokens_per_s'])} "
         f"tok/s [measured]")
    student = make_student(args.method, target, layers=args.layers, draft_vocab=args.draft_vocab, seed=args.seed,
                           data=data)
    cfg = LoopConfig(steps=args.steps, max_minutes=args.max_minutes if args.steps is None else None, lr=args.lr,
                     batch_tokens=args.batch_tokens, loss=args.loss, eval_every=args.eval_every,
                     checkpoint_minutes=args.checkpoint_minutes, seed=args.seed)
    if cfg.steps is None and cfg.max_minutes is None:
        cfg.max_minutes = DEFAULT_MAX_MINUTES
    try:
        result = train_loop(student, data, cfg, work, should_stop=should_stop, on_status=bar, settings=settings)
    finally:
        bar.close()
    if result.stopped_because == "interrupted":
        info(f"train: interrupted at step {result.steps}: checkpoint saved in {work} — rerun the same command to "
             f"resume")
        return None
    command = "draftfinder " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else ""
    report = base_report(target=args.target, method=args.method, task=split.task, loss=args.loss, seed=args.seed,
                         layers=settings["layers"], draft_vocab=args.draft_vocab, data=data, split=split, loop=result,
                         student=student, command=command)

    def fill(tmp: Path) -> None:
        student.save_pretrained(tmp)
        if not args.no_measure:
            info("train: measuring c, v(K) and the speedup with our engine on held-out prompts")
            add_measurement(report, target, str(tmp), split.held_out, max_new_tokens=args.measure_tokens,
                            limit=args.measure_prompts, progress=progress, should_stop=should_stop,
                            place=place)
            progress.close()
        if args.gguf:
            _gguf(tmp, target, report, split.held_out, args)
        # the prompts never trained on, so `measure --prompts` and a sweep's `prompts_file` stay out of sample
        write_json(tmp / HELD_OUT_NAME, {"prompts": [p.to_dict() for p in split.held_out]})
        # paths measured inside DIR.tmp-<pid> name DIR, where the files are once it is renamed
        write_json(tmp / output.REPORT, output.relocated(report.to_dict(), str(tmp), str(Path(out).absolute())))

    tmp = output.save_into_temp(out, fill)
    output.publish(tmp, out)
    try:
        register_trained(args.target, args.method, out, report.created)   # find/trained.py: the one registry
    except Exception as err:                          # the draft is saved; find just will not list it
        info(f"warning: not added to the trained-draft registry: {getattr(err, 'message', err)}")
    d = report.to_dict()
    d["path"] = str(out)
    info(f"train: saved {out} (resumable state in {work}; delete it when done)")
    return d


def _gguf(tmp: Path, target: Any, report: Any, held_out: Any, args: argparse.Namespace) -> None:
    """``--gguf``: export the independent draft as ``DIR/draft.gguf`` (the target GGUF's vocabulary, llama.cpp's
    tensor layout; ``train/gguf_export.py``) and, when llama-server is here, measure it against the target GGUF on
    up to 5 held-out prompts (``draft-simple``, K = the report's best, at least 1)."""
    from draftfinder.train import gguf_export

    gguf_path = getattr(target.record, "gguf_path", None)
    if gguf_path is None:
        raise UsageError("--gguf needs the target as a GGUF file (its tokenizer metadata is copied)",
                         hint="give the target as zoo:NAME or a .gguf file, or leave --gguf out")
    exported = gguf_export.export_gguf(tmp, Path(gguf_path), tmp / GGUF_NAME).to_dict()
    exported["path"] = GGUF_NAME                           # relative to the output folder (tmp is renamed)
    exported["source_folder"] = "."
    k = max(1, int((report.measured or {}).get("K") or 1))
    try:
        exported["llama_server"] = gguf_export.measure_llama_server_pair(
            Path(gguf_path), tmp / GGUF_NAME, list(held_out)[:5], max_tokens=min(args.measure_tokens, 128),
            n_max=k, threads=args.threads)
    except Exception as err:                               # llama-server missing or failing: the GGUF is still valid
        exported["llama_server"] = {"error": getattr(err, "message", str(err))}
    report.student["gguf"] = exported


def _check_space(out: Path, target: Any, args: argparse.Namespace, hidden_layers: tuple) -> None:
    """Refuse a disk without room for the teacher data, the checkpoints and the model (rough upper bound)."""
    from draftfinder.train import output

    cfg = target.model.config.get_text_config()
    head = int(cfg.vocab_size) * int(cfg.hidden_size) * 4
    per_layer = sum(p.numel() for n, p in target.model.named_parameters() if ".layers.0." in n) * 4
    student = head * (1 if getattr(cfg, "tie_word_embeddings", False) else 2) + (args.layers or 3) * per_layer
    prompts = 164 if args.task == "code" and not args.prompts else 50
    tokens = prompts * (args.max_new_tokens + 200) * (1 + args.samples_per_prompt) + \
        (args.corpus_tokens if args.corpus else 0)
    per_token = 64 * 6 + len(hidden_layers) * int(cfg.hidden_size) * 2
    output.check_space(out.parent, tokens * per_token + 6 * student)


def _rate(x: Any) -> str:
    return "—" if x is None else f"{x:.1f}"


def run(args: argparse.Namespace) -> int:
    from draftfinder.report.output import emit
    from draftfinder.train.report import render_summary

    progress = _Progress()
    bar = TrainBar()
    try:
        with _StopOnInterrupt() as stop:
            payload = build(args, progress=progress, bar=bar, should_stop=stop)
    finally:
        progress.close()
        bar.close()
    if payload is None:
        return EXIT_INTERRUPTED
    emit(payload, args.format, table=lambda d: render_summary(d) + f"\nsaved    {d['path']}")
    return 0
