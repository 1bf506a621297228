import subprocess
import sys

from brats_unet.cli import build_parser, main


def test_help_does_not_import_torch():
    code = "import sys, brats_unet.cli as c; c.build_parser(); print('torch' in sys.modules, 'nibabel' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"


def test_every_subcommand_is_registered():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) == {"check", "prepare", "synth", "score", "train", "evaluate", "predict", "report",
                                "demo", "study"}


def test_user_errors_are_one_line_and_exit_2(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "data folder not found" in err and "Traceback" not in err
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err
