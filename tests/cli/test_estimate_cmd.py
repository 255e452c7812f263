"""``draftfinder estimate`` (the what-if calculator), driven through argparse as cli/main.py will."""

from __future__ import annotations

import argparse
import json

import pytest
import yaml

from draftfinder.predict import latency as hw
from draftfinder.cli import estimate_cmd
from draftfinder.errors import UsageError

BASE = ["--target-params", "7B", "--target-bits", "bf16", "--target-layers", "32",
        "--draft-params", "500M", "--draft-bits", "q4_k_m", "--draft-layers", "24"]


def parse(argv):
    parser = argparse.ArgumentParser(prog="draftfinder estimate")
    estimate_cmd.configure(parser)
    return parser.parse_args(argv)


def run_json(argv, capsys):
    assert estimate_cmd.run(parse(argv + ["--format", "json"])) == 0
    out = capsys.readouterr()
    return json.loads(out.out)


def test_help_and_contract():
    assert isinstance(estimate_cmd.HELP, str) and estimate_cmd.HELP
    assert callable(estimate_cmd.configure) and callable(estimate_cmd.run)


def test_json_fields(capsys):
    d = run_json(BASE + ["--acceptance", "0.7", "--hardware", "a100-80gb", "--max-k", "8"], capsys)
    assert d["target"] == {"params": 7e9, "bits_per_param": 16.0, "num_layers": 32}
    assert d["draft"]["bits_per_param"] == pytest.approx(4.8944)
    assert d["acceptance_rate"] == 0.7
    assert set(d["speedup_by_k"]) == {str(k) for k in range(1, 9)}
    assert set(d["verify_cost_by_k"]) == set(d["speedup_by_k"])
    best = d["recommended_k"]
    assert d["speedup"] == max(d["speedup_by_k"].values()) == d["speedup_by_k"][str(best)]
    assert d["hardware"] == "a100-80gb" and d["device"]["bandwidth_gb_s"] == 2039
    expected_c = hw.cost_ratio((7e9, 16, 32), (500e6, 4.8944, 24), "a100-80gb")
    assert d["cost_ratio"] == pytest.approx(expected_c, rel=1e-5)
    for key in ("cost_ratio", "verify_cost_by_k", "speedup_by_k", "recommended_k", "speedup", "acceptance_rate"):
        assert d["provenance"][key]["source"] == "estimated"
        assert d["provenance"][key]["method"]


def test_yaml_and_table(capsys):
    estimate_cmd.run(parse(BASE + ["--acceptance", "70%", "--format", "yaml"]))
    d = yaml.safe_load(capsys.readouterr().out)
    assert d["acceptance_rate"] == 0.7
    estimate_cmd.run(parse(BASE + ["--acceptance", "0.7", "--hardware", "cpu", "--max-k", "6"]))
    text = capsys.readouterr().out
    assert "recommended K =" in text and "verify cost" in text and "estimated" in text
    assert text.count("x") >= 6 and "cpu" in text


def test_prior_when_acceptance_omitted(capsys):
    d = run_json(BASE + ["--task", "summarization"], capsys)
    assert d["acceptance_low"] < d["acceptance_rate"] < d["acceptance_high"]
    assert "prior" in d["provenance"]["acceptance_rate"]["method"]
    cross = run_json(BASE + ["--different-family"], capsys)
    same = run_json(BASE, capsys)
    assert cross["acceptance_rate"] < same["acceptance_rate"]


def test_measured_labels(capsys):
    d = run_json(BASE + ["--acceptance", "0.66", "--measured", "--cost-ratio", "0.08"], capsys)
    assert d["provenance"]["acceptance_rate"]["source"] == "measured"
    assert d["provenance"]["cost_ratio"]["source"] == "measured"
    assert d["cost_ratio"] == 0.08


def test_not_worthwhile_is_said(capsys):
    estimate_cmd.run(parse(BASE + ["--acceptance", "0.05", "--hardware", "cpu"]))
    assert "does not pay" in capsys.readouterr().out


@pytest.mark.parametrize("text,value", [("7e9", 7e9), ("7B", 7e9), ("7b", 7e9), ("1.5B", 1.5e9),
                                        ("500M", 5e8), ("135m", 1.35e8), ("7615616512", 7615616512),
                                        ("7_615_616_512", 7615616512), ("70K", 7e4), ("1T", 1e12)])
def test_parse_params(text, value):
    assert estimate_cmd.parse_params(text) == pytest.approx(value)


@pytest.mark.parametrize("text,value", [("16", 16), ("4.5", 4.5), ("fp16", 16), ("BF16", 16), ("fp32", 32),
                                        ("int8", 8), ("int4", 4), ("q8_0", 8.5), ("Q4_K_M", 4.8944),
                                        ("q4_0", 4.5), ("q4_1", 5.0), ("nf4", 4.127)])
def test_parse_bits(text, value):
    assert estimate_cmd.parse_bits(text) == pytest.approx(value)


@pytest.mark.parametrize("flag,bad,needle", [
    ("--target-params", "seven", "--target-params"),
    ("--target-params", "-7B", "--target-params"),
    ("--draft-params", "0", "--draft-params"),
    ("--draft-bits", "q9_z", "--draft-bits"),
    ("--target-bits", "0", "--target-bits"),
    ("--target-bits", "128", "--target-bits"),
    ("--target-layers", "0", "--target-layers"),
    ("--draft-layers", "24.5", "--draft-layers"),
    ("--acceptance", "1.5", "--acceptance"),
    ("--acceptance", "high", "--acceptance"),
    ("--hardware", "tpu-v4", "hardware"),
    ("--max-k", "0", "--max-k"),
    ("--max-k", "many", "--max-k"),
    ("--cost-ratio", "-0.1", "--cost-ratio"),
])
def test_bad_input_raises_usage_error(flag, bad, needle):
    argv = list(BASE) + ["--acceptance", "0.7"]
    if flag in argv:                                         # drop the good value, then add the bad one
        i = argv.index(flag)
        del argv[i:i + 2]
    argv.append(f"{flag}={bad}")                             # '=' so that '-7B' is not read as a flag
    with pytest.raises(UsageError) as err:
        estimate_cmd.run(parse(argv))
    line = err.value.line()
    assert needle in line and "\n" not in line
    assert err.value.hint                                   # says how to fix it


def test_measured_without_acceptance_is_an_error():
    with pytest.raises(UsageError, match="--measured"):
        estimate_cmd.run(parse(BASE + ["--measured"]))


def test_required_flags_enforced_by_argparse():
    with pytest.raises(SystemExit):
        parse(["--target-params", "7B"])
