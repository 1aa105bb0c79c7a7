"""Captured YUV pictures: packing from real GStreamer buffers, lazy conversion to BGR."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.capture.buffers import YuvSampleReader
from jetsentry.capture.frame import Frame, YuvImage
from jetsentry.capture.gst_pipeline import GstPipeline
from jetsentry.capture.pipeline import SinkOptions, appsink_tail


def _pull_pair(fmt: str, width: int, height: int, pattern: str = "smpte"):
    """One videotestsrc frame as (our YuvImage, GStreamer's own BGR conversion of it).

    bt601 colorimetry makes GStreamer convert with the matrix OpenCV uses, so the two
    conversions must agree up to chroma-upsampling differences at colour edges.
    """
    description = (
        f"videotestsrc pattern={pattern} num-buffers=1 ! "
        f"video/x-raw,format={fmt},width={width},height={height},colorimetry=bt601 ! tee name=t "
        f"t. ! queue ! {appsink_tail(SinkOptions(max_buffers=1, drop=False, sync=False))} "
        "t. ! queue ! videoconvert ! video/x-raw,format=BGR ! appsink name=ref sync=false"
    )
    pipe = GstPipeline(description, source_kind="test", source_name=pattern)
    try:
        pipe.play()
        sample = pipe.sink.emit("try-pull-sample", 5 * 10**9)
        reference = pipe.element("ref").emit("try-pull-sample", 5 * 10**9)
        assert sample is not None and reference is not None
        picture = YuvSampleReader().picture(sample)
        return picture, _bgr_of(reference, width, height)
    finally:
        pipe.close()


def _bgr_of(sample, width: int, height: int) -> np.ndarray:
    from jetsentry.capture.gst import gst

    buffer = sample.get_buffer()
    ok, mapping = buffer.map(gst().MapFlags.READ)
    assert ok
    try:
        stride = (width * 3 + 3) // 4 * 4  # GStreamer pads BGR rows to 4 bytes
        return np.ndarray((height, width, 3), np.uint8, buffer=mapping.data, strides=(stride, 3, 1)).copy()
    finally:
        buffer.unmap(mapping)


@pytest.mark.parametrize("fmt", ["I420", "NV12"])
@pytest.mark.parametrize(("width", "height"), [(320, 240), (322, 242), (321, 241)])
def test_captured_picture_converts_like_gstreamer(fmt, width, height):
    picture, reference = _pull_pair(fmt, width, height)
    assert (picture.format, picture.width, picture.height) == (fmt, width, height)
    image = picture.to_bgr()
    assert image.shape == (height, width, 3) and image.flags["C_CONTIGUOUS"]
    diff = np.abs(image.astype(int) - reference.astype(int))
    # Same matrix; rounding differs by ~2 levels and chroma upsampling at the bar edges
    # more (GStreamer interpolates NV12 chroma).  Swapped or misplaced planes: mean ~77.
    assert np.median(diff) <= 2 and np.mean(diff) < 3.5
    # A wrong stride or plane offset would skew or recolour whole rows: the bars stay vertical.
    columns_equal = (image[20:140] == image[20]).all(axis=(0, 2))
    assert columns_equal.mean() > 0.95


def test_i420_and_nv12_of_the_same_picture_agree():
    i420, _ = _pull_pair("I420", 321, 241, "ball")
    nv12, _ = _pull_pair("NV12", 321, 241, "ball")
    assert np.array_equal(i420.to_bgr(), nv12.to_bgr())


def test_frame_converts_once_and_only_when_asked():
    picture = YuvImage(np.full((6, 4), 128, np.uint8), 4, 4, "I420")
    frame = Frame("cam", 3, picture, 0.0, 0.0)
    assert (frame.width, frame.height) == (4, 4) and frame.yuv is picture
    first = frame.image
    assert first.shape == (4, 4, 3) and frame.image is first  # cached, not converted again


def test_frame_from_a_bgr_array_has_no_yuv():
    image = np.zeros((5, 7, 3), np.uint8)
    frame = Frame("cam", 0, image, 0.0, 0.0)
    assert frame.image is image and frame.yuv is None and (frame.width, frame.height) == (7, 5)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros((6, 4), np.uint8), 4, 4, "YUY2"), "unsupported YUV layout 'YUY2'"),
        ((np.zeros((4, 4), np.uint8), 4, 4, "I420"), r"I420 4x4 needs a \(6, 4\) uint8 array"),
        ((np.zeros((4, 3), np.uint8), 3, 3, "NV12"), r"NV12 3x3 needs a \(6, 4\) uint8 array"),
    ],
)
def test_bad_pictures_are_refused_with_the_reason(args, match):
    with pytest.raises(ValueError, match=match):
        YuvImage(*args)


def test_odd_sizes_are_padded_then_cropped_back():
    assert YuvImage(np.zeros((6, 4), np.uint8), 3, 3, "NV12").to_bgr().shape == (3, 3, 3)


def test_frame_refuses_other_pictures():
    with pytest.raises(TypeError, match="YuvImage or an"):
        Frame("cam", 0, np.zeros((4, 4), np.uint8), 0.0, 0.0)
