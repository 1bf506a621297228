import dataclasses

import numpy as np
import pytest
import torch

from brats_unet.config import DataConfig
from brats_unet.data import cache as cache_mod
from brats_unet.data.cache import cache_key, prepare_cache
from brats_unet.data.discovery import discover_cases
from brats_unet.data.preprocess import normalise, preprocess_case, to_original
from brats_unet.data.volumes import read_array, read_seg


def test_paper_cache_on_real_sample(sample_cache, sample_dir):
    assert len(sample_cache.case_ids) == 16
    for cid in sample_cache.case_ids[:4]:
        image, seg, meta = sample_cache.image(cid), sample_cache.seg(cid), sample_cache.meta(cid)
        assert image.shape == (2, 145, 128, 128) and image.dtype == np.float16
        assert seg.shape == (145, 128, 128) and seg.dtype == np.uint8
        assert set(np.unique(seg)) <= {0, 1, 2, 3}
        assert meta.slices == (5, 150) and meta.shape == (240, 240, 155)
        for c in range(2):
            brain = image[c][image[c] != 0].astype(np.float64)
            assert abs(brain.mean()) < 0.1 and abs(brain.std() - 1) < 0.1


def test_nearest_resize_keeps_label_counts(sample_cache, sample_dir):
    """Label fractions after 240->128 nearest resize stay within a few % of the originals."""
    case = discover_cases(sample_dir)[0]
    original = read_seg(case)[:, :, 5:150]
    resized = sample_cache.seg(case.case_id)
    scale = (240 * 240) / (128 * 128)
    for label in (1, 2, 3):
        n0, n1 = (original == label).sum(), (resized == label).sum() * scale
        assert abs(n1 - n0) / n0 < 0.05, (label, n0, n1)


def test_zscore_is_exact_on_a_clipped_volume():
    vol = np.zeros((20, 20, 10), np.int16)
    vol[2:18, 2:18, 1:9] = 32767  # int16 saturation, as in two cases of the full set
    vol[5:10, 5:10, 2:5] = 1000
    out = normalise(vol, "zscore")
    brain = out[vol != 0].astype(np.float64)
    assert abs(brain.mean()) < 1e-5 and abs(brain.std() - 1) < 1e-5 and (out[vol == 0] == 0).all()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["native", "crop"])
def test_native_and_crop_invert_exactly(sample_dir, mode):
    case = discover_cases(sample_dir)[3]
    cfg = DataConfig(mode=mode, modalities=("flair",))
    prep = preprocess_case(case, cfg)
    h, w = prep.meta.size
    assert h % 16 == 0 and w % 16 == 0 and prep.image.shape[2:] == (h, w)
    if mode == "crop":
        assert h * w < 240 * 240
    onehot = torch.nn.functional.one_hot(torch.from_numpy(prep.seg.astype(np.int64)), 4).permute(3, 0, 1, 2).float()
    back = to_original(onehot, prep.meta).argmax(0).numpy()
    truth = read_seg(case)
    truth[..., :5] = 0
    truth[..., 150:] = 0
    np.testing.assert_array_equal(back, truth)


@pytest.mark.slow
def test_resize_round_trip_is_close(sample_dir):
    case = discover_cases(sample_dir)[3]
    prep = preprocess_case(case, DataConfig(modalities=("flair",)))
    onehot = torch.nn.functional.one_hot(torch.from_numpy(prep.seg.astype(np.int64)), 4).permute(3, 0, 1, 2).float()
    back = to_original(onehot, prep.meta).argmax(0).numpy()
    truth = read_seg(case)
    wt_b, wt_t = back > 0, truth > 0
    assert 2 * (wt_b & wt_t).sum() / (wt_b.sum() + wt_t.sum()) > 0.9


def test_cache_key_changes_with_config(tmp_path):
    a, b = DataConfig(), DataConfig(size=64)
    assert cache_key(a, tmp_path) != cache_key(b, tmp_path)
    assert cache_key(a, tmp_path) == cache_key(dataclasses.replace(a, augment=True), tmp_path)


def test_interrupted_build_leaves_no_partial_case(sample_dir, tmp_path, monkeypatch):
    cfg = DataConfig(max_cases=3, modalities=("flair",), size=64)
    calls = {"n": 0}
    real_save = np.save

    def failing_save(path, arr):
        calls["n"] += 1
        if calls["n"] == 3:  # second case, first array
            raise KeyboardInterrupt
        real_save(path, arr)

    monkeypatch.setattr(cache_mod.np, "save", failing_save)
    with pytest.raises(KeyboardInterrupt):
        prepare_cache(sample_dir, cfg, tmp_path, workers=1, progress=False)
    root = tmp_path / cache_key(cfg, sample_dir)
    built = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert built == [discover_cases(sample_dir)[0].case_id]  # no hidden temp dir, no half case
    monkeypatch.setattr(cache_mod.np, "save", real_save)
    cache = prepare_cache(sample_dir, cfg, tmp_path, workers=1, progress=False)
    assert len(cache.case_ids) == 3 and cache.image(cache.case_ids[2]).shape == (1, 145, 64, 64)


@pytest.mark.slow
def test_prepare_cli_from_readme(sample_dir, tmp_path, capsys):
    from brats_unet.cli import main

    rc = main(["prepare", str(sample_dir), "--out", str(tmp_path), "--set", "data.max_cases=3",
               "--set", "data.size=64"])
    assert rc == 0 and "3 case(s) cached" in capsys.readouterr().out


def test_read_array_names_file_on_corruption(tmp_path):
    from brats_unet.data.discovery import Source
    from brats_unet.errors import DataError

    bad = tmp_path / "x_flair.nii.gz"
    bad.write_bytes(b"not a nifti")
    with pytest.raises(DataError, match="x_flair.nii.gz"):
        read_array(Source(bad))


def test_a_case_built_twice_keeps_the_first(sample_dir, tmp_path):
    """Two processes building one cache: the second rename finds the case finished and keeps it."""
    from brats_unet.config import DataConfig
    from brats_unet.data.cache import build_case

    case = discover_cases(sample_dir)[0]
    cfg = DataConfig(size=32, slices=(70, 74))
    build_case(case, cfg, tmp_path)
    first = (tmp_path / case.case_id / "meta.json").stat().st_mtime_ns
    assert build_case(case, cfg, tmp_path) == case.case_id
    assert (tmp_path / case.case_id / "meta.json").stat().st_mtime_ns == first
    assert [p.name for p in tmp_path.iterdir()] == [case.case_id]  # the loser's temporary folder is gone


@pytest.mark.parametrize("change", ["affine", "shape"])
def test_a_segmentation_off_the_images_grid_is_refused(sample_dir, tmp_path, change):
    """A real case whose label map lies on another grid: training (preprocess) and scoring (read_seg) both
    refuse it, naming the file; before, a flipped or shifted map of the right shape was used voxel by voxel."""
    import nibabel as nib

    from brats_unet.errors import DataError

    case = discover_cases(sample_dir)[0]
    img = nib.load(case.seg.path)
    labels = np.asarray(img.dataobj)
    affine = img.affine.copy()
    if change == "affine":
        affine[0, 0] = -affine[0, 0]  # a left-right flipped orientation, same voxel array shape
    else:
        labels = labels[:, :, :-1]
    path = tmp_path / "seg.nii.gz"
    nib.save(nib.Nifti1Image(labels, affine), str(path))
    moved = dataclasses.replace(case, seg=dataclasses.replace(case.seg, path=path))
    assert read_seg(case) is not None  # the sample's own label map is on its grid
    for call in (lambda: read_seg(moved), lambda: preprocess_case(moved, DataConfig())):
        with pytest.raises(DataError, match=f"seg.nii.gz: {change}.*resample"):
            call()
