"""Scene statistics: unit cases, and the default preset meets the difficulty targets."""

from __future__ import annotations

import numpy as np

from jetsentry.synth import combine_statistics, generate_scene, scene_statistics


def test_crossing_and_occlusion_counts():
    # Track 1 stands still; track 2 passes over it in frames 3-5, then again in 8;
    # track 3 is far away, half hidden once.
    frame, tid, boxes, vis = [], [], [], []
    for f in range(1, 11):
        frame += [f, f, f]
        tid += [1, 2, 3]
        x2 = 0.0 if f in (3, 4, 5, 8) else 100.0
        boxes += [[0, 0, 10, 10], [x2, 1, 10, 10], [300, 300, 10, 10]]
        vis += [1.0, 1.0, 0.5 if f == 6 else 1.0]
    s = scene_statistics(np.array(frame), np.array(tid), np.array(boxes), np.array(vis))
    assert s["frames"] == 10 and s["tracks"] == 3
    assert s["crossing_events"] == 2
    assert np.isclose(s["crossing_tracks_fraction"], 2 / 3)
    assert np.isclose(s["occluded_tracks_fraction"], 1 / 3)
    assert np.isclose(s["mean_objects_in_view"], 3.0)
    consider = (np.array(vis) > 0.6).astype(int)
    s2 = scene_statistics(np.array(frame), np.array(tid), np.array(boxes), np.array(vis), consider=consider)
    assert np.isclose(s2["mean_objects_in_view"], 2.9)
    total = combine_statistics([s, s])
    assert total["crossing_events"] == 4 and total["frames"] == 20
    assert np.isclose(total["mean_objects_in_view"], 3.0)


def test_default_preset_is_hard_enough(tmp_path):
    stats = [generate_scene(seed, tmp_path / f"s{seed}", frames=60, video=False).statistics
             for seed in (100, 101)]
    total = combine_statistics(stats)
    assert total["mean_objects_in_view"] >= 8
    assert total["crossing_events"] >= 2
    assert total["occluded_tracks_fraction"] >= 0.25
