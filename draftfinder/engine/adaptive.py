"""How many tokens to draft next step (K): fixed, or the heuristic schedule of Hugging Face transformers.

The engine (``speculative.py``) calls ``schedule.next_k(current_k, n_drafted, n_accepted)`` after every
verify step and drafts up to the returned K on the next one. ``n_drafted`` is what the drafter actually
proposed (it may stop before K: an n-gram miss, a draft model's confidence stop, EOS), ``n_accepted`` how
many of those the target accepted (0 ≤ n_accepted ≤ n_drafted).

- :class:`FixedK` — K never changes (transformers' ``num_assistant_tokens_schedule="constant"``).
- :class:`HeuristicK` — transformers' ``"heuristic"`` schedule: K += 2 after a step whose drafted tokens
  were *all* accepted, K −= 1 otherwise. Source: ``transformers/generation/candidate_generator.py``,
  ``AssistedCandidateGenerator.update_candidate_strategy`` (transformers 5.x, as installed here)::

      if num_matches == len(scores[0]) - 1:        # every candidate the assistant produced matched
          self.num_assistant_tokens += 2
      else:
          self.num_assistant_tokens = max(1, self.num_assistant_tokens - 1)

  ``len(scores[0]) - 1`` is the number of candidates actually drafted, so "all accepted" is judged against
  ``n_drafted``, not against K. Departures, both named: (1) the result is clamped to ``[k_min, k_max]``
  (transformers has a floor of 1 and no ceiling); (2) a step that drafted nothing (``n_drafted == 0``, e.g.
  an n-gram miss) leaves K unchanged — transformers never reaches that case with a draft model, and
  0 of 0 "all accepted" is no evidence either way. Whether K persists across generations
  (``"heuristic"``) or restarts from the initial K (``"heuristic_transient"``) is the caller's choice: the
  schedule itself is stateless.

Draft-confidence stop (implemented in the model drafters of ``drafters.py``, documented here because it is
the other half of "how much to draft"): transformers' ``ConfidenceCriteria``
(``generation/stopping_criteria.py``) ends a draft early, before K tokens, as soon as the draft model's
probability of the token it just chose falls below ``assistant_confidence_threshold`` (default 0.4 for
assistant models): ``p = softmax(draft_logits)[chosen]; stop if p < threshold``. transformers additionally
re-fits the threshold during generation from an ROC curve of (draft probability, matched) pairs, minimising
``FPR + 3·FNR`` — an unsupervised version of DISCO (Mamou et al. 2024, "Dynamic Speculation Lookahead
Accelerates Speculative Decoding of Large Language Models", arXiv:2405.04304). A confidence stop shows up
here as ``n_drafted < current_k``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from draftfinder.errors import UsageError


def _check_k(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{what} must be a whole number ≥ 1, got {value!r}",
                         hint="K is the number of tokens drafted per step, e.g. 4")
    return value


@dataclass(frozen=True)
class FixedK:
    """K stays what it is: ``next_k`` returns ``current_k`` (transformers' "constant" schedule)."""

    name: ClassVar[str] = "fixed"

    def next_k(self, current_k: int, n_drafted: int, n_accepted: int) -> int:
        return current_k


@dataclass(frozen=True)
class HeuristicK:
    """transformers' "heuristic" schedule, clamped to ``[k_min, k_max]`` (see the module docstring).

    next_k(K, d, a) = K                          if d == 0
                    = min(k_max, K + 2)          if a == d  (every drafted token accepted)
                    = max(k_min, K − 1)          otherwise
    The result is then clamped into [k_min, k_max] (also when the incoming K lies outside it).
    """

    k_min: int = 1
    k_max: int = 16
    name: ClassVar[str] = "heuristic"

    def __post_init__(self):
        _check_k(self.k_min, "k_min")
        _check_k(self.k_max, "k_max")
        if self.k_max < self.k_min:
            raise UsageError(f"k_max ({self.k_max}) is below k_min ({self.k_min})", hint="give k_min ≤ k_max")

    def next_k(self, current_k: int, n_drafted: int, n_accepted: int) -> int:
        if n_accepted < 0 or n_drafted < 0 or n_accepted > n_drafted:
            raise ValueError(f"need 0 ≤ n_accepted ≤ n_drafted, got n_accepted={n_accepted}, n_drafted={n_drafted}")
        if n_drafted == 0:
            k = current_k
        elif n_accepted == n_drafted:
            k = current_k + 2
        else:
            k = current_k - 1
        return max(self.k_min, min(self.k_max, k))


def make_schedule(adaptive: bool, *, k_min: int = 1, k_max: int = 16):
    """``--adaptive`` → :class:`HeuristicK`; otherwise :class:`FixedK`."""
    return HeuristicK(k_min=k_min, k_max=k_max) if adaptive else FixedK()
