"""Sweep configs: draftbench's JSON as is, K lists and drafter types, YAML, errors that name the key."""

import json
import re
from pathlib import Path

import pytest

from draftfinder.errors import ConfigError, UsageError
from draftfinder.sweep.config import (example_config, load_sweep_config, sweep_config_from_dict, write_example)
from draftfinder.sweep.runner import plan_cells

SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "002_839f3b9aff008863.txt"


def draftbench_example() -> dict:
    """The config block of draftbench's README (seed 002), parsed from the seed itself."""
    text = SEED.read_text()
    block = re.search(r"Create `configs/my_sweep.json`:\s*```json\n(.*?)```", text, re.S).group(1)
    return json.loads(block)


def test_draftbench_config_loads_unchanged(tmp_path):
    data = draftbench_example()
    p = tmp_path / "my_sweep.json"
    p.write_text(json.dumps(data))
    cfg = load_sweep_config(str(p))
    assert cfg.name == "qwen25-72b" and cfg.hardware == "rtx4090-24gb" and cfg.backend == "llamacpp"
    assert [t.label for t in cfg.targets] == ["72B Q8_0", "72B Q4_K_M"]
    assert [d.label for d in cfg.drafts] == ["0.5B Q8_0", "1.5B Q4_K_M", "3B Q4_K_M"]
    s = cfg.settings
    assert (s.runs, s.max_tokens, s.temperature, s.gpu_layers, s.ctx_size, s.port) == (1, 1024, 0.0, 99, 4096, 8080)
    assert s.k == [4]                                         # draftbench has no K: one default K
    assert cfg.default_stem() == "rtx4090-24gb_llamacpp_qwen25-72b"   # draftbench's results/<hw>_<backend>_<name>
    cells = plan_cells(cfg)
    assert len(cells) == 2 + 2 * 3                            # draftbench's "2 targets x 3 drafts = 8 runs"
    assert [c.title for c in cells[:2]] == ["72B Q8_0 (baseline)", "72B Q8_0 + 0.5B Q8_0 K=4"]


def test_k_list_and_drafter_types():
    cfg = sweep_config_from_dict({
        "name": "x", "targets": [{"label": "t", "path": "zoo:smollm2-135m"}],
        "drafts": [{"label": "ng", "type": "ngram", "storage": "onelevel", "n": 4},
                   {"label": "ls", "type": "layerskip", "layers": 12},
                   {"label": "m", "path": "/models/d.gguf"}],
        "settings": {"k": [8, 2, 4, 4]}})
    assert cfg.backend == "engine" and cfg.settings.k == [2, 4, 8]
    assert [d.spec for d in cfg.drafts] == ["ngram:onelevel:4", "layerskip:12", "/models/d.gguf"]
    assert len(plan_cells(cfg)) == 1 + 3 * 3
    assert sweep_config_from_dict({"name": "x", "targets": [{"label": "t", "path": "p"}],
                                   "settings": {"k": 6}}).settings.k == [6]


@pytest.mark.parametrize("data, key", [
    ({"targets": [{"label": "t", "path": "p"}]}, "'name'"),
    ({"name": "x"}, "'targets'"),
    ({"name": "x", "targets": []}, "'targets'"),
    ({"name": "x", "targets": [{"path": "p"}]}, "'targets[0].label'"),
    ({"name": "x", "targets": [{"label": "t"}]}, "'targets[0].path'"),
    ({"name": "x", "targets": [{"label": "t", "path": "p"}], "drafts": [{"label": "d", "type": "medusa"}]},
     "'drafts[0].type'"),
    ({"name": "x", "targets": [{"label": "t", "path": "p"}], "drafts": [{"label": "d", "type": "layerskip"}]},
     "'drafts[0].layers'"),
    ({"name": "x", "targets": [{"label": "t", "path": "p"}], "drafts": [{"label": "d", "path": "a"},
                                                                        {"label": "d", "path": "b"}]},
     "'drafts[1].label'"),
    ({"name": "x", "targets": [{"label": "t", "path": "p"}], "settings": {"k": [0]}}, "'settings.k'"),
    ({"name": "x", "targets": [{"label": "t", "path": "p"}], "settings": {"k": 17}}, "'settings.k'"),
    ({"name": "x", "targets": [{"label": "t", "path": "p"}], "settings": {"runs": "3"}}, "'settings.runs'"),
    ({"name": "x", "targets": [{"label": "t", "path": "p"}], "settings": {"max_tokns": 3}}, "'settings.max_tokns'"),
    ({"name": "x", "targets": [{"label": "t", "path": "p"}], "settings": {"temperature": -1}},
     "'settings.temperature'"),
    ({"name": "x", "targets": [{"label": "t", "path": "p"}], "settings": {"task": "poetry"}}, "'settings.task'"),
    ({"name": "x", "targets": [{"label": "t", "path": "p"}], "backend": "tgi"}, "'backend'"),
    ({"name": "x", "backend": "openai", "targets": [{"label": "t"}]}, "'targets[0].url'"),
    ({"name": "x", "backend": "openai", "targets": [{"label": "t", "url": "h"}, {"label": "u", "url": "http://a"}]},
     "'targets[0].url'"),
    ({"name": "x", "backend": "openai", "targets": [{"label": "t", "url": "http://a"}, {"label": "u", "url": "http://b"}],
      "drafts": [{"label": "d", "url": "http://c"}]}, "'drafts[0].target'"),
    ({"name": "x", "targets": [{"label": "t", "path": "p"}], "settings": {"api_key_env": "sk-abc def"}},
     "'settings.api_key_env'"),
    ({"name": "x", "targets": [{"label": "t", "path": "p"}], "colour": "red"}, "'colour'"),
])
def test_errors_name_the_key(data, key):
    with pytest.raises(ConfigError) as info:
        sweep_config_from_dict(data, source="s.json")
    line = info.value.line()
    assert key in line and line.startswith("s.json:") and "\n" not in line


def test_openai_entries_pair_drafts_with_targets():
    cfg = sweep_config_from_dict({
        "name": "x", "backend": "openai",
        "targets": [{"label": "7B", "url": "http://127.0.0.1:8000/v1"}, {"label": "14B", "url": "http://127.0.0.1:8001/v1"}],
        "drafts": [{"label": "7B+0.5B", "url": "http://127.0.0.1:8002/v1", "target": "7B", "k": 5}]})
    cells = plan_cells(cfg)
    assert [c.title for c in cells] == ["7B (baseline)", "7B + 7B+0.5B K=5", "14B (baseline)"]


def test_yaml_config_and_syntax_errors(tmp_path):
    import yaml

    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(example_config()))
    assert load_sweep_config(str(p)).name == "zoo"
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "targets": [}')
    with pytest.raises(ConfigError, match="valid JSON or YAML"):
        load_sweep_config(str(bad))
    with pytest.raises(UsageError, match="does not exist"):
        load_sweep_config(str(tmp_path / "missing.json"))


def test_init_writes_a_config_that_loads(tmp_path):
    p = write_example(str(tmp_path / "sweep.json"))
    cfg = load_sweep_config(str(p))
    assert cfg.targets[0].path == "zoo:smollm2-135m" and {d.type for d in cfg.drafts} == {"ngram", "layerskip"}
    with pytest.raises(UsageError, match="already exists"):
        write_example(str(p))
    write_example(str(p), force=True)
    y = write_example(str(tmp_path / "sweep.yaml"))
    assert load_sweep_config(str(y)).settings.k == cfg.settings.k


def test_adaptive_drafts():
    cfg = sweep_config_from_dict({"name": "x", "targets": [{"label": "t", "path": "p"}],
                                  "drafts": [{"label": "a", "type": "ngram", "adaptive": True}]})
    assert cfg.drafts[0].adaptive is True and cfg.drafts[0].to_dict()["adaptive"] is True
    with pytest.raises(ConfigError, match="'drafts\\[0\\].adaptive'"):
        sweep_config_from_dict({"name": "x", "targets": [{"label": "t", "path": "p"}],
                                "drafts": [{"label": "a", "type": "ngram", "adaptive": "yes"}]})
    with pytest.raises(ConfigError, match="adaptive K is a feature"):
        sweep_config_from_dict({"name": "x", "backend": "llamacpp", "targets": [{"label": "t", "path": "p"}],
                                "drafts": [{"label": "a", "path": "d", "adaptive": True}]})


def test_drafts_as_spec_strings_and_the_trained_label(tmp_path):
    """Guards the shorthand of issue 12: drafts [DIR, "ngram", "layerskip:2"] are the entries they stand for; a
    folder `draftfinder train` wrote (train_report.json) is labelled "trained: <folder>" instead of its path,
    also as an object without a label; a bad spec names its key. Failed before: drafts had to be objects."""
    folder = tmp_path / "out" / "smol-draft"
    folder.mkdir(parents=True)
    (folder / "train_report.json").write_text('{"target": "zoo:smollm2-135m"}')
    plain = tmp_path / "plain"
    plain.mkdir()
    drafts = [str(folder), "ngram", "ngram:onelevel:4", "layerskip:2", str(plain), {"path": str(folder) + "/"},
              {"label": "mine", "path": str(folder)}]
    cfg = sweep_config_from_dict({"name": "x", "targets": [{"label": "t", "path": "zoo:smollm2-135m"}],
                                  "drafts": drafts[:5] + drafts[6:]})
    assert [(d.label, d.type, d.spec) for d in cfg.drafts] == [
        ("trained: smol-draft", "model", str(folder)), ("ngram", "ngram", "ngram:basic:3"),
        ("ngram:onelevel:4", "ngram", "ngram:onelevel:4"), ("layerskip:2", "layerskip", "layerskip:2"),
        (str(plain), "model", str(plain)), ("mine", "model", str(folder))]
    alone = sweep_config_from_dict({"name": "x", "targets": [{"label": "t", "path": "p"}], "drafts": [drafts[5]]})
    assert alone.drafts[0].label == "trained: smol-draft"
    with pytest.raises(ConfigError, match=r"'drafts\[0\]' must be a drafter spec"):
        sweep_config_from_dict({"name": "x", "targets": [{"label": "t", "path": "p"}], "drafts": ["layerskip:x"]})
    with pytest.raises(ConfigError, match="unique"):
        sweep_config_from_dict({"name": "x", "targets": [{"label": "t", "path": "p"}], "drafts": ["ngram", "ngram"]})
