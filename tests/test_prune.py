"""Structured channel pruning (torch-pruning DepGraph) of chain, residual and depthwise models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hwprune.compress.prune import (
    CRITERIA,
    GroupImportance,
    channel_groups,
    channel_scores,
    make_importance,
    prune_to,
)
from hwprune.data import load_dataset
from hwprune.errors import ConfigError
from hwprune.models import build_model, get_spec, model_layers, prunable_layers


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small models on a shared 2-core machine: one intra-op thread is fastest."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give BatchNorms non-trivial statistics so that channels differ."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.weight.data = torch.rand(n, generator=g) + 0.5
            m.bias.data = torch.randn(n, generator=g) * 0.1
            m.running_mean = torch.randn(n, generator=g) * 0.1
            m.running_var = torch.rand(n, generator=g) + 0.5
    return model.eval()


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("mlp-digits", (1, 8, 8)),
        ("tfc", (1, 28, 28)),
        ("cnn-digits", (1, 8, 8)),
        ("cnv", (3, 32, 32)),
        ("cnv", (1, 28, 28)),
    ],
)
def test_full_width_is_identical_and_shapes_consistent(name, shape) -> None:
    torch.manual_seed(0)
    spec = get_spec(name, input_shape=shape, width_mult=0.25)
    parent = _randomize_bn(build_model(spec))
    x = torch.rand(4, *shape)
    example = x[:1]
    same = prune_to(parent, spec.prunable_widths(), example)
    assert same is not parent
    assert torch.equal(same(x), parent(x))
    keep = [max(1, (3 * w) // 4 - 1) for w in spec.prunable_widths()]
    ref_before = {k: v.clone() for k, v in parent.state_dict().items()}
    child = prune_to(parent, keep, example)
    # the parent is untouched
    assert all(torch.equal(v, ref_before[k]) for k, v in parent.state_dict().items())
    # shapes are consistent through BN, conv->conv and flatten->Linear
    assert child(x).shape == (4, spec.num_classes)
    assert child.spec == spec.with_widths(keep)
    assert model_layers(child, shape) == list(spec.with_widths(keep).layers)
    for layer, (_, m) in zip(keep, prunable_layers(child), strict=True):
        assert (m.out_channels if isinstance(m, nn.Conv2d) else m.out_features) == layer
    bns = [
        m.num_features for m in child.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))
    ]
    assert bns == keep
    # the head is never pruned
    assert child.head.out_features == spec.num_classes


def test_pruning_dead_channels_keeps_function_through_flatten() -> None:
    """Channels whose BN output is 0 (gamma = beta = 0) contribute nothing; the 'bn' criterion
    must remove exactly those, and the right input features of the fc after Flatten."""
    torch.manual_seed(0)
    spec = get_spec("cnn-digits")  # conv3 -> pool -> flatten -> fc5
    parent = _randomize_bn(build_model(spec))
    dead = [1, 4, 5, 17, 30]
    with torch.no_grad():
        parent.bn3.weight[dead] = 0.0
        parent.bn3.bias[dead] = 0.0
        parent.bn0.weight[[0, 7]] = 0.0
        parent.bn0.bias[[0, 7]] = -1.0  # relu(negative) = 0 as well
    keep = spec.prunable_widths()
    keep[0] -= 2
    keep[2] -= len(dead)
    x = torch.rand(8, 1, 8, 8)
    child = prune_to(parent, keep, x[:1], criterion="bn")
    torch.testing.assert_close(child(x), parent(x), rtol=1e-5, atol=1e-5)
    # the fc after flatten lost 2x2 input features per removed channel
    assert child.fc5.in_features == (32 - len(dead)) * 4
    # whereas pruning live channels changes the output
    keep[2] -= 1
    assert not torch.allclose(prune_to(parent, keep, x[:1], criterion="bn")(x), parent(x))


def test_l1_keeps_largest_filters() -> None:
    parent = build_model(get_spec("mlp-digits")).eval()
    norms = parent.fc0.weight.abs().sum(1)
    child = prune_to(parent, [10, 64, 64], torch.zeros(1, 1, 8, 8))
    kept = child.fc0.weight.abs().sum(1)
    assert torch.allclose(kept.sort().values, norms.sort().values[-10:])
    # kept channels stay in their original order
    idx = [int((parent.fc0.weight == row).all(1).nonzero()) for row in child.fc0.weight]
    assert idx == sorted(idx)


@pytest.mark.parametrize("criterion", CRITERIA)
def test_every_criterion_runs(criterion, digits) -> None:
    torch.manual_seed(0)
    parent = _randomize_bn(build_model(get_spec("cnn-digits")))
    scores = channel_scores(parent, criterion, digits, num_batches=2, batch_size=64)
    assert [len(s) for s in scores] == [16, 16, 32, 64]
    assert all(torch.isfinite(s).all() and (s >= 0).all() for s in scores)
    assert all(s.std() > 0 for s in scores)  # the criterion distinguishes channels
    child = prune_to(parent, [8, 12, 16, 20], digits.train.x[:1], criterion=criterion, data=digits)
    assert child(digits.val.x[:5]).shape == (5, 10)


def test_data_driven_criteria_see_the_data(digits) -> None:
    torch.manual_seed(0)
    parent = build_model(get_spec("mlp-digits")).eval()
    # activation: a channel that never fires scores 0
    with torch.no_grad():
        parent.bn0.bias[3] = -100.0
    act = channel_scores(parent, "activation", digits)[0]
    assert act[3] == 0 and act.min() == 0 and act.max() > 0
    tay = channel_scores(parent, "taylor", digits)
    assert all(s.sum() > 0 for s in tay)


def test_errors(digits) -> None:
    parent = build_model(get_spec("mlp-digits"))
    ex = torch.zeros(1, 1, 8, 8)
    with pytest.raises(ConfigError, match="3 prunable"):
        prune_to(parent, [8, 8], ex)
    with pytest.raises(ConfigError, match="cannot keep"):
        prune_to(parent, [65, 8, 8], ex)
    with pytest.raises(ConfigError, match="cannot keep"):
        prune_to(parent, [0, 8, 8], ex)
    with pytest.raises(ConfigError, match="unknown pruning criterion"):
        prune_to(parent, [8, 8, 8], ex, criterion="random")
    with pytest.raises(ConfigError, match="needs data"):
        prune_to(parent, [8, 8, 8], ex, criterion="taylor")
    no_bn = nn.Sequential(nn.Flatten(), nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 10))
    with pytest.raises(ConfigError, match="BatchNorm"):
        prune_to(no_bn, [4], ex, criterion="bn")
    # user models without BN prune fine with l1
    assert prune_to(no_bn, [4], ex)(ex).shape == (1, 10)


@pytest.mark.parametrize("name", ["resnet8", "dscnn"])
def test_residual_and_depthwise_groups(name) -> None:
    """Residual adds and depthwise convs couple channels; one count per group prunes them."""
    torch.manual_seed(0)
    spec = get_spec(name, (1, 8, 8), width_mult=0.5)
    parent = _randomize_bn(build_model(spec))
    x = torch.rand(4, 1, 8, 8)
    groups = channel_groups(parent, x[:1])
    assert [g.layers for g in groups] == [g.layers for g in spec.channel_groups()]
    assert [g.names for g in groups] == [g.names for g in spec.channel_groups()]
    assert torch.equal(prune_to(parent, spec.prunable_widths(), x[:1])(x), parent(x))
    keep = spec.widths_from_groups([max(1, g.width // 2 - 1) for g in groups])
    for criterion in ("l1", "bn"):
        child = prune_to(parent, keep, x[:1], criterion=criterion)
        assert child(x).shape == (4, 10)
        assert child.spec == spec.with_widths(keep)
        want = {k: v.shape for k, v in build_model(child.spec).state_dict().items()}
        assert {k: v.shape for k, v in child.state_dict().items()} == want
        assert child.head.out_features == 10  # the head is never pruned
        for m in child.modules():
            if isinstance(m, nn.Conv2d) and m.groups > 1:  # depthwise follows its producer
                assert m.groups == m.in_channels == m.out_channels
    bad = list(keep)
    bad[groups[0].layers[0]] += 1
    with pytest.raises(ConfigError, match="coupled"):
        prune_to(parent, bad, x[:1])


def test_residual_group_drops_dead_channels_exactly() -> None:
    """A channel dead in both convs that meet in an add scores 0 for 'bn' on the whole group;
    removing it from the stem, the add and the next block's input keeps the function."""
    torch.manual_seed(0)
    spec = get_spec("resnet8", (1, 8, 8), width_mult=0.5)
    parent = _randomize_bn(build_model(spec))
    dead = [2, 5]
    with torch.no_grad():
        for bn in (parent.bn0, parent.res1.body.bn1):
            bn.weight[dead] = 0.0
            bn.bias[dead] = 0.0
    groups = spec.channel_groups()
    assert groups[0].names == ("conv0", "res1.body.conv1")
    counts = [g.width for g in groups]
    counts[0] -= len(dead)
    x = torch.rand(8, 1, 8, 8)
    child = prune_to(parent, spec.widths_from_groups(counts), x[:1], criterion="bn")
    torch.testing.assert_close(child(x), parent(x), rtol=1e-5, atol=1e-5)
    assert child.res2.shortcut.conv0.in_channels == groups[0].width - len(dead)


def test_importance_objects_plug_into_the_pruner() -> None:
    """Each criterion is a torch-pruning Importance scored per group; a new one plugs in."""
    import torch_pruning as tp

    for criterion in CRITERIA:
        imp = make_importance(criterion, data=(torch.rand(4, 1, 8, 8), torch.arange(4)))
        assert isinstance(imp, tp.importance.Importance)

    class Reversed(GroupImportance):
        """Keeps the channels with the SMALLEST L1 norm."""

        def module_scores(self, module):
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                return -module.weight.detach().abs().sum(1)
            return None

    parent = build_model(get_spec("mlp-digits")).eval()
    norms = parent.fc0.weight.abs().sum(1)
    child = prune_to(parent, [10, 64, 64], torch.zeros(1, 1, 8, 8), criterion=Reversed())
    kept = child.fc0.weight.abs().sum(1)
    assert torch.allclose(kept.sort().values, norms.sort().values[:10])
