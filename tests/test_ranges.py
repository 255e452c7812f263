"""draftfinder.ranges: the one validator of numbers from flags, config files, model files and chat commands.

Guards issue 9 §2/§4: `estimate --target-params 1e30` printed "1e+18T params … 0 tok/s"; number checks were
spread over the commands and raised UsageError here, ConfigError there. Every one now raises NumberError.
"""

from __future__ import annotations

import argparse
import json
import math

import pytest

from draftfinder.errors import ConfigError, NumberError, UsageError
from draftfinder.ranges import check_number, describe_range, parse_number


@pytest.mark.parametrize("value", [True, "3", None, math.nan, math.inf, -math.inf, [1]])
def test_not_a_number(value):
    with pytest.raises(NumberError):
        check_number(value, "x")


def test_ranges_and_kinds():
    assert check_number(3, "x", kind=int, low=1, high=3) == 3
    assert check_number(2.0, "x", kind=int) == 2 and isinstance(check_number(2.0, "x", kind=int), int)
    with pytest.raises(NumberError, match="a whole number"):
        check_number(2.5, "x", kind=int)
    with pytest.raises(NumberError, match=r"a number in \(0, 1\]"):
        check_number(0, "x", low=0, high=1, low_open=True)
    assert check_number(None, "x", allow_none=True) is None
    assert describe_range(int, 1, 64) == "a whole number from 1 to 64"
    assert describe_range(float, 0, None, low_open=True) == "a number > 0"


def test_parse_number_text():
    assert parse_number("70%", "--a", percent=True, low=0, high=1) == pytest.approx(0.7)
    assert parse_number("1_000", "--n", kind=int) == 1000
    with pytest.raises(NumberError) as info:
        parse_number("many", "--max-k", kind=int, low=1, high=64, hint="e.g. --max-k 16")
    assert info.value.line() == "--max-k must be a whole number from 1 to 64, got 'many' — e.g. --max-k 16"


def test_one_error_type_is_both_config_and_usage_error():
    err = NumberError("top_n", "a whole number ≥ 1", 0, source="config")
    assert isinstance(err, ConfigError) and isinstance(err, UsageError) and err.exit_code == 2
    assert err.key == "top_n" and str(err).startswith("config: 'top_n' must be a whole number ≥ 1, got 0")


def _estimate(*extra):
    from draftfinder.cli import estimate_cmd

    p = argparse.ArgumentParser()
    estimate_cmd.configure(p)
    return estimate_cmd.build(p.parse_args(["--target-params", "7B", "--target-layers", "28", "--draft-params",
                                            "500M", "--draft-layers", "24", *extra]))


@pytest.mark.parametrize("flag, value", [("--target-params", "1e30"), ("--draft-params", "0.5"),
                                         ("--target-layers", "99999"), ("--acceptance", "1.5"),
                                         ("--cost-ratio", "-1"), ("--max-k", "0"), ("--target-bits", "65")])
def test_estimate_flags_raise_number_error(flag, value):
    with pytest.raises(NumberError) as info:
        _estimate(f"{flag}={value}")
    assert flag in info.value.line() and value in info.value.line()


def test_every_number_validator_raises_number_error(tmp_path):
    """find config, sweep config, sweep/generate/chat flags and chat commands: the same error type."""
    from draftfinder.chat.commands import _int, _number
    from draftfinder.find import config as findcfg
    from draftfinder.sweep.config import load_sweep_config

    with pytest.raises(NumberError):
        findcfg.from_dict({"top_n": 0})
    with pytest.raises(NumberError):
        findcfg.from_dict({"search": {"max_size_ratio": 2}})
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"name": "x", "targets": [{"label": "t", "path": "zoo:smollm2-135m"}],
                                "settings": {"runs": 0}}))
    with pytest.raises(NumberError, match="settings.runs"):
        load_sweep_config(str(path))
    with pytest.raises(NumberError):
        _int(["99"], "/k", 1, 16)
    with pytest.raises(NumberError):
        _number("0", "temperature", float)
