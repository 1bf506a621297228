"""2.5D input (data.context): windows, channel order, training items against inference inputs, end to end."""

import nibabel as nib
import numpy as np
import pytest
import torch

from brats_unet.cli import main
from brats_unet.config import load_config
from brats_unet.data.datasets import SliceDataset
from brats_unet.data.neighbour_slices import neighbours, slice_with_context, stack_context
from brats_unet.errors import ConfigError
from brats_unet.infer.whole_case import predict_slices


def _volume(channels=2, slices=4, h=1, w=1):
    """Voxel value 10 * channel + slice: a window's channels say which (channel, slice) they came from."""
    c, z = np.meshgrid(np.arange(channels), np.arange(slices), indexing="ij")
    return np.broadcast_to((10 * c + z)[:, :, None, None], (channels, slices, h, w)).astype(np.float32)


def test_windows_repeat_the_edge_slice_and_put_offsets_outside_channels():
    vol = _volume()
    assert neighbours(4, 1).tolist() == [[0, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 3]]
    assert slice_with_context(vol, 0, 1)[:, 0, 0].tolist() == [0, 10, 0, 10, 1, 11]
    assert slice_with_context(vol, 3, 1)[:, 0, 0].tolist() == [2, 12, 3, 13, 3, 13]
    assert slice_with_context(vol, 2, 0)[:, 0, 0].tolist() == [2, 12]


@pytest.mark.parametrize("context", [1, 2])
def test_training_items_and_inference_inputs_are_the_same_stack(context):
    vol = np.random.default_rng(0).normal(size=(3, 6, 5, 4)).astype(np.float32)
    slices = torch.from_numpy(vol).transpose(0, 1)  # (S, C, H, W) as the inferer holds a case
    window = torch.from_numpy(neighbours(6, context))
    stacked = stack_context(slices, window)
    assert stacked.shape == (6, 3 * (2 * context + 1), 5, 4)
    for z in range(6):
        assert np.array_equal(stacked[z].numpy(), slice_with_context(vol, z, context))


class _Echo(torch.nn.Module):
    """Returns its input: the logits of a slice are the window it was given."""

    def forward(self, x):
        return x


def test_predict_slices_gives_each_slice_its_window_even_next_to_empty_ones():
    vol = np.random.default_rng(1).normal(size=(2, 7, 16, 16)).astype(np.float32)
    vol[:, 0] = 0  # no brain itself, but its window holds slice 1: must be computed, not copied
    vol[:, 5:] = 0  # slice 6's window is all empty: it may stand in for the empty ones
    logits = predict_slices(_Echo(), torch.from_numpy(vol), torch.device("cpu"), batch_size=3, context=1)
    for z in range(7):
        assert np.array_equal(logits[:, z].numpy(), slice_with_context(vol, z, 1)), z


@pytest.mark.slow
def test_dataset_items_carry_the_window(sample_cache):
    case = sample_cache.case_ids[0]
    plain, wide = SliceDataset(sample_cache, [case]), SliceDataset(sample_cache, [case], context=1)
    image, label = wide[10]
    assert image.shape[0] == 3 * plain[10][0].shape[0] and torch.equal(label, plain[10][1])
    assert torch.equal(image, torch.cat([plain[9][0], plain[10][0], plain[11][0]]))


def test_config_counts_the_window_in_the_input_channels_and_refuses_3d():
    cfg = load_config(overrides=["data.modalities=[flair, t1, t1ce, t2]", "data.context=1"])
    assert cfg.in_channels == 12
    with pytest.raises(ConfigError, match="data.context"):
        load_config(overrides=["data.context=1", "model.spatial_dims=3"])
    with pytest.raises(ConfigError, match="data.context"):
        load_config(overrides=["data.context=-1"])


@pytest.mark.slow
def test_a_2_5d_run_trains_predicts_and_exports_on_real_cases(sample_dir, tmp_path):
    sets = ["data.max_cases=5", "data.size=64", "data.slices=[40, 120]", "train.batch_size=8", "data.context=1",
            "train.steps_per_epoch=3", "train.epochs=1", "model.base_features=8", "data.oversample=0.5"]
    run, case = tmp_path / "run", "Brats18_CBICA_ABM_1"
    assert main(["train", "--data", str(sample_dir), "--out", str(run), "--quiet",
                 *[a for s in sets for a in ("--set", s)]]) == 0
    assert main(["predict", str(run), str(sample_dir / case), "--out", str(tmp_path / "pred"), "--quiet"]) == 0
    mask = np.asarray(nib.load(str(tmp_path / "pred" / f"{case}_seg.nii.gz")).dataobj)
    assert mask.shape == (240, 240, 155) and set(np.unique(mask)) <= {0, 1, 2, 4}
    weights = torch.load(run / "best.pt", weights_only=True)["model"]
    assert next(v for v in weights.values() if v.dim() == 4).shape[1] == 6  # the first conv: 2 modalities x 3
