"""Distillation losses (train/losses.py) against their definitions: with the teacher's top-k covering the whole
vocabulary, fkl / rkl / tvd equal D_KL(p‖q), D_KL(q‖p) and ½Σ|p−q| computed directly; all are 0 at q = p."""

import pytest
import torch

from draftfinder.train import losses as L


def _pair(n=5, v=11, seed=0):
    g = torch.Generator().manual_seed(seed)
    student = torch.randn(n, v, generator=g)
    teacher = torch.softmax(torch.randn(n, v, generator=g) * 2, dim=-1)
    p, ids = teacher.topk(v, dim=-1)                        # k = V: the whole distribution
    return student, teacher, ids.to(torch.int32), p.to(torch.float16)


def test_full_topk_matches_the_definitions():
    student, teacher, ids, probs = _pair()
    p = probs.float()
    p = p / p.sum(-1, keepdim=True)
    pfull = torch.zeros_like(teacher).scatter(-1, ids.long(), p)
    q = torch.softmax(student, -1)
    fkl = (pfull * (pfull.log() - q.log())).sum(-1).mean()
    rkl = (q * (q.log() - pfull.log())).sum(-1).mean()
    tvd = 0.5 * (pfull - q).abs().sum(-1).mean()
    assert L.forward_kl(student, ids, probs).item() == pytest.approx(fkl.item(), rel=1e-5)
    assert L.reverse_kl(student, ids, probs).item() == pytest.approx(rkl.item(), rel=1e-4)
    assert L.total_variation(student, ids, probs).item() == pytest.approx(tvd.item(), rel=1e-5)
    # DistillSpec's link: TVD = 1 − Σ min(p, q) = 1 − β (Leviathan et al. 2023, Cor. 3.6)
    beta = torch.minimum(pfull, q).sum(-1).mean()
    assert L.total_variation(student, ids, probs).item() == pytest.approx(1 - beta.item(), rel=1e-5)


def test_zero_when_the_student_is_the_teacher_on_its_topk():
    _, teacher, ids, probs = _pair()
    k = 4
    ids, probs = ids[:, :k], probs[:, :k]
    logits = torch.full_like(teacher, -1e4).scatter(-1, ids.long(), probs.float().log())   # q = p̃ on the top-k
    for kind in L.LOSSES:
        assert L.distillation_loss(kind, logits, ids, probs).item() == pytest.approx(0.0, abs=1e-3), kind


def test_truncated_teacher_losses_are_positive_and_penalise_mass_outside():
    student, _, ids, probs = _pair(seed=3)
    k = 3
    ids, probs = ids[:, :k], probs[:, :k]
    inside = torch.full_like(student, -20.0).scatter(-1, ids.long(), 0.0)        # all mass on the top-k
    outside = inside.clone()
    outside[:, 0] = outside[:, 0].clamp_min(0)                                   # some mass leaks to id 0 …
    for i in range(ids.shape[0]):
        if 0 in ids[i].tolist():
            outside[i] = inside[i]
    for kind in L.LOSSES:
        a = L.distillation_loss(kind, inside, ids, probs).item()
        b = L.distillation_loss(kind, student, ids, probs).item()
        assert a >= -1e-6 and b > 0, kind


def test_chunked_head_loss_equals_the_unchunked_one_with_the_same_gradients():
    g = torch.Generator().manual_seed(1)
    head = torch.nn.Linear(8, 40, bias=False)
    hidden = torch.randn(37, 8, generator=g, requires_grad=True)
    probs, ids = torch.softmax(torch.randn(37, 40, generator=g), -1).topk(6, dim=-1)
    for kind in L.LOSSES:
        full = L.distillation_loss(kind, head(hidden), ids, probs)
        gfull = torch.autograd.grad(full, [hidden, head.weight])
        chunked = L.chunked_head_loss(kind, hidden, head, ids, probs, rows=10)
        gchunk = torch.autograd.grad(chunked, [hidden, head.weight])
        assert chunked.item() == pytest.approx(full.item(), rel=1e-5), kind
        for a, b in zip(gfull, gchunk):
            assert torch.allclose(a, b, atol=1e-6), kind


def test_unknown_loss_is_refused():
    student, _, ids, probs = _pair()
    with pytest.raises(ValueError, match="fkl, rkl, tvd"):
        L.distillation_loss("mse", student, ids, probs)
