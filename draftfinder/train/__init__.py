"""``draftfinder train``: distil a draft model from the target (issue 12)."""
