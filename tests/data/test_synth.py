import numpy as np

from brats_unet.cli import main
from brats_unet.data.discovery import discover_cases
from brats_unet.data.volumes import read_array, read_seg


def test_synth_cli_writes_valid_brats2020_cases(tmp_path):
    assert main(["synth", str(tmp_path), "--cases", "2", "--seed", "1", "--shape", "48", "48", "32"]) == 0
    cases = discover_cases(tmp_path)
    assert [c.case_id for c in cases] == ["Synth_001", "Synth_002"]
    assert main(["check", str(tmp_path), "--workers", "1"]) == 0
    seg = read_seg(cases[0])
    assert set(np.unique(seg)) == {0, 1, 2, 3}
    flair, t1ce = read_array(cases[0].images["flair"]), read_array(cases[0].images["t1ce"])
    # edema is bright on FLAIR, the enhancing rim bright on T1ce
    assert flair[seg == 2].mean() > flair[(seg == 0) & (flair > 0)].mean()
    assert t1ce[seg == 3].mean() > t1ce[seg == 2].mean()
