"""The README's benchmark figures come from committed result files that say how they were made.

Guards issue 9 §5: the Benchmarks section quoted figures with no file behind them (``bench/results/`` was
git-ignored), some from another configuration than their row said, and the llama-server speed had no script.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
RUN_KEYS = {"bench", "command", "commit", "dirty", "date", "duration_s", "machine", "load_average_before",
            "load_average_after", "versions"}


def _benchmarks_section() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return text[text.index("## Benchmarks"):text.index("\n## ", text.index("## Benchmarks") + 5)]


def test_every_result_file_records_how_it_was_made():
    files = sorted(RESULTS.glob("*.json"))
    assert files, "no committed bench/results/*.json"
    for path in files:
        run = json.loads(path.read_text(encoding="utf-8"))["run"]
        assert RUN_KEYS <= set(run), (path.name, RUN_KEYS - set(run))
        assert re.fullmatch(r"[0-9a-f]{40}", run["commit"]), path.name
        assert run["command"].startswith("python bench/" + run["bench"]), path.name
        assert len(run["load_average_before"]) == 3 and run["machine"]["cores"] >= 1
        for lib in ("python", "torch", "transformers"):
            assert run["versions"][lib], (path.name, lib)
        assert (REPO / "bench" / run["bench"]).is_file(), path.name


def test_every_table_row_names_a_committed_file_whose_command_it_quotes():
    rows = [line for line in _benchmarks_section().splitlines() if line.startswith("| `")]
    assert len(rows) >= 8
    last_file = None
    for row in rows:
        m = re.match(r"\| `([\w.-]+\.json)`(?: \(`(python )?(bench/[^`]+)`\))?", row)
        if m is None:
            assert row.startswith("| same file"), row           # continues the previous row's file
            continue
        name, command = m.group(1), m.group(3)
        path = RESULTS / name
        assert path.is_file(), f"README row names {name}, which is not in bench/results/"
        last_file = json.loads(path.read_text(encoding="utf-8"))
        if command:                                               # the row's command is the file's, flag for flag
            assert last_file["run"]["command"] == "python " + command, (name, command)
    assert last_file is not None


def test_the_llama_server_speed_has_a_script_and_a_result():
    assert (REPO / "bench" / "llama_server_speed.py").is_file()
    d = json.loads((RESULTS / "llama_server_speed.json").read_text(encoding="utf-8"))
    assert d["run"]["versions"]["llama_server"] and d["configs"]
    assert all("127.0.0.1" in argv for argv in d["server_commands"].values())
