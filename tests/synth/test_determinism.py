"""Same seed -> byte-identical ground truth and scene description; other seeds differ."""

from __future__ import annotations

import numpy as np

from jetsentry.synth import SYNTH_CLASSES, generate_scene, read_gt, scene_seed


def _files(d):
    return (d / "gt" / "gt.txt").read_bytes(), (d / "scene.json").read_bytes()


def test_same_seed_gives_identical_files(tmp_path):
    a = generate_scene(123, tmp_path / "a" / "scene_0000", frames=30, video=False)
    b = generate_scene(123, tmp_path / "b" / "scene_0000", frames=30, video=False)
    assert _files(a.out_dir) == _files(b.out_dir)
    assert len(read_gt(a.out_dir / "gt" / "gt.txt")) > 30


def test_different_seeds_differ(tmp_path):
    a = generate_scene(1, tmp_path / "a", frames=20, video=False)
    b = generate_scene(2, tmp_path / "b", frames=20, video=False)
    assert (a.out_dir / "gt" / "gt.txt").read_bytes() != (b.out_dir / "gt" / "gt.txt").read_bytes()


def test_scene_seeds_are_distinct_and_stable():
    seeds = [scene_seed(7, k) for k in range(50)] + [scene_seed(8, k) for k in range(50)]
    assert len(set(seeds)) == 100
    assert scene_seed(7, 3) == scene_seed(7, 3)


def test_gt_file_format(tmp_path):
    r = generate_scene(5, tmp_path / "s", frames=25, video=False)
    lines = (r.out_dir / "gt" / "gt.txt").read_text().splitlines()
    for line in lines[:50]:
        f = line.split(",")
        assert len(f) == 9
        assert all(len(v.split(".")[1]) == 2 for v in f[2:6])  # boxes with 2 decimals
    gt = read_gt(r.out_dir / "gt" / "gt.txt")
    assert gt.frame.min() == 1 and gt.frame.max() == 25
    assert gt.track_id.min() >= 1
    assert set(np.unique(gt.class_id)) <= set(range(len(SYNTH_CLASSES)))
    assert np.all((gt.visibility >= 0) & (gt.visibility <= 1))
    # Boxes are clipped to the frame.
    assert gt.boxes[:, 0].min() >= 0 and gt.boxes[:, 1].min() >= 0
    assert np.all(gt.boxes[:, 0] + gt.boxes[:, 2] <= 640) and np.all(gt.boxes[:, 1] + gt.boxes[:, 3] <= 360)
    # consider = 0 exactly where the object is too hidden or too small.
    small = (gt.boxes[:, 2] < 8) | (gt.boxes[:, 3] < 8) | (gt.visibility < 0.25)
    assert np.array_equal(gt.consider == 0, small)
    # (frame, id) unique
    keys = gt.frame * 100000 + gt.track_id
    assert len(np.unique(keys)) == len(keys)
    seqinfo = (r.out_dir / "seqinfo.ini").read_text()
    assert "seqLength=25" in seqinfo and "imWidth=640" in seqinfo and "frameRate=15" in seqinfo
