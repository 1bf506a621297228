"""Losses: hand-computed values, perfect predictions, gradcheck, both modes, 2D/3D, MONAI cross-checks."""

import math

import pytest
import torch

from brats_unet.config import load_config
from brats_unet.errors import ConfigError
from brats_unet.losses import LOSSES, build_loss, check_loss_config
from brats_unet.losses import functional as L
from brats_unet.losses.boundary import BoundaryLoss, signed_distance
from brats_unet.losses.core import region_targets
from brats_unet.losses.registry import make_term

LN2 = math.log(2)
FUNCS = sorted(k for k in LOSSES if k != "boundary")
DICE_LIKE = ("dice", "tversky", "focal_tversky")


def term(name, mode="multiclass", **options):
    """A registry entry built as the config would build it."""
    return make_term(name, mode, options)


def _half():
    """Two pixels, two classes, logits 0 -> every probability 0.5; labels [background, foreground]."""
    return torch.zeros(1, 2, 1, 2, dtype=torch.float64), torch.tensor([[[0, 1]]])


@pytest.mark.parametrize("name, options, expected", [
    ("ce", {}, LN2),
    ("dice", {}, 0.5),
    ("focal", {}, 0.25 * LN2),
    ("tversky", {}, 0.5),
    ("focal_tversky", {}, 0.5**0.75),
    ("combo", {}, 0.25 * LN2 + 0.25),
    ("unified_focal", {}, 0.5 * (0.5 + 0.5**0.5) / 2 + 0.5 * (0.4 * 0.5**0.5 + 0.6) * LN2 / 2),
    ("unified_focal", {"asymmetric": False}, 0.5 * 0.5**0.5 + 0.5 * (0.4 * 0.5**0.5 + 0.6 * 0.5**0.5) * LN2 / 2),
])
def test_hand_computed_values(name, options, expected):
    x, y = _half()
    assert float(term(name, **options)(x, y)) == pytest.approx(expected, rel=1e-4)


def test_weighted_ce_and_class_weights():
    x = torch.zeros(1, 2, 1, 4, dtype=torch.float64)
    y = torch.tensor([[[0, 0, 0, 1]]])
    assert float(L.cross_entropy(x, y, class_weights=(1.0, 3.0))) == pytest.approx(LN2)
    x[0, 1, 0, 3] = 2.0  # only the foreground pixel changes: weighting must move the loss toward it
    plain, weighted = L.cross_entropy(x, y), L.cross_entropy(x, y, class_weights=(1.0, 3.0))
    assert float(weighted) < float(plain)
    assert float(L.weighted_cross_entropy(x, y)) < float(plain)  # inverse-frequency weights favour the rare class


def _perfect(mode, dims):
    torch.manual_seed(0)
    y = torch.randint(0, 4, (2,) + (6,) * dims)
    if mode == "regions":
        logits = (region_targets(y) * 2 - 1) * 40.0
    else:
        logits = torch.nn.functional.one_hot(y, 4).movedim(-1, 1).float() * 40.0
    return logits.double(), y


@pytest.mark.parametrize("mode", ["multiclass", "regions"])
@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("name", FUNCS)
def test_perfect_prediction_and_gradcheck(name, mode, dims):
    logits, y = _perfect(mode, dims)
    value = float(term(name, mode)(logits, y))
    assert math.isfinite(value)
    if name in DICE_LIKE:
        assert value == pytest.approx(0.0, abs=1e-6)
    else:
        assert value < 1e-3
    x = torch.randn(2, logits.shape[1], *([3] * dims), dtype=torch.float64, requires_grad=True)
    yy = torch.randint(0, 4, (2,) + (3,) * dims)
    assert torch.autograd.gradcheck(lambda t: term(name, mode)(t, yy), (x,), eps=1e-6, atol=1e-5)


def test_include_background_changes_dice():
    x, y = torch.randn(2, 4, 8, 8), torch.randint(0, 4, (2, 8, 8))
    assert float(L.dice(x, y, include_background=False)) != pytest.approx(float(L.dice(x, y)))


def test_against_monai():
    monai = pytest.importorskip("monai.losses")
    torch.manual_seed(1)
    x, y = torch.randn(2, 4, 9, 7, 5), torch.randint(0, 4, (2, 9, 7, 5))
    yy = y[:, None]
    for batch in (True, False):
        ref = monai.DiceLoss(softmax=True, to_onehot_y=True, batch=batch, smooth_nr=1e-5, smooth_dr=1e-5)(x, yy)
        assert float(L.dice(x, y, batch=batch)) == pytest.approx(float(ref), abs=1e-5)
    ref = monai.DiceLoss(softmax=True, to_onehot_y=True, include_background=False, smooth_nr=1e-5, smooth_dr=1e-5,
                         batch=True)(x, yy)
    assert float(L.dice(x, y, include_background=False)) == pytest.approx(float(ref), abs=1e-5)
    ref = monai.TverskyLoss(softmax=True, to_onehot_y=True, alpha=0.3, beta=0.7, batch=True)(x, yy)
    assert float(L.tversky(x, y)) == pytest.approx(float(ref), abs=1e-5)
    # MONAI's softmax focal loss averages over the class axis too (a constant 1/C); ours averages over voxels
    ref = monai.FocalLoss(to_onehot_y=True, use_softmax=True, gamma=2.0)(x, yy)
    assert float(L.focal(x, y)) / 4 == pytest.approx(float(ref), abs=1e-5)
    r = region_targets(y)
    ref = monai.FocalLoss(gamma=2.0)(x[:, :3], r)
    assert float(L.focal(x[:, :3], y, mode="regions")) == pytest.approx(float(ref), abs=1e-5)
    ref = monai.DiceLoss(sigmoid=True, batch=True, smooth_nr=1e-5, smooth_dr=1e-5)(x[:, :3], r)
    assert float(L.dice(x[:, :3], y, mode="regions")) == pytest.approx(float(ref), abs=1e-5)


def test_signed_distance_hand_case():
    mask = torch.zeros(7, dtype=torch.bool).numpy()
    mask[2:5] = True
    assert signed_distance(mask).tolist() == [2, 1, 0, -1, 0, 1, 2]


def test_boundary_schedule_and_value():
    region = lambda x, y: torch.tensor(1.0)  # noqa: E731
    loss = BoundaryLoss(region, alpha_start=1.0, alpha_step=0.25, alpha_min=0.1)
    x, y = torch.zeros(1, 2, 1, 7), torch.zeros(1, 1, 7, dtype=torch.long)
    y[0, 0, 2:5] = 1
    assert float(loss(x, y)) == pytest.approx(1.0)
    loss.set_epoch(2)
    assert loss.alpha == pytest.approx(0.5)
    # boundary term: p(fg) = 0.5 everywhere, distances [2,1,0,-1,0,1,2] -> mean 0.5 * 5/7
    assert float(loss(x, y)) == pytest.approx(0.5 + 0.5 * 0.5 * 5 / 7)
    loss.set_epoch(100)
    assert loss.alpha == pytest.approx(0.1)


def test_build_loss_weighted_sum_and_deep_supervision():
    cfg = load_config(overrides=["loss={dice: 1.0, ce: 0.5}"])
    loss = build_loss(cfg.loss)
    x, y = torch.randn(2, 4, 8, 8), torch.randint(0, 4, (2, 8, 8))
    assert float(loss(x, y)) == pytest.approx(float(L.dice(x, y) + 0.5 * L.cross_entropy(x, y)), rel=1e-5)
    aux = torch.randn(2, 4, 4, 4)
    small_y = y[:, ::2, ::2]
    expected = (float(loss(x, y)) + 0.5 * float(loss(aux, small_y))) / 1.5
    assert float(loss([x, aux], y)) == pytest.approx(expected, rel=1e-5)


def test_build_loss_options_and_errors():
    cfg = load_config(overrides=["loss=boundary", "loss.options={boundary: {region: tversky, alpha_step: 0.1}}"])
    boundary = build_loss(cfg.loss).terms["boundary"][1]
    assert boundary.alpha_step == 0.1
    with pytest.raises(ConfigError, match="did you mean 'gamma'"):
        build_loss(load_config(overrides=["loss=focal", "loss.options={focal: {gama: 1}}"]).loss)


@pytest.mark.parametrize("overrides, message", [
    (["loss=ce", "loss.include_background=false"], "loss.include_background: none of the losses ce use it"),
    (["loss=combo", "loss.class_weights=[1, 1, 1, 1]"], "loss.class_weights: none of the losses combo use it"),
    (["loss=dice", "loss.mode=regions", "loss.include_background=false"], "regions mode has no background"),
    (["loss=unified_focal", "loss.options={unified_focal: {include_background: false}}"],
     "loss.options.unified_focal: unknown option 'include_background'"),
    (["loss=ce", "loss.options={dice: {smooth: 1}}"], "loss.options.dice: 'dice' is not one of the loss terms"),
    (["loss=boundary", "loss.options={boundary: {region: ce}}", "loss.include_background=false"],
     "boundary region loss 'ce': unknown option 'include_background'"),
])
def test_options_a_loss_would_ignore_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        check_loss_config(load_config(overrides=overrides).loss)


def test_shared_options_reach_the_terms_that_take_them():
    cfg = load_config(overrides=["loss={dice: 1, ce: 1}", "loss.include_background=false"]).loss
    x, y = torch.randn(2, 4, 8, 8), torch.randint(0, 4, (2, 8, 8))
    expected = L.dice(x, y, include_background=False) + L.cross_entropy(x, y)
    assert float(build_loss(cfg)(x, y)) == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.parametrize("name, options", [("combo", {}), ("unified_focal", {}),
                                           ("unified_focal", {"asymmetric": False})])
@pytest.mark.parametrize("mode", ["multiclass", "regions"])
def test_saturated_wrong_logits_keep_a_gradient(name, options, mode):
    """A confidently wrong, saturated softmax/sigmoid must still be pushed back (clamping p would stop it)."""
    y = torch.tensor([[[1, 3]]])
    x = torch.full((1, 4 if mode == "multiclass" else 3, 1, 2), -200.0)
    x[:, 0] = 200.0  # everything saturated towards the wrong answer (background / no region)
    x.requires_grad_(True)
    loss = term(name, mode, **options)(x, y)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all() and x.grad.abs().max() > 1e-3


def test_loss_registry_holds_exactly_the_config_choices():
    import typing

    from brats_unet.config import LossConfig, choices

    key_type = typing.get_args(typing.get_type_hints(LossConfig)["terms"])[0]
    assert set(LOSSES) == set(choices(key_type))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_registry_entry_is_a_factory_of_the_same_shape(name):
    """factory(mode, **options) -> callable(logits, target) -> scalar, for every entry (boundary included)."""
    import inspect

    params = inspect.signature(LOSSES[name]).parameters
    assert list(params)[0] == "mode"
    assert all(p.default is not inspect.Parameter.empty for p in list(params.values())[1:])
    for mode, k in (("multiclass", 4), ("regions", 3)):
        fn = LOSSES[name](mode=mode)
        value = fn(torch.randn(2, k, 8, 8), torch.randint(0, 4, (2, 8, 8)))
        assert value.dim() == 0 and torch.isfinite(value)
