"""Compatibility of a draft with a target: tokenizer facts, vocabulary diff, named checks, each engine's rules, test strings."""
