"""Device pictures in frames: their description (CUDA array interface, DLPack) and their release.

The pointers here are never dereferenced on the host; DLPack's layout is checked with
host memory, which NumPy can import.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

from jetsentry.capture.frame import DevicePicture, Frame, PictureReleased
from jetsentry.capture.slot import LatestFrameSlot
from jetsentry.dlpack import KDL_CPU, live_exports, to_capsule


def _picture(width=1920, height=1080, pitch=2048, release=None, base=0x7F0000000000):
    return DevicePicture(luma_ptr=base, chroma_ptr=base + pitch * height, pitch=pitch, width=width, height=height,
                         device=0, stream=0, release=release)


def test_cuda_array_interface_describes_the_whole_nv12_picture():
    picture = _picture()
    interface = picture.__cuda_array_interface__
    assert interface["shape"] == (1620, 1920) and interface["strides"] == (2048, 1)
    assert interface["data"] == (0x7F0000000000, False) and interface["typestr"] == "|u1"
    assert interface["version"] == 3 and interface["stream"] is None
    assert picture.__dlpack_device__() == (2, 0)  # kDLCUDA, GPU 0


def test_separate_planes_have_no_single_array():
    picture = DevicePicture(luma_ptr=0x1000, chroma_ptr=0x900000, pitch=2048, width=1920, height=1080)
    assert not picture.contiguous
    assert not hasattr(picture, "__cuda_array_interface__")


@pytest.mark.parametrize("fields, message", [
    ({"width": 0}, "positive size"), ({"pitch": 100}, "pitch 100 is less than the row width"),
    ({"luma_ptr": 0}, "both plane pointers"),
])
def test_bad_pictures_are_refused(fields, message):
    args = dict(luma_ptr=0x1000, chroma_ptr=0x2000, pitch=2048, width=1920, height=1080) | fields
    with pytest.raises(ValueError, match=message):
        DevicePicture(**args)


def test_release_runs_once_and_ends_use():
    calls = []
    picture = _picture(release=lambda: calls.append(1))
    frame = Frame("cam", 0, picture, 0.0, 0.0)
    assert frame.device is picture and frame.yuv is None and frame.picture is picture
    assert (frame.width, frame.height) == (1920, 1080) and "NV12 device" in repr(frame)
    frame.release()
    frame.release()
    assert calls == [1] and picture.released
    with pytest.raises(PictureReleased):
        picture.__cuda_array_interface__
    with pytest.raises(PictureReleased, match="released before anyone asked for BGR"):
        frame.image


def test_releasing_a_host_frame_does_nothing():
    frame = Frame("cam", 0, np.zeros((4, 4, 3), np.uint8), 0.0, 0.0)
    frame.release()
    assert frame.image.shape == (4, 4, 3)


def test_a_replaced_frame_in_the_slot_is_released():
    released = []
    slot = LatestFrameSlot()
    first = Frame("cam", 0, _picture(release=lambda: released.append("first")), 0.0, 0.0)
    second = Frame("cam", 1, _picture(release=lambda: released.append("second")), 0.0, 0.0)
    slot.put(first)
    slot.put(second)
    assert released == ["first"] and slot.dropped == 1
    slot.discard()
    assert released == ["first", "second"] and slot.take() is None


class _HostExport:
    """Host memory exported the way DevicePicture exports device memory."""

    def __init__(self, array):
        self.array = array

    def __dlpack__(self, stream=None, **_):
        return to_capsule(data=self.array.ctypes.data, shape=self.array.shape, strides=(self.array.strides[0], 1),
                          device_type=KDL_CPU, device_id=0, owner=self)

    def __dlpack_device__(self):
        return KDL_CPU, 0


def test_dlpack_capsule_layout_is_read_back_exactly():
    backing = np.arange(24 * 40, dtype=np.uint8).reshape(24, 40)
    view = backing[:, :32]  # pitched rows, as a decoder's surface has
    before = live_exports()
    imported = np.from_dlpack(_HostExport(view))
    assert imported.shape == (24, 32) and imported.strides == (40, 1)
    np.testing.assert_array_equal(imported, view)
    assert live_exports() == before + 1  # the exporter stays alive while the import lives
    del imported
    gc.collect()
    assert live_exports() == before


def test_an_unconsumed_capsule_releases_its_owner():
    before = live_exports()
    capsule = _HostExport(np.zeros((2, 2), np.uint8)).__dlpack__()
    assert live_exports() == before + 1
    del capsule
    gc.collect()
    assert live_exports() == before
