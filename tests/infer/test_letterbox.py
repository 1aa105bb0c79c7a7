"""Letterbox against Ultralytics' own LetterBox, pixel for pixel."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.infer.letterbox import PAD_VALUE, fit, letterbox_into, plan_batch, rect_fit, to_tensor

SOURCE_SHAPES = [
    (480, 640),
    (720, 1280),
    (1080, 1920),
    (1080, 810),
    (333, 517),
    (517, 333),
    (64, 64),
    (640, 640),
    (100, 50),
    (7, 3000),
    (3000, 7),
    (1, 1),
]


@pytest.fixture(scope="module")
def ultralytics_letterbox():
    augment = pytest.importorskip("ultralytics.data.augment", reason="Ultralytics is a test-only reference")
    return augment.LetterBox


def _image(shape: tuple[int, int], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


def _ours(image: np.ndarray, box) -> np.ndarray:
    canvas = np.empty((*box.input_hw, 3), np.uint8)
    letterbox_into(image, box, canvas)
    return canvas


@pytest.mark.parametrize("input_hw", [(640, 640), (320, 480), (384, 640)])
@pytest.mark.parametrize("source_hw", SOURCE_SHAPES)
def test_fixed_input_equals_ultralytics(ultralytics_letterbox, source_hw, input_hw):
    image = _image(source_hw, seed=sum(source_hw))
    expected = ultralytics_letterbox(new_shape=input_hw, auto=False, stride=32)(image=image.copy())
    ours = _ours(image, fit(source_hw, input_hw))
    assert ours.shape == expected.shape
    np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize("input_size,stride", [(640, 32), (320, 32), (640, 64)])
@pytest.mark.parametrize("source_hw", SOURCE_SHAPES)
def test_rect_input_equals_ultralytics_minimum_rectangle(ultralytics_letterbox, source_hw, input_size, stride):
    image = _image(source_hw, seed=sum(source_hw) + 1)
    expected = ultralytics_letterbox(new_shape=input_size, auto=True, stride=stride)(image=image.copy())
    box = rect_fit(source_hw, input_size, stride)
    ours = _ours(image, box)
    assert ours.shape == expected.shape
    assert box.input_hw[0] % stride == 0 and box.input_hw[1] % stride == 0
    np.testing.assert_array_equal(ours, expected)


def test_rect_of_1080p_is_384x640():
    assert rect_fit((1080, 1920), 640, 32).input_hw == (384, 640)
    assert rect_fit((720, 1280), 640, 32).input_hw == (384, 640)
    assert rect_fit((1280, 720), 640, 32).input_hw == (640, 384)


def test_tensor_equals_ultralytics_preprocess(ultralytics_letterbox):
    torch = pytest.importorskip("torch")
    images = [_image((720, 1280), 1), _image((480, 640), 2)]
    canvas = np.stack([ultralytics_letterbox(new_shape=640)(image=image) for image in images])
    out = np.empty((2, 3, 640, 640), np.float32)
    ours = to_tensor(canvas, out)
    # BasePredictor.preprocess: BHWC -> BCHW, BGR -> RGB, float, / 255.
    theirs = torch.from_numpy(canvas).permute(0, 3, 1, 2).contiguous().flip(1).float().div_(255).numpy()
    assert ours is out and ours.flags.c_contiguous
    np.testing.assert_array_equal(ours, theirs)


def test_mixed_batch_shares_the_largest_rectangle():
    landscape, portrait, small = (720, 1280), (1280, 720), (100, 200)
    boxes = plan_batch([landscape, portrait, small], input_hw=None, input_size=640, stride=32)
    assert {box.input_hw for box in boxes} == {(640, 640)}
    # Each image keeps the scale of its own rectangle and stays centred.
    for box, shape in zip(boxes, [landscape, portrait, small]):
        own = rect_fit(shape, 640, 32)
        assert box.resized_wh == own.resized_wh
        new_w, new_h = box.resized_wh
        assert box.left + new_w + box.right == 640 and box.top + new_h + box.bottom == 640
        assert abs(box.left - box.right) <= 1 and abs(box.top - box.bottom) <= 1
    assert boxes[0].resized_wh == (640, 360) and boxes[0].top == 140
    assert boxes[1].resized_wh == (360, 640) and boxes[1].left == 140


def test_same_size_batch_uses_the_images_own_rectangle():
    boxes = plan_batch([(1080, 1920)] * 3, input_hw=None, input_size=640, stride=32)
    assert boxes == [rect_fit((1080, 1920), 640, 32)] * 3


def test_padding_overwrites_a_dirty_canvas():
    image = _image((720, 1280), 3)
    box = fit((720, 1280), (640, 640))
    canvas = np.zeros((640, 640, 3), np.uint8)  # reused buffers hold the previous frame
    letterbox_into(image, box, canvas)
    assert (canvas[: box.top] == PAD_VALUE).all() and (canvas[640 - box.bottom :] == PAD_VALUE).all()
