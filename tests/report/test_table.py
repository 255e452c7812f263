"""draftfinder.report.table: the find report's symbols follow NO_COLOR and the terminal; engine verdicts are
shown with the checks they come from."""

from __future__ import annotations

import io

import pytest

from draftfinder import DraftModelFinder
from draftfinder.find.config import FinderConfig
from draftfinder.report.table import engines_line, render_find, use_symbols

SYMBOLS = ("✓", "✗", "🎯", "📊", "🏆", "⚠", "📈", "📝", "🌟", "✅", "👍", "⚡")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_symbols_only_on_a_terminal_without_no_color(monkeypatch):
    """Guards issue 9 §2: emoji and ✓/✗ were printed with NO_COLOR set or stdout piped."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_symbols(None, _Tty()) is True
    assert use_symbols(None, io.StringIO()) is False                  # a pipe or file
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_symbols(None, _Tty()) is False


@pytest.fixture(scope="module")
def report_data():
    cfg = FinderConfig(offline=True, hardware="cpu", engine="draftfinder")      # issue 9's setting: our engine on a CPU
    return DraftModelFinder("Qwen/Qwen2.5-7B-Instruct", config=cfg).find().to_dict(5)


def test_plain_report_has_words_not_symbols(report_data):
    plain = render_find(report_data, symbols=False, show_compat=True)
    assert not any(s in plain for s in SYMBOLS), [s for s in SYMBOLS if s in plain]
    assert "llama.cpp: accepts (shared-vocab)" in plain and "Tier: POOR" in plain
    assert "Engine verdicts apply the rules of:" in plain and "#22358" in plain
    assert "[pass] llama.cpp.add_eos:" in plain                       # the engine's own checks are listed
    fancy = render_find(report_data, symbols=True)
    assert "llama.cpp ✓ (shared-vocab)" in fancy and "🎯" in fancy


def test_a_refused_verdict_names_its_failed_checks():
    engines = {"llama.cpp": {"compatible": False, "mode": "refused", "reasons": ["refused: …"],
                             "checks": [{"name": "llama.cpp.vocab_type", "passed": False, "required": True},
                                        {"name": "llama.cpp.add_bos", "passed": True, "required": True},
                                        {"name": "llama.cpp.n_vocab", "passed": False, "required": True}]}}
    assert engines_line(engines, symbols=False) == "llama.cpp: refuses (failed: llama.cpp.vocab_type, llama.cpp.n_vocab)"
    assert engines_line(engines, symbols=True) == "llama.cpp ✗ (refused; failed: llama.cpp.vocab_type, llama.cpp.n_vocab)"


def test_an_unknown_verdict_is_not_decided_never_refuses():
    """Guards issue 11: a verdict missing a fact (mode "unknown": by-file-hash pairs whose BOS/EOS insertion no
    hash covers) was printed "refuses"."""
    engines = {"llama.cpp": {"compatible": False, "mode": "unknown", "reasons": ["not decided: …"],
                             "checks": [{"name": "llama.cpp.add_bos", "passed": False, "required": True,
                                         "skipped": True},
                                        {"name": "llama.cpp.n_vocab", "passed": True, "required": True}]}}
    assert engines_line(engines, symbols=False) == "llama.cpp: not decided (unknown: llama.cpp.add_bos not known)"
    assert engines_line(engines, symbols=True) == "llama.cpp ? (unknown: llama.cpp.add_bos not known)"
