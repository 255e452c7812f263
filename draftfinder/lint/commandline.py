"""Read serving commands: text → logical lines → shell tokens → (engine, program, arguments).

Accepted input (an argument, a file or stdin):

- one or more shell command lines, with ``\\`` line continuations, ``#`` comments, ``VAR=value`` prefixes
  (kept as the command's environment: SGLang reads ``SGLANG_ENABLE_SPEC_V2``) and ``;`` / ``&&`` separators;
- a bare JSON object: a vLLM ``--speculative-config`` on its own.

Engines are recognised by the program: ``llama-server`` (any path, ``.exe``; also ``llama-cli``,
``llama-speculative[-simple]``, which parse the same ``common/arg.cpp`` options), ``vllm serve`` /
``python -m vllm.entrypoints.openai.api_server``, ``python -m sglang.launch_server`` / ``sglang serve``. Lines
that start none of them (``export``, ``curl`` …) are skipped.

Text the shell itself could not read (an unclosed quote) raises :class:`~draftfinder.errors.LintInputError`
naming the token; so does input with no serving command at all.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from draftfinder.errors import LintInputError

LLAMA_PROGRAMS = ("llama-server", "llama-cli", "llama-speculative", "llama-speculative-simple")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SEPARATORS = {";", "&&", "||", "|", "&"}


@dataclass
class Command:
    """One serving command, split into the program and its arguments."""

    engine: str                         # llama.cpp | vllm | sglang
    program: str                        # as written: "llama-server", "vllm serve", "python3 -m sglang.launch_server"
    args: List[str]                     # the tokens after the program
    text: str                           # the command as one line
    env: Dict[str, str] = field(default_factory=dict)
    config_only: bool = False           # a bare --speculative-config JSON (vLLM), no command around it


def logical_lines(text: str) -> List[str]:
    """Lines with ``\\``-newline continuations joined (comments are left to the tokenizer)."""
    joined = re.sub(r"\\\r?\n", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip()]


def _unclosed_quote(line: str) -> Tuple[str, int]:
    """The token that opens a quote the line never closes, and its column (1-based)."""
    quote: Optional[str] = None
    start = 0
    i = 0
    while i < len(line):
        ch = line[i]
        if quote is None:
            if ch == "\\":
                i += 2
                continue
            if ch in "'\"":
                quote, start = ch, i
        elif ch == quote:
            quote = None
        elif ch == "\\" and quote == '"':
            i += 2
            continue
        i += 1
    tok_start = line.rfind(" ", 0, start) + 1
    token = line[tok_start:]
    return (token if len(token) <= 60 else token[:57] + "..."), start + 1


def tokenize(line: str) -> List[str]:
    """Shell words of one logical line (``#`` comments dropped, ``;``/``&&`` kept as their own tokens)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError as err:   # "No closing quotation" / "No escaped character"
        token, col = _unclosed_quote(line)
        raise LintInputError(token, f"{err} (column {col})") from err


def _program(words: List[str]) -> Optional[Tuple[str, str, int]]:
    """(engine, program as written, index of the first argument) when ``words`` start a serving command."""
    if not words:
        return None
    base = words[0].replace("\\", "/").rsplit("/", 1)[-1]
    if base.endswith(".exe"):
        base = base[:-4]
    if base in LLAMA_PROGRAMS:
        return "llama.cpp", words[0], 1
    if base == "vllm" and len(words) > 1 and words[1] == "serve":
        return "vllm", "vllm serve", 2
    if base == "sglang" and len(words) > 1 and words[1] == "serve":
        return "sglang", "sglang serve", 2
    if re.fullmatch(r"python[0-9.]*", base) and len(words) > 2 and words[1] == "-m":
        if words[2] in ("vllm.entrypoints.openai.api_server", "vllm.entrypoints.api_server"):
            return "vllm", " ".join(words[:3]), 3
        if words[2] == "sglang.launch_server":
            return "sglang", " ".join(words[:3]), 3
    return None


def _commands_in(line: str) -> List[Command]:
    words = tokenize(line)
    out: List[Command] = []
    segment: List[str] = []
    for word in words + [";"]:
        if word not in _SEPARATORS:
            segment.append(word)
            continue
        env: Dict[str, str] = {}
        i = 0
        while i < len(segment) and _ENV_RE.match(segment[i]):
            key, value = segment[i].split("=", 1)
            env[key] = value
            i += 1
        if i < len(segment) and segment[i] in ("env", "sudo", "exec", "nohup", "time"):
            i += 1
        found = _program(segment[i:])
        if found:
            engine, program, first = found
            out.append(Command(engine, program, segment[i + first:], shlex.join(segment[i:]), env))
        segment = []
    return out


def read_commands(text: str) -> List[Command]:
    """Every serving command in ``text`` (raises :class:`LintInputError` when there is none)."""
    stripped = text.strip()
    if not stripped:
        raise LintInputError("", "the input is empty")
    if stripped.startswith("{"):
        try:
            json.loads(stripped)
        except json.JSONDecodeError as err:
            raise LintInputError(_json_token(stripped, err.pos), f"not valid JSON: {err.msg}") from err
        return [Command("vllm", "--speculative-config", ["--speculative-config", stripped], stripped,
                        config_only=True)]
    commands: List[Command] = []
    for line in logical_lines(text):
        commands.extend(_commands_in(line))
    if not commands:
        first = tokenize(logical_lines(text)[0])[:1] if logical_lines(text) else []
        raise LintInputError(first[0] if first else stripped[:40],
                             "no llama-server, `vllm serve` or `python -m sglang.launch_server` command found")
    return commands


def _json_token(text: str, pos: int) -> str:
    """The text around JSON position ``pos`` (what the parser stopped at)."""
    start = max(0, pos - 12)
    return text[start:pos + 12].replace("\n", " ")


def parse_json_value(flag: str, value: str) -> dict:
    """A JSON-object flag value (``--speculative-config``); an unreadable one names the place it broke."""
    try:
        data = json.loads(value)
    except json.JSONDecodeError as err:
        raise LintInputError(_json_token(value, err.pos),
                             f"{flag} is not valid JSON: {err.msg} at character {err.pos + 1}") from err
    if not isinstance(data, dict):
        raise LintInputError(value[:40], f"{flag} must be a JSON object ({{...}}), got {type(data).__name__}")
    return data


def split_argparse(args: List[str], boolean: Tuple[str, ...] = ()) -> Tuple[List[Tuple[str, Optional[str], int]], List[str]]:
    """argparse-style arguments (vLLM, SGLang): ``([(flag, value or None, index)], positionals)``.

    ``--flag=value`` and ``--flag value`` both work; underscores in flag names become dashes (vLLM's
    ``FlexibleArgumentParser`` and SGLang accept both). A flag takes the next token as its value unless it is in
    ``boolean`` or the next token is itself a flag.
    """
    flags: List[Tuple[str, Optional[str], int]] = []
    positionals: List[str] = []
    i = 0
    while i < len(args):
        tok = args[i]
        if tok.startswith("-") and len(tok) > 1 and not _is_number(tok):
            name, eq, value = tok.partition("=")
            if name.startswith("--"):
                name = "--" + name[2:].replace("_", "-")
            if eq:
                flags.append((name, value, i))
            elif name in boolean or i + 1 >= len(args) or (args[i + 1].startswith("-") and not _is_number(args[i + 1])):
                flags.append((name, None, i))
            else:
                flags.append((name, args[i + 1], i))
                i += 1
        else:
            positionals.append(tok)
        i += 1
    return flags, positionals


def _is_number(tok: str) -> bool:
    try:
        float(tok)
        return True
    except ValueError:
        return False
