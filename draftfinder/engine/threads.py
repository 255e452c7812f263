"""How many CPU threads torch uses when draftfinder runs a model (``--threads`` of generate, chat, measure;
``settings.threads`` of a sweep's in-process backends).

Default (:func:`default_threads`): the physical cores that are idle when the command starts, minus one, and at
least 1::

    threads = max(1, min(physical cores, allowed CPUs − round(1-minute load)) − 1)

Why not torch's own default (every physical core): OpenMP threads wait for each other at the end of every
parallel region, spinning, so when another process takes one core, every matrix product waits for the thread
that lost it. On a busy 2-core machine the README's ``generate`` example ran at 0.6 tok/s with torch's default
of 2 threads and at 17.8 tok/s with 1 thread (issue 9, measured). Counting only idle cores keeps a busy machine
from collapsing, and leaving one of them free absorbs one more process starting later (another run, a build)
without a thread stalling. On a 2-core machine this is always 1; on an idle 16-core machine, 7 (8 physical).
``--threads N`` overrides it; the busy-machine hint names the flag (:func:`busy_machine_hint`).
"""

from __future__ import annotations

import os
from typing import Optional

THREADS_HELP = ("torch CPU threads (default: the idle physical cores minus one, at least 1 — {default} here now; "
                "more threads than free cores makes every forward wait for the slowest, 5-30x slower on a busy machine)")


def physical_cores() -> int:
    """Distinct (physical id, core id) pairs in /proc/cpuinfo; else the logical CPU count."""
    cores = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            phys = core = None
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key == "physical id":
                    phys = value.strip()
                elif key == "core id":
                    core = value.strip()
                elif not line.strip():
                    if core is not None:
                        cores.add((phys, core))
                    phys = core = None
            if core is not None:
                cores.add((phys, core))
    except OSError:
        pass
    return len(cores) or (os.cpu_count() or 1)


def allowed_cpus() -> int:
    """CPUs this process may run on (its affinity mask), else the logical CPU count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def load_average() -> Optional[float]:
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return None


def default_threads(*, load: Optional[float] = None, cpus: Optional[int] = None,
                    physical: Optional[int] = None) -> int:
    """The default thread count (module docstring); arguments default to this machine's figures."""
    cpus = allowed_cpus() if cpus is None else cpus
    physical = physical_cores() if physical is None else physical
    load = load_average() if load is None else load
    idle = cpus - int(round(load or 0.0))
    return max(1, min(physical, cpus, idle) - 1)


def apply_threads(threads: Optional[int]) -> int:
    """Set torch's intra-op threads to ``threads`` (None: :func:`default_threads`); returns the count used."""
    import torch

    n = int(threads) if threads else default_threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def busy_machine_hint(threads: int, flag: str = "--threads") -> Optional[str]:
    """A hint for stderr when other processes already load the CPUs, naming ``flag``; None when idle."""
    load = load_average()
    cpus = allowed_cpus()
    if load is None or load < 0.75 * cpus:
        return None
    return (f"the machine is busy (1-minute load {load:.1f} on {cpus} CPUs): tokens/s and speedups will be noisy; "
            f"torch runs {threads} thread{'s' if threads != 1 else ''} ({flag} N to change; more threads than idle "
            f"cores slows every forward down)")
