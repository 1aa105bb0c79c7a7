"""GET /snapshot/{camera}.jpg: the newest frame the real frame path processed, as a JPEG of the
camera's size with its boxes drawn where its detections are, and the rest of the picture as it was."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from jetsentry.capture import CameraSession, LatestFrameSlot
from jetsentry.capture.frame import Frame
from jetsentry.config.metrics import MetricsConfig
from jetsentry.config.models import CameraConfig, CaptureConfig, ModelConfig, TrackerConfig
from jetsentry.infer import Detector
from jetsentry.metrics import DaemonSources, MetricsServer
from jetsentry.pipeline import FrameProcessor
from jetsentry.snapshot import Snapshots
from tests.pipeline.daemon_process import DEFAULT_MODEL, SAMPLE_VIDEO
from tests.support.broker import free_port

FRAMES = 20


def _video_frames(count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(SAMPLE_VIDEO))
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        assert ok, "the sample video ended early"
        frames.append(frame)
    capture.release()
    return frames


@pytest.fixture
def served():
    """(server address, processor, the undrawn last frame) after FRAMES frames of the sample
    went through a real FrameProcessor with tracking."""
    detector = Detector.from_config(ModelConfig(path=DEFAULT_MODEL, threads=1))
    processor = FrameProcessor(detector, device_id="dev1", tracker=TrackerConfig(), frame_rates={"cam": 15})
    pictures = _video_frames(FRAMES)
    now = time.time()
    for seq, picture in enumerate(pictures):
        processor.process([Frame("cam", seq, picture, now + seq / 15, time.monotonic())])
    sessions = {"cam": CameraSession(CameraConfig(id="cam", source=str(SAMPLE_VIDEO)), CaptureConfig(),
                                     LatestFrameSlot())}
    sources = DaemonSources(device_id="dev1", sessions=sessions, counters=None, publisher=None, health=None,
                            backend="onnxruntime-cpu", model="m", precision="fp32", outbox_capacity=1, max_batch=1,
                            snapshots=Snapshots(processor.latest, sessions, quality=90))
    server = MetricsServer(MetricsConfig(listen=f"127.0.0.1:{free_port()}"), sources)
    assert server.start()
    yield server.address, processor, pictures[-1]
    server.stop()
    processor.close()


def _get(address, path: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(f"http://{address[0]}:{address[1]}{path}", timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def test_snapshot_is_the_last_frame_with_its_boxes_drawn(served):
    address, processor, undrawn = served
    latest = processor.latest.newest("cam", 0)
    assert latest.frame.seq == FRAMES - 1 and len(latest.detections) > 0
    assert (latest.detections.track_ids >= 0).any()  # tracked: ids are drawn with the labels

    status, content_type, body = _get(address, "/snapshot/cam.jpg")
    assert (status, content_type) == (200, "image/jpeg")
    picture = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == undrawn.shape

    difference = np.abs(picture.astype(np.int16) - undrawn.astype(np.int16)).max(axis=2)
    drawn = np.zeros(difference.shape, bool)
    for x1, y1, x2, y2 in np.rint(latest.detections.boxes).astype(int).clip(0, None):
        x2, y2 = min(x2, undrawn.shape[1] - 1), min(y2, undrawn.shape[0] - 1)
        left_edge = difference[y1:y2 + 1, x1]
        assert np.median(left_edge) > 40, f"no box edge drawn at x={x1}, rows {y1}-{y2}"
        drawn[max(0, y1 - 40):y2 + 3, max(0, x1 - 3):x2 + 300] = True  # the box, its label above it
    assert drawn.mean() < 0.9, "the boxes cover the whole picture: nothing left to compare"
    assert np.percentile(difference[~drawn], 99) < 40  # elsewhere: the frame as it was, JPEG noise only


def test_unknown_camera_is_a_404_and_no_frame_yet_a_503(served):
    address, processor, _ = served
    status, _, body = _get(address, "/snapshot/nosuch.jpg")
    assert status == 404 and b"nosuch" in body
    processor.latest.forget("cam")
    status, _, body = _get(address, "/snapshot/cam.jpg")
    assert status == 503 and b"no frame of camera cam" in body
