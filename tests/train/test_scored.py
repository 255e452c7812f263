"""draftfinder.train.scored: scoring batches kept on disk while the teacher data is scored, on the real
zoo:smollm2-135m — a run stopped after its first batch resumes with the rest and gives the uninterrupted data."""

from __future__ import annotations

import pytest
import torch

from draftfinder.train.scored import ScoredBatches, batch_key

SEQS = [[1, 504, 3, 99], [7, 8, 9, 10, 11, 12], [4, 5], [600, 601, 602, 603, 604, 605, 606, 607]]


def test_the_key_depends_on_the_sequences_k_and_layers():
    base = batch_key(SEQS[:2], 5, (2,))
    assert base == batch_key([list(s) for s in SEQS[:2]], 5, (2,))
    assert len({base, batch_key(SEQS[:2], 6, (2,)), batch_key(SEQS[:2], 5, ()), batch_key(SEQS[:2], 5, (3,)),
                batch_key(SEQS[1::-1], 5, (2,)), batch_key([[1, 504, 39, 9]] + SEQS[1:2], 5, (2,))}) == 6


def test_without_a_folder_nothing_is_kept(tmp_path):
    kept = ScoredBatches(None, 5, ())
    kept.put(SEQS[:1], [(torch.zeros(4, 5), torch.zeros(4, 5), None)])
    assert kept.get(SEQS[:1]) is None and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_stopped_scoring_resumes_with_the_rest_and_equals_an_uninterrupted_one(smollm2, tmp_path):
    from draftfinder.train.teacher import TeacherInterrupted, score_sequences

    layers = (2, 15)
    whole = score_sequences(smollm2, SEQS, k=5, hidden_layers=layers, batch_tokens=12)

    folder = tmp_path / "scored"
    polls = []

    def stop_after_first_batch() -> bool:
        polls.append(1)
        return len(polls) > 1

    with pytest.raises(TeacherInterrupted) as err:
        score_sequences(smollm2, SEQS, k=5, hidden_layers=layers, batch_tokens=12,
                        should_stop=stop_after_first_batch, scored=ScoredBatches(folder, 5, layers))
    assert "scored so far are kept" in str(err.value)
    assert len(list(folder.glob("*.pt"))) == 1

    forwards = []
    hook = smollm2.model.model.register_forward_hook(lambda *a: forwards.append(1))
    try:
        kept = ScoredBatches(folder, 5, layers)
        again = score_sequences(smollm2, SEQS, k=5, hidden_layers=layers, batch_tokens=12, scored=kept)
    finally:
        hook.remove()
    n_batches = len(list(folder.glob("*.pt")))
    assert n_batches == 3 and len(forwards) == n_batches - 1          # the kept batch was not scored again
    assert kept.reused_tokens == 2 + 4                                  # the first batch: the two shortest
    for part_whole, part_again in zip(whole, again):
        assert all(torch.equal(a, b) for a, b in zip(part_whole, part_again))

    # an unreadable batch file is scored again, not trusted
    for f in folder.glob("*.pt"):
        f.write_bytes(b"not a torch file")
    kept = ScoredBatches(folder, 5, layers)
    third = score_sequences(smollm2, SEQS, k=5, hidden_layers=layers, batch_tokens=12, scored=kept)
    assert kept.reused_tokens == 0 and all(torch.equal(a, b) for a, b in zip(whole[0], third[0]))
