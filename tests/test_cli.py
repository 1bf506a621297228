import re
import subprocess
import sys

import pytest

from brats_unet.cli import build_parser, main


def test_help_does_not_import_torch():
    code = "import sys, brats_unet.cli as c; c.build_parser(); print('torch' in sys.modules, 'nibabel' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"


def test_every_subcommand_is_registered():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) == {"check", "prepare", "synth", "score", "train", "evaluate", "predict", "report",
                                "demo", "study", "export", "pack", "unpack"}


def test_user_errors_are_one_line_and_exit_2(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "data folder not found" in err and "Traceback" not in err
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_set_takes_several_pairs_and_repeats():
    args = build_parser().parse_args(["train", "--data", "d", "--out", "o", "--set", "a=1", "b=2", "--set", "c=3"])
    assert args.set == ["a=1", "b=2", "c=3"]


def test_every_model_command_takes_a_device():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in ("train", "evaluate", "predict", "report", "study", "demo"):
        device = next(a for a in sub.choices[name]._actions if a.dest == "device")
        assert set(device.choices) == {"auto", "cpu", "cuda", "mps"}, name


def test_device_cuda_without_a_gpu_is_one_line(tiny_run, phantoms, run_cli, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    result = run_cli("predict", tiny_run, phantoms, "--out", tmp_path / "p", "--device", "cuda")
    assert result.code == 2 and result.error_lines == ["brats-unet predict: error: device cuda: no CUDA device is "
                                                       "available here; use auto or cpu"]


def test_inference_overrides_are_limited_to_eval_keys(tiny_run, phantoms, run_cli, tmp_path):
    result = run_cli("predict", tiny_run, phantoms / "Synth_001", "--out", tmp_path / "p", "--set", "model.depth=3")
    assert result.code == 2 and "--set model.depth: a trained run takes only eval.* keys" in result.error_lines[0]
    ok = run_cli("predict", tiny_run, phantoms / "Synth_001", "--out", tmp_path / "p", "--set", "eval.tta=true",
                 "eval.batch_size=4")
    assert ok.code == 0


def test_predict_flips_follow_the_runs_eval_tta(tiny_run, phantoms, run_cli, tmp_path):
    """--set eval.tta=true (or a run trained with it) predicts with flips, as evaluate scored it; --no-tta overrides."""
    import numpy as np

    def probabilities(name, *flags):
        out = tmp_path / name
        assert run_cli("predict", tiny_run, phantoms / "Synth_001", "--out", out, "--save-probabilities", "--quiet",
                       *flags).code == 0
        return np.load(out / "Synth_001_probabilities.npz")["probabilities"]

    plain, flips = probabilities("plain"), probabilities("flags", "--tta")
    assert not np.array_equal(plain, flips)
    assert np.array_equal(probabilities("set", "--set", "eval.tta=true"), flips)  # was silently ignored
    assert np.array_equal(probabilities("off", "--set", "eval.tta=true", "--no-tta"), plain)


@pytest.mark.slow
def test_predict_shows_progress_over_cases_unless_quiet(sample_run, sample_dir, run_cli, tmp_path):
    two = tmp_path / "two"
    two.mkdir()
    for cid in ("Brats18_TCIA02_135_1", "Brats18_CBICA_ABM_1"):
        (two / cid).symlink_to(sample_dir / cid)
    loud = run_cli("predict", sample_run, two, "--out", tmp_path / "a")
    assert "predict: 100%" in loud.err and "2/2" in loud.err
    quiet = run_cli("predict", sample_run, two, "--out", tmp_path / "b", "--quiet")
    assert quiet.err == "" and quiet.out.strip().startswith("2 segmentation(s) written")


@pytest.mark.slow
def test_evaluate_one_split_computes_only_that_split(sample_run, run_cli, tmp_path):
    import shutil

    from brats_unet.atomic_files import read_csv
    from brats_unet.runs.folder import read_split

    run = tmp_path / "run"
    shutil.copytree(sample_run, run)
    cache = tmp_path / "fresh-cache"
    text = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(re.sub(r"cache_dir: .*", f"cache_dir: {cache}", text))
    assert run_cli("evaluate", run, "--split", "test", "--set", "eval.tta=true", "--quiet").code == 0
    assert [r["split"] for r in read_csv(run / "eval" / "table1.csv")] == ["Test"]
    built = sorted(p.name for p in next(cache.iterdir()).iterdir() if p.is_dir())
    assert built == sorted(read_split(run)["test"])  # train and validation cases were never preprocessed


@pytest.mark.parametrize("module", ["brats_unet", "brats_unet.cli"])
def test_python_dash_m_runs_the_cli(module):
    done = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("brats-unet ")


LEAVE_GROUP = """
import atexit, sys
import torch.distributed as dist
atexit.register(lambda: print("interpreter shutdown ran", flush=True))
if sys.argv[1] == "group":
    dist.init_process_group("gloo", init_method="file://" + sys.argv[2], rank=0, world_size=1)
from brats_unet.cli import main
code = main(sys.argv[3:])
print("main returned", code)
sys.exit(code)
"""


@pytest.mark.slow  # spawns processes
@pytest.mark.parametrize("group", ["group", "none"])
def test_a_process_that_joined_a_group_ends_at_once_with_the_commands_code(group, tmp_path):
    """gloo's threads can abort a process whose interpreter shuts down after the group is left (distributed.py):
    such a process ends with os._exit, its output flushed and its code kept; any other returns normally."""
    cmds = [["synth", str(tmp_path / "ph"), "--cases", "1", "--shape", "16", "16", "8"],  # prints to stdout, code 0
            ["evaluate", str(tmp_path / "no-run")]]  # a user error: one stderr line, code 2
    for cmd, code in zip(cmds, [0, 2]):
        done = subprocess.run([sys.executable, "-c", LEAVE_GROUP, group, str(tmp_path / f"store{code}"), *cmd],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == code, done.stderr
        assert ("synth" in cmd) == ("case(s) written" in done.stdout)  # flushed before the process ended
        assert (code == 2) == ("evaluate: error:" in done.stderr)
        ended_at_once = "main returned" not in done.stdout and "interpreter shutdown ran" not in done.stdout
        assert ended_at_once == (group == "group"), done.stdout
