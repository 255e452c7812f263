"""The hardware table (draftfinder/data/hardware.json): presets of issue 10 §2, each figure with its source."""

from __future__ import annotations

import json

from draftfinder.predict.hardware_specs import FIGURES, HARDWARE_PATH, hardware_aliases, load_hardware_specs
from draftfinder.predict.latency import PROFILES

REQUIRED = ["rtx3060-12gb", "rtx3090", "rtx4090", "rtx5090", "a6000", "l40s", "a100-40gb", "a100-80gb", "h100",
            "h100-pcie", "h200", "mi300x", "m1-max", "m2-max", "m2-ultra", "m3-pro", "m3-max", "m3-ultra", "m4-pro",
            "m4-max", "cpu"]
RAW = json.loads(HARDWARE_PATH.read_text(encoding="utf-8"))


def test_every_required_preset_is_present_and_keeps_latency_names():
    """The issue's preset list, plus h100-pcie (h100 is the SXM5 part); latency.py's profile names stay valid."""
    specs = load_hardware_specs()
    assert set(REQUIRED) <= set(specs)
    assert set(PROFILES) <= set(specs)
    assert specs["h100"].description.startswith("H100 80 GB SXM5")


def test_every_figure_has_a_basis_and_a_source():
    """No number without a source: a value carries its basis and a source title, and a URL unless we measured it;
    a figure nobody publishes (basis unknown / n/a) is null, never a guess."""
    bases = set(RAW["basis"])
    for name, p in RAW["presets"].items():
        for f in FIGURES:
            fig = p[f]
            assert fig["basis"] in bases, (name, f)
            if fig["value"] is None:
                assert fig["basis"] in ("unknown", "host", "n/a"), (name, f)
                continue
            assert fig["value"] > 0 and fig["source"]["title"], (name, f)
            if fig["basis"] != "measured":
                assert (fig["source"]["url"] or "").startswith("https://"), (name, f)
            if fig["basis"] in ("vendor (via copy)", "third-party"):
                assert fig.get("read_at", "").startswith("https://"), (name, f)
            if fig["basis"] == "derived":
                assert fig.get("note"), (name, f)


def test_figures_agree_with_latency_profiles_where_both_exist():
    """The vendor peaks latency.py already uses (bandwidth of rtx4090, a100-80gb, h100, m4-max; the cpu's measured
    peaks) are the same numbers here, so two tables cannot drift apart silently."""
    specs = load_hardware_specs()
    for name, prof in PROFILES.items():
        assert specs[name].memory_bandwidth_gb_s.value == prof.memory_bandwidth_gb_s, name
    assert specs["cpu"].fp32_tflops.value == PROFILES["cpu"].peak_tflops
    for name in ("rtx4090", "a100-80gb", "h100"):
        assert abs(specs[name].fp16_tensor_dense_tflops.value - PROFILES[name].peak_tflops) <= 0.5, name


def test_aliases_name_existing_presets():
    specs = load_hardware_specs()
    for alias, target in hardware_aliases().items():
        assert target in specs, alias
