"""draftfinder.train.output: where a trained draft goes."""

from __future__ import annotations

import os

from draftfinder.train.output import relocated, temp_dir


def test_paths_inside_the_temporary_folder_name_the_final_one(tmp_path):
    """A --gguf run's report named DIR.tmp-<pid>/draft.gguf in its llama-server commands: gone after the rename."""
    out = tmp_path / "d"
    tmp = str(temp_dir(out))
    report = {"student": {"gguf": {"path": "draft.gguf", "llama_server": {
        "draft_gguf": tmp + os.sep + "draft.gguf",
        "commands": {"spec": ["llama-server", "--model-draft", tmp + os.sep + "draft.gguf", "-t", "1"]},
        "speedup": 0.48}}},
        "other": [tmp + "-sibling/x", "unrelated", 3, None, tmp]}
    moved = relocated(report, tmp, str(out))
    ls = moved["student"]["gguf"]["llama_server"]
    assert ls["draft_gguf"] == str(out / "draft.gguf") and ls["commands"]["spec"][2] == str(out / "draft.gguf")
    assert ls["speedup"] == 0.48 and moved["student"]["gguf"]["path"] == "draft.gguf"
    assert moved["other"] == [tmp + "-sibling/x", "unrelated", 3, None, str(out)]    # only that folder's paths
