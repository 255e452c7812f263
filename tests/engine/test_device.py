"""engine/device.py: --device / --dtype resolution, multi-GPU placement, device-aware timing.

The "no CUDA" branches run against the real torch of this machine (a CPU build); the GPU-present branches test
the pure decision functions with explicit :class:`Accelerators` (what torch would report), not mocks.
"""

import time

import pytest
import torch

from draftfinder.engine import device as dev
from draftfinder.errors import DeviceUnavailableError, UsageError

GIB = 2 ** 30
A100 = dev.Gpu(0, "NVIDIA A100-SXM4-80GB", 80 * GIB, 78 * GIB, True)
T4 = dev.Gpu(0, "Tesla T4", 16 * GIB, 15 * GIB, False)


def gpus(*free_gib, bf16=True):
    return dev.Accelerators("2.13.0+cu128", cuda_build="12.8",
                            gpus=tuple(dev.Gpu(i, "NVIDIA L4", 24 * GIB, int(f * GIB), bf16) for i, f in enumerate(free_gib)))


CPU_ONLY = dev.Accelerators("2.13.0+cpu")
MAC = dev.Accelerators("2.13.0", mps_built=True, mps_available=True)


# --- this machine: the real torch (a CPU build) -----------------------------------------------------------

def test_this_machine_is_probed_as_cpu_only():
    acc = dev.probe()
    assert acc.torch_version == torch.__version__ and acc.gpus == () and acc.found() == "cpu"
    assert dev.resolve("auto", "auto").to_dict()["device"] == "cpu"
    assert (dev.resolve().device, dev.resolve().dtype) == ("cpu", "fp32")


@pytest.mark.parametrize("request_", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_on_this_machine_is_one_line_naming_what_was_found(request_):
    """Guards issue 13: `chat --device cuda` said only "the engine runs on the CPU only"."""
    with pytest.raises(DeviceUnavailableError) as exc:
        dev.resolve(request_, "auto")
    line = str(exc.value)
    assert "\n" not in line
    assert line.startswith(f"--device {request_}: no CUDA device (torch {torch.__version__}")
    assert "found: cpu" in line and " — use --device cpu or install a CUDA build of torch" in line
    if "+cpu" in torch.__version__:
        assert "is a CPU build" in line
    assert exc.value.exit_code == 2


def test_mps_on_this_machine():
    with pytest.raises(DeviceUnavailableError, match=r"^--device mps: no MPS device .*found: cpu\) — use --device cpu"):
        dev.resolve("mps")


def test_the_sweep_names_its_setting_not_a_flag():
    with pytest.raises(DeviceUnavailableError) as exc:
        dev.resolve("cuda", device_flag="settings.device", acc=CPU_ONLY)
    assert str(exc.value).startswith("settings.device cuda: no CUDA device")
    assert "set settings.device: cpu" in str(exc.value) and "--device" not in str(exc.value)


@pytest.mark.parametrize("text", ["tpu", "cuda:x", "cpu:1", "gpu", "cuda:-1", ""])
def test_misspelt_devices_are_refused(text):
    with pytest.raises(UsageError, match="unknown device .* use one of: auto | cpu | cuda | cuda:N | mps"):
        dev.parse_device(text)


@pytest.mark.parametrize("text, want", [("BF16", "bf16"), ("bfloat16", "bf16"), ("half", "fp16"),
                                        ("torch.float32", "fp32"), (None, "auto"), ("auto", "auto")])
def test_dtype_spellings(text, want):
    assert dev.parse_dtype(text) == want


def test_bad_dtype():
    with pytest.raises(UsageError, match=r"--dtype: unknown dtype 'int8' — use one of: auto \| bf16 \| fp16 \| fp32"):
        dev.parse_dtype("int8")


# --- decisions with explicit accelerators (pure) ---------------------------------------------------------

def test_auto_prefers_cuda_then_mps_then_cpu():
    assert dev.resolve_device("auto", gpus(20, 20)) == "cuda:0"
    assert dev.resolve_device("auto", MAC) == "mps"
    assert dev.resolve_device("auto", CPU_ONLY) == "cpu"
    assert dev.resolve_device("cuda", gpus(20, 20)) == "cuda:0"
    assert dev.resolve_device("cuda:1", gpus(20, 20)) == "cuda:1"
    assert dev.resolve_device("cpu", gpus(20)) == "cpu"


def test_cuda_index_beyond_the_count():
    with pytest.raises(DeviceUnavailableError) as exc:
        dev.resolve_device("cuda:2", gpus(20, 20))
    assert str(exc.value) == ("--device cuda:2: no CUDA device 2 (2 visible: cpu, cuda:0 (NVIDIA L4), cuda:1 "
                              "(NVIDIA L4)) — use --device cuda:1")


def test_a_cuda_build_that_sees_no_gpu_says_so():
    acc = dev.Accelerators("2.13.0+cu128", cuda_build="12.8")
    with pytest.raises(DeviceUnavailableError, match=r"built for CUDA 12\.8 but sees no GPU \(driver, "
                                                     r"CUDA_VISIBLE_DEVICES\); found: cpu\) — use --device cpu"):
        dev.resolve_device("cuda", acc)


def test_dtype_auto_rules():
    assert dev.resolve_dtype("auto", "cuda:0", dev.Accelerators("x", "12.8", (A100,))) == "bf16"
    assert dev.resolve_dtype("auto", "cuda:0", dev.Accelerators("x", "12.8", (T4,))) == "fp16"
    assert dev.resolve_dtype("auto", "mps", MAC) == "fp16"
    assert dev.resolve_dtype("auto", "cpu", gpus(20)) == "fp32"
    assert dev.resolve_dtype("bf16", "cpu", CPU_ONLY) == "bf16"          # asked for: honoured on the CPU
    assert dev.resolve_dtype("fp32", "cuda:0", gpus(20)) == "fp32"


def test_bf16_on_a_gpu_without_it():
    acc = dev.Accelerators("x", "12.8", (T4,))
    with pytest.raises(UsageError, match=r"^--dtype bf16: cuda:0 \(Tesla T4\) has no bfloat16 support — use --dtype fp16"):
        dev.resolve_dtype("bf16", "cuda:0", acc)
    with pytest.raises(UsageError, match="set settings.dtype: fp16"):
        dev.resolve_dtype("bf16", "cuda:0", acc, flag="settings.dtype")


def test_a_model_that_fits_stays_on_one_gpu():
    p = dev.plan_placement("auto", "cuda:0", 10 * GIB, gpus(20, 20))
    assert (p.device, p.device_map, p.max_memory) == ("cuda:0", None, None)
    assert p.reason.startswith("one device (fits cuda:0")


def test_a_model_too_large_for_one_gpu_is_spread_with_device_map_auto():
    p = dev.plan_placement("cuda", "cuda:0", 30 * GIB, gpus(20, 22))
    assert p.device == "cuda:0" and p.device_map == "auto"
    assert p.max_memory == {0: int(20 * GIB * dev.GPU_MEMORY_HEADROOM), 1: int(22 * GIB * dev.GPU_MEMORY_HEADROOM)}
    assert "device_map=auto over 2 GPUs" in p.reason and "offloads" not in p.reason
    d = p.to_dict()
    assert d["device_map"] == "auto" and d["max_memory_bytes"]["1"] == p.max_memory[1]


def test_larger_than_every_gpu_says_accelerate_offloads():
    p = dev.plan_placement("auto", "cuda:0", 60 * GIB, gpus(20, 20))
    assert p.device_map == "auto" and "offloads the rest to CPU RAM" in p.reason


def test_a_pinned_gpu_is_not_spread():
    p = dev.plan_placement("cuda:1", "cuda:1", 30 * GIB, gpus(20, 20))
    assert (p.device, p.device_map) == ("cuda:1", None) and "pinned to cuda:1" in p.reason


def test_one_gpu_only_or_unknown_size_or_cpu_stay_single():
    assert dev.plan_placement("cuda", "cuda:0", 30 * GIB, gpus(20)).device_map is None
    assert dev.plan_placement("cuda", "cuda:0", None, gpus(1, 1)).device_map is None
    assert dev.plan_placement("auto", "cpu", 500 * GIB, CPU_ONLY).device == "cpu"
    assert dev.plan_placement("auto", "mps", 5 * GIB, MAC).device_map is None


def test_weight_size_from_safetensors_headers_and_from_the_config():
    from transformers import LlamaConfig, LlamaForCausalLM

    from draftfinder.models.sources.base import ModelRecord

    rec = ModelRecord(model_id="x", source="local", safetensors_parameters={"BF16": 1000, "F32": 24})
    assert dev.estimate_weights_bytes(rec, "bf16") == 2048 and dev.estimate_weights_bytes(rec, "fp32") == 4096
    config = dict(model_type="llama", vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False)
    real = sum(p.numel() for p in LlamaForCausalLM(LlamaConfig(**config)).parameters())
    assert dev.estimate_weights_bytes(ModelRecord(model_id="y", source="local", config=config), "fp16") == 2 * real
    assert dev.estimate_weights_bytes(ModelRecord(model_id="z", source="catalog"), "fp32") is None


# --- runtime helpers ---------------------------------------------------------------------------------------

def test_the_cpu_clock_is_perf_counter_itself():
    """No synchronisation, no wrapper on the CPU: timings there are what they were."""
    assert dev.timer("cpu") is time.perf_counter
    assert dev.timer(torch.device("cpu")) is time.perf_counter
    dev.synchronize("cpu")                                                # a no-op


def test_the_cpu_generator_draws_what_the_old_one_did():
    a, b = dev.generator_for("cpu", 7), torch.Generator().manual_seed(7)
    assert torch.equal(torch.rand(5, generator=a), torch.rand(5, generator=b))


def test_input_device_and_weight_devices_of_a_real_model():
    from tests.enginekit import tiny_llama

    model = tiny_llama(0, layers=2).model
    assert dev.input_device(model) == torch.device("cpu") and dev.weight_devices(model) == ["cpu"]
