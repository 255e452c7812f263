"""The device, engine, context and concurrency flags of ``find`` and ``estimate``, declared once.

    --hardware H        a preset (rtx4090, h100, m4-max, cpu, …), auto (detect: the default), custom, local
    --bandwidth GB/s    --tflops T    --memory GB    (custom hardware, or replace a preset's figure)
    --threads N         CPU threads (the cpu preset's size; default this machine's cores)
    --device-count N    identical devices (the fit check adds their memory; the latency model their bandwidth)
    --device-kind K     kind of custom hardware: cuda-gpu (default), rocm-gpu, apple-gpu, cpu
    --engine E          llama.cpp | vllm | sglang | transformers | draftfinder (default: see DEFAULT_ENGINE_RULE)
    --ctx TOKENS        context per sequence for the fit check and the KV traffic (default 4096)
    --concurrency N     requests decoded together (default 1); the table also shows N = 1, 4, 16, 64

Values are text parsed by :mod:`draftfinder.ranges` (one-line errors naming the flag and the range).
"""

from __future__ import annotations

import argparse
from typing import Any, Dict, Optional

from draftfinder.ranges import parse_number

MAX_CTX = 1 << 24                 # 16.7 M tokens: above every published context window


def hardware_help() -> str:
    from draftfinder.predict.devices import preset_names

    return (f"the device predictions are for: {', '.join(preset_names())}; auto detects this machine (the default: "
            "CUDA/ROCm GPU via torch, Apple chip via sysctl, else this CPU); custom with --bandwidth/--tflops/"
            "--memory; local (or a saved name) uses `draftfinder calibrate`")


def add_device_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of the module docstring, in one group."""
    from draftfinder.predict.concurrency import DEFAULT_LEVELS
    from draftfinder.predict.devices import DEFAULT_ENGINE_RULE, DEVICE_KINDS, engine_names
    from draftfinder.predict.memory import DEFAULT_CTX

    g = parser.add_argument_group("device and engine")
    g.add_argument("--hardware", default=None, metavar="H", help=hardware_help())
    g.add_argument("--bandwidth", default=None, metavar="GB/s",
                   help="memory bandwidth of custom hardware (or replacing the preset's), GB/s")
    g.add_argument("--tflops", default=None, metavar="T",
                   help="dense fp16/bf16 tensor TFLOP/s of custom hardware (CPU: fp32), or replacing the preset's")
    g.add_argument("--memory", default=None, metavar="GB",
                   help="memory per device, GB (custom hardware, or replacing the preset's / the detected size)")
    g.add_argument("--threads", default=None, metavar="N",
                   help="CPU threads: the size of the cpu preset (default this machine's cores)")
    g.add_argument("--device-count", default=None, metavar="N",
                   help="identical devices (tensor parallel): memory and bandwidth add up (default 1)")
    g.add_argument("--device-kind", default=None, choices=list(DEVICE_KINDS),
                   help="kind of --hardware custom (default cuda-gpu; cpu when --threads is given)")
    g.add_argument("--engine", default=None, metavar="E",
                   help=f"engine the latency model predicts for: {', '.join(engine_names())} "
                        f"(default: {DEFAULT_ENGINE_RULE})")
    g.add_argument("--ctx", default=None, metavar="TOKENS",
                   help=f"context tokens per request for the memory check and KV traffic (default {DEFAULT_CTX})")
    g.add_argument("--concurrency", default=None, metavar="N",
                   help="requests decoded together, as vLLM/SGLang serve them (default 1): the speedup and K are "
                        f"for N; the concurrency table shows N = {', '.join(map(str, DEFAULT_LEVELS))} too")


def parse_device_flags(args: argparse.Namespace) -> Dict[str, Any]:
    """The typed values of the flags the user gave (absent flags are left out)."""
    from draftfinder.predict.concurrency import MAX_CONCURRENCY
    from draftfinder.predict.devices import MAX_DEVICE_COUNT, MAX_THREADS, check_engine

    def num(flag: str, dest: str, **limits: Any) -> Optional[Any]:
        text = getattr(args, dest, None)
        return None if text is None else parse_number(text, flag, **limits)

    values = {
        "bandwidth_gb_s": num("--bandwidth", "bandwidth", low=0, low_open=True, high=1e6, unit="GB/s",
                              hint="e.g. --bandwidth 1008 (GB/s, the device's memory bandwidth)"),
        "tflops": num("--tflops", "tflops", low=0, low_open=True, high=1e6, unit="dense TFLOP/s",
                      hint="e.g. --tflops 165 (dense fp16/bf16 tensor TFLOP/s; CPU: fp32)"),
        "memory_gb": num("--memory", "memory", low=0, low_open=True, high=1e6, unit="GB",
                         hint="e.g. --memory 24 (GB per device)"),
        "threads": num("--threads", "threads", kind=int, low=1, high=MAX_THREADS, hint="e.g. --threads 16"),
        "device_count": num("--device-count", "device_count", kind=int, low=1, high=MAX_DEVICE_COUNT,
                            hint="e.g. --device-count 4"),
        "ctx": num("--ctx", "ctx", kind=int, low=1, high=MAX_CTX, unit="tokens", hint="e.g. --ctx 8192"),
        "concurrency": num("--concurrency", "concurrency", kind=int, low=1, high=MAX_CONCURRENCY,
                           hint="e.g. --concurrency 16 (requests decoded together)"),
        "device_kind": getattr(args, "device_kind", None),
        "engine": check_engine(getattr(args, "engine", None)),
        "hardware": getattr(args, "hardware", None),
    }
    return {k: v for k, v in values.items() if v is not None}


def resolve_device(values: Dict[str, Any]) -> Any:
    """The :class:`~draftfinder.predict.devices.Device` the parsed flags (or config keys) describe."""
    from draftfinder.predict.devices import get_device

    return get_device(values.get("hardware"), bandwidth_gb_s=values.get("bandwidth_gb_s"),
                      tflops=values.get("tflops"), memory_gb=values.get("memory_gb"), threads=values.get("threads"),
                      count=values.get("device_count"), kind=values.get("device_kind"))


__all__ = ["MAX_CTX", "add_device_flags", "hardware_help", "parse_device_flags", "resolve_device"]
