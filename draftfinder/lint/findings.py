"""What ``draftfinder lint`` reports: findings with severity, fix and where the engine enforces the rule.

A :class:`Finding` is one mistake (or note) in one serving command; :class:`Enforcement` says which engine
file, function and version/commit the rule comes from (or, for a rule the engine does *not* enforce, says so:
``enforced=False``). :class:`CommandReport` holds the findings for one command line, :class:`LintReport` for
everything that was read. All of them render to plain dicts through ``to_dict`` (JSON/YAML/table come from it).

Severities: ``error`` — the engine refuses the command, crashes, or silently does not do what the command asks
(e.g. loads a draft model but never drafts); ``warning`` — it runs, but slower or worse than it could, or a
value is silently changed; ``info`` — something lint could not check, or a default worth knowing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Enforcement:
    """Where an engine enforces (or would have to enforce) a rule."""

    engine: str                                  # llama.cpp | vllm | sglang
    where: str                                   # file and function / option, e.g. "vllm/config/speculative.py ..."
    version: str                                 # commit, release or build the rule was read at
    source: str                                  # repository or URL (or "llama-server --help" of a build)
    enforced: bool = True                        # False: the engine does not check this; lint does
    observed: Optional[str] = None               # what the engine prints/does, when we saw it

    def cite(self) -> str:
        head = f"{self.where} — {self.source} @ {self.version}"
        return head if self.enforced else f"not enforced by {self.engine}; {head}"


@dataclass
class Finding:
    """One mistake or note in a serving command."""

    rule: str                                    # stable id, e.g. "llama.draft-model-without-spec-type"
    severity: str                                # error | warning | info
    message: str                                 # what is wrong, naming the flag/key and its value
    fix: str                                     # what to write instead
    enforcement: Enforcement
    tokens: List[str] = field(default_factory=list)   # the command's tokens the finding is about

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {SEVERITIES}")

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["enforced_at"] = self.enforcement.cite()
        return d


@dataclass
class CommandReport:
    """The findings for one command line."""

    engine: str                                  # llama.cpp | vllm | sglang
    program: str                                 # the program token as written (llama-server, vllm serve, …)
    command: str                                 # the command as read (one line)
    target: Optional[str] = None                 # the target model the command serves, when named
    draft: Optional[str] = None                  # the draft / head, when named
    findings: List[Finding] = field(default_factory=list)

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def to_dict(self) -> Dict[str, Any]:
        return {"engine": self.engine, "program": self.program, "command": self.command, "target": self.target,
                "draft": self.draft, "errors": self.count("error"), "warnings": self.count("warning"),
                "infos": self.count("info"), "findings": [f.to_dict() for f in self.findings]}


@dataclass
class LintReport:
    """Everything ``draftfinder lint`` read: one report per serving command found."""

    source: str                                  # "argument" | "stdin" | the file name
    commands: List[CommandReport] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)    # model lookups that answered from the catalog, …

    @property
    def has_errors(self) -> bool:
        return any(c.count("error") for c in self.commands)

    def to_dict(self) -> Dict[str, Any]:
        return {"source": self.source, "commands": [c.to_dict() for c in self.commands],
                "errors": sum(c.count("error") for c in self.commands),
                "warnings": sum(c.count("warning") for c in self.commands),
                "notes": list(self.notes)}
