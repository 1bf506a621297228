"""Contract tests over every registry entry x spatial_dims x a sample of option combinations."""

import copy
import io
import itertools

import pytest
import torch
from torch import nn

from brats_unet.config import load_config
from brats_unet.errors import ConfigError
from brats_unet.models import ARCHITECTURES, build_model, instance_norm_as_group_norm
from brats_unet.models.blocks import AttentionGate, ResidualBlock

OPTIONS = [
    {},
    {"model.activation": "prelu", "model.norm": "batch", "model.dropout_at": "all"},
    {"model.activation": "leaky_relu", "model.norm": "instance", "model.upsample": "transpose"},
    {"model.norm": "group", "model.dropout_at": "decoder", "model.deep_supervision": True},
]
CASES = list(itertools.product(sorted(ARCHITECTURES), (2, 3), range(len(OPTIONS))))


def _model(arch, dims, opts):
    sets = [f"model.arch={arch}", f"model.spatial_dims={dims}", "model.base_features=4", "model.depth=3",
            "data.size=32"] + [f"{k}={v}" for k, v in opts.items()]
    cfg = load_config(overrides=sets)
    return build_model(cfg.model, cfg.in_channels, cfg.num_classes)


def _input(dims, batch=2):
    return torch.randn(batch, 2, *([16] * dims))


@pytest.mark.parametrize("arch, dims, k", CASES)
def test_contract(arch, dims, k):
    torch.manual_seed(0)
    model = _model(arch, dims, OPTIONS[k])
    x = _input(dims)
    out = model(x)
    outs = out if isinstance(out, list) else [out]
    assert outs[0].shape == (2, 4, *x.shape[2:])
    sum(o.float().mean() for o in outs).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)

    model.eval()
    with torch.no_grad():
        y1, y2 = model(x), model(x)
    assert torch.equal(y1, y2) and y1.shape == (2, 4, *x.shape[2:])

    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    clone = _model(arch, dims, OPTIONS[k])
    clone.load_state_dict(torch.load(buf, weights_only=True))
    clone.eval()
    with torch.no_grad():
        assert torch.equal(clone(x), y1)


def _types(model):
    return {type(m) for m in model.modules()}


def test_options_change_the_module_tree():
    base = _types(_model("unet", 2, {}))
    assert nn.ReLU in base and nn.PReLU not in base and nn.BatchNorm2d not in base
    assert nn.PReLU in _types(_model("unet", 2, {"model.activation": "prelu"}))
    assert nn.LeakyReLU in _types(_model("unet", 2, {"model.activation": "leaky_relu"}))
    assert nn.BatchNorm3d in _types(_model("unet", 3, {"model.norm": "batch"}))
    assert nn.InstanceNorm2d in _types(_model("unet", 2, {"model.norm": "instance"}))
    assert nn.GroupNorm in _types(_model("unet", 2, {"model.norm": "group"}))
    assert nn.ConvTranspose2d in _types(_model("unet", 2, {"model.upsample": "transpose"}))
    assert ResidualBlock in _types(_model("residual_unet", 2, {})) and ResidualBlock not in base
    assert AttentionGate in _types(_model("attention_unet", 3, {})) and AttentionGate not in base


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_instance_norm_as_group_norm_computes_the_same(arch):
    """predict swaps InstanceNorm2d for GroupNorm(C, C) on the CPU (faster, same arithmetic): same outputs in
    eval and training mode, same state-dict keys; 3D instance norm and other norms are left alone."""
    torch.manual_seed(0)
    model = _model(arch, 2, {"model.norm": "instance", "model.dropout": 0.0})
    for m in model.modules():
        if isinstance(m, nn.InstanceNorm2d):
            nn.init.uniform_(m.weight, 0.5, 2.0), nn.init.uniform_(m.bias, -0.5, 0.5)
    fast = copy.deepcopy(model)
    count = sum(isinstance(m, nn.InstanceNorm2d) for m in model.modules())
    assert instance_norm_as_group_norm(fast) == count > 0
    assert not any(isinstance(m, nn.InstanceNorm2d) for m in fast.modules())
    assert fast.state_dict().keys() == model.state_dict().keys()
    x = _input(2) * 3 + 1
    for train in (False, True):
        model.train(train), fast.train(train)
        with torch.no_grad():  # fp32 rounding only (the two sum in another order)
            assert torch.allclose(fast(x), model(x), atol=1e-4, rtol=1e-4)
    assert instance_norm_as_group_norm(_model(arch, 3, {"model.norm": "instance"})) == 0
    assert instance_norm_as_group_norm(_model(arch, 2, {"model.norm": "batch"})) == 0


def _dropouts(model):
    return [name for name, m in model.named_modules() if isinstance(m, nn.Dropout)]


def test_dropout_placement():
    assert all(n.startswith("bottleneck") for n in _dropouts(_model("unet", 2, {})))
    assert len(_dropouts(_model("unet", 2, {}))) == 1
    dec = _dropouts(_model("unet", 2, {"model.dropout_at": "decoder"}))
    assert dec and all(n.startswith("decoder") for n in dec)
    every = _dropouts(_model("unet", 2, {"model.dropout_at": "all"}))
    assert {n.split(".")[0] for n in every} == {"encoder", "bottleneck", "decoder"}
    assert not _dropouts(_model("unet", 2, {"model.dropout": 0.0}))


def test_deep_supervision_outputs_only_in_training():
    model = _model("unet", 2, {"model.deep_supervision": True})
    outs = model(_input(2))
    assert [o.shape[-1] for o in outs] == [16, 8, 4]
    model.eval()
    assert model(_input(2)).shape == (2, 4, 16, 16)


def test_clear_input_errors():
    model = _model("unet", 2, {})
    with pytest.raises(ConfigError, match=r"2\*\*depth = 8; pad to \(16, 24\)"):
        model(torch.randn(1, 2, 12, 20))
    with pytest.raises(ConfigError, match="expects 2 input channels, got 4"):
        model(torch.randn(1, 4, 16, 16))


def _conv(cin, cout, k, dims=2):
    return cin * cout * k**dims + cout


def expected_params(cin=2, classes=4, base=32, depth=4, dims=2):
    """Hand-derived parameter count of the plain U-Net (no norm, ReLU, interp up-sampling)."""
    f = [base * 2**i for i in range(depth + 1)]
    enc = sum(_conv(a, b, 3, dims) + _conv(b, b, 3, dims) for a, b in zip([cin] + f[:-2], f[:-1]))
    bottleneck = _conv(f[-2], f[-1], 3, dims) + _conv(f[-1], f[-1], 3, dims)
    dec = sum(_conv(f[i + 1], f[i], 2, dims) + _conv(2 * f[i], f[i], 3, dims) + _conv(f[i], f[i], 3, dims)
              for i in range(depth))
    return enc + bottleneck + dec + _conv(f[0], classes, 1, dims)


def test_default_parameter_count_matches_formula():
    cfg = load_config()
    model = build_model(cfg.model, cfg.in_channels, cfg.num_classes)
    n = sum(p.numel() for p in model.parameters())
    assert n == expected_params() == 7_759_908
    n3 = sum(p.numel() for p in _model("unet", 3, {}).parameters())
    assert n3 == expected_params(base=4, depth=3, dims=3)


def test_registries_hold_exactly_the_config_choices():
    """The config's Literal annotations are the one list of names; the registries implement exactly those."""
    from brats_unet.config import ModelConfig, field_choices
    from brats_unet.models import ACTIVATIONS, NORMS

    assert set(ARCHITECTURES) == set(field_choices(ModelConfig, "arch"))
    assert set(ACTIVATIONS) == set(field_choices(ModelConfig, "activation"))
    assert set(NORMS) == set(field_choices(ModelConfig, "norm"))


def test_reference_config_is_monai_basic_unet():
    """configs/reference.yaml spells MONAI's 2D BasicUNet (32-32-64-128-256-32) as our U-Net: same parameter
    count, same output shape; and model.features must give one width per level."""
    from pathlib import Path

    monai_nets = pytest.importorskip("monai.networks.nets")
    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "reference.yaml")
    ours = build_model(cfg.model, cfg.in_channels, cfg.num_classes)
    theirs = monai_nets.BasicUNet(spatial_dims=2, in_channels=4, out_channels=4, features=(32, 32, 64, 128, 256, 32))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(ours) == count(theirs)
    x = torch.randn(1, 4, 32, 32)
    assert ours.eval()(x).shape == theirs.eval()(x).shape
    with pytest.raises(ConfigError, match="model.features: need model.depth \\+ 1 = 5"):
        load_config(overrides=["model.features=[32, 64]"])
