"""Stand-in for the ``sglang`` package (tests only): ``python -m sglang.launch_server`` is
:mod:`tests.standins.sglang_pkg.sglang.launch_server`. Put ``tests/standins/sglang_pkg`` on PYTHONPATH."""

__version__ = "0.5.4.standin"
