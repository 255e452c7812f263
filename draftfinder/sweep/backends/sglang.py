"""``sglang`` backend: an SGLang server started per target × draft × K cell with that cell's speculative flags.

Command of a cell (only options this SGLang's ``--help`` lists, :mod:`.server_help`)::

    python -m sglang.launch_server --model-path TARGET --host 127.0.0.1 --port PORT --random-seed SEED
        --context-length CTX --tp-size TP [--mem-fraction-static F]
        [--speculative-algorithm A [--speculative-draft-model-path DRAFT] --speculative-num-steps K
         --speculative-eagle-topk 1 --speculative-num-draft-tokens K+1]

Per draft type, after SGLang's docs (``docs/advanced_features/speculative_decoding.md``: "EAGLE Decoding",
"Standalone Speculative Decoding", "Ngram Speculative Decoding", MTP via NEXTN) and
``python/sglang/srt/server_args.py`` (the rules :mod:`draftfinder.lint.sglang` checks):

==========  ==========================================================================================
model       ``STANDALONE`` + ``--speculative-draft-model-path PATH`` (an independent draft model)
eagle(3)    ``EAGLE`` / ``EAGLE3`` + the head as ``--speculative-draft-model-path``
mtp         ``NEXTN`` (``EAGLE`` when this build lists no NEXTN), no draft path: the target's MTP layers
ngram       ``NGRAM``, match window ``n−1`` (``--speculative-ngram-{min,max}-match-window-size``), BFS
            breadth 1 (a chain, not a tree)
==========  ==========================================================================================

K is a chain of K drafted tokens per step: ``--speculative-num-steps K --speculative-eagle-topk 1
--speculative-num-draft-tokens K+1`` (the draft-token count includes the tree's root, the last verified token:
server_args adjusts it to steps + 1 when top-k is 1; NGRAM takes only the draft-token count). The command is
checked with :func:`draftfinder.lint.sglang.lint` before any server starts.

Acceptance: SGLang's OpenAI routes carry no per-request speculative counts (``spec_verify_ct`` is in the native
``/generate`` ``meta_info`` only), so after each request the session reads ``GET /get_server_info`` (``/server_info``
in newer builds): ``internal_states[0].avg_spec_accept_length`` = cumulative accepted-plus-bonus tokens ÷
cumulative verify steps since the server started (the scheduler's ``cum_spec_accept_length /
cum_spec_accept_count``). The server is ours and serves one stream, so every token it decoded came from our
requests: with ``D`` = our requests' decode tokens so far (Σ completion − 1: the first token comes from the
prefill), the verify steps so far are ``D / avg_spec_accept_length``; this request's steps are the difference,
its accepted drafts = its decode tokens − its steps, its drafted tokens = steps × K. Derived, not read —
``extra["acceptance_source"]`` says so and keeps the raw average.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from draftfinder.errors import UsageError
from draftfinder.sweep.backends.base import Generation
from draftfinder.sweep.backends.llama_command import HOST
from draftfinder.sweep.backends.server_help import ServerHelp, find_sglang
from draftfinder.sweep.backends.server_session import ManagedServerBackend, ServerSession
from draftfinder.sweep.config import Entry, Settings
from draftfinder.sweep.backends.vllm import model_path

ALGORITHM = {"model": "STANDALONE", "eagle": "EAGLE", "eagle3": "EAGLE3", "mtp": "NEXTN", "ngram": "NGRAM"}
SERVER_INFO_ROUTES = ("/get_server_info", "/server_info")
INFO_TIMEOUT_S = 10.0


def algorithm(help_: ServerHelp, draft: Entry) -> str:
    """The ``--speculative-algorithm`` value for a draft on this SGLang (module doc)."""
    algo = ALGORITHM.get(draft.type)
    if algo is None:
        raise UsageError(f"draft '{draft.label}': {draft.type} drafts have no SGLang equivalent",
                         hint="run layer-skip self-drafts with backend engine")
    listed = help_.choices("--speculative-algorithm")
    if listed and algo not in listed:
        if algo == "NEXTN" and "EAGLE" in listed:
            return "EAGLE"
        raise UsageError(f"draft '{draft.label}': this SGLang ({help_.version or help_.program[0]}) has no "
                         f"--speculative-algorithm {algo} (it lists {', '.join(listed)})",
                         hint="update SGLang (pip install -U sglang)")
    return algo


def _need(help_: ServerHelp, *names: str) -> str:
    flag = help_.first(*names)
    if flag is None:
        raise UsageError(f"this SGLang ({help_.version or help_.program[0]}) lists no {names[0]}",
                         hint="update SGLang (pip install -U sglang)")
    return flag


def speculative_flags(help_: ServerHelp, draft: Entry, k: Optional[int]) -> List[str]:
    k = int(k or 4)
    algo = algorithm(help_, draft)
    out = [_need(help_, "--speculative-algorithm"), algo]
    if draft.type == "ngram":
        n = str(max(1, draft.n - 1))
        for flag, value in (("--speculative-ngram-min-match-window-size", n),
                            ("--speculative-ngram-max-match-window-size", n),
                            ("--speculative-ngram-min-bfs-breadth", "1"), ("--speculative-ngram-max-bfs-breadth", "1")):
            if help_.has(flag):
                out += [flag, value]
        return out + [_need(help_, "--speculative-num-draft-tokens"), str(k + 1)]
    if draft.type in ("model", "eagle", "eagle3"):
        out += [_need(help_, "--speculative-draft-model-path", "--speculative-draft-model"), model_path(draft)]
    return out + [_need(help_, "--speculative-num-steps"), str(k), _need(help_, "--speculative-eagle-topk"), "1",
                  _need(help_, "--speculative-num-draft-tokens"), str(k + 1)]


def build_command(help_: ServerHelp, target: Entry, draft: Optional[Entry], k: Optional[int], settings: Settings,
                  port: int) -> List[str]:
    """The exact SGLang argv of one cell (module doc)."""
    argv = list(help_.program) + [_need(help_, "--model-path", "--model"), model_path(target),
                                  "--host", HOST, "--port", str(port)]
    if help_.has("--random-seed"):
        argv += ["--random-seed", str(settings.seed)]
    if help_.has("--context-length"):
        argv += ["--context-length", str(settings.ctx_size)]
    tp = help_.first("--tp-size", "--tensor-parallel-size", "--tp")
    if tp:
        argv += [tp, str(settings.tensor_parallel_size)]
    elif settings.tensor_parallel_size != 1:
        raise UsageError("this SGLang lists no --tp-size", hint="set settings.tensor_parallel_size to 1")
    if settings.gpu_memory_fraction is not None:
        argv += [_need(help_, "--mem-fraction-static"), f"{settings.gpu_memory_fraction:g}"]
    if draft is not None:
        argv += speculative_flags(help_, draft, k)
        preflight(argv, len(help_.program), draft)
    return argv


def preflight(argv: List[str], program_len: int, draft: Entry) -> None:
    """Refuse, before any server starts, a command :func:`draftfinder.lint.sglang.lint` calls an error."""
    from draftfinder.lint.commandline import Command
    from draftfinder.lint.sglang import lint

    cmd = Command("sglang", "python -m sglang.launch_server", argv[program_len:], " ".join(argv))
    for f in lint(cmd, resolve=False).findings:
        if f.severity == "error":
            raise UsageError(f"draft '{draft.label}': SGLang would refuse this command: {f.message}", hint=f.fix)


# ---------------------------------------------------------------------------------------------------
# acceptance from the server's cumulative average (module doc)
# ---------------------------------------------------------------------------------------------------

def accept_length(info: Dict[str, Any]) -> Optional[float]:
    """``avg_spec_accept_length`` of a server-info answer (``internal_states[0]``, or top level in older builds)."""
    states = info.get("internal_states")
    if isinstance(states, list) and states and isinstance(states[0], dict) and \
            states[0].get("avg_spec_accept_length") is not None:
        return float(states[0]["avg_spec_accept_length"])
    value = info.get("avg_spec_accept_length")
    return float(value) if value is not None else None


def split_steps(decode_before: int, decode_now: int, length_before: Optional[float], length_now: Optional[float]
                ) -> Optional[int]:
    """Verify steps of the last request: ``decode_now / length_now − decode_before / length_before`` (rounded).

    ``decode_*``: our requests' decode tokens (Σ completion − 1) before and after it; ``length_*``: the
    server's cumulative average accept length then (None: no verify step yet)."""
    if not length_now:
        return None
    before = decode_before / length_before if length_before else 0.0
    return max(0, int(round(decode_now / length_now - before)))


def server_info(session: ServerSession) -> Optional[Dict[str, Any]]:
    import http.client

    for route in SERVER_INFO_ROUTES:
        conn = http.client.HTTPConnection(HOST, session.port, timeout=INFO_TIMEOUT_S)
        try:
            conn.request("GET", route)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status == 200:
                return json.loads(body or b"{}")
        except (OSError, http.client.HTTPException, ValueError):
            return None
        finally:
            conn.close()
    return None


def acceptance(session: ServerSession, g: Generation) -> None:
    """Fill drafted / accepted / speculative of a draft cell's request (module doc)."""
    if session.draft is None:
        return
    st = session.state
    decode = max(0, g.tokens - 1)
    before, length_before = st.get("decode", 0), st.get("length")
    st["decode"] = before + decode
    info = server_info(session)
    length = accept_length(info) if info else None
    st["length"] = length
    g.extra["sglang_avg_spec_accept_length"] = length
    steps = split_steps(before, before + decode, length_before, length)
    if info is None:
        g.extra["acceptance_source"] = "none: SGLang answered neither /get_server_info nor /server_info"
        return
    if steps is None:
        g.speculative = False
        g.extra["flag"] = ("SGLang reports no avg_spec_accept_length: the server did not speculate (check "
                           "--speculative-algorithm in the server log)")
        return
    k = int(st.get("k") or 0)
    steps = min(steps, decode)
    g.accepted = max(0, decode - steps)
    g.drafted = steps * k if k else None
    g.speculative = True
    g.extra["verify_steps"] = steps
    g.extra["acceptance_source"] = ("derived: SGLang's cumulative avg_spec_accept_length (/get_server_info) and "
                                    "this session's token counts")


class SGLangBackend(ManagedServerBackend):
    """Starts an SGLang server per cell (launcher: ``settings.server_bin`` or this Python, :mod:`.server_help`)."""

    name = "sglang"
    server_name = "SGLang server"

    find_help = staticmethod(find_sglang)
    build_command = staticmethod(build_command)
    acceptance = staticmethod(acceptance)

    def open(self, target: Entry, draft: Optional[Entry], k: Optional[int], settings: Settings) -> ServerSession:
        session = super().open(target, draft, k, settings)
        session.state["k"] = int(k or 4) if draft is not None else None   # acceptance derives drafted from K
        return session

    def describe(self) -> Dict[str, Any]:
        s = self.cfg.settings
        return {"backend": "sglang", **self.help.to_dict(), "tensor_parallel_size": s.tensor_parallel_size,
                "gpu_memory_fraction": s.gpu_memory_fraction,
                "algorithms": self.help.choices("--speculative-algorithm"),
                "acceptance_sources": ["derived from /get_server_info avg_spec_accept_length"]}
