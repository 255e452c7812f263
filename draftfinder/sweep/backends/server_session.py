"""The session of a cell whose server the sweep started (``vllm``, ``sglang``): requests through the ``openai``
backend's streamed request path (:class:`~.openai.OpenAISession`: timings, token counts, and vLLM's
``/metrics`` deltas), the server's own acceptance counters, and the server stopped on :meth:`close`.

``command`` is the exact server command line of the cell (recorded in the results); the request path is in
each generation's ``extra["request"]``.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional

from draftfinder.measure.prompts import Prompt
from draftfinder.sweep.backends.base import Generation
from draftfinder.sweep.backends.exit_status import exit_description, signal_meaning
from draftfinder.sweep.backends.managed_server import ServerProcess, last_line, start_server
from draftfinder.sweep.backends.openai import OpenAISession
from draftfinder.sweep.config import Entry, Settings

# (session, generation) → None: fills drafted / accepted / speculative from the server's own counters
Acceptance = Callable[["ServerSession", Generation], None]


class ServerSession:
    """One started server serving one cell."""

    def __init__(self, server: ServerProcess, target: Entry, draft: Optional[Entry], settings: Settings, *,
                 acceptance: Optional[Acceptance] = None, served_model: Optional[str] = None):
        self.server = server
        self.draft = draft
        self.command: List[str] = list(server.argv)
        self.acceptance = acceptance
        endpoint = Entry(label=target.label, url=server.base_url + "/v1", model=served_model)
        self.client = OpenAISession(endpoint, draft_cell=draft is not None, api_key=None, key_env=None,
                                    timeout_s=settings.timeout_s, task=settings.task)
        self.state: dict = {}                    # per-session memory of an acceptance reader (e.g. SGLang tallies)

    @property
    def pid(self) -> Optional[int]:
        return self.server.pid

    @property
    def port(self) -> int:
        return self.server.port

    def generate(self, prompt: Prompt, settings: Settings) -> Generation:
        from draftfinder.errors import EndpointError

        if not self.server.alive():
            raise EndpointError(f"the {self.server.name} of this cell is not running",
                                hint=f"see its log: {self.server.log_path}")
        try:
            g = self.client.generate(prompt, settings)
        except EndpointError as err:
            code = self._death()
            if code is None:
                raise
            self.server.failed = True            # it died mid-request: say how, keep its log
            raise EndpointError(f"{self.server.name} {exit_description(code)} during a request: "
                                f"{last_line(self.server.log_path)}",
                                hint=f"{(signal_meaning(code) if code == -9 else None) or 'check the server log'}; log: {self.server.log_path}"
                                ) from err
        g.extra["request"] = list(self.client.command)
        g.extra["port"] = self.server.port
        if self.acceptance is not None:
            self.acceptance(self, g)
        return g

    def _death(self) -> Optional[int]:
        """The server's exit code if it died, else None. A dropped connection arrives a moment before the kernel
        reports the exit, hence a short wait (``DEATH_WAIT_S``, as in the llamacpp backend)."""
        import subprocess

        from draftfinder.sweep.backends.llamacpp import DEATH_WAIT_S

        if self.server.proc is None:
            return None
        try:
            return self.server.proc.wait(timeout=DEATH_WAIT_S)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        """Stop the server (its whole process group); idempotent."""
        self.server.stop()

    def __enter__(self) -> "ServerSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class ManagedServerBackend:
    """The shared part of the backends that start a server per cell (``vllm``, ``sglang``): the installed
    server's probed ``--help`` (``find_help``), the cell's command (``build_command``: config errors are raised
    with port 0 before anything starts), the start loop, and a :class:`ServerSession` whose acceptance figures
    ``acceptance`` fills. Subclasses set ``name``, ``server_name`` and those three to their module's functions
    (``staticmethod``)."""

    name = ""
    server_name = ""
    find_help: Callable[[Optional[str]], Any]           # server_bin → the probed ServerHelp
    build_command: Callable[..., List[str]]             # (help, target, draft, k, settings, port) → argv

    def __init__(self, cfg: Any, options: Any):
        self.cfg, self.options = cfg, dict(options or {})
        self.help = self.find_help(cfg.settings.server_bin)

    def command(self, target: Entry, draft: Optional[Entry], k: Optional[int], settings: Settings,
                port: int) -> List[str]:
        return self.build_command(self.help, target, draft, k, settings, port)

    @staticmethod
    def acceptance(session: "ServerSession", g: Generation) -> None:
        """Fill ``g``'s draft figures from what the server exposes (default: nothing)."""

    def open(self, target: Entry, draft: Optional[Entry], k: Optional[int], settings: Settings) -> "ServerSession":
        self.command(target, draft, k, settings, 0)                      # config errors before any start
        server = start_server(lambda port: self.command(target, draft, k, settings, port), name=self.server_name,
                              preferred_port=settings.port, timeout_s=settings.timeout_s)
        return ServerSession(server, target, draft, settings, acceptance=self.acceptance)
