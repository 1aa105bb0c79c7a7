"""Ground truth matches what is drawn: boxes bound each object's pixels, visibility counts
the pixels that objects in front leave uncovered."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.synth.scene import SceneRenderer

DIFF = 12.0  # grey levels; noise and lighting are identical in both renders, so any change is the object


def _box_of(mask):
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)


@pytest.mark.parametrize("seed", [11, 2024])
def test_boxes_and_visibility_match_pixels(seed):
    r = SceneRenderer(seed, 640, 360, 40)
    checked_boxes, occluded, vis_errors = 0, 0, []
    for i in range(40):
        gt, full = r.frame(i, render=True)
        if i % 13:
            continue
        _, empty = r.compose(i, [], render=True)
        by_id = {t.track_id: t for t in r.sim.tracks}
        for row in gt:
            tid, box, consider, vis = int(row[1]), row[2:6], row[6], row[8]
            _, alone = r.compose(i, [by_id[tid]], render=True)
            drawn = np.abs(alone.astype(np.int16) - empty.astype(np.int16)).max(axis=2) > DIFF
            if consider and drawn.sum() > 30:
                x0, y0, x1, y1 = _box_of(drawn)
                gx0, gy0, gx1, gy1 = box[0], box[1], box[0] + box[2], box[1] + box[3]
                # Every changed pixel lies in the box, up to the anti-aliased rims (1 px each for
                # sprite and blur kernel) and the faint half of a blur trail (box edge: 50 % coverage).
                t = by_id[tid]
                tx = 2 + abs(t.vx) * r.effects.exposure / 2
                ty = 2 + abs(t.vy) * r.effects.exposure / 2
                assert x0 >= gx0 - tx and y0 >= gy0 - ty and x1 <= gx1 + tx and y1 <= gy1 + ty, (i, tid)
                # ... and the box is tight (object colours close to the background may hide a rim).
                assert (x1 - x0) >= 0.85 * box[2] and (y1 - y0) >= 0.85 * box[3], (i, tid)
                checked_boxes += 1
            if drawn.sum() > 100:
                # Pixels of the object that still look like the lone render are visible.
                same = np.abs(full.astype(np.int16) - alone.astype(np.int16)).max(axis=2) <= DIFF
                seen = (same & drawn).sum() / drawn.sum()
                # Similar colours in front, and rims, blur each single estimate a little.
                assert abs(seen - vis) < 0.2, (i, tid, seen, vis)
                vis_errors.append(abs(seen - vis))
                occluded += vis < 0.9
    assert checked_boxes >= 10 and len(vis_errors) >= 10 and occluded >= 3
    assert np.mean(vis_errors) < 0.04
    assert any(e < 0.02 for e in vis_errors)


def test_gt_does_not_depend_on_rendering():
    a, b = SceneRenderer(3, 320, 192, 12), SceneRenderer(3, 320, 192, 12)
    for i in range(12):
        ga, _ = a.frame(i, render=True)
        gb, img = b.frame(i, render=False)
        assert img is None
        assert np.array_equal(ga, gb)
