"""Configuration of the find workflow: the manual's YAML/JSON files (§6), validated, with CLI precedence.

Precedence: built-in defaults < config file < command-line flags the user actually typed (manual §6.6).
Every key is validated against its type; an unknown key or a wrong type raises ``ConfigError`` naming the
key, the expected type and the value found.

Keys beyond the manual: ``hardware``, ``models_dirs``, ``offline``, ``lenient_tokenization``,
``show_test_details``, ``max_k``, ``test_strings`` (extra tokenization test strings), ``output.format``
accepts table/json/yaml; ``engine``, ``ctx``, ``concurrency`` and the ``device`` section (``bandwidth_gb_s``,
``tflops``, ``memory_gb``, ``threads``, ``count``, ``kind``: custom hardware or a preset's figures replaced) —
the flags of :mod:`draftfinder.cli.device_flags`. ``hardware`` defaults to ``auto`` (this machine, detected).

Where the manual's rule is wrong the key keeps its name and gets a sound meaning:
``compatibility.strict_vocab_match`` requires the *token-by-token* vocabulary over the shared id range to
match (not ``config.vocab_size`` equality, which wrongly rejects padded embeddings such as Qwen2.5-0.5B
for Qwen2.5-7B).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from draftfinder import constants
from draftfinder.errors import ConfigError, UsageError
from draftfinder.find.results import Task
from draftfinder.ranges import check_number


@dataclass
class SearchConfig:
    include_quantized: bool = True
    min_size_ratio: float = 0.0005   # drafts below 0.05% of the target are not worth evaluating
    max_size_ratio: float = 0.5      # a draft above half the target leaves little to gain
    prefer_same_family: bool = True
    prefer_official_models: bool = True


@dataclass
class CompatibilityConfig:
    strict_vocab_match: bool = True
    strict_tokenization_match: bool = True
    min_tokenization_match_rate: float = 0.95
    min_compatibility_score: float = 70.0
    require_special_tokens: bool = False
    tokenizer_load_timeout: int = 30


@dataclass
class PerformanceConfig:
    # None = use the fitted acceptance prior (predict/acceptance.py); a number overrides its intercept (manual §6.5).
    base_acceptance_rate: Optional[float] = None
    same_family_bonus: Optional[float] = None
    tokenizer_match_bonus: Optional[float] = None
    # the kind of base_acceptance_rate: alpha (per-token α), rate (accepted ÷ drafted) or al (tokens per target
    # pass) — rate and al need acceptance_k, the K they were measured at (predict/acceptance_kinds.py)
    acceptance_kind: str = "alpha"
    acceptance_k: Optional[int] = None
    optimal_size_ratio_min: float = 0.1
    optimal_size_ratio_max: float = 0.3


@dataclass
class OutputConfig:
    show_warnings: bool = True
    show_compatibility_details: bool = False
    show_memory_info: bool = True
    format: str = "table"


@dataclass
class DeviceConfig:
    """Figures of custom hardware, or replacing those of the ``hardware`` preset (None: the preset's)."""

    bandwidth_gb_s: Optional[float] = None
    tflops: Optional[float] = None
    memory_gb: Optional[float] = None
    threads: Optional[int] = None
    count: Optional[int] = None
    kind: Optional[str] = None


@dataclass
class FinderConfig:
    target_model: Optional[str] = None
    token: Optional[str] = None
    top_n: int = constants.DEFAULT_TOP_N
    task: str = Task.GENERAL.value
    max_candidates: int = constants.DEFAULT_MAX_CANDIDATES
    verbose: bool = False
    export: Optional[str] = None
    # beyond the manual
    hardware: str = "auto"                       # predict.devices.AUTO: detect this machine
    engine: Optional[str] = None                 # None: predict.devices.default_engine
    ctx: int = 4096                              # predict.memory.DEFAULT_CTX
    concurrency: int = 1
    models_dirs: List[str] = field(default_factory=list)
    offline: bool = False
    lenient_tokenization: bool = False
    show_test_details: bool = False
    max_k: int = constants.MAX_K
    test_strings: List[str] = field(default_factory=list)
    search: SearchConfig = field(default_factory=SearchConfig)
    compatibility: CompatibilityConfig = field(default_factory=CompatibilityConfig)
    performance: PerformanceConfig = field(default_factory=PerformanceConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    device: DeviceConfig = field(default_factory=DeviceConfig)

    def to_dict(self, *, include_token: bool = False) -> Dict[str, Any]:
        data = dataclasses.asdict(self)
        if not include_token:
            data["token"] = None
        return data


_SECTIONS = {"search": SearchConfig, "compatibility": CompatibilityConfig,
             "performance": PerformanceConfig, "output": OutputConfig, "device": DeviceConfig}
_TYPE_NAMES = {bool: "true or false", str: "a string"}


def _field_types(cls) -> Dict[str, Any]:
    import typing

    return typing.get_type_hints(cls)


def _coerce(key: str, value: Any, hint: Any, source: str) -> Any:
    """Check ``value`` against the annotation ``hint``; ints are accepted for floats."""
    import typing

    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union and type(None) in args:
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
        origin = typing.get_origin(hint)
    if origin in (list, List):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(key, "a list of strings", value, source=source)
        return list(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, _TYPE_NAMES[bool], value, source=source)
        return value
    if hint is int:
        return check_number(value, key, kind=int, source=source)
    if hint is float:
        return check_number(value, key, kind=float, source=source)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(key, _TYPE_NAMES[str], value, source=source)
        return value
    return value


def _apply(obj: Any, data: Dict[str, Any], prefix: str, source: str) -> None:
    hints = _field_types(type(obj))
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in hints:
            valid = ", ".join(sorted(hints))
            raise ConfigError(dotted, f"one of the known keys ({valid})", source=source,
                              hint="remove or rename the key")
        if key in _SECTIONS and not prefix:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ConfigError(dotted, "a mapping (section)", value, source=source)
            _apply(getattr(obj, key), value, f"{key}.", source)
            continue
        setattr(obj, key, _coerce(dotted, value, hints[key], source))


def validate(cfg: FinderConfig, source: str = "config") -> FinderConfig:
    """Range checks that types alone cannot express (every number through ``ranges.check_number``)."""
    check_number(cfg.top_n, "top_n", kind=int, low=1, source=source)
    check_number(cfg.max_candidates, "max_candidates", kind=int, low=1, source=source)
    if cfg.task not in {t.value for t in Task}:
        raise ConfigError("task", "one of " + ", ".join(t.value for t in Task), cfg.task, source=source)
    check_number(cfg.max_k, "max_k", kind=int, low=1, high=64, source=source)
    s = cfg.search
    check_number(s.max_size_ratio, "search.max_size_ratio", low=0, high=1, low_open=True, source=source)
    check_number(s.min_size_ratio, "search.min_size_ratio", low=0, high=s.max_size_ratio, high_open=True,
                 source=source, unit="below search.max_size_ratio")
    c = cfg.compatibility
    check_number(c.min_tokenization_match_rate, "compatibility.min_tokenization_match_rate", low=0, high=1,
                 source=source)
    check_number(c.min_compatibility_score, "compatibility.min_compatibility_score", low=0, high=100, source=source)
    check_number(c.tokenizer_load_timeout, "compatibility.tokenizer_load_timeout", kind=int, low=0, low_open=True,
                 source=source, unit="seconds")
    p = cfg.performance
    base_acceptance_alpha(cfg, source)
    for name in ("same_family_bonus", "tokenizer_match_bonus"):
        check_number(getattr(p, name), f"performance.{name}", low=0, high=1, source=source, allow_none=True)
    check_number(p.optimal_size_ratio_max, "performance.optimal_size_ratio_max", low=0, high=1, low_open=True,
                 source=source)
    check_number(p.optimal_size_ratio_min, "performance.optimal_size_ratio_min", low=0,
                 high=p.optimal_size_ratio_max, low_open=True, high_open=True, source=source,
                 unit="below performance.optimal_size_ratio_max")
    if cfg.output.format not in ("table", "json", "yaml"):
        raise ConfigError("output.format", "one of table, json, yaml", cfg.output.format, source=source)
    _validate_device(cfg, source)
    return cfg


def _validate_device(cfg: FinderConfig, source: str) -> None:
    """The device keys: the same ranges as their flags (:mod:`draftfinder.cli.device_flags`)."""
    from draftfinder.cli.device_flags import MAX_CTX
    from draftfinder.predict.concurrency import MAX_CONCURRENCY
    from draftfinder.predict.devices import DEVICE_KINDS, MAX_DEVICE_COUNT, MAX_THREADS, check_engine

    check_number(cfg.ctx, "ctx", kind=int, low=1, high=MAX_CTX, source=source, unit="tokens")
    check_number(cfg.concurrency, "concurrency", kind=int, low=1, high=MAX_CONCURRENCY, source=source)
    if cfg.engine is not None:
        try:
            cfg.engine = check_engine(cfg.engine)
        except UsageError as err:
            raise ConfigError("engine", "an engine", cfg.engine, source=source, hint=err.hint) from None
    d = cfg.device
    for name in ("bandwidth_gb_s", "tflops", "memory_gb"):
        check_number(getattr(d, name), f"device.{name}", low=0, low_open=True, high=1e6, source=source,
                     allow_none=True)
    check_number(d.threads, "device.threads", kind=int, low=1, high=MAX_THREADS, source=source, allow_none=True)
    check_number(d.count, "device.count", kind=int, low=1, high=MAX_DEVICE_COUNT, source=source, allow_none=True)
    if d.kind is not None and d.kind not in DEVICE_KINDS:
        raise ConfigError("device.kind", "one of " + ", ".join(DEVICE_KINDS), d.kind, source=source)


def base_acceptance_alpha(cfg: FinderConfig, source: str = "config") -> Optional[float]:
    """``performance.base_acceptance_rate`` as α: validated for its ``performance.acceptance_kind`` (and
    ``acceptance_k``) and converted (predict/acceptance_kinds.py); None when unset."""
    from draftfinder.predict.acceptance_kinds import alpha_from_setting

    p = cfg.performance
    return alpha_from_setting(p.base_acceptance_rate, p.acceptance_kind, p.acceptance_k,
                              name="performance.base_acceptance_rate", kind_name="performance.acceptance_kind",
                              k_name="performance.acceptance_k", source=source)


def from_dict(data: Dict[str, Any], source: str = "config") -> FinderConfig:
    cfg = FinderConfig()
    if not isinstance(data, dict):
        raise ConfigError("(top level)", "a mapping of keys to values", data, source=source)
    _apply(cfg, data, "", source)
    return validate(cfg, source)


def load_config(path: str) -> FinderConfig:
    """Read a YAML (.yaml/.yml) or JSON config file; the format is chosen by the content, not only the name."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(str(path), "an existing config file", source="--config",
                          hint="check the path, or create one with: draftfinder --generate-config yaml > config.yaml")
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix.lower() == ".json" or text.lstrip().startswith("{"):
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(p.name, "valid YAML or JSON", source=str(p), hint=f"fix the syntax error: {first}") from exc
    return from_dict(data or {}, source=str(p))


def merge_cli(cfg: FinderConfig, overrides: Dict[str, Any]) -> FinderConfig:
    """Apply the flags the user typed (dotted keys for sections), CLI winning over the file."""
    for dotted, value in overrides.items():
        if value is None:
            continue
        target: Any = cfg
        parts = dotted.split(".")
        for part in parts[:-1]:
            target = getattr(target, part)
        if isinstance(getattr(target, parts[-1]), list) and isinstance(value, list):
            value = [*getattr(target, parts[-1]), *[v for v in value if v not in getattr(target, parts[-1])]]
        setattr(target, parts[-1], value)
    return validate(cfg, "command line")


def template(fmt: str) -> str:
    """The config template printed by ``--generate-config yaml|json`` (manual §6.2)."""
    data = FinderConfig(target_model="Qwen/Qwen2.5-7B-Instruct").to_dict()
    if fmt == "json":
        return json.dumps(data, indent=2)
    import yaml

    header = ("# draftfinder configuration (manual §6). CLI flags override these values.\n"
              "# performance.base_acceptance_rate / same_family_bonus / tokenizer_match_bonus: null uses the\n"
              "# fitted acceptance prior; set a number to override it. performance.acceptance_kind says what\n"
              "# base_acceptance_rate is: alpha (per-token α), rate (accepted/drafted) or al (tokens per target\n"
              "# pass); rate and al need performance.acceptance_k, the K they were measured at.\n")
    return header + yaml.safe_dump(data, sort_keys=False)
