"""draftfinder.train.continuations: generated continuations kept on disk while the teacher data is built."""

from __future__ import annotations

from draftfinder.train.continuations import ContinuationCache, key


def test_kept_per_phase_and_prompt_and_read_back(tmp_path):
    path = tmp_path / "c.json"
    cache = ContinuationCache(path)
    cache.put("generate", [1, 2, 3], [7, 8])
    assert path.is_file()
    again = ContinuationCache(path)
    assert again.get("generate", [1, 2, 3]) == [7, 8]
    assert again.get("sample 1", [1, 2, 3]) is None             # another phase: another temperature and seed
    assert again.get("generate", [1, 2]) is None                # another prompt
    assert again.missing("generate", [[1, 2, 3], [1, 2], [1, 2, 3]]) == [1]
    assert key("generate", [1, 2, 3]) != key("generate", [12, 3])


def test_an_unreadable_or_foreign_file_is_generated_again(tmp_path):
    for text in ("{not json", '{"format": 99, "entries": {"x": [1]}}', "[]"):
        path = tmp_path / "c.json"
        path.write_text(text)
        cache = ContinuationCache(path)
        assert cache.entries == {}
        cache.put("generate", [1], [2])
        assert ContinuationCache(path).get("generate", [1]) == [2]


def test_without_a_path_nothing_is_written(tmp_path):
    cache = ContinuationCache(None)
    cache.put("generate", [1], [2])
    assert cache.get("generate", [1]) == [2] and list(tmp_path.iterdir()) == []
