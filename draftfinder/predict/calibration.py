"""Calibrated profiles: this machine's measured step times per engine and model (``draftfinder calibrate``).

A profile is what ``--hardware local`` (or ``--hardware NAME``) means: instead of a preset's vendor figures, the
latency model uses step times timed here, on the engines installed here. It is one JSON file,
``constants.data_home()/calibration/<name>.json`` (default name ``local``), written through
:mod:`draftfinder.writer`; an interrupted calibration is saved beside it as ``<name>.partial.json`` and never
replaces a complete profile (the rule ``measure`` follows). :func:`load_profile` prefers the complete file.

Per engine (``llama.cpp``: llama-server; ``draftfinder``: our PyTorch engine) and model, an
:class:`EngineCalibration` holds

- ``t_ms_by_batch``: T(b), the wall time of one forward step over b = 1..16 new tokens of one sequence, as the
  engine runs a speculative verify step (b rows of logits, each sampled); b = 1 is a plain decode step;
- ``per_step_overhead_ms``: the part of a plain decode step that is not the model's forward pass (sampling over
  the vocabulary, the engine's loop, host synchronisation);
- ``effective_bandwidth_gb_s``: weight bytes / (T(1) − overhead), the weight-streaming rate a 1-token step
  reached (on CPUs a quantized mat-vec is often compute-bound, so this is an *effective* figure, not DRAM's);
- ``draft_step_ms``: the cost of one drafted token when this model drafts for itself in that engine.

How each was measured is in :mod:`draftfinder.measure.calibrate` and in each calibration's ``method`` field.
Across the models of one engine an :class:`EngineFit` gives the engine's constants for models that were not
calibrated (bandwidth, per-step overhead, compute), with its in-sample error.

Bad files: a corrupt profile (not JSON, wrong schema, missing or non-numeric fields) and a profile measured on
another machine (its ``machine_id`` differs from :func:`draftfinder.measure.results.machine_id`) are refused with
one line naming the problem and the fix (:class:`~draftfinder.errors.CalibrationProfileError`).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from draftfinder import constants
from draftfinder.errors import CalibrationNotFoundError, CalibrationProfileError, OutputError, UsageError

SCHEMA = "draftfinder.calibration"
SCHEMA_VERSION = 1
DEFAULT_NAME = "local"                # what `--hardware local` loads
LLAMA_CPP = "llama.cpp"
DRAFTFINDER = "draftfinder"
ENGINES = (LLAMA_CPP, DRAFTFINDER)   # engines `calibrate` can measure (names as in predict/latency.ENGINES)
MAX_BATCH = 16
PARTIAL_SUFFIX = ".partial.json"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


# ---------------------------------------------------------------------------------------------------
# the profile
# ---------------------------------------------------------------------------------------------------

@dataclass
class EngineCalibration:
    """One model measured on one engine of this machine. Times in milliseconds, medians over repeats."""

    engine: str                                   # "llama.cpp" | "draftfinder"
    model: str                                    # the name it was calibrated under (zoo:…, a path)
    weight_format: str                            # lower case: "q4_1", "q4_k_m", "fp32", "bf16", …
    params: float                                 # parameters (exact, from the model's files)
    layers: int
    t_ms_by_batch: Dict[int, float]               # T(b): one step over b new tokens, one sequence
    per_step_overhead_ms: float                   # step time outside the forward pass
    effective_bandwidth_gb_s: float               # weight_bytes / (T(1) − per_step_overhead_ms)
    draft_step_ms: Optional[float] = None         # one drafted token when the model drafts for itself
    weight_bytes: float = 0.0                     # bytes of weights the engine reads per step
    hidden: int = 0
    vocab: int = 0
    context_tokens: int = 0                       # KV cache length the steps ran after
    repeats: int = 0                              # timed rounds per b (warm-up excluded)
    t_ms_range_by_batch: Dict[int, Tuple[float, float]] = field(default_factory=dict)   # min, max over repeats
    source: str = ""                              # the file measured (GGUF path, model folder)
    method: Dict[str, str] = field(default_factory=dict)   # field -> how it was measured
    partial: bool = False                         # interrupted: some b (or the overhead/draft step) missing
    notes: List[str] = field(default_factory=list)

    def t_ms(self, n_tokens: int) -> Optional[float]:
        """Measured T(n) (None when n was not measured)."""
        return self.t_ms_by_batch.get(int(n_tokens))

    def verify_cost(self, k: int) -> Optional[float]:
        """T(k+1) / T(1): verifying k drafts, in plain decode steps (None when either was not measured)."""
        one, many = self.t_ms(1), self.t_ms(k + 1)
        return many / one if one and many else None

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["t_ms_by_batch"] = {str(k): v for k, v in sorted(self.t_ms_by_batch.items())}
        d["t_ms_range_by_batch"] = {str(k): list(v) for k, v in sorted(self.t_ms_range_by_batch.items())}
        return d

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "EngineCalibration":
        """Parse and validate one entry (``ValueError``/``TypeError``/``KeyError`` on anything malformed)."""
        if not isinstance(d, dict):
            raise TypeError(f"an engine calibration must be an object, got {type(d).__name__}")
        t = _batch_map(d["t_ms_by_batch"], "t_ms_by_batch")
        ranges = {int(k): (float(v[0]), float(v[1])) for k, v in (d.get("t_ms_range_by_batch") or {}).items()}
        draft = d.get("draft_step_ms")
        return cls(
            engine=_text(d["engine"], "engine"), model=_text(d["model"], "model"),
            weight_format=_text(d["weight_format"], "weight_format").lower(),
            params=_positive(d["params"], "params"), layers=int(_positive(d["layers"], "layers")),
            t_ms_by_batch=t, per_step_overhead_ms=_non_negative(d["per_step_overhead_ms"], "per_step_overhead_ms"),
            effective_bandwidth_gb_s=_positive(d["effective_bandwidth_gb_s"], "effective_bandwidth_gb_s"),
            draft_step_ms=None if draft is None else _positive(draft, "draft_step_ms"),
            weight_bytes=_non_negative(d.get("weight_bytes", 0.0), "weight_bytes"),
            hidden=int(d.get("hidden") or 0), vocab=int(d.get("vocab") or 0),
            context_tokens=int(d.get("context_tokens") or 0), repeats=int(d.get("repeats") or 0),
            t_ms_range_by_batch=ranges,
            source=str(d.get("source") or ""), method={str(k): str(v) for k, v in (d.get("method") or {}).items()},
            partial=bool(d.get("partial", False)), notes=[str(n) for n in d.get("notes") or []])


@dataclass
class EngineFit:
    """One engine's constants fitted on the calibrations of several models (for models not calibrated)::

        T(b) ≈ per_step_overhead_ms + weight_bytes / effective_bandwidth + (b − 1) · 2·params / effective_flops

    — a 1-token step streams the weights once; each extra token of a verify step adds its 2·params FLOPs
    (Kaplan et al. 2020, §2.1: C_forward ≈ 2N). Least squares on relative error over every measured
    (model, b); with two models the intercept and bandwidth rest on two T(1) values only, so the fit is
    reported with its in-sample error and is not a validation (``bench/calibrated_prediction.py`` is)."""

    engine: str
    per_step_overhead_ms: float
    effective_bandwidth_gb_s: float
    effective_tflops: float
    models: List[str]
    points: int                                   # (model, b) pairs fitted
    in_sample_median_abs_error: float             # |fit − measured| / measured, median (in-sample)
    in_sample_max_abs_error: float
    method: str = ""

    def step_ms(self, weight_bytes: float, params: float, n_tokens: int) -> float:
        """The fitted T(n_tokens) of a model with these weight bytes and parameters (formula above)."""
        return (self.per_step_overhead_ms + weight_bytes / (self.effective_bandwidth_gb_s * 1e6)
                + max(0, int(n_tokens) - 1) * 2.0 * params / (self.effective_tflops * 1e9))

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "EngineFit":
        return cls(engine=_text(d["engine"], "fit engine"),
                   per_step_overhead_ms=float(d["per_step_overhead_ms"]),
                   effective_bandwidth_gb_s=_positive(d["effective_bandwidth_gb_s"], "fit effective_bandwidth_gb_s"),
                   effective_tflops=_positive(d["effective_tflops"], "fit effective_tflops"),
                   models=[str(m) for m in d.get("models") or []], points=int(d.get("points") or 0),
                   in_sample_median_abs_error=float(d.get("in_sample_median_abs_error") or 0.0),
                   in_sample_max_abs_error=float(d.get("in_sample_max_abs_error") or 0.0),
                   method=str(d.get("method") or ""))


@dataclass
class CalibratedProfile:
    """This machine as ``draftfinder calibrate`` measured it: per engine, one :class:`EngineCalibration` per model."""

    name: str
    machine_id: str                               # measure.results.machine_id() of the machine measured
    created_at: str                               # ISO 8601, UTC
    cpu: str
    threads: int                                  # threads the engines ran with
    engines: Dict[str, List[EngineCalibration]] = field(default_factory=dict)
    fits: Dict[str, EngineFit] = field(default_factory=dict)
    partial: bool = False                         # interrupted before every planned measurement
    versions: Dict[str, Optional[str]] = field(default_factory=dict)   # llama-server build, torch, draftfinder
    command: str = ""                             # the calibrate command that produced it
    path: Optional[str] = None                    # where it was read from / written to (not saved)

    # --- lookups -------------------------------------------------------------------------------------
    def calibrations(self, engine: str) -> List[EngineCalibration]:
        return list(self.engines.get(engine, []))

    def calibration(self, engine: str, model: Optional[str] = None) -> Optional[EngineCalibration]:
        """The calibration of ``model`` on ``engine`` (matched by name, source file or file name), or None."""
        for cal in self.engines.get(engine, []):
            if model is None or _same_model(cal, model):
                return cal
        return None

    def step_ms(self, engine: str, *, params: float, n_tokens: int, weight_format: Optional[str] = None,
                weight_bytes: Optional[float] = None) -> Optional[Tuple[float, str]]:
        """``(ms, provenance)`` of one step over ``n_tokens`` new tokens of a model of this size on ``engine``:
        the measured T(n) of the calibrated model it matches (:func:`match_shape`), else the engine's fit
        (needs ``weight_bytes``), else None. The hook a latency model calls for ``--hardware local``."""
        cal = match_shape(self.calibrations(engine), params, weight_format)
        if cal is not None and cal.t_ms(n_tokens) is not None:
            return cal.t_ms(n_tokens), f"measured: T({n_tokens}) of {cal.model} on {engine}, calibration {self.name}"
        fit = self.fits.get(engine)
        if fit is not None and weight_bytes:
            return (fit.step_ms(weight_bytes, params, n_tokens),
                    f"estimated: {engine} fit of calibration {self.name} ({', '.join(fit.models)}; in-sample median "
                    f"error {100 * fit.in_sample_median_abs_error:.0f} %)")
        return None

    @property
    def engine_names(self) -> List[str]:
        return [e for e, cals in self.engines.items() if cals]

    def describe(self) -> str:
        """One line for reports: ``local (calibrated 2026-11-30 on Intel Xeon, 1 thread: llama.cpp 2 models, …)``."""
        parts = [f"{e} {len(c)} model{'s' if len(c) != 1 else ''}" for e, c in self.engines.items() if c]
        return (f"{self.name} (calibrated {self.created_at[:10]} on {self.cpu}, {self.threads} thread"
                f"{'s' if self.threads != 1 else ''}: {', '.join(parts) or 'nothing measured'}"
                f"{'; PARTIAL' if self.partial else ''})")

    # --- serialisation -------------------------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "name": self.name, "machine_id": self.machine_id,
                "created_at": self.created_at, "cpu": self.cpu, "threads": self.threads, "partial": self.partial,
                "command": self.command, "versions": dict(self.versions),
                "engines": {e: [c.to_dict() for c in cals] for e, cals in self.engines.items()},
                "fits": {e: f.to_dict() for e, f in self.fits.items()}}

    @classmethod
    def from_dict(cls, d: Any) -> "CalibratedProfile":
        """Parse and validate a profile document (``ValueError``/``TypeError``/``KeyError`` when malformed)."""
        if not isinstance(d, dict):
            raise TypeError(f"the file holds a JSON {type(d).__name__}, not an object")
        if d.get("schema") != SCHEMA:
            raise ValueError(f"schema is {d.get('schema')!r}, not {SCHEMA!r}")
        if int(d.get("schema_version", 0)) > SCHEMA_VERSION:
            raise ValueError(f"schema_version {d.get('schema_version')} is newer than this draftfinder reads "
                             f"({SCHEMA_VERSION})")
        engines_raw = d["engines"]
        if not isinstance(engines_raw, dict):
            raise TypeError("'engines' must be an object")
        engines = {str(e): [EngineCalibration.from_dict(c) for c in cals] for e, cals in engines_raw.items()}
        fits = {str(e): EngineFit.from_dict(f) for e, f in (d.get("fits") or {}).items()}
        return cls(name=_text(d["name"], "name"), machine_id=_text(d["machine_id"], "machine_id"),
                   created_at=_text(d["created_at"], "created_at"), cpu=str(d.get("cpu") or ""),
                   threads=int(d.get("threads") or 0), engines=engines, fits=fits,
                   partial=bool(d.get("partial", False)),
                   versions={str(k): (None if v is None else str(v)) for k, v in (d.get("versions") or {}).items()},
                   command=str(d.get("command") or ""))


def match_shape(cals: List[EngineCalibration], params: float, weight_format: Optional[str] = None,
                *, tolerance: float = 0.02) -> Optional[EngineCalibration]:
    """The calibration of a model with ``params`` parameters (within ``tolerance``, relative) and, when given, the
    same weight format (``q4_1``, ``fp32``, …; case-insensitive) — how a what-if shape (``estimate``) finds the
    model that was timed. None when no calibrated model matches."""
    fmt = (weight_format or "").lower() or None
    for cal in cals:
        if abs(cal.params - params) <= tolerance * max(cal.params, 1.0) and (fmt is None or cal.weight_format == fmt):
            return cal
    return None


def calibrated_speedup(target: EngineCalibration, k: int, alpha: float, *, draft_kind: str = "model",
                       draft: Optional[EngineCalibration] = None) -> Dict[str, Any]:
    """The expected speedup at K from measured costs only (Leviathan et al. 2023, Thm 3.8, with the verify cost)::

        speedup = (1 − α^(K+1)) / ((1 − α) · (K·c + T(K+1)/T(1)))

    T(K+1)/T(1) is the target's measured verify cost; c = draft step / T(1) with the draft step measured when
    the draft model drafted for itself on the same engine (``draft``; the target's own when None), or 0 for
    n-gram drafts (a lookup, whose cost is already inside the measured step times). ``{"speedup": None,
    "reason"}`` when K+1 was not timed. This is the calibration's own prediction, without a latency model."""
    from draftfinder.predict.speedup import expected_speedup

    t1, tk = target.t_ms(1), target.t_ms(k + 1)
    if not t1 or not tk:
        return {"speedup": None, "reason": f"T({k + 1}) was not timed by the calibration (max b = "
                                           f"{max(target.t_ms_by_batch)})"}
    if draft_kind == "ngram":
        c, c_how = 0.0, "0: an n-gram lookup (its cost is inside the measured step times)"
    else:
        source = draft or target
        if source.draft_step_ms is None:
            return {"speedup": None, "reason": f"the draft step of {source.model} was not measured"}
        c = source.draft_step_ms / t1
        c_how = (f"{source.draft_step_ms:.2f} ms measured draft step of {source.model} / T(1) {t1:.2f} ms of "
                 f"{target.model}")
    v = tk / t1
    return {"speedup": expected_speedup(min(max(alpha, 0.0), 1.0), k, c, v), "alpha": alpha, "k": k, "c": c,
            "verify_cost": v, "t1_ms": t1,
            "method": (f"Leviathan et al. 2023 Thm 3.8 with verify cost; v({k}) = T({k + 1})/T(1) measured on "
                       f"{target.engine} ({target.model}); c = {c_how}")}


def alpha_from_rate(rate: float, length: float) -> float:
    """α whose i.i.d. accepted ÷ drafted over drafts of ``length`` tokens is ``rate``:
    ``rate = α(1 − α^L) / ((1 − α)·L)`` (Leviathan et al. 2023 §3.1, Eq. 1: accepted per step = AL − 1), solved by
    bisection (strictly increasing in α). The same relation as ``predict.acceptance_kinds`` (used when present)."""
    try:
        from draftfinder.predict import acceptance_kinds as kinds

        return float(kinds.alpha_from_al(1.0 + min(max(rate, 0.0), 1.0) * length, max(1, math.ceil(length)),
                                         mean_drafted=length))
    except (ImportError, AttributeError, TypeError):
        pass
    target = min(max(float(rate), 0.0), 1.0)
    if target >= 1.0:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        r = mid * (1.0 - mid ** length) / ((1.0 - mid) * length) if mid < 1.0 else 1.0
        lo, hi = (mid, hi) if r < target else (lo, mid)
    return (lo + hi) / 2.0


def _same_model(cal: EngineCalibration, model: str) -> bool:
    want = str(model)
    if want in (cal.model, cal.source):
        return True
    return bool(cal.source) and Path(want).name == Path(cal.source).name


# --- validation helpers (raise ValueError/TypeError: the loader turns them into one line) ---------------

def _text(v: Any, what: str) -> str:
    if not isinstance(v, str) or not v:
        raise ValueError(f"'{what}' must be a non-empty string, got {v!r}")
    return v


def _number(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise ValueError(f"'{what}' must be a finite number, got {v!r}")
    return float(v)


def _positive(v: Any, what: str) -> float:
    x = _number(v, what)
    if x <= 0:
        raise ValueError(f"'{what}' must be > 0, got {v!r}")
    return x


def _non_negative(v: Any, what: str) -> float:
    x = _number(v, what)
    if x < 0:
        raise ValueError(f"'{what}' must be ≥ 0, got {v!r}")
    return x


def _batch_map(raw: Any, what: str, *, allow_empty: bool = False) -> Dict[int, float]:
    if not isinstance(raw, dict) or (not raw and not allow_empty):
        raise ValueError(f"'{what}' must be a non-empty object of batch size -> ms")
    out: Dict[int, float] = {}
    for k, v in raw.items():
        b = int(k)
        if not 1 <= b <= 64:
            raise ValueError(f"'{what}' has batch size {k!r} outside 1..64")
        out[b] = _positive(v, f"{what}[{k}]")
    return dict(sorted(out.items()))


# ---------------------------------------------------------------------------------------------------
# where profiles live
# ---------------------------------------------------------------------------------------------------

def calibration_dir() -> Path:
    """``constants.data_home()/calibration``."""
    return constants.data_home() / "calibration"


def check_name(name: str, *, flag: str = "--name") -> str:
    """A profile name: letters, digits, ``.``, ``_``, ``-`` (a file name under the data home, never a path)."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or name.endswith(".json"):
        raise UsageError(f"{flag} '{name}' is not a profile name (letters, digits, '.', '_', '-'; up to 64, no "
                         f"path, no .json)", hint="e.g. local, laptop-4threads")
    return name


def profile_path(name: str, *, partial: bool = False) -> Path:
    """Where profile ``name`` is kept (``partial``: its interrupted sibling, ``<name>.partial.json``)."""
    return calibration_dir() / (check_name(name) + (PARTIAL_SUFFIX if partial else ".json"))


def looks_like_path(name_or_path: str) -> bool:
    """A ``--hardware`` value naming a file rather than a saved profile."""
    return "/" in name_or_path or name_or_path.endswith(".json") or name_or_path.startswith("~")


def saved_profiles() -> List[str]:
    """Names of the profiles saved under :func:`calibration_dir` (complete or partial), sorted."""
    folder = calibration_dir()
    if not folder.is_dir():
        return []
    names = set()
    for p in folder.glob("*.json"):
        stem = p.name[: -len(PARTIAL_SUFFIX)] if p.name.endswith(PARTIAL_SUFFIX) else p.stem
        if _NAME_RE.match(stem):
            names.add(stem)
    return sorted(names)


def this_machine() -> str:
    from draftfinder.measure.results import machine_id

    return machine_id()


# ---------------------------------------------------------------------------------------------------
# load / save
# ---------------------------------------------------------------------------------------------------

def load_profile(name_or_path: str, *, check_machine: bool = True) -> CalibratedProfile:
    """The profile saved as ``name_or_path`` (a name under :func:`calibration_dir`, ``local`` being the default
    one, or a path to a profile file): the complete file when there is one, else the partial one (``partial``).

    Raises :class:`CalibrationNotFoundError` when there is none, :class:`CalibrationProfileError` when the file
    is corrupt or (``check_machine``) was measured on another machine — each one line with its fix.
    """
    text = str(name_or_path).strip()
    if looks_like_path(text):
        path = Path(text).expanduser()
        if not path.is_file():
            raise CalibrationNotFoundError(text, f"{path} does not exist")
        return _read(path, name=path.stem, check_machine=check_machine)
    name = check_name(text, flag="profile")
    for partial in (False, True):
        path = profile_path(name, partial=partial)
        if path.is_file():
            return _read(path, name=name, check_machine=check_machine)
    saved = saved_profiles()
    raise CalibrationNotFoundError(name, f"no calibration profile '{name}' in {calibration_dir()}"
                                         + (f" (saved: {', '.join(saved)})" if saved else ""))


def _read(path: Path, *, name: str, check_machine: bool) -> CalibratedProfile:
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CalibrationProfileError(path, name, f"it cannot be read ({exc.strerror or exc})") from None
    try:
        profile = CalibratedProfile.from_dict(json.loads(raw))
    except json.JSONDecodeError as exc:
        raise CalibrationProfileError(path, name, f"it is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise CalibrationProfileError(path, name, f"it is not a calibration profile ({what})") from None
    profile.path = str(path)
    if path.name.endswith(PARTIAL_SUFFIX):
        profile.partial = True
    if check_machine:
        here = this_machine()
        if profile.machine_id != here:
            raise CalibrationProfileError(path, name, f"it was measured on another machine "
                                                              f"({profile.machine_id}; this one is {here})",
                                          foreign=True)
    return profile


def save_profile(p: CalibratedProfile) -> Path:
    """Write ``p`` to :func:`profile_path` through :mod:`draftfinder.writer` (atomic replace); sets ``p.path``.

    A partial profile goes to ``<name>.partial.json`` and never replaces a complete one (as ``measure`` does); a
    complete one goes to ``<name>.json`` and leaves any partial sibling alone (:func:`load_profile` prefers the
    complete file)."""
    from draftfinder.writer import write_json

    target = profile_path(p.name, partial=p.partial)
    try:
        write_json(target, p.to_dict(), create_parents=True)    # our own data home: its folders are ours to make
    except OutputError as exc:
        raise OutputError(target, exc.message.split(": ", 1)[-1],
                          hint="set DRAFTFINDER_HOME to a writable folder") from exc
    p.path = str(target)
    return target


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


__all__ = ["CalibratedProfile", "EngineCalibration", "EngineFit", "DEFAULT_NAME", "ENGINES", "LLAMA_CPP",
           "DRAFTFINDER", "MAX_BATCH", "calibration_dir", "check_name", "load_profile", "looks_like_path",
           "profile_path", "save_profile", "saved_profiles", "this_machine"]
