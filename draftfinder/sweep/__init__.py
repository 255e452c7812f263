"""``draftfinder sweep``: measured target × draft × K sweeps on real engines, resumable, with offline charts.

- :mod:`.config`: the config file (draftbench's JSON + ``settings.k`` + drafter types; YAML too)
- :mod:`.results`: the results file (atomic after every cell; resume; draftbench's fields first)
- :mod:`.backends`: engine / hf / llamacpp / openai behind one interface
- :mod:`.runner`: the sweep (plan, results file, resume, one cell's repetitions, failures, predictions)
- :mod:`.executors`: who runs the cells — ``local`` (one after another here) or ``ray`` (Ray tasks on a cluster)
- :mod:`.charts`: one self-contained HTML file (plotly.js embedded)
- :mod:`.recommend`: the "target speed → draft" table from the user's own results
"""
