"""`jetsentry analyze` as a user runs it: real decode, real ONNX Runtime, JSON lines out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from jetsentry.capture import VideoFileReader
from jetsentry.detections import Detections
from tests.infer.matching import detections_from_ultralytics, match_detections
from tests.infer.photo_clip import make_photo_clip
from tests.pipeline.daemon_process import DEFAULT_MODEL, SAMPLE_VIDEO
from tests.support import videos
from tests.support.videos import garbage_file

REPO = Path(__file__).resolve().parents[2]
COCO_MODEL = REPO.parent / "shared" / "models" / "yolov8n-coco.onnx"
SCHEMA = json.loads((REPO / "config" / "detections.schema.json").read_text())


def analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jetsentry", "analyze", *args],
                          capture_output=True, text=True, timeout=300)


def read_messages(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def as_detections(message: dict) -> Detections:
    dets = message["detections"]
    return Detections(
        boxes=np.array([d["bbox"] for d in dets], np.float32).reshape(-1, 4),
        scores=np.array([d["score"] for d in dets], np.float32),
        class_ids=np.array([d["class_id"] for d in dets], np.int32),
    )


def test_sample_scene_every_frame_valid_messages_and_summary(tmp_path):
    out = tmp_path / "out.jsonl"
    result = analyze(str(SAMPLE_VIDEO), "--model", str(DEFAULT_MODEL), "--out", str(out), "--batch", "4")
    assert result.returncode == 0, result.stderr
    messages = read_messages(out)
    assert [m["seq"] for m in messages] == list(range(150))  # every frame, in order
    for message in messages[::10]:
        jsonschema.validate(message, SCHEMA)
    tracked = [d["track_id"] for m in messages for d in m["detections"]]
    assert tracked and all(t is not None and t >= 1 for t in tracked)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["frames"] == 150 and summary["fps"] > 0
    assert summary["declared_frames"] == 150 and summary["frames_lost"] == 0 and summary["decode_errors"] == 0
    assert "decode: 150 frames decoded (150 declared), 0 decode error(s)" in result.stderr
    assert "warning:" not in result.stderr and "error:" not in result.stderr
    assert set(summary["mean_ms"]) == {"decode_to_batch", "preprocess", "inference", "postprocess", "tracking", "total"}
    assert "frames/s" in result.stderr


@pytest.fixture(scope="module")
def short_scene(tmp_path_factory) -> str:
    from jetsentry.synth.cli import main as synth_main

    out = tmp_path_factory.mktemp("scene")
    assert synth_main(["--seed", "31", "--out", str(out), "--frames", "30", "--jobs", "1"]) == 0
    return str(out / "scene_0000" / "video.mp4")


def test_batching_and_no_track_keep_the_same_detections(tmp_path, short_scene):
    one, four = tmp_path / "b1.jsonl", tmp_path / "b4.jsonl"
    clip = short_scene
    assert analyze(clip, "--model", str(DEFAULT_MODEL), "--out", str(one), "--no-track").returncode == 0
    assert analyze(clip, "--model", str(DEFAULT_MODEL), "--out", str(four), "--batch", "4",
                   "--no-track").returncode == 0
    singles, batched = read_messages(one), read_messages(four)
    assert len(singles) == len(batched) == 30
    for a, b in zip(singles, batched):
        assert all(d["track_id"] is None for d in a["detections"])
        da, db = as_detections(a), as_detections(b)
        np.testing.assert_array_equal(da.class_ids, db.class_ids)
        np.testing.assert_allclose(da.boxes, db.boxes, atol=0.02)


@pytest.mark.parametrize("case", ["missing_video", "garbage_video", "missing_model", "bad_batch"])
def test_bad_input_exits_2_with_a_clear_message(tmp_path, case):
    video, model, extra = str(SAMPLE_VIDEO), str(DEFAULT_MODEL), []
    if case == "missing_video":
        video = str(tmp_path / "nope.mp4")
        expect = "nope.mp4"
    elif case == "garbage_video":
        video = str(garbage_file(tmp_path / "garbage.mp4"))
        expect = "garbage.mp4"
    elif case == "missing_model":
        model = str(tmp_path / "nope.onnx")
        expect = "model file not found"
    else:
        extra = ["--batch", "0"]
        expect = "--batch"
    result = analyze(video, "--model", model, *extra)
    assert result.returncode == 2
    assert expect in result.stderr, result.stderr


@pytest.mark.needs_coco_model
@pytest.mark.slow
def test_analyze_matches_ultralytics_on_a_clip_of_real_photographs(tmp_path):
    if not COCO_MODEL.is_file():
        pytest.skip(f"needs the COCO test model {COCO_MODEL} (absent outside the project workspace)")
    ultralytics = pytest.importorskip("ultralytics", reason="Ultralytics is a test-only reference")
    clip = make_photo_clip(tmp_path / "photos.mp4", 1280, 720, frames_per_photo=1)
    out = tmp_path / "out.jsonl"
    result = analyze(str(clip), "--model", str(COCO_MODEL), "--out", str(out), "--no-track")
    assert result.returncode == 0, result.stderr
    ours = [as_detections(m) for m in read_messages(out)]
    # Ultralytics predicts on the very frames the pipeline decoded.
    frames = [f.image for f in VideoFileReader(clip)]
    assert len(frames) == len(ours)
    yolo = ultralytics.YOLO(str(COCO_MODEL), task="detect")
    theirs = detections_from_ultralytics(yolo.predict(frames, conf=0.25, iou=0.7, verbose=False))
    stats = match_detections(ours, theirs, iou_min=0.95)
    assert stats.theirs >= 20, stats.summary()
    assert stats.matched_fraction >= 0.98, stats.summary()
    # Messages round scores to 1e-4; the bound is the 0.01.
    assert stats.max_score_diff <= 0.01, stats.summary()


DAMAGED_FRAMES = 60


@pytest.fixture(scope="module")
def damaged_clips(tmp_path_factory) -> dict[str, Path]:
    """60-frame H.264 clips in MP4 (index first, as streaming recorders write it) and raw,
    each cut at 10 % and with 8 KB of garbage over the middle."""
    d = tmp_path_factory.mktemp("damaged")
    clips = {}
    for suffix in ("mp4", "h264"):
        clip = videos.make_video(d / f"clip.{suffix}", frames=DAMAGED_FRAMES, fps=30, gop=30, faststart=True)
        clips[f"{suffix}_cut"] = videos.truncate_file(clip, d / f"cut.{suffix}", 0.1)
        clips[f"{suffix}_garbage"] = videos.overwrite_middle(clip, d / f"garbage-in-middle.{suffix}")
    return clips


def analyze_failing(video: Path) -> tuple[dict, str]:
    """The JSON summary and stderr of an analyze run that must exit 1."""
    result = analyze(str(video), "--model", str(DEFAULT_MODEL), "--no-track", "--batch", "4")
    assert result.returncode == 1, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


@pytest.mark.parametrize("clip", ["mp4_cut", "mp4_garbage"])
def test_frames_lost_from_an_mp4_exit_1_saying_how_many(damaged_clips, clip):
    video = damaged_clips[clip]
    summary, stderr = analyze_failing(video)
    decoded = summary["frames"]
    assert 0 < decoded < DAMAGED_FRAMES
    assert summary["declared_frames"] == DAMAGED_FRAMES
    assert summary["frames_lost"] == DAMAGED_FRAMES - decoded
    assert (f"error: {video}: {DAMAGED_FRAMES - decoded} frames lost: decoded {decoded} of the {DAMAGED_FRAMES} "
            "the file declares") in stderr


@pytest.mark.parametrize("clip", ["h264_cut", "h264_garbage"])
def test_a_damaged_raw_stream_exits_1_on_its_decode_errors(damaged_clips, clip):
    video = damaged_clips[clip]
    summary, stderr = analyze_failing(video)
    assert summary["declared_frames"] is None and summary["frames_lost"] is None
    errors = summary["decode_errors"]
    assert errors >= 1
    line = next(line for line in stderr.splitlines() if line.startswith("error: "))
    assert line.startswith(f"error: {video}: {errors} decode error(s) (latest: libav: ")
    assert line.endswith("frames lost or damaged, how many is unknown: a raw stream declares no frame count")


def test_an_engine_failing_on_real_frames_is_one_error_line_and_exit_1(tmp_path):
    from tests.infer.onnx_models import head, ultralytics_metadata, write_detection_model

    # The load check (one 32x32 run) passes; every frame of the 640x360 sample fails inside ONNX Runtime.
    model = write_detection_model(tmp_path / "fails.onnx", head([(8, 8, 4, 4)], [[0.9] * 5], anchors=8),
                                  batch=None, hw=None, runs_only_on_hw=(32, 32),
                                  metadata=ultralytics_metadata(["a", "b", "c", "d", "e"]))
    result = analyze(str(SAMPLE_VIDEO), "--model", str(model), "--no-track")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "processing failed after 0 frames" in errors[0], result.stderr
