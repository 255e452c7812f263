"""The one validator of numbers that come from outside: flags, config files, model files, chat commands.

Every such number goes through :func:`check_number` (a value already parsed, e.g. from JSON/YAML or argparse)
or :func:`parse_number` (text typed by the user). Both raise :class:`~draftfinder.errors.NumberError` — one
error type, exit code 2 — naming the flag or key, the allowed range and the value found, e.g.::

    --target-params must be a number from 1 to 1e+14 (parameters), got '1e30' — write it like 7B, 500M or 7e9
    config.json: 'hidden_size' must be a whole number from 1 to 1048576, got -5

Rules: booleans are never numbers (``true`` is not 1); NaN and ±inf are refused; ``kind=int`` refuses 2.5
(and accepts 2.0 from a JSON/YAML file only when it is whole). Bounds are inclusive unless ``low_open`` /
``high_open``. The sanity limits below are wider than any real model and exist to turn corrupted files and
typos (``1e30``) into one-line errors instead of nonsense numbers further down.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Union

from draftfinder.errors import NumberError

Number = Union[int, float]

# Sanity limits. The largest published dense and MoE models are ~2e12 parameters; 1e14 leaves 50x headroom.
MAX_PARAMETERS = 1e14
MAX_LAYERS = 10_000                 # the deepest published LLMs have ~100-200 layers
MAX_HIDDEN_SIZE = 1 << 20           # 1,048,576; largest published hidden sizes are ~2^14-2^15
MAX_VOCAB_SIZE = 1 << 24            # 16.7 M ids; the largest vocabularies are ~2.6e5
MAX_HEADS = 1 << 14
MAX_EXPERTS = 1 << 14


def _fmt(x: Number) -> str:
    if isinstance(x, float) and (abs(x) >= 1e7 or (x and abs(x) < 1e-4)):
        return f"{x:g}"
    return f"{x:,}" if isinstance(x, int) and abs(x) >= 10_000 else f"{x:g}"


def describe_range(kind: type = float, low: Optional[Number] = None, high: Optional[Number] = None, *,
                   low_open: bool = False, high_open: bool = False) -> str:
    """``a whole number from 1 to 64``, ``a number in (0, 1]``, ``a number > 0``, ``a number``."""
    what = "a whole number" if kind is int else "a number"
    if low is not None and high is not None:
        if not low_open and not high_open:
            return f"{what} from {_fmt(low)} to {_fmt(high)}"
        return f"{what} in {'(' if low_open else '['}{_fmt(low)}, {_fmt(high)}{')' if high_open else ']'}"
    if low is not None:
        return f"{what} {'>' if low_open else '≥'} {_fmt(low)}"
    if high is not None:
        return f"{what} {'<' if high_open else '≤'} {_fmt(high)}"
    return what


def check_number(value: Any, name: str, *, kind: type = float, low: Optional[Number] = None,
                 high: Optional[Number] = None, low_open: bool = False, high_open: bool = False,
                 source: Optional[str] = None, hint: Optional[str] = None, unit: Optional[str] = None,
                 allow_none: bool = False) -> Optional[Number]:
    """``value`` as ``kind`` (int or float) when it is a finite number in the range, else ``NumberError``.

    ``name``: the flag (``--max-k``) or key (``settings.k``); ``source``: where the key was read
    (``config``, a file path); ``unit`` is appended to the expected text (``(parameters)``).
    """
    expected = describe_range(kind, low, high, low_open=low_open, high_open=high_open)
    if unit:
        expected += f" ({unit})"

    def bad() -> NumberError:
        return NumberError(name, expected, value, source=source, hint=hint)

    if value is None:
        if allow_none:
            return None
        raise bad()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad()
    if isinstance(value, float) and not math.isfinite(value):
        raise bad()
    if kind is int:
        if isinstance(value, float):
            if not value.is_integer():
                raise bad()
            value = int(value)
    else:
        value = float(value)
    if low is not None and (value <= low if low_open else value < low):
        raise bad()
    if high is not None and (value >= high if high_open else value > high):
        raise bad()
    return value


def parse_number(text: Any, name: str, *, kind: type = float, percent: bool = False, **limits: Any) -> Number:
    """Text typed by the user → a number checked by :func:`check_number` (same keywords).

    Accepts ``_`` and ``,`` as digit separators; with ``percent``, ``70%`` means 0.7.
    """
    raw = str(text).strip().replace("_", "").replace(",", "")
    scale = 1.0
    if percent and raw.endswith("%"):
        raw, scale = raw[:-1].strip(), 0.01
    try:
        value: Number = int(raw) if kind is int and scale == 1.0 else float(raw) * scale
    except ValueError:
        value = None  # type: ignore[assignment]
        try:
            as_float = float(raw)
            if kind is int and as_float.is_integer():
                value = as_float
        except ValueError:
            pass
    if value is None:
        expected = describe_range(kind, limits.get("low"), limits.get("high"), low_open=limits.get("low_open", False),
                                  high_open=limits.get("high_open", False))
        raise NumberError(name, expected, str(text), source=limits.get("source"), hint=limits.get("hint"))
    try:
        return check_number(value, name, kind=kind, **limits)
    except NumberError as err:
        err.got = str(text)        # show what was typed, not its parsed form
        raise NumberError(name, err.expected, str(text), source=limits.get("source"), hint=limits.get("hint")) from None


__all__ = ["check_number", "parse_number", "describe_range", "MAX_PARAMETERS", "MAX_LAYERS", "MAX_HIDDEN_SIZE",
           "MAX_VOCAB_SIZE", "MAX_HEADS", "MAX_EXPERTS"]
