"""``draftfinder chat``: an interactive side-by-side comparison of decoding strategies (issue 5; seed 004,
the romsto/Speculative-Decoding ``infer.py`` CLI) on draftfinder's engine.

- ``session.py`` — the state (settings, conversation, drafters) and the slash commands; ``handle(line)``
  returns an :class:`~draftfinder.chat.session.Output`, never prints.
- ``render.py``  — text of an ``Output``: the results table of a prompt, the token view of ``/debug``
  (ANSI colours, or plain markings when colour is off), the startup banner.
- ``repl.py``    — the terminal loop: readline (tab completion, history file), Ctrl-C cancels a generation.
"""
