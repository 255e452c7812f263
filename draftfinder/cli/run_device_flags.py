"""``--device`` and ``--dtype`` of the commands that run models (generate, chat, measure, train), declared once.

(``find`` / ``estimate`` have other device flags — the hardware a *prediction* is for: ``cli/device_flags.py``.)
The rules live in :mod:`draftfinder.engine.device`; this module only declares the flags, checks their spelling
before anything loads (no torch import), and resolves them against the real torch when the command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

DEVICE_HELP = ("where the models run: auto | cpu | cuda | cuda:N | mps (default auto: the first CUDA GPU, else mps, "
               "else the CPU; with auto or cuda a target too large for one GPU is spread over all visible GPUs)")
DTYPE_HELP = ("weights and activations: auto | bf16 | fp16 | fp32 (default auto: bf16 on CUDA GPUs that support "
              "it, fp16 on other GPUs and mps, fp32 on the CPU)")


def add_run_device_arguments(group: Any) -> None:
    """--device and --dtype (both default "auto")."""
    group.add_argument("--device", default="auto", metavar="DEV", help=DEVICE_HELP)
    group.add_argument("--dtype", default="auto", metavar="DT", help=DTYPE_HELP)


def check_run_device_args(args: argparse.Namespace) -> None:
    """``UsageError`` for a misspelt --device / --dtype (before any import of torch)."""
    from draftfinder.engine.device import parse_device, parse_dtype

    parse_device(getattr(args, "device", "auto"))
    parse_dtype(getattr(args, "dtype", "auto"))


def resolve_run_device(args: argparse.Namespace) -> Any:
    """The :class:`~draftfinder.engine.device.Target` of the flags, against the installed torch (a one-line
    ``DeviceUnavailableError`` when the device is not there)."""
    from draftfinder.engine.device import resolve

    return resolve(getattr(args, "device", "auto"), getattr(args, "dtype", "auto"))
