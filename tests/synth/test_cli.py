"""`jetsentry synth` command line: dataset export, argument errors, no GStreamer needed."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import yaml

from jetsentry.synth import SYNTH_CLASSES, generate_scene, read_gt, scene_seed
from jetsentry.synth.cli import main


def test_dataset_export_matches_ground_truth(tmp_path, capsys):
    out, ds = tmp_path / "scenes", tmp_path / "ds"
    rc = main(["--seed", "4", "--out", str(out), "--scenes", "2", "--frames", "10", "--every", "3",
               "--dataset", str(ds), "--no-video", "--jobs", "1"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "objects in view" in printed and "total:" in printed
    assert sorted(p.name for p in out.iterdir()) == ["scene_0000", "scene_0001"]
    data = yaml.safe_load((ds / "data.yaml").read_text())
    assert data["names"] == dict(enumerate(SYNTH_CLASSES))
    assert data["train"] == "images/train" and data["val"] == "images/val"
    for split, scene in (("train", "scene_0000"), ("val", "scene_0001")):
        images = sorted((ds / "images" / split).glob("*.jpg"))
        assert [p.stem[-6:] for p in images] == ["000001", "000004", "000007", "000010"]
        gt = read_gt(out / scene / "gt" / "gt.txt")
        for img in images:
            label = ds / "labels" / split / f"{img.stem}.txt"
            rows = np.loadtxt(label, ndmin=2) if label.read_text().strip() else np.zeros((0, 5))
            f = int(img.stem[-6:])
            sel = (gt.frame == f) & (gt.visibility >= 0.25) & (gt.boxes[:, 2] >= 4) & (gt.boxes[:, 3] >= 4)
            assert len(rows) == sel.sum() > 0
            assert np.all((rows[:, 1:] >= 0) & (rows[:, 1:] <= 1)) and np.all(rows[:, 3:] > 0)
            assert np.array_equal(np.sort(rows[:, 0]), np.sort(gt.class_id[sel]))
            b = gt.boxes[sel]
            expect = np.c_[(b[:, 0] + b[:, 2] / 2) / 640, (b[:, 1] + b[:, 3] / 2) / 360, b[:, 2] / 640, b[:, 3] / 360]
            got = rows[np.lexsort(rows[:, ::-1].T), 1:]
            exp = np.c_[gt.class_id[sel], expect]
            exp = exp[np.lexsort(exp[:, ::-1].T), 1:]
            assert np.allclose(got, exp, atol=1e-5)


def _fails(argv, capsys, words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert all(w in err for w in words), err


def test_bad_arguments_exit_2(tmp_path, capsys):
    out = str(tmp_path / "o")
    _fails(["--seed", "1", "--out", out, "--frames", "-5"], capsys, ["--frames", "-5"])
    _fails(["--seed", "1", "--out", out, "--width", "100"], capsys, ["frame size", "100x360"])
    _fails(["--seed", "1", "--out", out, "--width", "641"], capsys, ["even"])
    _fails(["--seed", "-1", "--out", out], capsys, ["--seed"])
    _fails(["--seed", "1", "--out", out, "--scenes", "0"], capsys, ["--scenes"])
    _fails(["--seed", "1", "--out", out, "--jobs", "0"], capsys, ["--jobs"])
    _fails(["--out", out], capsys, ["--seed"])
    _fails(["--seed", "x", "--out", out], capsys, ["--seed"])
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    _fails(["--seed", "1", "--out", str(a_file)], capsys, ["--out", "not a directory"])
    _fails(["--seed", "1", "--out", out, "--dataset", str(a_file)], capsys, ["--dataset", "not a directory"])
    assert not (tmp_path / "o").exists()


def test_no_video_run_does_not_import_gstreamer(tmp_path):
    code = ("import sys; from jetsentry.synth.cli import main; "
            f"rc = main(['--seed', '2', '--out', r'{tmp_path / 'o'}', '--frames', '3', '--no-video', "
            f"'--dataset', r'{tmp_path / 'd'}', '--jobs', '2', '--scenes', '2']); "
            "sys.exit(10 if 'gi' in sys.modules else rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "o" / "scene_0001" / "video.mp4").exists()
    # Worker processes give the same ground truth as rendering scene 1 of seed 2 here.
    here = generate_scene(scene_seed(2, 1), tmp_path / "here" / "scene_0001", frames=3, video=False)
    for name in ("gt/gt.txt", "scene.json"):
        assert (tmp_path / "o" / "scene_0001" / name).read_bytes() == (here.out_dir / name).read_bytes()
