"""The size bound of an MQTT snapshot: lower quality first, then a smaller picture, else a clear error."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from jetsentry.snapshot import encode_jpeg


def _noise(height: int, width: int) -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (height, width, 3), dtype=np.uint8)  # compresses badly


def test_a_picture_within_the_bound_keeps_its_size_and_quality():
    picture = _noise(120, 160)
    jpeg, width, height = encode_jpeg(picture, 85, max_bytes=10**7)
    assert (width, height) == (160, 120)
    assert jpeg == cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()


def test_a_large_picture_is_shrunk_until_it_fits():
    picture = _noise(720, 1280)
    unbounded, _, _ = encode_jpeg(picture, 85)
    jpeg, width, height = encode_jpeg(picture, 85, max_bytes=len(unbounded) // 6)
    assert len(jpeg) <= len(unbounded) // 6 and width < 1280 and height < 720
    assert width / height == pytest.approx(1280 / 720, rel=0.01)
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (height, width, 3)


def test_a_bound_nothing_fits_in_is_an_error_naming_it():
    with pytest.raises(ValueError, match="does not fit in 100 bytes"):
        encode_jpeg(_noise(360, 640), 85, max_bytes=100)
