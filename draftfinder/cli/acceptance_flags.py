"""The acceptance flags of ``estimate``: ``--acceptance A --acceptance-kind alpha|rate|al --acceptance-k K
[--acceptance-drafted L] [--measured | --published]``, and the three-kinds lines of its output.

The value's kind says which of the three "acceptance" numbers it is (:mod:`draftfinder.predict.acceptance_kinds`):
per-token α (Leviathan), accepted ÷ drafted (llama.cpp ``draft_n_accepted / draft_n``, draftbench) or
acceptance length (vLLM/SGLang/Spec-Bench, bonus token included). rate and AL depend on the draft length they
were measured at, so they need ``--acceptance-k``; engines that draft fewer tokens than their cap
(llama.cpp ``--draft-p-min``, n-gram lookups) should also give ``--acceptance-drafted``, the mean tokens drafted
per target pass. The estimate then runs on α and prints all three kinds at the recommended K, each labelled.
"""

from __future__ import annotations

import argparse
from typing import Any, Dict, List, Optional, Tuple

from draftfinder.constants import ESTIMATED, MEASURED, PUBLISHED


def add_flags(group: Any) -> None:
    """``--acceptance-kind``, ``--acceptance-k``, ``--acceptance-drafted``, ``--published`` (``--acceptance``
    and ``--measured`` are the command's own)."""
    group.add_argument("--acceptance-kind", default="alpha", choices=["alpha", "rate", "al"],
                       help="what --acceptance is: alpha = per-token α (Leviathan et al. 2023, default); rate = "
                            "accepted ÷ drafted tokens (llama.cpp draft_n_accepted/draft_n, draftbench); al = "
                            "tokens per target pass including the bonus token (vLLM/SGLang/Spec-Bench acceptance "
                            "length)")
    group.add_argument("--acceptance-k", metavar="K",
                       help="the K (tokens drafted per step: --draft-max, num_speculative_tokens) the rate or al "
                            "value was measured at; required for them")
    group.add_argument("--acceptance-drafted", metavar="L",
                       help="for engines that draft fewer than K tokens (llama.cpp --draft-p-min, n-gram): the "
                            "mean tokens drafted per target pass when the rate or al value was measured")
    group.add_argument("--published", action="store_true",
                       help="label the --acceptance value as published (a figure measured by someone else)")


def given_source(args: argparse.Namespace) -> Tuple[str, str]:
    """(source, method) of the value typed after ``--acceptance``."""
    if getattr(args, "published", False):
        return PUBLISHED, "given with --acceptance --published"
    if getattr(args, "measured", False):
        return MEASURED, "given with --acceptance --measured"
    return ESTIMATED, "given with --acceptance"


def parse(args: argparse.Namespace) -> Optional[Tuple[float, Any, str, str]]:
    """``--acceptance`` and its kind → ``(α, the given figure, α's source, α's method)``; None without one.

    α given: its own source (measured / published / given). rate or AL given: α comes from inverting the i.i.d.
    model at the K (and drafted length) it was measured at, so α is *estimated* from the given figure.
    """
    from draftfinder.errors import UsageError
    from draftfinder.predict import acceptance_kinds as ak
    from draftfinder.ranges import parse_number

    kind = ak.check_kind(getattr(args, "acceptance_kind", "alpha") or "alpha")
    k_text, l_text = getattr(args, "acceptance_k", None), getattr(args, "acceptance_drafted", None)
    if getattr(args, "measured", False) and getattr(args, "published", False):
        raise UsageError("--measured and --published both label the --acceptance value", hint="keep one of them")
    if args.acceptance is None:
        typed = [f for f, v in (("--acceptance-k", k_text), ("--acceptance-drafted", l_text),
                                ("--published", getattr(args, "published", False))) if v]
        if kind != "alpha":
            typed.insert(0, "--acceptance-kind")
        if typed:
            one = len(typed) == 1
            raise UsageError(f"{', '.join(typed)} describe{'s' if one else ''} an --acceptance value, but none was "
                             "given", hint=f"add --acceptance A, or drop {'it' if one else 'them'} to use the prior")
        return None
    if kind == "alpha" and (k_text is not None or l_text is not None):
        raise UsageError("--acceptance-k and --acceptance-drafted describe a rate or al value; α does not depend on K",
                         hint="drop them, or add --acceptance-kind rate|al")
    if kind != "alpha" and k_text is None:
        raise UsageError(f"--acceptance-kind {kind} needs the K the value was measured at",
                         hint="add --acceptance-k K (tokens drafted per step when it was measured, e.g. --draft-max)")
    k = None if k_text is None else parse_number(k_text, "--acceptance-k", kind=int, low=1,
                                                 high=ak.MAX_K_ACCEPTANCE, hint="e.g. --acceptance-k 5")
    drafted = None
    if l_text is not None:
        drafted = parse_number(l_text, "--acceptance-drafted", low=0, high=k, low_open=True,
                               unit=f"tokens per target pass, at most --acceptance-k {k}",
                               hint="drafted tokens ÷ target passes, e.g. llama-server draft_n ÷ steps that drafted")
    value = ak.parse_acceptance(args.acceptance, kind, k, mean_drafted=drafted)
    source, method = given_source(args)
    alpha, given, how = ak.alpha_from_given(value, kind, k, source=source, method=method, mean_drafted=drafted)
    return alpha, given, (source if kind == "alpha" else ESTIMATED), how


def views(alpha: float, k: int, source: str, method: str, given: Any = None) -> Dict[str, Any]:
    """The ``acceptance_kinds`` payload: α, accepted ÷ drafted and AL at K, each labelled, plus the given figure."""
    from draftfinder.predict.acceptance_kinds import views_at_k

    return views_at_k(min(max(alpha, 0.0), 1.0), k, source=source, method=method, given=given).to_dict()


def table_lines(d: Optional[Dict[str, Any]], indent: str = "             ") -> List[str]:
    """accepted ÷ drafted and AL at K (α has its own line), and the given figure when it was not α."""
    if not d:
        return []
    k, r, al = d["k"], d["rate"], d["al"]
    lines = [f"{indent}accepted/drafted {r['value']:.3f} at K={k}  [{r['source']}: {r['method']}]",
             f"{indent}acceptance length {al['value']:.3f} tokens/pass at K={k}  [{al['source']}: {al['method']}]"]
    g = d.get("given")
    if g and g["kind"] != "alpha":
        name = {"rate": "accepted/drafted", "al": "acceptance length"}[g["kind"]]
        at = f"K={g['k']}" + (f", {g['mean_drafted']:g} drafted per pass" if g.get("mean_drafted") is not None else "")
        lines.append(f"{indent}given: {name} {g['value']:g} at {at}  [{g['source']}: {g['method']}]")
    return lines


__all__ = ["add_flags", "given_source", "parse", "views", "table_lines"]
