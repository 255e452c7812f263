"""``draftfinder lint``: find mistakes in a speculative-decoding serving command before running it.

    from draftfinder.lint import lint_text
    report = lint_text("llama-server -m t.gguf -md d.gguf -ngl 99")   # -> LintReport

Modules: :mod:`.commandline` (read text, split commands, recognise the engine), :mod:`.llama_server`,
:mod:`.vllm`, :mod:`.sglang` (each engine's rules, every rule citing where the engine enforces it),
:mod:`.model_facts` (vocab size, architecture, MTP layers through the resolver), :mod:`.heads` (which target an
EAGLE head was trained for), :mod:`.findings` (the result dataclasses).
"""

from __future__ import annotations

from typing import Any, Optional

from draftfinder.lint.findings import CommandReport, Enforcement, Finding, LintReport

__all__ = ["lint_text", "LintReport", "CommandReport", "Finding", "Enforcement"]


def lint_text(text: str, *, source: str = "argument", resolve: bool = True, resolver: Optional[Any] = None) -> LintReport:
    """Lint every serving command in ``text``. ``resolve=False`` skips the rules that need model facts;
    ``resolver``: the :class:`~draftfinder.models.resolver.Resolver` for model lookups (default: offline)."""
    from draftfinder.lint import llama_server, model_facts, sglang, vllm
    from draftfinder.lint.commandline import read_commands

    model_facts.use_resolver(resolver)
    rules = {"llama.cpp": llama_server.lint, "vllm": vllm.lint, "sglang": sglang.lint}
    report = LintReport(source)
    for cmd in read_commands(text):
        report.commands.append(rules[cmd.engine](cmd, resolve=resolve))
    report.notes = model_facts.notes()
    return report
