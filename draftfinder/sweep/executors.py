"""Who runs a sweep's cells: ``local`` (one after another in this process) or ``ray`` (each cell a Ray task).

The runner (:func:`.runner.run_sweep`) plans the cells, opens the results file and hands a :class:`SweepJob`
to an executor; the executor runs the cells still to do and merges every finished record back through
:meth:`SweepJob.merge`, which writes the results file atomically on the driver. So both executors share the
file format, resume, ``--retry-failed`` and the settings check; a cell already done is never run again.

``ray`` (:class:`RayExecutor`):

- ``ray.init(address=ADDR)`` joins a running cluster (``ray start --head`` on one machine, ``ray start
  --address=HEAD:6379`` on the others); without an address a local cluster is started on this machine and
  stopped at the end. The address is tried with a plain TCP connection first (``CONNECT_TIMEOUT_S``): Ray
  itself waits minutes on an address where nothing listens.
- every cell is a task (:func:`measure_cell`) that builds the backend in the worker (once per worker process)
  and calls :func:`.runner.run_cell`, so a Ray cell is measured exactly as a local one. Resources per task
  (:func:`cell_resources`): ``num_cpus`` = ``settings.threads`` or 1 (and torch gets that many threads),
  ``num_gpus`` = ``settings.tensor_parallel_size`` (default 1) for GPU backends.
- draftfinder's own code travels with the job (``runtime_env.py_modules``: the package the driver imported,
  installed or a source tree), so every worker measures with the driver's version; its dependencies (torch,
  transformers, the zoo packages, llama-server…) and model files must be installed on every node.
- a draft cell is submitted once its target's baseline is done (it compares its greedy output with the
  baseline's, as locally); results arrive in any order (``ray.wait``) and are merged in plan order.
- each cell records where it ran: ``node`` = ``{node_id, hostname, ip, pid}`` (``ray.get_runtime_context``)
  and ``resources`` = what its task requested.
- a task that raises or whose worker dies is a ``failed`` cell (no Ray retries: ``--retry-failed`` reruns
  it); the sweep goes on. Ctrl-C force-cancels the outstanding tasks; finished cells are kept. The runner calls
  :meth:`RayExecutor.start` before it writes the results file (an unreachable cluster leaves it untouched) and
  :meth:`RayExecutor.stop` (``ray.shutdown``: a local cluster we started stops with it) on every exit path.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from draftfinder.errors import ClusterUnreachableError, DraftFinderError, MissingDependencyError, UsageError, redact

EXECUTORS = ("local", "ray")
CONNECT_TIMEOUT_S = 5.0           # a TCP connect to the head's GCS port; Ray's own wait is minutes
GPU_BACKENDS = ("vllm", "sglang")  # servers that always run on GPUs: num_gpus = tensor parallel size
WAIT_TICK_S = 1.0                 # how often the driver wakes up in ray.wait (to notice should_stop)
RAY_EXTRA = "'draftfinder[ray]'"
# environment the workers get from the driver (switches only: paths and secrets are the nodes' own)
FORWARDED_ENV = ("HF_HUB_OFFLINE", "DRAFTFINDER_OFFLINE", "HF_HUB_DISABLE_TELEMETRY")

Log = Callable[[str], None]


@dataclass
class SweepJob:
    """What an executor needs: the planned cells, those still to do, and where finished records go."""

    cfg: Any
    options: Dict[str, Any]
    backend: Any                                  # built by the driver for the local executor, else None
    cells: List[Any]                              # every planned cell (runner.plan_cells)
    todo: List[Any]                               # the cells not done yet, in plan order
    prompts: List[Any]
    settings: Dict[str, Any]                      # runner.measured_settings, stored in every cell
    results: Any                                  # SweepResults (the file on the driver)
    log: Log = field(default=lambda line: None)
    progress: Optional[Callable[[int, int, str], None]] = None
    should_stop: Optional[Callable[[], bool]] = None
    retry_failed: bool = False

    @property
    def skipped(self) -> int:
        return len(self.cells) - len(self.todo)

    def baseline(self, cell: Any) -> Optional[Dict[str, Any]]:
        """The finished baseline of a draft cell's target (None for a baseline cell, or when it failed)."""
        return self.results.baseline(cell.target.label) if cell.draft is not None else None

    def merge(self, record: Dict[str, Any], *, plan_order: bool = False) -> None:
        """Store one finished cell and rewrite the results file (atomically). ``plan_order``: keep the file's
        cells in plan order whatever order they finished in."""
        from draftfinder.sweep.results import cell_key
        from draftfinder.sweep.runner import refresh_speedups

        record["settings"] = self.settings
        self.results.put(record)
        if plan_order:
            rank = {cell_key(c.target.label, c.draft.label if c.draft else None, c.k): i
                    for i, c in enumerate(self.cells)}
            self.results.cells.sort(key=lambda c: rank.get(cell_key(c["target"], c.get("draft"), c.get("k")),
                                                           len(rank)))
        refresh_speedups(self.results)
        self.results.save()


class LocalExecutor:
    """The cells one after another in this process, with the backend the runner built."""

    name = "local"
    builds_backend_here = True

    def describe(self) -> Dict[str, Any]:
        return {"name": self.name}

    def start(self, cfg: Any) -> None:
        """Nothing to start: the cells run in this process."""

    def stop(self) -> None:
        """Nothing to stop."""

    def run(self, job: SweepJob) -> None:
        from draftfinder.sweep.concurrency import run_levels
        from draftfinder.sweep.runner import _done, run_cell

        for i, cell in enumerate(job.todo, 1):
            if job.should_stop is not None and job.should_stop():
                break
            if job.progress:
                job.progress(i, len(job.todo), cell.title)
            job.log(f"[{i + job.skipped}/{len(job.cells)}] {cell.title}")
            record = job.results.find(cell.target.label, cell.draft.label if cell.draft else None, cell.k)
            if not _done(job.results, cell, job.retry_failed):  # else only concurrency levels are missing: keep it
                record = run_cell(job.cfg, job.backend, cell, job.prompts, job.log, baseline=job.baseline(cell))
            job.merge(record)
            run_levels(job.backend, cell, job.prompts, job.cfg.settings, record, log=job.log,
                       retry_failed=job.retry_failed, save=job.merge)


def make_executor(name: str, *, address: Optional[str] = None) -> Any:
    """``local`` or ``ray`` (``address``: a running Ray cluster; None: a local one). Raises :class:`UsageError`
    for an unknown name or an address given to the local executor."""
    if name == "local":
        if address:
            raise UsageError(f"--address {address} is for the ray executor", hint="add --executor ray, or drop --address")
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(address)
    raise UsageError(f"unknown executor '{name}'", hint=f"use one of {', '.join(EXECUTORS)}")


# ---------------------------------------------------------------------------------------------------
# Ray
# ---------------------------------------------------------------------------------------------------

def import_ray() -> Any:
    """``ray``, or :class:`MissingDependencyError` naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("ray", "sweep --executor ray", pip_name=RAY_EXTRA) from None
    return ray


def cell_resources(cfg: Any, cluster_gpus: float = 0.0) -> Dict[str, float]:
    """A cell's Ray resource request: ``num_cpus`` = ``settings.threads`` or 1; ``num_gpus`` = the tensor
    parallel size (``settings.tensor_parallel_size``, default 1) for a GPU backend — vLLM / SGLang always; the
    engine / hf on a ``cuda`` device, or on ``auto`` when the cluster has GPUs; llama-server with
    ``gpu_layers`` > 0 when the cluster has GPUs — else 0 (CPU work; ``openai`` cells only send requests)."""
    s = cfg.settings
    tp = int(getattr(s, "tensor_parallel_size", None) or 1)
    device = str(getattr(s, "device", None) or "").lower()
    backend = cfg.backend
    if backend in GPU_BACKENDS:
        gpus = tp
    elif backend in ("engine", "hf") and device.startswith("cuda"):
        gpus = tp
    elif backend in ("engine", "hf") and device == "auto" and cluster_gpus > 0:
        gpus = 1
    elif backend == "llamacpp" and int(getattr(s, "gpu_layers", 0) or 0) > 0 and cluster_gpus > 0:
        gpus = 1
    else:
        gpus = 0
    return {"num_cpus": float(s.threads or 1), "num_gpus": float(gpus)}


def runtime_env() -> Dict[str, Any]:
    """The job's runtime environment: draftfinder's package folder as a ``py_modules`` entry (the code this
    driver runs, whether installed or a source tree; Ray uploads it once per content hash) and the few
    environment switches in ``FORWARDED_ENV`` that are set here."""
    import draftfinder

    env: Dict[str, Any] = {"py_modules": [str(Path(draftfinder.__file__).resolve().parent)],
                           "excludes": ["__pycache__", "*.pyc"]}
    forwarded = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
    if forwarded:
        env["env_vars"] = forwarded
    return env


def check_address(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Raise :class:`ClusterUnreachableError` unless something accepts a TCP connection at ``address``
    (``HOST:PORT`` or ``ray://HOST:PORT``) within ``timeout_s``; ``auto`` is left to Ray (it reads the local
    session file)."""
    if address == "auto":
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--address {address}: not HOST:PORT",
                         hint="pass the head node's address, e.g. --address 10.0.0.5:6379 (`ray status` on the "
                              "head prints it), or ray://HOST:10001 for Ray Client")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        why = "timed out" if isinstance(exc, socket.timeout) else (exc.strerror or type(exc).__name__)
        raise ClusterUnreachableError(address, f"{why} within {timeout_s:g} s") from None


def _node() -> Dict[str, Any]:
    import ray

    ctx = ray.get_runtime_context()
    return {"node_id": ctx.get_node_id(), "hostname": socket.gethostname(), "ip": ray.util.get_node_ip_address(),
            "pid": os.getpid()}


_WORKER_BACKENDS: Dict[str, Any] = {}           # per worker process: backends built for earlier cells


def measure_cell(cfg: Any, options: Dict[str, Any], cell: Any, prompts: List[Any],
                 baseline: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The Ray task: build (or reuse) the backend in this worker, run one cell with :func:`.runner.run_cell`,
    return ``{record, log, node, backend_info}``. A backend that cannot be built fails the cell, not the task."""
    from draftfinder.sweep.backends import make_backend
    from draftfinder.sweep.concurrency import run_levels
    from draftfinder.sweep.runner import _safe_describe, run_cell

    lines: List[str] = []
    key = json.dumps([cfg.to_dict(), options], sort_keys=True, default=str)
    info: Optional[Dict[str, Any]] = None
    try:
        if key not in _WORKER_BACKENDS:
            _WORKER_BACKENDS[key] = make_backend(cfg, options)
        backend = _WORKER_BACKENDS[key]
        info = _safe_describe(backend)
        record = run_cell(cfg, backend, cell, prompts, lines.append, baseline=baseline)
        run_levels(backend, cell, prompts, cfg.settings, record, log=lines.append, save=lambda rec: None)
    except DraftFinderError as err:
        record = failed_record(cfg, cell, err.line())
        lines.append(f"  failed: {record['error']}")
    return {"record": record, "log": lines, "node": _node(), "backend_info": info}


def failed_record(cfg: Any, cell: Any, error: str) -> Dict[str, Any]:
    """A ``failed`` cell in :func:`.runner.run_cell`'s shape, for a cell whose task never produced one."""
    from draftfinder.sweep.results import now

    return {"target": cell.target.label, "draft": cell.draft.label if cell.draft else None, "k": cell.k,
            "draft_type": cell.draft.type if cell.draft else None,
            "draft_spec": cell.draft.spec if cell.draft and cfg.backend != "openai" else None,
            "adaptive": bool(cell.draft.adaptive) if cell.draft else None,
            "target_path": cell.target.path or cell.target.url, "status": "failed",
            "error": redact(error).splitlines()[0][:300] if error else "failed", "finished": now(), "runs": [],
            "mean_tps": None, "median_tps": None, "mean_ttft": None, "mean_total_time": None,
            "acceptance_rate": None}


def _task_error(exc: BaseException) -> str:
    """One line for a task that raised or whose worker died (Ray wraps the cause in its own exception)."""
    cause = getattr(exc, "cause", None)
    if cause is not None and not isinstance(cause, type(exc)):
        return f"Ray task failed: {type(cause).__name__}: {str(cause).strip().splitlines()[0] if str(cause).strip() else ''}"
    text = str(exc).strip().splitlines()
    return f"Ray task failed: {type(exc).__name__}" + (f": {text[0]}" if text else "")


class RayExecutor:
    """Cells as Ray tasks on a cluster (``address``) or on a local cluster started here (``num_cpus``: its
    CPUs, default this machine's)."""

    name = "ray"
    builds_backend_here = False

    def __init__(self, address: Optional[str] = None, *, num_cpus: Optional[int] = None,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S):
        self.address = address or None
        self.num_cpus = num_cpus
        self.connect_timeout_s = connect_timeout_s
        self.cluster: Dict[str, Any] = {}
        self.need: Dict[str, float] = {}
        self._ray: Any = None

    def describe(self) -> Dict[str, Any]:
        return {"name": self.name, "address": self.address or "local", **self.cluster}

    # --- cluster --------------------------------------------------------------------------------------
    def _connect(self, ray: Any, per_cell: Dict[str, float]) -> None:
        import logging

        common = dict(runtime_env=runtime_env(), log_to_driver=False, logging_level=logging.ERROR)
        if self.address:
            check_address(self.address, self.connect_timeout_s)
            try:
                ray.init(address=self.address, **common)
            except (ConnectionError, RuntimeError, TimeoutError) as exc:
                raise ClusterUnreachableError(self.address, str(exc).strip().splitlines()[0][:160]) from None
        else:
            cpus = max(int(self.num_cpus or os.cpu_count() or 1), int(per_cell["num_cpus"]))
            ray.init(address="local", num_cpus=cpus, include_dashboard=False, **common)
        res = ray.cluster_resources()
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        self.cluster = {"ray": ray.__version__, "nodes": len(nodes), "cpus": res.get("CPU", 0.0),
                        "gpus": res.get("GPU", 0.0)}

    def _check_feasible(self, ray: Any, need: Dict[str, float]) -> None:
        """Refuse a request no node can satisfy (Ray would wait for it forever)."""
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        where = self.address or "the local Ray cluster"
        for key, label, fix in (("num_cpus", "CPU", "lower settings.threads"),
                                ("num_gpus", "GPU", "lower settings.tensor_parallel_size or add GPU nodes")):
            have = max((n.get(label, 0.0) for n in nodes), default=0.0)
            if need[key] > have:
                raise UsageError(f"each cell asks for {need[key]:g} {label}(s) but the largest node of {where} has "
                                 f"{have:g}", hint=fix)

    # --- lifecycle (run_sweep: start before the results file is written, stop on every exit path) -------
    def start(self, cfg: Any) -> None:
        """Join the cluster at ``address`` (or start a local one) and check that a cell's request fits on a
        node; raises :class:`ClusterUnreachableError` / :class:`UsageError` (after shutting Ray down)."""
        self._ray = import_ray()
        try:
            self._connect(self._ray, cell_resources(cfg))
            self.need = cell_resources(cfg, self.cluster.get("gpus", 0.0))
            self._check_feasible(self._ray, self.need)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        ray = getattr(self, "_ray", None)
        if ray is not None and ray.is_initialized():
            ray.shutdown()

    def run(self, job: SweepJob) -> None:
        if not job.todo:                          # nothing left: run_sweep did not start the cluster
            return
        job.log(f"ray: {self.cluster['nodes']} node(s), {self.cluster['cpus']:g} CPU(s), "
                f"{self.cluster['gpus']:g} GPU(s) at {self.address or 'a local cluster on this machine'}; "
                f"each cell asks for {self.need['num_cpus']:g} CPU(s), {self.need['num_gpus']:g} GPU(s)")
        self._loop(self._ray, job, self.need)

    def _loop(self, ray: Any, job: SweepJob, need: Dict[str, float]) -> None:
        task = ray.remote(measure_cell)
        options = dict(job.options)
        if not job.cfg.settings.threads:          # torch gets the CPUs Ray reserved, not the node's idle cores
            options.setdefault("threads", int(need["num_cpus"]))
        waiting = list(job.todo)
        pending: Dict[Any, Any] = {}
        finished = 0

        def ready(cell: Any) -> bool:             # a draft cell waits for its target's baseline to finish
            if cell.draft is None:
                return True
            busy = list(pending.values()) + waiting
            return not any(c.draft is None and c.target.label == cell.target.label for c in busy)

        def submit() -> None:
            for cell in [c for c in waiting if ready(c)]:
                waiting.remove(cell)
                ref = task.options(num_cpus=need["num_cpus"], num_gpus=need["num_gpus"], max_retries=0,
                                   name=cell.title[:100]).remote(job.cfg, options, cell, job.prompts,
                                                                 job.baseline(cell))
                pending[ref] = cell

        try:
            submit()
            if job.progress and pending:
                job.progress(1, len(job.todo), f"{len(pending)} task(s) submitted")
            while pending:
                if job.should_stop is not None and job.should_stop():
                    self._cancel(ray, pending, job.log)
                    break
                done, _ = ray.wait(list(pending), num_returns=1, timeout=WAIT_TICK_S)
                for ref in done:
                    cell = pending.pop(ref)
                    try:
                        out = ray.get(ref)
                    except KeyboardInterrupt:
                        pending[ref] = cell
                        raise
                    except Exception as exc:              # the task raised, or its worker / node died
                        out = {"record": failed_record(job.cfg, cell, redact(_task_error(exc))), "log": [],
                               "node": None, "backend_info": None}
                        out["log"].append(f"  failed: {out['record']['error']}")
                    record = out["record"]
                    record["node"] = out["node"]
                    record["resources"] = need
                    if out.get("backend_info"):
                        job.results.meta["backend_info"] = out["backend_info"]
                    finished += 1
                    where = out["node"] or {}
                    job.log(f"[{finished + job.skipped}/{len(job.cells)}] {cell.title} — on "
                            f"{where.get('hostname', '?')} ({where.get('ip', '?')})")
                    for line in out["log"]:
                        job.log(line)
                    job.merge(record, plan_order=True)
                submit()
                if job.progress and done and pending:
                    job.progress(finished + 1, len(job.todo), f"{len(pending)} running")
        except KeyboardInterrupt:
            self._cancel(ray, pending, job.log)
            raise

    @staticmethod
    def _cancel(ray: Any, pending: Dict[Any, Any], log: Log) -> None:
        """Force-cancel the outstanding tasks (their workers are killed); their cells rerun on resume."""
        for ref in list(pending):
            try:
                ray.cancel(ref, force=True)
            except Exception:
                pass
        if pending:
            log(f"ray: cancelled {len(pending)} running/queued cell(s): "
                + ", ".join(c.title for c in pending.values()))
