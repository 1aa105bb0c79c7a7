"""The real daemon (GStreamer on the sample video, ONNX Runtime, Mosquitto) with metrics on a free
port: scraped over HTTP while it runs, and `jetsentry status` run against it as a subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.metrics.scrape import scrape, status, value
from tests.pipeline.daemon_process import SAMPLE_VIDEO, DaemonProcess, daemon_config
from tests.support.broker import Subscriber, free_port, wait_until

PASSWORD = "s3cret-Pa55"


def jetsentry_status(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jetsentry", "status", *args], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ))


@pytest.fixture
def daemon(tmp_path, mosquitto_broker):
    port = free_port()
    unreachable = free_port()  # nothing listens there: the RTSP camera keeps reconnecting
    config = daemon_config(
        tmp_path / "cfg.yaml", port=mosquitto_broker.port,
        cameras=[{"id": "sample", "source": str(SAMPLE_VIDEO), "fps_cap": 10},
                 {"id": "door", "source": f"rtsp://viewer:{PASSWORD}@127.0.0.1:{unreachable}/cam"}],
        metrics={"listen": f"127.0.0.1:{port}"},
    )
    process = DaemonProcess(config).start()
    process.wait_log(f"metrics: serving http://127.0.0.1:{port}/metrics", 60)
    yield process, ("127.0.0.1", port), config
    process.kill()


def _processed(address) -> float:
    return value(scrape(address), "jetsentry_frames_processed", "jetsentry_frames_processed_total")


def test_metrics_move_as_the_pipeline_runs(daemon):
    process, address, _ = daemon
    wait_until(lambda: _processed(address) >= 5, 60, "five frames processed")
    first = scrape(address)
    wait_until(lambda: _processed(address) >= value(first, "jetsentry_frames_processed",
                                                    "jetsentry_frames_processed_total") + 10, 60, "ten more frames")
    second = scrape(address)

    def grew(family, sample=None, **labels):
        return value(second, family, sample, **labels) > value(first, family, sample, **labels)

    assert grew("jetsentry_camera_frames_processed", "jetsentry_camera_frames_processed_total", camera="sample")
    assert grew("jetsentry_camera_frames_decoded", "jetsentry_camera_frames_decoded_total", camera="sample")
    assert grew("jetsentry_mqtt_messages_sent", "jetsentry_mqtt_messages_sent_total")
    for stage in ("preprocess", "inference", "postprocess", "publish"):
        assert grew("jetsentry_batch_stage_duration_seconds", "jetsentry_batch_stage_duration_seconds_count",
                    stage=stage)
    for stage in ("batch_wait", "tracking"):
        assert grew("jetsentry_frame_stage_duration_seconds", "jetsentry_frame_stage_duration_seconds_count",
                    stage=stage)
    assert grew("jetsentry_frame_latency_seconds", "jetsentry_frame_latency_seconds_count")
    assert grew("jetsentry_batch_frames", "jetsentry_batch_frames_count")
    # Every frame is in the end-to-end histogram once, and inference takes part of that time.
    latency = second["jetsentry_frame_latency_seconds"]
    assert latency[("jetsentry_frame_latency_seconds_bucket", (("le", "+Inf"),))] == \
        latency[("jetsentry_frame_latency_seconds_count", ())]
    assert value(second, "jetsentry_frame_latency_seconds", "jetsentry_frame_latency_seconds_sum") > 0
    # Both cameras are labelled; the file streams, the unreachable RTSP camera does not, and is counted retrying.
    assert value(second, "jetsentry_camera_state", camera="sample", jetsentry_camera_state="streaming") == 1
    assert value(second, "jetsentry_camera_state", camera="door", jetsentry_camera_state="streaming") == 0
    assert ("jetsentry_camera_frames_dropped_total", (("camera", "door"), ("reason", "busy"))) in \
        second["jetsentry_camera_frames_dropped"]
    wait_until(lambda: value(scrape(address), "jetsentry_camera_reconnects", "jetsentry_camera_reconnects_total",
                             camera="door") >= 1, 30, "the RTSP camera to be counted reconnecting")
    assert value(second, "jetsentry_mqtt_connected") == 1
    assert value(second, "jetsentry_backend_info", backend="onnxruntime-cpu") == 1
    assert "process_resident_memory_bytes" in second
    assert process.terminate() == 0


def test_status_table_and_json_against_the_running_daemon(daemon):
    process, address, config = daemon
    wait_until(lambda: _processed(address) >= 5, 60, "five frames processed")
    wait_until(lambda: status(address)["cameras"]["door"]["last_error"], 30, "the RTSP camera's first error")
    table = jetsentry_status("--config", str(config))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("jetsentry ") and " on testdev: " in lines[0]
    assert "backend onnxruntime-cpu" in table.stdout and "mqtt connected" in table.stdout
    header = next(line for line in lines if line.startswith("CAMERA"))
    assert header.split() == ["CAMERA", "STATE", "FPS", "PROCESSED", "DROPPED", "RECONNECTS", "DECODE", "ERR",
                              "LAST", "ERROR"]
    sample_row = next(line for line in lines if line.startswith("sample "))
    assert sample_row.split()[1] == "streaming"

    result = jetsentry_status("--url", f"http://{address[0]}:{address[1]}", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["schema"] == "jetsentry.status/1" and document["device_id"] == "testdev"
    assert set(document["cameras"]) == {"sample", "door"}
    assert document["cameras"]["sample"]["processed"] >= 5
    assert document["cameras"]["door"]["state"] in ("connecting", "recovering")
    error = document["cameras"]["door"]["last_error"]
    assert "viewer:***@127.0.0.1" in error, error  # the source, with its password masked
    for text in (table.stdout, result.stdout):
        assert PASSWORD not in text
    assert document["uptime_s"] > 0 and document["health"]["state"] == "degraded"
    assert any(reason.startswith("camera door") for reason in document["health"]["reasons"])
    assert process.terminate() == 0


def test_recordings_prepared_ahead_are_measured_too(tmp_path, mosquitto_broker):
    """realtime: false turns on batching.prepare_ahead: batches come through PrefetchedBatches."""
    port = free_port()
    config = daemon_config(tmp_path / "cfg.yaml", port=mosquitto_broker.port,
                           cameras=[{"id": "rec", "source": str(SAMPLE_VIDEO), "realtime": False}],
                           metrics={"listen": f"127.0.0.1:{port}"})
    process = DaemonProcess(config).start()
    try:
        process.wait_log("next batch prepared during inference", 60)
        address = ("127.0.0.1", port)
        wait_until(lambda: _processed(address) >= 10, 60, "ten frames processed")
        families = scrape(address)
        assert value(families, "jetsentry_camera_frames_processed", "jetsentry_camera_frames_processed_total",
                     camera="rec") >= 10
        assert value(families, "jetsentry_batch_stage_duration_seconds", "jetsentry_batch_stage_duration_seconds_count",
                     stage="inference") >= 1
        # Letterboxing takes a millisecond, inference tens: the next batch mostly waits prepared.
        wait_until(lambda: value(scrape(address), "jetsentry_prefetch_batches") == 1, 30,
                   "a prepared batch waiting for inference")
        assert process.terminate() == 0
    finally:
        process.kill()


def test_a_taken_metrics_port_is_logged_and_the_daemon_serves_on(tmp_path, mosquitto_broker):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = daemon_config(tmp_path / "cfg.yaml", port=mosquitto_broker.port,
                               cameras=[{"id": "sample", "source": str(SAMPLE_VIDEO), "fps_cap": 10}],
                               metrics={"listen": f"127.0.0.1:{port}"})
        with Subscriber(mosquitto_broker, "jetsentry/testdev/sample/detections") as sub:
            sub.start()
            process = DaemonProcess(config).start()
            try:
                process.wait_log(f"metrics: cannot listen on 127.0.0.1:{port} (metrics.listen)", 60)
                sub.wait_for(lambda messages: len(messages) >= 5, 60, "detections without metrics")
                assert process.terminate() == 0
            finally:
                process.kill()
        assert "Traceback" not in process.log


class _Files(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def other_server(tmp_path):
    """A real HTTP server that is not jetsentry's: it serves the files of a folder."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Files, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_status_errors_name_the_address_and_exit_1(tmp_path, other_server):
    port = free_port()
    refused = jetsentry_status("--url", f"http://127.0.0.1:{port}")
    assert refused.returncode == 1
    assert f"nothing listens on 127.0.0.1:{port} (connection refused)" in refused.stderr
    assert "Traceback" not in refused.stderr

    folder, url = other_server
    wrong = jetsentry_status("--url", url)
    assert wrong.returncode == 1 and "answered 404" in wrong.stderr and "not a jetsentry metrics server" in wrong.stderr
    (folder / "status.json").write_text("<html>not json</html>")
    malformed = jetsentry_status("--url", url)
    assert malformed.returncode == 1 and "did not reply with JSON" in malformed.stderr
    (folder / "status.json").write_text('{"schema": "something/else", "cameras": {}}')
    foreign = jetsentry_status("--url", url, "--json")
    assert foreign.returncode == 1 and "not a jetsentry.status/1 document" in foreign.stderr
    assert foreign.stdout == ""

    disabled = tmp_path / "off.yaml"
    disabled.write_text("metrics:\n  enabled: false\n")
    off = jetsentry_status("--config", str(disabled))
    assert off.returncode == 1 and "metrics.enabled is false" in off.stderr


@pytest.mark.parametrize("args, problem", [
    (["--url", "127.0.0.1:29100"], "is not an http:// URL"),
    (["--config", "/nonexistent/jetsentry.yaml"], "cannot read file"),
    (["--url", "http://x", "--config", "y"], "not allowed with argument"),
    (["--timeout", "0"], "--timeout must be more than 0 seconds"),
])
def test_status_bad_arguments_exit_2(args, problem):
    result = jetsentry_status(*args)
    assert result.returncode == 2 and problem in result.stderr and "Traceback" not in result.stderr
