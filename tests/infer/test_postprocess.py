"""Head decoding, NMS and scaling back, against Ultralytics' own post-processing."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.infer.letterbox import fit, rect_fit
from jetsentry.infer.postprocess import PostprocessSettings, postprocess


def realistic_head(objects: int, classes: int, input_hw: tuple[int, int], seed: int, anchors: int = 8400):
    """A [4+C, N] head like YOLOv8's: background anchors with low scores, and several
    anchors per object with jittered boxes and high scores for one class."""
    rng = np.random.default_rng(seed)
    height, width = input_hw
    out = np.zeros((4 + classes, anchors), np.float32)
    out[0] = rng.uniform(0, width, anchors)
    out[1] = rng.uniform(0, height, anchors)
    out[2:4] = rng.uniform(4, 60, (2, anchors))
    out[4:] = rng.uniform(0, 0.05, (classes, anchors))
    per_object = 8
    for obj in range(objects):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        w, h = rng.uniform(8, width / 3), rng.uniform(8, height / 3)
        cls = rng.integers(0, classes)
        idx = np.arange(obj * per_object, (obj + 1) * per_object)
        out[0, idx] = cx + rng.normal(0, 3, per_object)
        out[1, idx] = cy + rng.normal(0, 3, per_object)
        out[2, idx] = w * rng.uniform(0.9, 1.1, per_object)
        out[3, idx] = h * rng.uniform(0.9, 1.1, per_object)
        out[4 + cls, idx] = rng.uniform(0.15, 0.95, per_object)
        out[4 + (cls + 1) % classes, idx] = rng.uniform(0.0, 0.4, per_object)  # a runner-up class
    return out


def ultralytics_reference(output: np.ndarray, input_hw, source_shapes, conf: float, iou: float, max_det: int):
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    from ultralytics.utils import nms, ops

    preds = nms.non_max_suppression(torch.from_numpy(output.copy()), conf, iou, max_det=max_det)
    results = []
    for pred, shape in zip(preds, source_shapes):
        pred[:, :4] = ops.scale_boxes(input_hw, pred[:, :4], (*shape, 3))
        results.append(pred.numpy())
    return results


@pytest.fixture(scope="module", autouse=True)
def _needs_ultralytics():
    pytest.importorskip("ultralytics", reason="Ultralytics is a test-only reference")


@pytest.mark.parametrize(
    "source_shapes,input_hw",
    [
        ([(1080, 1920)], (640, 640)),
        ([(720, 1280), (480, 640), (1080, 810)], (640, 640)),
        ([(1080, 1920), (1080, 1920)], (384, 640)),
    ],
)
@pytest.mark.parametrize("conf,iou,max_det", [(0.25, 0.7, 300), (0.1, 0.45, 300), (0.25, 0.7, 7)])
def test_equals_ultralytics(source_shapes, input_hw, conf, iou, max_det):
    output = np.stack(
        [realistic_head(50, 80, input_hw, seed=i + 10 * len(source_shapes)) for i in range(len(source_shapes))]
    )
    if input_hw == (640, 640):
        boxes = [fit(shape, input_hw) for shape in source_shapes]
    else:
        boxes = [rect_fit(shape, 640, 32) for shape in source_shapes]
        assert all(box.input_hw == input_hw for box in boxes)
    ours = postprocess(output, boxes, PostprocessSettings(confidence=conf, iou=iou, max_detections=max_det))
    theirs = ultralytics_reference(output, input_hw, source_shapes, conf, iou, max_det)
    for mine, other in zip(ours, theirs):
        assert len(mine) == len(other) > 0
        np.testing.assert_allclose(mine.boxes, other[:, :4], atol=1e-3)
        np.testing.assert_array_equal(mine.scores, other[:, 4])
        np.testing.assert_array_equal(mine.class_ids, other[:, 5].astype(np.int32))
        assert mine.boxes.dtype == np.float32 and mine.class_ids.dtype == np.int32


def _settings(**overrides) -> PostprocessSettings:
    return PostprocessSettings(**overrides)


def _one_image(head_rows: np.ndarray):
    return postprocess(head_rows[None], [fit((640, 640), (640, 640))], _settings())[0]


def test_confidence_is_strict_and_classes_are_kept_apart():
    out = np.zeros((4 + 2, 4), np.float32)
    out[:4, 0] = (100, 100, 50, 50)
    out[:4, 1] = (102, 100, 50, 50)  # overlaps anchor 0, other class: kept
    out[:4, 2] = (101, 101, 50, 50)  # overlaps anchor 0, same class, lower score: suppressed
    out[:4, 3] = (300, 300, 20, 20)  # exactly at the threshold: dropped
    out[4:, 0] = (0.9, 0.0)
    out[4:, 1] = (0.0, 0.8)
    out[4:, 2] = (0.7, 0.0)
    out[4:, 3] = (0.25, 0.0)
    detections = _one_image(out)
    assert detections.class_ids.tolist() == [0, 1]
    np.testing.assert_allclose(detections.scores, [0.9, 0.8])
    np.testing.assert_allclose(detections.boxes, [[75, 75, 125, 125], [77, 75, 127, 125]])


def test_class_filter_picks_the_best_kept_class():
    out = np.zeros((4 + 3, 2), np.float32)
    out[:4, 0] = (100, 100, 50, 50)
    out[4:, 0] = (0.3, 0.9, 0.0)  # a 'car' (1) that is also somewhat a 'person' (0)
    out[:4, 1] = (400, 400, 50, 50)
    out[4:, 1] = (0.0, 0.1, 0.8)
    settings = _settings(class_ids=np.array([0, 2]))
    detections = postprocess(out[None], [fit((640, 640), (640, 640))], settings)[0]
    assert detections.class_ids.tolist() == [2, 0]
    np.testing.assert_allclose(detections.scores, [0.8, 0.3])


def test_max_detections_keeps_the_highest_scores():
    out = realistic_head(50, 5, (640, 640), seed=3)
    all_detections = postprocess(out[None], [fit((640, 640), (640, 640))], _settings())[0]
    top = postprocess(out[None], [fit((640, 640), (640, 640))], _settings(max_detections=5))[0]
    assert len(all_detections) > 5 and len(top) == 5
    np.testing.assert_array_equal(top.scores, all_detections.scores[:5])
    assert (np.diff(all_detections.scores) <= 0).all()


def test_max_nms_caps_the_candidates_by_score():
    out = np.zeros((4 + 1, 6), np.float32)
    out[0] = np.arange(6) * 100 + 50  # six separate boxes
    out[1], out[2], out[3] = 50, 20, 20
    out[4] = (0.3, 0.9, 0.5, 0.8, 0.4, 0.6)
    detections = postprocess(out[None], [fit((640, 640), (640, 640))], _settings(max_nms=3))[0]
    np.testing.assert_allclose(detections.scores, [0.9, 0.8, 0.6])


def test_boxes_map_back_to_source_pixels_and_are_clipped():
    box = fit((720, 1280), (640, 640))  # gain 0.5, 140 px of padding above and below
    out = np.zeros((4 + 1, 2), np.float32)
    out[:4, 0] = (320, 320, 100, 60)  # centre of the input
    out[:4, 1] = (20, 150, 80, 40)  # sticks out of the image on the left and top
    out[4] = (0.9, 0.8)
    detections = postprocess(out[None], [box], _settings())[0]
    np.testing.assert_allclose(detections.boxes, [[540, 300, 740, 420], [0, 0, 120, 60]])


def test_nothing_above_threshold():
    out = np.zeros((4 + 3, 10), np.float32)
    detections = _one_image(out)
    assert len(detections) == 0 and detections.boxes.shape == (0, 4)


def test_candidates_selected_elsewhere_give_the_same_detections():
    """postprocess_candidates on the anchors the GPU kernel selects (best kept class, first on a
    tie, strictly above the threshold, in anchor order) equals postprocess on the whole head."""
    from tests.infer.head_selection import select_like_the_kernel
    from jetsentry.infer.postprocess import postprocess_candidates

    rng = np.random.default_rng(5)
    head = rng.random((3, 4 + 6, 500), dtype=np.float32)
    head[:, :2] *= 600
    head[:, 2:4] *= 80
    head[:, 4:] **= 4  # most anchors below the threshold
    head[0, 4:6, :10] = 0.9  # ties between two classes
    boxes = [fit((720, 1280), (640, 640))] * 3
    for class_ids in (None, np.array([1, 3, 4])):
        settings = PostprocessSettings(confidence=0.3, iou=0.5, class_ids=class_ids, max_nms=40)
        expected = postprocess(head, boxes, settings)
        got = postprocess_candidates(select_like_the_kernel(head, settings.confidence, class_ids), boxes, settings)
        for want, have in zip(expected, got):
            np.testing.assert_array_equal(have.boxes, want.boxes)
            np.testing.assert_array_equal(have.scores, want.scores)
            np.testing.assert_array_equal(have.class_ids, want.class_ids)


def test_a_batch_of_candidates_in_one_nms_pass_equals_the_host_path_image_by_image():
    """The batched NMS (one pass for all images, each image's boxes suppressing only their
    own) keeps, image by image, what the host path keeps: with crowded overlapping boxes,
    different letterboxes, an image without candidates and the per-image detection cap."""
    from tests.infer.head_selection import select_like_the_kernel
    from jetsentry.infer.postprocess import postprocess_candidates

    rng = np.random.default_rng(11)
    batch, anchors = 6, 800
    head = rng.random((batch, 4 + 5, anchors), dtype=np.float32)
    head[:, 0] = 100 + 60 * head[:, 0]  # crowded: most boxes overlap, so NMS suppresses many
    head[:, 1] = 200 + 60 * head[:, 1]
    head[:, 2:4] = 40 + 40 * head[:, 2:4]
    head[:, 4:] **= 3
    head[3, 4:] = 0.0  # no candidates in the middle of the batch
    boxes = [fit(hw, (640, 640)) for hw in ((720, 1280), (1080, 1920), (480, 640), (720, 1280), (640, 640),
                                            (1080, 1920))]
    for max_detections in (300, 4):
        settings = PostprocessSettings(confidence=0.2, iou=0.6, max_detections=max_detections)
        expected = postprocess(head, boxes, settings)
        got = postprocess_candidates(select_like_the_kernel(head, settings.confidence, None), boxes, settings)
        assert len(got) == batch and len(got[3]) == 0
        assert sum(len(d) for d in expected) > batch * min(max_detections, 3)
        for want, have in zip(expected, got):
            np.testing.assert_array_equal(have.boxes, want.boxes)
            np.testing.assert_array_equal(have.scores, want.scores)
            np.testing.assert_array_equal(have.class_ids, want.class_ids)
            assert have.class_ids.dtype == np.int32 and have.scores.dtype == np.float32


def test_grouped_nms_keeps_what_one_call_per_group_keeps():
    from jetsentry.infer.nms import nms

    rng = np.random.default_rng(12)
    xy = rng.uniform(0, 100, (300, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + rng.uniform(10, 40, (300, 2)).astype(np.float32)], axis=1)
    scores = rng.integers(0, 20, 300).astype(np.float32) / 20  # many ties
    groups = rng.integers(0, 5, 300)
    kept = nms(boxes, scores, 0.5, groups=groups)
    for group in range(5):
        members = np.flatnonzero(groups == group)
        alone = members[nms(boxes[members], scores[members], 0.5)]
        np.testing.assert_array_equal(kept[groups[kept] == group], alone)
    assert kept.size < 300
