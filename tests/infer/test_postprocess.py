"""Post-processing: each step hand-checked, the fast per-grid Dice table against applying every setting,
the choice on validation tables, and its storage for one run or an ensemble."""

import numpy as np
import pytest
from scipy.ndimage import binary_erosion

from brats_unet.data.discovery import discover_cases
from brats_unet.data.volumes import read_seg
from brats_unet.infer.postprocess import GRID, Postprocess, apply, choose, dice_table, read_choice, write_choice
from brats_unet.metrics.regions import region_dice


def _map() -> np.ndarray:
    labels = np.zeros((20, 20, 20), np.uint8)
    labels[2:5, 2:5, 2:5] = 2  # 27 edema voxels
    labels[3, 3, 3] = 3  # one enhancing voxel inside them
    labels[15:17, 15, 15] = 1  # a far 2-voxel blob
    labels[10, 10, 10] = 2  # touches nothing: a 1-voxel component
    labels[11, 11, 11] = 2  # diagonal neighbour of the one above: 26-connected, one 2-voxel component
    return labels


def test_small_components_are_removed_by_26_connected_size_relative_to_the_largest():
    out = apply(_map(), Postprocess(min_fraction=0.1))  # < 2.7 voxels: both 2-voxel components
    assert out[15:17, 15, 15].tolist() == [0, 0] and out[10, 10, 10] == 0 and out[11, 11, 11] == 0
    assert np.array_equal(out[:6, :6, :6], _map()[:6, :6, :6])  # the 27-voxel tumour stays
    assert np.array_equal(apply(_map(), Postprocess(min_fraction=2 / 27)), _map())  # 2 voxels are not < 2
    assert np.array_equal(apply(_map(), Postprocess(min_fraction=1.0)), out)  # the largest alone
    single = np.zeros((5, 5, 5), np.uint8)
    single[1:3, 1:3, 1:3] = 2
    assert np.array_equal(apply(single, Postprocess(min_fraction=1.0)), single)  # one component is the largest


def test_small_enhancing_tumour_becomes_core_and_the_input_is_kept():
    labels = _map()
    assert apply(labels, Postprocess(et_min=2))[3, 3, 3] == 1  # 1 ET voxel < 2: core, so TC is unchanged
    assert apply(labels, Postprocess(et_min=1))[3, 3, 3] == 3  # not below 1
    assert labels[3, 3, 3] == 3 and np.array_equal(apply(labels, Postprocess()), labels)


def _perturbed_cases(sample_dir, n=3):
    """Real references with predictions that post-processing can change: spurious blobs and small ET."""
    rng = np.random.default_rng(0)
    for case in discover_cases(sample_dir)[:n]:
        ref = read_seg(case)
        box = tuple(slice(max(0, int(i.min()) - 20), int(i.max()) + 21) for i in np.nonzero(ref))
        ref = ref[box]  # the tumour's box plus 20 voxels: room for the blobs, a tenth of the volume to label
        pred = np.where(binary_erosion(ref > 0, iterations=1), ref, 0).astype(np.uint8)
        for size in (3, 8, 40, 300):  # far blobs of several sizes, one of them enhancing
            x, y, z = (rng.integers(0, 15) + (0 if rng.random() < 0.5 else n - 20) for n in ref.shape)
            s = round(size ** (1 / 3)) or 1
            pred[x : x + s, y : y + s, z : z + s] = 3 if size == 8 else 2
        yield case.case_id, pred, ref
        no_et = np.where(ref == 3, 1, ref).astype(np.uint8)  # a reference without ET, a prediction with a little
        yield case.case_id + "-noET", pred, no_et


@pytest.mark.slow
def test_dice_table_equals_applying_every_setting(sample_dir):
    for _, pred, ref in _perturbed_cases(sample_dir, n=1):
        table = dice_table(pred, ref)
        for pp, row in zip(GRID, table):
            direct = region_dice(apply(pred, pp), ref)
            assert row == pytest.approx([direct["WT"], direct["TC"], direct["ET"]], abs=1e-12), pp


def test_choice_on_real_cases_beats_none(sample_dir):
    tables = {cid: dice_table(pred, ref) for cid, pred, ref in _perturbed_cases(sample_dir)}
    chosen, without, with_ = choose(tables)
    assert chosen.active and with_ > without  # the blobs and the stray ET are worth removing here
    means = np.asarray(list(tables.values())).mean(axis=(0, 2))
    assert with_ == pytest.approx(means.max()) and without == pytest.approx(means[0])


def test_ties_keep_no_postprocessing():
    flat = {"a": [[0.8, 0.7, 0.6]] * len(GRID)}
    assert choose(flat)[0] == Postprocess()
    better = {"a": [[0.8, 0.7, 0.6]] * len(GRID)}
    better["a"][5] = [0.8, 0.7, 0.9]
    assert choose(better)[0] == GRID[5]


def test_choice_is_stored_per_run_and_pooled_for_an_ensemble(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    row = [[0.9, 0.8, 0.5]] * len(GRID)
    table_a = {"x": [r if i != 3 else [0.9, 0.8, 0.9] for i, r in enumerate(row)]}  # GRID[3] helps in a
    table_b = {"y": [r if i != 3 else [0.9, 0.8, 0.4] for i, r in enumerate(row)],  # and hurts in b, where
               "z": [r if i != 9 else [0.9, 0.8, 0.6] for i, r in enumerate(row)]}  # GRID[9] helps a little
    write_choice(a, table_a, "best", tta=False)
    write_choice(b, table_b, "best", tta=False)
    assert read_choice([a], "best")[0] == GRID[3]
    assert read_choice([b], "best")[0] == GRID[9]
    pooled, note = read_choice([a, b], "best")
    assert pooled == choose({**table_a, **table_b})[0] == GRID[3] and "3 validation case(s)" in note
    assert read_choice([a], "last")[0] is None  # chosen for another checkpoint: not applied
    assert read_choice([a, tmp_path / "c"], "best")[0] is None
