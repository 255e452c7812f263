"""``draftfinder [find] TARGET``: the manual's command line (§5), plus --models-dir, --hardware, --format,
--offline, --max-k and --test-string."""

from __future__ import annotations

import argparse
import sys

from draftfinder.find import config as cfgmod
from draftfinder import constants
from draftfinder.errors import NoCompatibleDraftsError, UsageError

HELP = "find, check and rank draft models for TARGET (Hub id, local folder, .gguf file or zoo:NAME)"

EPILOG = """ranking:
  Drafts are ranked by the expected speedup at their recommended K on the chosen --hardware, highest first
  (compared at the printed 0.01x). Ties: a measured speedup (from a saved `draftfinder measure` of the pair on
  this machine) before a published one (measured by others on the same pair, weight formats, hardware, engine
  and task; `draftfinder published` lists them) before an estimated one, then the higher quality score, then the
  model id. The quality score and tier (manual §4) are columns, not the sort key; the usage example is for
  row 1. The JSON export has the same rule under "ranking" and each draft's "rank" and "speedup_basis".

output:
  --format json|yaml prints one document on stdout: the results, or with no compatible draft the same
  document with "draft_models": [] and the "rejected_models" (exit 6), or on any error
  {"error": {"message", "hint", "exit_code", ...}} with the command's exit code."""

# CLI flag dest -> config key (dotted for sections). Only flags the user typed override the config file.
_OVERRIDES = {
    "target_model": "target_model",
    "top_n": "top_n",
    "max_candidates": "max_candidates",
    "task": "task",
    "token": "token",
    "verbose": "verbose",
    "export": "export",
    "models_dir": "models_dirs",
    "offline": "offline",
    "lenient_tokenization": "lenient_tokenization",
    "show_test_details": "show_test_details",
    "max_k": "max_k",
    "test_string": "test_strings",
    "format": "output.format",
}

# parse_device_flags key -> config key
_DEVICE_OVERRIDES = {
    "hardware": "hardware", "engine": "engine", "ctx": "ctx", "concurrency": "concurrency",
    "bandwidth_gb_s": "device.bandwidth_gb_s", "tflops": "device.tflops", "memory_gb": "device.memory_gb",
    "threads": "device.threads", "device_count": "device.count", "device_kind": "device.kind",
}


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("target_model", nargs="?", metavar="TARGET_MODEL",
                   help="Hugging Face model id (e.g. Qwen/Qwen2.5-7B), local folder, .gguf file or zoo:NAME")
    g = p.add_argument_group("search")
    g.add_argument("--top-n", type=int, default=None, help="number of recommendations to show (default 5)")
    g.add_argument("--max-candidates", type=int, default=None, help="max candidates to evaluate (default 100)")
    g.add_argument("--task", choices=["general", "code", "chat", "summarization"], default=None,
                   help="task type (default general): summarization applies the fitted summarization offset to "
                        "the acceptance prior; general, code and chat use the same prior (no published "
                        "contrast). Any task selects the saved `draftfinder measure --task` results of that task")
    g.add_argument("--models-dir", action="append", default=None, metavar="DIR",
                   help="also consider the HF folders and .gguf files under DIR (repeatable)")
    g.add_argument("--offline", action="store_true", default=None,
                   help="no network: use local files, the HF cache, the zoo and the built-in catalog")
    a = p.add_argument_group("authentication")
    a.add_argument("--token", default=None, help="Hugging Face token (or set HF_TOKEN); never printed or exported")
    from draftfinder.cli.device_flags import add_device_flags

    add_device_flags(p)
    e = p.add_argument_group("estimates")
    e.add_argument("--max-k", type=int, default=None, help="largest K considered (default 16)")
    c = p.add_argument_group("compatibility")
    c.add_argument("--lenient-tokenization", action="store_true", default=None,
                   help="allow minor tokenization differences (never a different vocabulary)")
    c.add_argument("--test-string", action="append", default=None, metavar="TEXT",
                   help="extra tokenization test string (repeatable)")
    o = p.add_argument_group("output")
    o.add_argument("--verbose", "-v", action="store_true", default=None, help="detailed logging on stderr")
    o.add_argument("--show-test-details", action="store_true", default=None,
                   help="show ids and tokens of tokenization test failures")
    o.add_argument("--export", default=None, metavar="FILE",
                   help="write the results as JSON to FILE (a symlink is followed, a device or FIFO written into; "
                        "the folder must exist). `-` or /dev/stdout: the JSON goes to stdout, the report to stderr")
    o.add_argument("--format", choices=["table", "json", "yaml"], default=None, help="stdout format (default table)")
    o.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    f = p.add_argument_group("configuration")
    f.add_argument("--config", default=None, metavar="FILE", help="load settings from a YAML/JSON file")
    f.add_argument("--generate-config", choices=["yaml", "json"], default=None,
                   help="print a config template and exit")


def build_config(args: argparse.Namespace) -> cfgmod.FinderConfig:
    """Defaults < config file < flags typed on the command line."""
    cfg = cfgmod.load_config(args.config) if args.config else cfgmod.FinderConfig()
    overrides = {key: getattr(args, dest) for dest, key in _OVERRIDES.items() if getattr(args, dest, None) is not None}
    from draftfinder.cli.device_flags import parse_device_flags

    overrides.update({_DEVICE_OVERRIDES[k]: v for k, v in parse_device_flags(args).items()})
    cfg = cfgmod.merge_cli(cfg, overrides)
    if cfg.token is None:
        cfg.token = constants.env_token()
    if constants.hub_offline():
        cfg.offline = True
    return cfg


def _progress_printer(quiet: bool):
    if quiet:
        return None
    if sys.stderr.isatty():
        from draftfinder.report.progress import BarProgress

        return BarProgress("Evaluating candidates")
    def line(i: int, n: int, name: str) -> None:
        sys.stderr.write(f"  [{i}/{n}] checking {name}\n")
        sys.stderr.flush()
    return line


def run(args: argparse.Namespace) -> int:
    if args.generate_config:
        sys.stdout.write(cfgmod.template(args.generate_config) + ("\n" if args.generate_config == "json" else ""))
        return 0
    cfg = build_config(args)
    args.format = cfg.output.format          # --format or the config's output.format: errors follow it too
    if not cfg.target_model:
        raise UsageError("no target model given",
                         hint="pass one, e.g. `draftfinder Qwen/Qwen2.5-7B-Instruct --top-n 5`, or set target_model in --config")
    from draftfinder.errors import register_secret
    from draftfinder.find.finder import DraftModelFinder
    from draftfinder.writer import STDOUT, check_destination, describe, write_json
    from draftfinder.report.output import emit
    from draftfinder.report.table import render_find

    register_secret(cfg.token)
    # a bad --export path fails before any work; with --export to stdout the report moves to stderr
    report_stream = None
    if cfg.export and check_destination(cfg.export, flag="--export") == STDOUT:
        report_stream = sys.stderr
    log = ((lambda m: (sys.stderr.write(m + "\n"), sys.stderr.flush()))
           if cfg.verbose or cfg.show_test_details else None)
    progress = _progress_printer(args.quiet or cfg.verbose)
    finder = DraftModelFinder(cfg.target_model, config=cfg, log=log, progress=progress)
    try:
        result = finder.find()
    except NoCompatibleDraftsError as err:
        if finder.result is not None:
            data = finder.result.to_dict(cfg.top_n)
            if cfg.output.format in ("json", "yaml"):
                # one document: the evaluation (draft_models empty, rejected_models filled) and the error
                from draftfinder.cli.main import error_document, error_hint

                data.update(error_document(err.message, error_hint(err, "find"), err.exit_code,
                                           type(err).__name__, "find"))
                emit(data, cfg.output.format)
            else:
                if finder.result.unverified:    # never silently dropped: the unverified drafts, with the reason
                    from draftfinder.report.table import unverified_lines

                    (report_stream or sys.stdout).write("\n".join(unverified_lines(data)) + "\n")
                if data.get("draft_methods"):   # no draft model, but heads / MTP / model-free drafting still apply
                    from draftfinder.report.table import draft_method_lines

                    (report_stream or sys.stdout).write("\n".join(draft_method_lines(data["draft_methods"],
                                                                                      data["task"])) + "\n")
            if cfg.export:
                where = write_json(cfg.export, data, flag="--export")
                sys.stderr.write(f"Results (rejections) exported to {describe(where)}\n")
            if cfg.verbose:
                from draftfinder.constants import color_enabled

                mark = "✗" if color_enabled(sys.stderr) else "rejected:"
                for r in finder.result.rejected:
                    sys.stderr.write(f"  {mark} {r.model_id} [{r.stage}]: {'; '.join(r.reasons)}\n")
        raise
    finally:
        if progress is not None and hasattr(progress, "close"):
            progress.close()
    data = result.to_dict(cfg.top_n)
    emit(data, cfg.output.format, table=lambda d: render_find(
        d, verbose=cfg.verbose, show_warnings=cfg.output.show_warnings, show_memory=cfg.output.show_memory_info,
        show_compat=cfg.output.show_compatibility_details, show_test_details=cfg.show_test_details),
        stream=report_stream)
    if cfg.export:
        where = write_json(cfg.export, data, flag="--export")
        sys.stderr.write(f"Results exported to {describe(where)}\n")
    return 0
