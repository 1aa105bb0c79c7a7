"""capture.nvdec_process without a GPU: the decoder-link messages, and a real decoder process
that finds no usable GPU and says so (the decoding itself runs in tests/gpu/test_nvdec_gpu.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from jetsentry.capture import decoder_link as link
from jetsentry.capture.errors import BadVideoFile, ConnectionFailed, ElementMissing
from jetsentry.capture.nvdec_process import DecoderProcess, error_from

DAEMON_DIR = Path(__file__).resolve().parents[2] / "daemon"
MESSAGES = [
    link.Open("gate", "rtsp://user:secret@cam/stream", lossless=False, paced=False, library="pynvvideocodec"),
    link.Release(3, 4),
    link.PoolClosed(7),
    link.Stop(),
    link.Ready(1234, "NVIDIA H200"),
    link.PoolAnnounced(2, 1920, 1080, 2048, 1080, tuple(bytes([i]) * 64 for i in range(5))),
    link.StreamInfo({"path": "a.mp4", "codec": "h264", "width": 1920, "height": 1080, "fps": 30.0}),
    link.FrameReady(2, 4, 1.5, 1700000000.25),
    link.FrameReady(2, 0, None, 1700000000.5),
    link.Ended("failed", "BadVideoFile", "NVDEC cannot decode a.mp4", ["bad slice"]),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_survives_encoding(message):
    assert link.decode(link.encode(message)) == message


def test_the_per_frame_messages_are_small():
    assert len(link.encode(link.FrameReady(1, 2, 3.0, 4.0))) == 25
    assert len(link.encode(link.Release(1, 2))) == 9


@pytest.mark.parametrize(("data", "problem"), [
    (b"Z123", "unknown decoder-link message tag b'Z'"),
    (b"F\x00\x01", "malformed decoder-link message b'F'"),
    (b"P" + b"\x00" * 20 + b"\x03\x00\x00\x00" + b"\x00" * 64, "announces 3 buffers but carries 64 handle bytes"),
    (b'O{"camera_id": "a"}', "malformed decoder-link message b'O'"),
    (b"", "unknown decoder-link message tag b''"),
])
def test_a_bad_message_is_named(data, problem):
    with pytest.raises(link.LinkError, match=problem.replace("(", r"\(").replace("[", r"\[")):
        link.decode(data)


def test_a_pool_with_a_short_handle_is_refused():
    with pytest.raises(link.LinkError, match="64 bytes each"):
        link.encode(link.PoolAnnounced(0, 2, 2, 256, 2, (b"short",)))


def test_a_childs_failure_keeps_its_error_class_and_unknown_ones_become_connection_failures():
    error = error_from(link.Ended("failed", "BadVideoFile", "NVDEC cannot decode a.mp4"))
    assert isinstance(error, BadVideoFile) and str(error) == "NVDEC cannot decode a.mp4"
    assert type(error_from(link.Ended("failed", "SystemExit", "x"))) is ConnectionFailed


def _run_child(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(DAEMON_DIR)}
    return subprocess.run([sys.executable, "-m", "jetsentry.capture.nvdec_child", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_child_names_its_arguments():
    result = _run_child("not-a-number")
    assert result.returncode == 2 and "usage: python -m jetsentry.capture.nvdec_child SOCKET_FD GPU_INDEX" in result.stderr


def _no_gpu() -> bool:
    try:
        from jetsentry.gpu.cuda import get_device

        get_device(0)
    except Exception:  # noqa: BLE001 - no cuda-python, driver or GPU
        return True
    return False


@pytest.mark.skipif(not _no_gpu(), reason="this machine has a usable GPU")
def test_a_child_without_a_gpu_says_so_over_the_socket():
    ours, theirs = socket.socketpair()
    env = {**os.environ, "PYTHONPATH": str(DAEMON_DIR)}
    child = subprocess.Popen([sys.executable, "-m", "jetsentry.capture.nvdec_child", str(theirs.fileno()), "0"],
                             pass_fds=(theirs.fileno(),), env=env)
    theirs.close()
    conn = Connection(os.dup(ours.fileno()))
    ours.close()
    try:
        assert conn.poll(120)
        message = link.decode(conn.recv_bytes())
    finally:
        conn.close()
        child.wait(30)
    assert isinstance(message, link.Ended) and message.end == "failed" and message.error == "ElementMissing"
    assert "the decoder process has no usable GPU" in message.message
    assert child.returncode == 1


@pytest.mark.skipif(not _no_gpu(), reason="this machine has a usable GPU")
def test_starting_a_decoder_process_without_a_gpu_raises_what_the_child_said():
    class Gpu:  # only its index crosses to the child
        index = 0

    with pytest.raises(ElementMissing, match="the decoder process has no usable GPU"):
        DecoderProcess("gate", Gpu())
