"""GStreamer error messages -> the capture error tree."""

from __future__ import annotations

import pytest

from jetsentry.capture.errors import (
    AuthFailed,
    BadPipeline,
    BadVideoFile,
    CaptureError,
    ConnectionFailed,
    DecodeError,
    ElementMissing,
    EndOfStream,
    FatalCaptureError,
    FileNotFound,
    GStreamerMissing,
    HandoverFailed,
    PipelineStartFailed,
    SourceNotFound,
    classify_gst_error,
)

RES = "gst-resource-error-quark"
STREAM = "gst-stream-error-quark"
CORE = "gst-core-error-quark"


RETRIED = (SourceNotFound, ConnectionFailed, AuthFailed, EndOfStream, DecodeError, HandoverFailed, PipelineStartFailed)
FATAL = (ElementMissing, BadPipeline, GStreamerMissing, FileNotFound, BadVideoFile)


def test_tree():
    for cls in RETRIED + FATAL:
        assert issubclass(cls, CaptureError)
    assert not any(issubclass(cls, FatalCaptureError) for cls in RETRIED)
    assert all(issubclass(cls, FatalCaptureError) for cls in FATAL)
    # A file's errors are still the kind of error they are.
    assert issubclass(FileNotFound, SourceNotFound) and issubclass(BadVideoFile, DecodeError)


@pytest.mark.parametrize(
    ("domain", "code", "element", "message", "debug", "kind", "expected", "words"),
    [
        (RES, "not-found", "filesrc0", "Resource not found.", 'No such file "/x.mp4"', "file",
         FileNotFound, "/x.mp4"),
        (RES, "not-found", "v4l2src0", "Cannot identify device '/dev/video9'.", None, "v4l2",
         SourceNotFound, "/dev/video9"),
        (RES, "read", "filesrc0", "Could not read.", None, "file", BadVideoFile, "cannot read file"),
        (RES, "open-read-write", "src", "Could not open resource for reading and writing.",
         "gstrtspsrc.c(8009): ...\nFailed to connect. (Generic error)", "rtsp", ConnectionFailed, "refused"),
        (RES, "not-authorized", "src", "Unauthorized", None, "rtsp", AuthFailed, "authentication"),
        (RES, "read", "src", "Could not read from resource.", "Unhandled return value -7.", "rtsp",
         ConnectionFailed, "cannot read"),
        (RES, "not-found", "src", "Not found", "404", "rtsp", SourceNotFound, "not found"),
        (STREAM, "demux", "qtdemux0", "This file is invalid and cannot be played.", "atom has bogus size", "file",
         BadVideoFile, "cannot decode"),
        (STREAM, "failed", "h264parse0", "Internal data stream error.", "streaming stopped, reason not-negotiated",
         "file", BadVideoFile, "not-negotiated"),
        (STREAM, "decode", "avdec_h264-0", "Could not decode stream.", None, "rtsp", DecodeError, "decode"),
        (CORE, "missing-plugin", "decodebin0", "Your GStreamer installation is missing a plug-in.", None, "file",
         ElementMissing, "plugin"),
        (CORE, "state-change", "x", "odd", None, "v4l2", ConnectionFailed, "odd"),
        (CORE, "state-change", "x", "odd", None, "file", BadVideoFile, "odd"),
    ],
)
def test_classification(domain, code, element, message, debug, kind, expected, words):
    error = classify_gst_error(domain, code, element, message, debug, source_kind=kind, source="SRC")
    assert type(error) is expected
    text = str(error)
    assert "SRC" in text and element in text
    assert words.lower() in text.lower()


def test_debug_text_is_reduced_to_its_reason():
    debug = "../libs/gst/base/gstbaseparse.c(3694): gst_base_parse_loop (): /GstPipeline:p/h264parse0:\n" \
        "streaming stopped"
    error = classify_gst_error(STREAM, "failed", "h264parse0", "Internal data stream error.", debug,
                               source_kind="file", source="/v.h264")
    assert "gstbaseparse.c" not in str(error)
    assert "streaming stopped" in str(error)
