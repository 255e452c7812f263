"""Config keys of the managed-server backends (sweep/config.py): draft types eagle/eagle3/mtp, server settings."""

from __future__ import annotations

import pytest

from draftfinder.errors import ConfigError
from draftfinder.sweep.config import sweep_config_from_dict
from draftfinder.sweep.runner import measured_settings, plan_cells


def cfg(backend, drafts, **settings):
    return sweep_config_from_dict({"name": "t", "backend": backend, "targets": [{"label": "T", "path": "org/t"}],
                                   "drafts": drafts, "settings": settings})


def test_head_and_mtp_drafts_only_on_vllm_and_sglang():
    c = cfg("vllm", [{"label": "e", "type": "eagle3", "path": "org/h"}, {"label": "m", "type": "mtp"}], k=[2, 4])
    assert [d.spec for d in c.drafts] == ["eagle3:org/h", "mtp"]
    assert len(plan_cells(c)) == 1 + 2 * 2
    with pytest.raises(ConfigError, match="drafts\\[0\\].type"):
        cfg("engine", [{"label": "e", "type": "eagle", "path": "org/h"}])
    with pytest.raises(ConfigError, match="drafts\\[0\\].path"):
        cfg("sglang", [{"label": "e", "type": "eagle3"}])


def test_server_settings_are_checked_and_recorded():
    c = cfg("sglang", [], port=0, tensor_parallel_size=2, gpu_memory_fraction=0.85, server_bin="/usr/bin/python3")
    assert (c.settings.port, c.settings.tensor_parallel_size, c.settings.gpu_memory_fraction) == (0, 2, 0.85)
    m = measured_settings(c, [])
    assert m["tensor_parallel_size"] == 2 and m["gpu_memory_fraction"] == 0.85
    for bad in ({"gpu_memory_fraction": 1.5}, {"gpu_memory_fraction": 0}, {"tensor_parallel_size": 0}):
        with pytest.raises(ConfigError):
            cfg("vllm", [], **bad)


def test_lmstudio_one_cell_per_draft_and_model_key_entries():
    """LM Studio takes the draft per request, not K: one cell per draft whatever settings.k says."""
    c = sweep_config_from_dict({"name": "t", "backend": "lmstudio", "targets": [{"label": "T", "model": "qwen"}],
                                "drafts": [{"label": "d", "model": "qwen-0.5b"}], "settings": {"k": [2, 4]}})
    assert [(cell.draft.label if cell.draft else None, cell.k) for cell in plan_cells(c)] == [(None, None), ("d", None)]
