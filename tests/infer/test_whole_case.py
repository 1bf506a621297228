"""The inferer: slice batches and sliding windows against hand-computed results, region decoding, flip TTA."""

import numpy as np
import pytest
import torch

from brats_unet.brats import from_regions, to_regions
from brats_unet.infer.whole_case import _starts, predict_slices, predict_sliding, to_labels, tta_flips
from brats_unet.models import UNet

CPU = torch.device("cpu")


class CallCounter(torch.nn.Module):
    """Outputs, for the k-th call (1-based), the constant k in every voxel of both channels."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return torch.full((x.shape[0], 2, *x.shape[2:]), float(self.calls))


class FirstChannel(torch.nn.Module):
    """Returns the first input channel as two identical logit channels (shows what reached the model)."""

    def forward(self, x):
        return torch.cat([x[:, :1], x[:, :1]], 1)


def test_window_starts_by_hand():
    assert _starts(10, 4, 2) == [0, 2, 4, 6]
    assert _starts(10, 4, 3) == [0, 3, 6]  # the last window sits flush with the end
    assert _starts(4, 6, 3) == [0]


def test_sliding_window_averages_overlaps_by_hand():
    """Depth 4, windows of 2 at step 1 (overlap 0.5): calls 1, 2, 3 cover z = {0,1}, {1,2}, {2,3}."""
    image = torch.zeros(1, 4, 8, 8)
    logits = predict_sliding(CallCounter(), image, (2, 8, 8), CPU, overlap=0.5, multiple=2)
    assert logits.shape == (2, 4, 8, 8)
    per_z = logits[0, :, 0, 0].tolist()
    assert per_z == [1.0, (1 + 2) / 2, (2 + 3) / 2, 3.0]
    assert torch.equal(logits[0], logits[1]) and bool((logits[0] == logits[0, :, :1, :1]).all())


def test_sliding_window_pads_to_the_multiple_and_crops_back():
    image = torch.arange(1 * 5 * 6 * 7, dtype=torch.float32).reshape(1, 5, 6, 7)
    logits = predict_sliding(FirstChannel(), image, (4, 4, 4), CPU, overlap=0.25, multiple=4)
    assert logits.shape == (2, 5, 6, 7) and torch.equal(logits[0], image[0])


def test_slices_in_batches_and_padding_cropped():
    image = torch.randn(2, 7, 20, 12)  # (C, S, H, W): 7 slices, sizes not multiples of 16
    model = FirstChannel()
    logits = predict_slices(model, image, CPU, batch_size=3, multiple=16)
    assert logits.shape == (2, 7, 20, 12)
    assert torch.equal(logits[0], image[0]) and torch.equal(logits[1], image[0])


def test_region_decoding_by_hand():
    # channels WT, TC, ET at four voxels: none; WT; WT+TC; WT+TC+ET
    masks = torch.tensor([[0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 1]], dtype=torch.bool)
    assert from_regions(masks).tolist() == [0, 2, 1, 3]
    assert to_labels(masks.float() * 2 - 1, "regions").tolist() == [0, 2, 1, 3]  # logits: > 0 is inside
    assert to_labels(masks.float() * 0.8 + 0.1, "regions", threshold=0.5).tolist() == [0, 2, 1, 3]
    assert to_labels(torch.tensor([[0.1, 0.7], [0.6, 0.1], [0.2, 0.1], [0.1, 0.1]]), "multiclass").tolist() == [1, 0]


def test_multiclass_region_decoding_by_hand():
    """eval.decode=regions on softmax probabilities (background, core, edema, enhancing) at four voxels."""
    probs = torch.tensor([[0.4, 0.3, 0.0, 0.3],   # argmax background; WT .6, TC .6, ET .3 -> core
                          [0.4, 0.1, 0.3, 0.2],   # argmax background; WT .6, TC .3 -> edema
                          [0.2, 0.1, 0.1, 0.6],   # enhancing either way
                          [0.9, 0.05, 0.05, 0.0]]).T  # background either way
    assert to_labels(probs, "multiclass", threshold=0.5).tolist() == [0, 0, 3, 0]
    assert to_labels(probs, "multiclass", threshold=0.5, decode="regions").tolist() == [1, 2, 3, 0]
    # logits (threshold 0): softmax first, the same decision
    assert to_labels(probs.log() + 3.0, "multiclass", decode="regions").tolist() == [1, 2, 3, 0]


def test_multiclass_region_decoding_keeps_every_argmax_tumour_voxel():
    probs = torch.softmax(torch.randn(4, 2000, generator=torch.Generator().manual_seed(0)) * 2, 0)
    argmax = to_labels(probs, "multiclass", threshold=0.5)
    regions = to_labels(probs, "multiclass", threshold=0.5, decode="regions")
    assert bool(((argmax > 0) <= (regions > 0)).all()) and int((regions > 0).sum()) > int((argmax > 0).sum())


@pytest.mark.parametrize("as_numpy", [True, False])
def test_regions_round_trip(as_numpy):
    labels = np.random.default_rng(0).integers(0, 4, (5, 6, 7)).astype(np.uint8)
    x = labels if as_numpy else torch.from_numpy(labels)
    regions = to_regions(x, axis=0)
    assert tuple(regions.shape) == (3, 5, 6, 7)
    back = from_regions(regions, axis=0)
    assert np.array_equal(np.asarray(back), labels)


@pytest.mark.parametrize("dims", [2, 3])
def test_flip_tta_is_flip_equivariant(dims):
    """Averaging over every flip makes the prediction of a flipped input the flipped prediction."""
    torch.manual_seed(0)
    model = UNet(spatial_dims=dims, in_channels=2, num_classes=4, base_features=4, depth=2, dropout=0.0).eval()
    image = torch.randn(2, 8, 16, 16)
    axis = -1
    if dims == 2:
        plain = predict_slices(model, image, CPU, tta=True)
        flipped = predict_slices(model, image.flip(axis), CPU, tta=True)
        no_tta = predict_slices(model, image.flip(axis), CPU)
    else:
        plain = predict_sliding(model, image, (8, 16, 16), CPU, tta=True)
        flipped = predict_sliding(model, image.flip(axis), (8, 16, 16), CPU, tta=True)
        no_tta = predict_sliding(model, image.flip(axis), (8, 16, 16), CPU)
    assert torch.allclose(flipped, plain.flip(axis), atol=1e-5)
    assert not torch.allclose(no_tta, plain.flip(axis), atol=1e-3)  # a random net alone is not equivariant
    assert len(tta_flips(dims)) == 2**dims - 1


@pytest.mark.parametrize("mode, k, decode", [("multiclass", 4, "argmax"), ("regions", 3, "argmax"),
                                             ("multiclass", 4, "regions")])
@pytest.mark.parametrize("box, size", [((0, 40, 0, 36), (24, 24)), ((-4, 44, 6, 30), (48, 24))])
def test_chunked_decode_equals_decoding_the_full_grid(mode, k, decode, box, size):
    """labels_in_original never holds the full-grid probabilities, and must decode exactly as if it did."""
    from brats_unet.data.preprocess import CaseMeta, to_original
    from brats_unet.infer.predict import labels_in_original

    torch.manual_seed(0)
    meta = CaseMeta("c", "brats2020", (40, 36, 30), (1.0, 1.0, 1.0), (3, 26), box, size, ())
    scores = torch.randn(k, 23, *size)
    probs = torch.softmax(scores, 0) if mode == "multiclass" else torch.sigmoid(scores)
    full = to_original(probs, meta, mode)
    if mode == "multiclass":  # outside the slices and the box: certain background, a distribution everywhere
        assert torch.allclose(full.sum(0), torch.ones(())) and bool((full[0, ..., :3] == 1).all())
    want = to_labels(full, mode, threshold=0.5, decode=decode).numpy()
    got = labels_in_original(probs, meta, mode, chunk=5, decode=decode)
    assert got.shape == (40, 36, 30) and got.dtype == np.uint8 and got.flags.c_contiguous
    assert np.array_equal(got, want) and (got > 0).any() and not got[..., :3].any() and not got[..., 26:].any()


def test_empty_slices_computed_once_agree_with_every_slice_computed(sample_run, sample_dir):
    """The speed-up (one forward pass stands for all brain-free slices) changes no prediction on a real case."""
    from brats_unet.data.discovery import discover_cases
    from brats_unet.data.preprocess import preprocess_case
    from brats_unet.infer.predict import load_run

    run = load_run(sample_run)
    case = discover_cases(sample_dir)[-1]
    image = torch.from_numpy(preprocess_case(case, run.cfg.data, with_seg=False).image.astype(np.float32))
    image[:, :3] = 0  # brain-free slices, as above the head, however the run's slice range was chosen
    empty = image.flatten(2).abs().amax(2).amax(0) == 0
    assert int(empty.sum()) >= 3
    fast = predict_slices(run.model, image, run.device, "fp32", batch_size=16)  # fp32: a tight comparison
    with torch.no_grad():  # the plain way: every slice through the network
        x = image.transpose(0, 1)
        slow = torch.cat([run.model(x[i : i + 16]).float() for i in range(0, len(x), 16)]).transpose(0, 1)
    assert torch.allclose(fast, slow, atol=1e-4, rtol=1e-4)
    a, b = fast.argmax(0) > 0, slow.argmax(0) > 0
    assert 2 * (a & b).sum() / max(1, a.sum() + b.sum()) >= 0.99 or (a.sum() + b.sum()) == 0
    assert torch.equal(fast[:, 0], fast[:, 2])  # the empty slices share one computation


@pytest.fixture(scope="module")
def tumour_run(sample_dir, tmp_path_factory):
    """A run trained long enough (200 steps, about 2 minutes) to find the tumour of real cases, so that agreement
    between two ways of predicting means something (a less trained one predicts a few hundred voxels)."""
    from brats_unet.config import load_config
    from brats_unet.train.loop import train
    from tests.conftest import QUICK

    run = tmp_path_factory.mktemp("tumour-run") / "run"
    steps = ["train.epochs=4", "train.steps_per_epoch=50", "train.lr=0.003", "train.val_max_cases=1",
             "data.oversample=0.75", "loss={dice: 1.0, ce: 1.0}", "model.norm=instance"]
    train(load_config(overrides=QUICK + steps), sample_dir, run, progress=False)
    return run


@pytest.mark.slow
def test_predict_path_agrees_with_a_plain_fp32_path_on_a_real_case(tumour_run, sample_dir):
    """The speed work (bf16 + channels_last where the CPU has it, brain-free slices computed once, decoding a
    few slices at a time) against the plain way: fp32, every slice, full-grid probabilities, argmax."""
    from brats_unet.brats import to_regions
    from brats_unet.data.discovery import discover_cases
    from brats_unet.data.preprocess import preprocess_case, to_original
    from brats_unet.device import cpu_has_fast_bf16
    from brats_unet.infer.predict import load_run, segment
    from brats_unet.models import build_model
    from brats_unet.runs.checkpoint import load_checkpoint

    run = load_run(tumour_run)
    case = discover_cases(sample_dir)[1]
    fast, _ = segment(run, case, postprocess=False)
    prepared = preprocess_case(case, run.cfg.data, with_seg=False, multiple=run.cfg.model.multiple)
    model = build_model(run.cfg.model, run.cfg.in_channels, run.cfg.num_classes).eval()  # the network as trained,
    model.load_state_dict(load_checkpoint(tumour_run / "best.pt")["model"])  # InstanceNorm2d where predict
    norms = [type(m) for m in model.modules() if isinstance(m, (torch.nn.InstanceNorm2d, torch.nn.GroupNorm))]
    assert set(norms) == {torch.nn.InstanceNorm2d}  # runs GroupNorm(C, C)
    assert [type(m) for m in run.model.modules() if type(m) in (torch.nn.InstanceNorm2d, torch.nn.GroupNorm)] == [
        torch.nn.GroupNorm] * len(norms)
    with torch.no_grad():
        x = torch.from_numpy(prepared.image.astype(np.float32)).transpose(0, 1)
        logits = torch.cat([model(x[i : i + 8]) for i in range(0, len(x), 8)]).transpose(0, 1)
    slow = to_labels(to_original(torch.softmax(logits, 0), prepared.meta), "multiclass").numpy()
    assert run.precision == ("bf16" if cpu_has_fast_bf16() else "fp32")
    dice = {}
    for name, a, b in zip(("WT", "TC", "ET"), to_regions(fast, axis=0), to_regions(slow, axis=0)):
        dice[name] = (2 * (a & b).sum() / max(1, a.sum() + b.sum()), int(b.sum()))
    assert dice["WT"][1] > 10_000  # the model finds tumour in this case, so the agreement means something
    assert dice["WT"][0] >= 0.99, dice
