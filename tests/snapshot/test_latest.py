"""Which frames a snapshot can use: host pictures by reference, device pictures downloaded only
when a snapshot asks (the next one of that camera), never otherwise."""

from __future__ import annotations

import threading
import time

import numpy as np

from jetsentry.capture.frame import DevicePicture, Frame, YuvImage
from jetsentry.detections import Detections
from jetsentry.snapshot import LatestFrames

LABELS = np.array(["person"], dtype=object)


class FakeDevicePicture(DevicePicture):
    """A device picture without a GPU (this machine has none): download() returns a host NV12
    copy and counts the downloads."""

    downloads = 0

    def download(self) -> YuvImage:
        FakeDevicePicture.downloads += 1
        return YuvImage(np.full((96, 64), 128, np.uint8), 64, 64, "NV12")


def _device_frame(seq: int) -> Frame:
    picture = FakeDevicePicture(luma_ptr=0x1000, chroma_ptr=0x1000 + 64 * 64, pitch=64, width=64, height=64)
    return Frame("gpu-cam", seq, picture, time.time(), time.monotonic())


def _detections() -> Detections:
    return Detections(boxes=np.array([[1, 2, 30, 40]], np.float32), scores=np.array([0.9], np.float32),
                      class_ids=np.array([0], np.int32))


def test_host_frames_are_kept_by_reference():
    latest = LatestFrames()
    frame = Frame("cam", 3, np.zeros((8, 8, 3), np.uint8), time.time(), time.monotonic())
    latest.record([frame], [_detections()], LABELS)
    entry = latest.newest("cam", 0)
    assert entry.frame is frame and not entry.downloaded and len(entry.detections) == 1


def test_device_pictures_are_downloaded_only_for_a_snapshot():
    FakeDevicePicture.downloads = 0
    latest = LatestFrames()
    for seq in range(3):  # the frame path without a snapshot asking: nothing downloaded or kept
        frames = [_device_frame(seq)]
        latest.before_release(frames)
        latest.record(frames, [_detections()], LABELS)
    assert FakeDevicePicture.downloads == 0 and latest.newest("gpu-cam", 0) is None

    got = []
    asking = threading.Thread(target=lambda: got.append(latest.newest("gpu-cam", 10)))
    asking.start()
    while "gpu-cam" not in latest._wanted:  # the snapshot is waiting for the next frame
        time.sleep(0.001)
    frames = [_device_frame(7)]
    latest.before_release(frames)  # pre-processing, before the pictures go back to the decoder
    latest.record(frames, [_detections()], LABELS)
    asking.join(10)
    [entry] = got
    assert entry.downloaded and entry.frame.seq == 7 and entry.frame.device is None
    assert entry.frame.image.shape == (64, 64, 3)
    assert FakeDevicePicture.downloads == 1

    for seq in range(8, 11):  # no snapshot waiting: no more downloads
        frames = [_device_frame(seq)]
        latest.before_release(frames)
        latest.record(frames, [_detections()], LABELS)
    assert FakeDevicePicture.downloads == 1
