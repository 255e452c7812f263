"""Where a trained draft goes: the ``--out DIR`` checks, the temporary folder renamed at the end, the work folder
beside it, and the registry of drafts trained on this machine.

==================  ===============================================================================================
path                what
==================  ===============================================================================================
``DIR``             the result (a model folder + ``train_report.json``); appears only complete: it is written as
                    ``DIR.tmp-<pid>`` and renamed. Before a run it must not exist, be empty, or be a folder an
                    earlier ``train`` of the same target and method wrote (its report says so): it is replaced
``DIR.work/``       the resumable state: ``settings.json`` (what the run is), ``continuations.json`` and
                    ``scored/`` (the teacher data while it is built), ``teacher.pt`` (the teacher data),
                    ``checkpoint.pt`` and ``best.pt`` (``loop.py``). Rerunning the same command resumes from it;
                    a command with other data or student settings is refused (the message names the setting)
``<home>/trained.json``  ``[{target, method, path, created}]``: every completed run (``find`` lists them; written by
                    ``find.trained.register_trained``, the registry's one home)
==================  ===============================================================================================
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Dict, Optional

from draftfinder.errors import OutputError, TrainOutputError

REPORT = "train_report.json"
SETTINGS = "settings.json"
TEACHER = "teacher.pt"
CONTINUATIONS = "continuations.json"      # train/continuations.py: generated so far (resume while generating)
SCORED = "scored"                         # train/scored.py: batches scored so far (resume while scoring)
WORK_FILES = {SETTINGS, TEACHER, CONTINUATIONS, SCORED, "checkpoint.pt", "best.pt"}

# keys of settings.json that the teacher data depends on, and those the checkpoint depends on
DATA_KEYS = ("target", "task", "prompts", "held_out", "corpus", "corpus_tokens", "max_new_tokens",
             "samples_per_prompt", "top_k", "hidden_layers", "seed")
STUDENT_KEYS = ("method", "layers", "draft_vocab", "loss")


def work_dir(out: Path) -> Path:
    return out.with_name(out.name + ".work")


def temp_dir(out: Path) -> Path:
    return out.with_name(f"{out.name}.tmp-{os.getpid()}")


def relocated(value: Any, old: str, new: str) -> Any:
    """``value`` (JSON-like) with every string that starts with the folder ``old`` starting with ``new`` instead:
    the report is written inside ``DIR.tmp-<pid>`` (its llama-server commands name the draft there) and read
    after the rename."""
    if isinstance(value, str):
        return new + value[len(old):] if value == old or value.startswith(old + os.sep) else value
    if isinstance(value, dict):
        return {k: relocated(v, old, new) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [relocated(v, old, new) for v in value]
    return value


def check_out(out: Path, target: str, method: str) -> None:
    """Raise :class:`TrainOutputError` unless ``out`` can receive the result (module docstring); nothing is
    written here."""
    out = Path(out)
    parent = out.parent
    if not parent.is_dir():
        raise TrainOutputError(out, f"the folder {parent} does not exist",
                               hint=f"create it first (mkdir -p {parent}) or choose another --out")
    if out.exists() and not out.is_dir():
        raise TrainOutputError(out, "it is a file, not a folder")
    if out.is_dir():
        entries = sorted(p.name for p in out.iterdir())
        if entries:
            previous = _read_json(out / REPORT)
            if not isinstance(previous, dict):
                raise TrainOutputError(out, f"it holds {len(entries)} file(s) no train run made "
                                            f"(e.g. {entries[0]}) — it would be replaced")
            if previous.get("target") != target or previous.get("method") != method:
                raise TrainOutputError(out, f"it holds a draft trained for {previous.get('target')} with "
                                            f"--method {previous.get('method')}, not {target} / {method}")
    work = work_dir(out)
    if work.exists():
        if not work.is_dir():
            raise TrainOutputError(work, "it is a file, where the run's work folder goes",
                                   hint="move it away or choose another --out")
        foreign = sorted(p.name for p in work.iterdir() if p.name not in WORK_FILES and not p.name.startswith("."))
        if foreign:
            raise TrainOutputError(work, f"the work folder holds files a train run did not make (e.g. {foreign[0]})",
                                   hint="move them away or choose another --out")


def check_resume(work: Path, settings: Dict[str, Any], keys: tuple, what: str) -> bool:
    """True when ``work/settings.json`` agrees with ``settings`` on ``keys`` (or there is none). Raises
    :class:`TrainOutputError` naming the first differing setting otherwise."""
    saved = _read_json(work / SETTINGS)
    if not isinstance(saved, dict):
        return True
    for key in keys:
        if saved.get(key) != settings.get(key):
            raise TrainOutputError(
                work, f"it holds the {what} of a run with {key} = {saved.get(key)!r}, this one has {settings.get(key)!r}",
                hint=f"rerun with the same flags to resume, or delete {work} to start over")
    return True


def write_settings(work: Path, settings: Dict[str, Any]) -> None:
    from draftfinder.writer import write_json

    work.mkdir(exist_ok=True)
    write_json(work / SETTINGS, settings)


def check_space(folder: Path, needed_bytes: int) -> None:
    """Raise :class:`OutputError` when the file system of ``folder`` has less than ``needed_bytes`` free."""
    try:
        free = shutil.disk_usage(str(folder)).free
    except OSError:
        return
    if free < needed_bytes:
        raise OutputError(folder, f"not enough free space ({free / 1e6:,.0f} MB free, about "
                                  f"{needed_bytes / 1e6:,.0f} MB needed for the teacher data, checkpoints and the "
                                  f"model)", flag="--out", hint="free some space or choose --out on another disk")


def save_into_temp(out: Path, fill: Any) -> Path:
    """``fill(tmp)`` writes the result into a new ``DIR.tmp-<pid>``; on any failure it is removed and an
    ``OSError`` becomes :class:`OutputError`. Returns the temporary folder."""
    tmp = temp_dir(out)
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        tmp.mkdir()
        fill(tmp)
        umask = os.umask(0)
        os.umask(umask)
        for f in tmp.iterdir():                      # libraries write some files 0600 (mkstemp): the umask's
            if f.is_file():
                os.chmod(f, 0o666 & ~umask)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(out, f"{exc.strerror or exc} (nothing was written; the checkpoint in "
                               f"{work_dir(out)} is kept)", flag="--out") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def publish(tmp: Path, out: Path) -> Path:
    """Rename ``tmp`` to ``out``; an empty ``out`` or an earlier run's result is replaced."""
    old: Optional[Path] = None
    try:
        if out.exists():
            old = out.with_name(f"{out.name}.old-{os.getpid()}")
            os.rename(out, old)
        os.rename(tmp, out)
    except OSError as exc:
        if old is not None and not out.exists():
            os.rename(old, out)
        raise OutputError(out, exc.strerror or str(exc), flag="--out") from exc
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
