"""Float training, QAT fine-tune with KD, evaluation, and the parent cache."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hwprune.compress.quant import to_brevitas
from hwprune.compress.train import (
    evaluate,
    finetune_qat,
    kd_loss,
    parent_cache_key,
    train_float,
    train_parent,
)
from hwprune.data import load_dataset
from hwprune.data.base import Split
from hwprune.errors import ConfigError
from hwprune.models import build_model, get_spec


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small models on a shared 2-core machine: one intra-op thread is fastest."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


@pytest.fixture(scope="module")
def parent(digits):
    torch.manual_seed(0)
    model = build_model(get_spec("mlp-digits"))
    train_float(model, digits, epochs=15, seed=0)
    return model


def test_evaluate_counts_top1() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(2, 2, bias=False))
    model[1].weight.data = torch.eye(2)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0]]).view(4, 1, 1, 2)
    assert evaluate(model, Split(x, torch.tensor([0, 1, 1, 1]))) == 0.75
    assert evaluate(model, Split(x[:0], torch.zeros(0, dtype=torch.long))) == 0.0


def test_float_training_learns_and_is_deterministic(digits, parent) -> None:
    acc = evaluate(parent, digits.test)
    assert acc >= 0.93, acc
    a = build_model(get_spec("mlp-digits"))
    b = build_model(get_spec("mlp-digits"))
    b.load_state_dict(a.state_dict())
    ha = train_float(a, digits, epochs=2, seed=3, optimizer="sgd", lr=0.05)
    hb = train_float(b, digits, epochs=2, seed=3, optimizer="sgd", lr=0.05)
    assert ha.epochs[-1].loss == hb.epochs[-1].loss
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert ha.epochs[-1].lr < ha.epochs[0].lr  # cosine schedule decays
    assert not a.training


def test_bn_l1_sparsifies_gammas(digits) -> None:
    torch.manual_seed(0)
    plain, slim = build_model(get_spec("mlp-digits")), build_model(get_spec("mlp-digits"))
    slim.load_state_dict(plain.state_dict())
    train_float(plain, digits, epochs=6, seed=0)
    train_float(slim, digits, epochs=6, seed=0, bn_l1=1e-2)

    def gamma_l1(m: nn.Module) -> float:
        return sum(
            float(b.weight.detach().abs().sum())
            for b in m.modules()
            if isinstance(b, nn.BatchNorm1d)
        )

    assert gamma_l1(slim) < 0.8 * gamma_l1(plain)
    assert evaluate(slim, digits.val) > 0.9


def test_kd_loss() -> None:
    z = torch.randn(6, 10)
    y = torch.randint(0, 10, (6,))
    assert float(kd_loss(z, z, y, 1.0, 3.0)) == pytest.approx(0.0, abs=1e-6)
    ce = nn.functional.cross_entropy(z, y)
    assert torch.allclose(kd_loss(z, torch.randn(6, 10), y, 0.0, 3.0), ce)
    assert float(kd_loss(z, -z, y, 1.0, 3.0)) > 0


def test_qat_kd_mlp_digits_4bit_reaches_90_percent(digits, parent) -> None:
    """Must-show: 4-bit weights and activations, KD from the float parent, >= 90% test top-1."""
    torch.manual_seed(0)
    q = to_brevitas(parent, [4] * 4, [4, 4, 4, None], digits.input_scale)
    hist = finetune_qat(
        q, parent, digits, epochs=8, kd_alpha=0.5, kd_temperature=4.0, patience=4, seed=0
    )
    acc = evaluate(q, digits.test)
    assert acc >= 0.90, acc
    assert hist.best_val_acc == max(e.val_acc for e in hist.epochs)
    # the best-validation weights are the ones kept
    assert evaluate(q, digits.val) == hist.best_val_acc


def test_finetune_callback_and_patience(digits, parent) -> None:
    seen = []

    def stop_after_two(epoch: int, val_acc: float) -> bool:
        seen.append((epoch, val_acc))
        return epoch < 1

    q = to_brevitas(parent, [2] * 4, [2, 2, 2, None], digits.input_scale)
    hist = finetune_qat(q, parent, digits, epochs=6, on_epoch=stop_after_two)
    assert [e for e, _ in seen] == [0, 1] and hist.stopped_early and len(hist.epochs) == 2
    assert [a for _, a in seen] == [e.val_acc for e in hist.epochs]
    # patience: a zero learning-rate-like run never improves after epoch 0
    q2 = to_brevitas(parent, [2] * 4, [2, 2, 2, None], digits.input_scale)
    hist2 = finetune_qat(q2, None, digits, epochs=20, patience=1, lr=1e-12)
    assert hist2.stopped_early and len(hist2.epochs) < 20
    with pytest.raises(ConfigError):
        finetune_qat(q2, parent, digits, epochs=1, kd_alpha=2.0)
    with pytest.raises(ConfigError):
        finetune_qat(q2, parent, digits, epochs=1, patience=0)


def test_binary_network_trains(digits, parent) -> None:
    q = to_brevitas(parent, [1, 1, 1, 8], [1, 1, 1, None], digits.input_scale)
    finetune_qat(q, parent, digits, epochs=3)
    assert evaluate(q, digits.test) > 0.5  # far above chance (0.1) with +-1 weights and acts


def test_train_parent_cache(tmp_path, digits, monkeypatch) -> None:
    spec = get_spec("mlp-digits", width_mult=0.5)
    a = train_parent(spec, digits, seed=1, epochs=2, cache_dir=tmp_path)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".pt" and not a.cache_hit
    calls = []
    import hwprune.compress.train as train_mod

    real = train_mod.train_float
    monkeypatch.setattr(train_mod, "train_float", lambda *a, **k: calls.append(1) or real(*a, **k))
    b = train_parent(spec, digits, seed=1, epochs=2, cache_dir=tmp_path)
    assert b.cache_hit and calls == []
    x = digits.val.x
    assert torch.equal(a(x), b(x))
    # anything in the key changes the file
    assert parent_cache_key(spec, digits, 1, 2) != parent_cache_key(spec, digits, 1, 3)
    assert parent_cache_key(spec, digits, 1, 2) != parent_cache_key(
        spec.with_widths([8, 8, 8]), digits, 1, 2
    )
    other_split = load_dataset("digits", seed=5)
    assert parent_cache_key(spec, digits, 1, 2) != parent_cache_key(spec, other_split, 1, 2)
    c = train_parent(spec, digits, seed=2, epochs=2, cache_dir=tmp_path)
    assert not c.cache_hit and len(list(tmp_path.iterdir())) == 2
    assert calls == [1]
    # a corrupt cache file is retrained and replaced, no temp files left
    files[0].write_bytes(b"garbage")
    d = train_parent(spec, digits, seed=1, epochs=2, cache_dir=tmp_path)
    assert not d.cache_hit and torch.equal(d(x), a(x))  # seeded: same weights again
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".pt", ".pt"]


def test_train_parent_user_module(tmp_path, digits) -> None:
    torch.manual_seed(0)
    user = nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, 16, bias=False),
        nn.BatchNorm1d(16),
        nn.ReLU(),
        nn.Linear(16, 10, bias=False),
    )
    before = {k: v.clone() for k, v in user.state_dict().items()}
    m = train_parent(user, digits, seed=0, epochs=2, cache_dir=tmp_path)
    assert evaluate(m, digits.val) > 0.5
    assert all(torch.equal(v, before[k]) for k, v in user.state_dict().items())
    assert train_parent(user, digits, seed=0, epochs=2, cache_dir=tmp_path).cache_hit


def test_qat_state_dict_round_trip_and_second_finetune(digits, parent) -> None:
    from hwprune.compress.quant import needs_calibration

    q = to_brevitas(parent, [4, 3, 2, 4], [4, 2, 1, None], digits.input_scale)
    finetune_qat(q, parent, digits, epochs=2)
    assert not needs_calibration(q)
    x = digits.test.x
    # a fresh model with the same bits loads the fine-tuned state exactly (checkpoints work)
    fresh = to_brevitas(parent, [4, 3, 2, 4], [4, 2, 1, None], digits.input_scale)
    fresh.load_state_dict(q.state_dict())
    fresh.eval()
    assert not needs_calibration(fresh)
    with torch.no_grad():
        assert torch.equal(fresh(x), q(x))
    # a second fine-tune continues from the learned scales (no re-calibration)
    acc1 = evaluate(q, digits.val)
    scales = [float(m.act_quant.scale()) for m in q.modules() if type(m).__name__ == "QuantReLU"]
    finetune_qat(q, parent, digits, epochs=1, lr=1e-12)
    scales2 = [float(m.act_quant.scale()) for m in q.modules() if type(m).__name__ == "QuantReLU"]
    assert scales == pytest.approx(scales2, rel=1e-6)
    assert evaluate(q, digits.val) >= acc1 - 0.02


def test_finetune_on_an_explicit_device_matches_the_default(digits, parent) -> None:
    """``device=`` moves student and teacher for training and hands both back on the CPU."""
    q_default = to_brevitas(parent, [4] * 4, [4, 4, 4, None], digits.input_scale)
    q_device = to_brevitas(parent, [4] * 4, [4, 4, 4, None], digits.input_scale)
    h1 = finetune_qat(q_default, parent, digits, epochs=2, seed=3)
    h2 = finetune_qat(q_device, parent, digits, epochs=2, seed=3, device="cpu")
    assert [e.val_acc for e in h1.epochs] == [e.val_acc for e in h2.epochs]
    assert all(p.device.type == "cpu" for p in q_device.parameters())
    assert all(p.device.type == "cpu" for p in parent.parameters())
    assert evaluate(q_device, digits.test, device="cpu") == evaluate(q_default, digits.test)


def test_residual_parent_trains_prunes_per_group_and_finetunes(digits) -> None:
    """ResNet-8 (quarter width) on digits: the float parent learns, pruning one count per coupled
    group and a 4-bit QAT fine-tune with KD keep it well above chance."""
    from hwprune.compress.prune import prune_to

    torch.manual_seed(0)
    spec = get_spec("resnet8", (1, 8, 8), width_mult=0.25)
    parent = build_model(spec)
    train_float(parent, digits, epochs=4, seed=0)
    assert evaluate(parent, digits.val) > 0.8
    keep = spec.widths_from_groups([max(2, g.width // 2) for g in spec.channel_groups()])
    child = prune_to(parent, keep, digits.train.x[:1], data=digits)
    n = spec.num_quant_layers
    q = to_brevitas(child, [4] * n, [4] * (n - 1) + [None], 16.0)
    finetune_qat(q, parent, digits, epochs=2, seed=0)
    assert evaluate(q, digits.val) > 0.4
