"""Devices: every hardware.json preset with its sourced figures, the cpu preset sized by threads, custom figures,
detection of this machine, calibrated profiles, and one-line errors for bad input (issue 10 §2)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from draftfinder.constants import ESTIMATED, MEASURED, PUBLISHED
from draftfinder.errors import CalibrationNotFoundError, CalibrationProfileError, NumberError, UsageError
from draftfinder.predict import devices as D
from draftfinder.predict.hardware_specs import HARDWARE_PATH, load_hardware_specs

RAW = json.loads(HARDWARE_PATH.read_text(encoding="utf-8"))
ISSUE_PRESETS = ("rtx3060-12gb", "rtx3090", "rtx4090", "rtx5090", "a6000", "l40s", "a100-40gb", "a100-80gb", "h100",
                 "h200", "mi300x", "m1-max", "m2-max", "m2-ultra", "m3-pro", "m3-max", "m3-ultra", "m4-pro", "m4-max",
                 "cpu")


def test_every_preset_of_the_issue_is_a_device_with_sourced_figures():
    """Guards issue 10 §2: `--hardware` knew 5 profiles (cpu, rtx4090, a100-80gb, h100, m4-max); every preset of
    hardware.json (the issue's 20 and h100-pcie) is a device whose memory, bandwidth and compute carry a basis and
    a source."""
    assert set(ISSUE_PRESETS) <= set(D.preset_names()) == set(load_hardware_specs())
    for name in D.preset_names():
        dev = D.get_device(name, threads=2)
        assert dev.name == name and dev.preset == name and dev.kind in D.DEVICE_KINDS
        assert dev.bandwidth_gb_s > 0 and dev.tflops > 0, name
        assert dev.memory_gb is not None and dev.memory_gb > 0, name
        for key in ("memory_gb", "bandwidth_gb_s", "tflops"):
            assert dev.basis[key] in (PUBLISHED, ESTIMATED, MEASURED), (name, key)
            assert dev.sources[key], (name, key)


def test_preset_figures_are_hardware_json_values():
    """The device reads the vendor figures as they are in hardware.json (no second copy of a number)."""
    for name, p in RAW["presets"].items():
        if name == "cpu":
            continue
        dev = D.get_device(name)
        assert dev.memory_gb == p["memory_gb"]["value"]
        assert dev.bandwidth_gb_s == p["memory_bandwidth_gb_s"]["value"]
        tensor = p["fp16_tensor_dense_tflops"]
        if tensor["value"] is not None:
            assert dev.tflops == tensor["value"]
            assert dev.basis["tflops"] == (ESTIMATED if tensor["basis"] == "derived" else PUBLISHED), name
    assert D.get_device("rtx4090").basis["memory_gb"] == PUBLISHED
    assert D.get_device("rtx4090").kind == "cuda-gpu" and D.get_device("mi300x").kind == "rocm-gpu"
    assert D.get_device("m4-max").kind == "apple-gpu"


def test_rtx5090_tensor_rate_is_the_fp16_accumulate_rate_halved_and_labelled_estimated():
    """hardware.json has no FP32-accumulate tensor rate for the RTX 5090 (null, 'unknown'); the device uses the
    published FP16-accumulate dense rate ÷ 2 (Ada's ratio) and says it is an estimate."""
    acc16 = RAW["presets"]["rtx5090"]["fp16_tensor_dense_tflops_fp16_acc"]["value"]
    dev = D.get_device("rtx5090")
    assert dev.tflops == pytest.approx(acc16 / 2) == pytest.approx(209.6)
    assert dev.basis["tflops"] == ESTIMATED and "÷ 2" in dev.sources["tflops"]


def test_aliases_and_case():
    assert D.get_device("4090").name == "rtx4090"
    assert D.get_device("A100").name == "a100-80gb"
    assert D.get_device(" H100-SXM ").name == "h100"


def test_cpu_preset_is_sized_by_threads():
    """Guards issue 10 §2: the cpu preset was one 2-core VM; it is a generic x86 server whose size is --threads.
    At the 2 threads it was measured with it gives hardware.json's figures; compute scales per thread; bandwidth
    stops at 8 channels of DDR4-3200 (204.8 GB/s)."""
    p = RAW["presets"]["cpu"]
    two = D.get_device("cpu", threads=2)
    assert two.bandwidth_gb_s == pytest.approx(p["memory_bandwidth_gb_s"]["value"])
    assert two.tflops == pytest.approx(p["fp32_tflops"]["value"])
    eight = D.get_device("cpu", threads=8)
    assert eight.tflops == pytest.approx(4 * two.tflops) and eight.bandwidth_gb_s == pytest.approx(4 * two.bandwidth_gb_s)
    big = D.get_device("cpu", threads=64)
    assert big.bandwidth_gb_s == D.CPU_SOCKET_BANDWIDTH_GB_S == pytest.approx(8 * 3200e6 * 8 / 1e9)
    assert big.tflops == pytest.approx(32 * two.tflops) and big.threads == 64 and big.label == "cpu (64 threads)"
    assert big.basis["threads"] == "given" and "capped" in big.sources["bandwidth_gb_s"]


def test_custom_hardware_and_replaced_figures_are_labelled_given():
    dev = D.get_device("custom", bandwidth_gb_s=800, tflops=120, memory_gb=32)
    assert (dev.name, dev.kind, dev.bandwidth_gb_s, dev.tflops, dev.memory_gb) == ("custom", "cuda-gpu", 800, 120, 32)
    assert dev.basis == {"memory_gb": "given", "bandwidth_gb_s": "given", "tflops": "given"}
    assert D.get_device("custom", bandwidth_gb_s=50, tflops=1, threads=16).kind == "cpu"
    assert D.get_device("custom", bandwidth_gb_s=800, tflops=120).memory_gb is None      # fit then unknown
    modded = D.get_device("rtx4090", memory_gb=48, count=2)
    assert modded.memory_gb == 48 and modded.total_memory_gb == 96 and modded.count == 2
    assert modded.basis["memory_gb"] == "given" and modded.basis["bandwidth_gb_s"] == PUBLISHED
    assert modded.label == "2× rtx4090"


@pytest.mark.parametrize("kwargs, flag", [
    ({"bandwidth_gb_s": 0, "tflops": 10}, "--bandwidth"),
    ({"bandwidth_gb_s": -5, "tflops": 10}, "--bandwidth"),
    ({"bandwidth_gb_s": math.nan, "tflops": 10}, "--bandwidth"),
    ({"bandwidth_gb_s": 100, "tflops": 0}, "--tflops"),
    ({"bandwidth_gb_s": 100, "tflops": math.inf}, "--tflops"),
    ({"bandwidth_gb_s": 100, "tflops": 10, "memory_gb": 0}, "--memory"),
    ({"bandwidth_gb_s": 100, "tflops": 10, "threads": 0}, "--threads"),
    ({"bandwidth_gb_s": 100, "tflops": 10, "count": 0}, "--device-count"),
])
def test_bad_figures_are_one_line_number_errors(kwargs, flag):
    with pytest.raises(NumberError) as info:
        D.get_device("custom", **kwargs)
    assert info.value.key == flag and "\n" not in str(info.value) and " — " in str(info.value)


def test_custom_without_figures_names_the_missing_flags():
    with pytest.raises(UsageError, match=r"--hardware custom needs --tflops T"):
        D.get_device("custom", bandwidth_gb_s=100)
    with pytest.raises(UsageError, match=r"needs --bandwidth GB/s and --tflops T"):
        D.get_device("custom")


def test_unknown_preset_lists_the_valid_ones_and_suggests_the_closest():
    with pytest.raises(UsageError) as info:
        D.get_device("rtx409")
    err = info.value
    assert err.message == "unknown hardware 'rtx409'"
    hint = err.hint_for("find")
    assert hint.startswith("did you mean rtx4090?")
    for name in ISSUE_PRESETS:
        assert name in hint
    assert "--bandwidth" in hint and "--bandwidth" not in (err.hint or "")     # flags only for commands that have them


@pytest.mark.parametrize("name, preset", [
    ("NVIDIA GeForce RTX 4090", "rtx4090"), ("NVIDIA GeForce RTX 3090", "rtx3090"),
    ("NVIDIA GeForce RTX 3060", "rtx3060-12gb"), ("NVIDIA GeForce RTX 5090", "rtx5090"),
    ("NVIDIA RTX A6000", "a6000"), ("NVIDIA L40S", "l40s"),
    ("NVIDIA A100-SXM4-80GB", "a100-80gb"), ("NVIDIA A100-SXM4-40GB", "a100-40gb"), ("NVIDIA A100-PCIE-40GB", "a100-40gb"),
    ("NVIDIA H100 80GB HBM3", "h100"), ("NVIDIA H100 PCIe", "h100-pcie"), ("NVIDIA H200", "h200"),
    ("AMD Instinct MI300X", "mi300x"), ("Apple M4 Max", "m4-max"), ("Apple M2 Ultra", "m2-ultra"),
    ("Apple M3 Pro", "m3-pro"), ("Apple M1 Max", "m1-max"),
    ("Tesla T4", None), ("Apple M1", None), ("Apple M4", None),
])
def test_driver_names_map_to_presets(name, preset):
    """Device names as torch.cuda.get_device_name and `sysctl -n machdep.cpu.brand_string` report them."""
    assert D.match_preset(name) == preset


def test_a_detected_gpu_without_a_preset_is_a_one_line_error_naming_the_flags():
    with pytest.raises(UsageError) as info:
        D._gpu_from_name("Tesla T4", "cuda-gpu", 14.6, 1, "torch.cuda.get_device_name(0)")
    assert "Tesla T4" in info.value.message and "--bandwidth" in info.value.hint
    with pytest.raises(UsageError):            # the 8 GB RTX 3060 is another card (128-bit bus)
        D._gpu_from_name("NVIDIA GeForce RTX 3060", "cuda-gpu", 7.8, 1, "torch.cuda.get_device_name(0)")
    dev = D._gpu_from_name("NVIDIA GeForce RTX 4090", "cuda-gpu", 23.6, 2, "torch.cuda.get_device_name(0)")
    assert dev.name == "rtx4090" and dev.memory_gb == 23.6 and dev.basis["memory_gb"] == MEASURED
    assert dev.count == 2 and "NVIDIA GeForce RTX 4090" in dev.detected_from


@pytest.mark.skipif(D._gpu_driver_present() or D._sysctl("machdep.cpu.brand_string") is not None,
                    reason="a GPU or an Apple chip: detection finds it instead of this CPU")
def test_detection_on_this_machine_finds_this_cpu():
    """Guards issue 10 §2: the default hardware was an A100 on any machine. Detected here (no GPU driver): this
    CPU by its /proc/cpuinfo name, sized by its cores, RAM from /proc/meminfo, and the device says so."""
    from draftfinder.engine.threads import allowed_cpus, physical_cores

    dev = D.get_device(None)
    assert dev == D.get_device("auto") and dev.kind == "cpu" and dev.name == "cpu"
    assert dev.threads == min(physical_cores(), allowed_cpus())
    name = D.cpu_model_name()
    assert name and name in dev.detected_from and "/proc/cpuinfo" in dev.detected_from
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    assert dev.memory_gb == pytest.approx(mem_kb * 1024 / 2**30, abs=0.01) and dev.basis["memory_gb"] == MEASURED
    assert dev.is_this_machine and "detected:" in dev.summary()
    assert not D.get_device("cpu").is_this_machine                # the preset is a generic server


def test_default_engine_rule():
    assert D.default_engine(D.get_device("h100")) == "vllm"
    assert D.default_engine(D.get_device("mi300x")) == "vllm"
    assert D.default_engine(D.get_device("h100"), gguf=True) == "llama.cpp"
    assert D.default_engine(D.get_device("m4-max")) == "llama.cpp"
    assert D.default_engine(D.get_device("cpu", threads=4)) == "llama.cpp"
    assert D.check_engine("LlamaCpp") == "llama.cpp" and D.check_engine("SGLang") == "sglang"
    with pytest.raises(UsageError, match="unknown engine 'tensorrt'"):
        D.check_engine("tensorrt")


# --- calibrated profiles (draftfinder calibrate) -------------------------------------------------------------

def _profile(machine_id=None, name="local"):
    from draftfinder.predict.calibration import CalibratedProfile, now_iso, this_machine

    return CalibratedProfile(name=name, machine_id=machine_id or this_machine(), created_at=now_iso(),
                             cpu=D.cpu_model_name() or "cpu", threads=1)


def test_local_without_a_calibration_says_to_calibrate():
    with pytest.raises(CalibrationNotFoundError) as info:
        D.get_device("local")
    assert "draftfinder calibrate" in info.value.hint


def test_local_and_a_saved_name_carry_the_calibration_of_this_machine():
    from draftfinder.predict.calibration import save_profile

    save_profile(_profile())
    save_profile(_profile(name="laptop"))
    dev = D.get_device("local")
    assert dev.calibration is not None and dev.calibration.name == "local" and dev.is_this_machine
    assert dev.threads == 1                                   # the thread count the profile was measured with
    named = D.get_device("laptop")
    assert named.calibration.name == "laptop" and named.name == "local (laptop)"
    assert D.get_device(named.calibration.path).calibration.name == "laptop"     # a profile file by path
    with pytest.raises(UsageError) as info:                   # a typo still lists the saved ones
        D.get_device("laptpo")
    assert "saved calibrations: laptop, local" in info.value.hint


def test_a_corrupt_or_foreign_profile_is_refused():
    from draftfinder.predict.calibration import profile_path, save_profile

    save_profile(_profile(machine_id="another-machine"))
    with pytest.raises(CalibrationProfileError, match="another machine"):
        D.get_device("local")
    profile_path("local").write_text("{not json", encoding="utf-8")
    with pytest.raises(CalibrationProfileError, match="not valid JSON"):
        D.get_device("local")
