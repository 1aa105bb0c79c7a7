"""The metrics HTTP server: `/metrics` (Prometheus), `/status.json` (`jetsentry status`) and
`/snapshot/{camera}.jpg` (the camera's newest processed frame, detections drawn).

A failure to listen (the port taken, the address not on this machine) is logged as one error
naming the address and the daemon runs on without metrics: detections matter more than their
observation, and exiting would have systemd restart the daemon into the same taken port.
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.exposition import choose_encoder

from jetsentry.config.metrics import MetricsConfig
from jetsentry.metrics.collector import DaemonCollector
from jetsentry.metrics.histogram import FrameRecorder
from jetsentry.metrics.sources import DaemonSources
from jetsentry.metrics.status import SAMPLE_INTERVAL_S, FrameRates, status_document

log = logging.getLogger("jetsentry.metrics")

METRICS_PATH = "/metrics"
STATUS_PATH = "/status.json"
SNAPSHOT_PREFIX, SNAPSHOT_SUFFIX = "/snapshot/", ".jpg"
REQUEST_TIMEOUT_S = 10.0  # a client that sends nothing does not hold a thread longer


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], metrics: "MetricsServer") -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.metrics = metrics
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up (getfqdn): a DNS wait for nothing.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def service_actions(self) -> None:  # called by serve_forever between requests
        self.metrics.rates.sample()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = REQUEST_TIMEOUT_S
    server_version = "jetsentry"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path.split("?", 1)[0]
        metrics = self.server.metrics
        try:
            if path == METRICS_PATH:
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                self._reply(200, content_type, encoder(metrics.registry))
            elif path == STATUS_PATH:
                body = json.dumps(metrics.status(), separators=(",", ":")).encode()
                self._reply(200, "application/json", body)
            elif path.startswith(SNAPSHOT_PREFIX) and path.endswith(SNAPSHOT_SUFFIX):
                self._snapshot(path[len(SNAPSHOT_PREFIX):-len(SNAPSHOT_SUFFIX)])
            elif path == "/":
                self._reply(200, "text/plain; charset=utf-8",
                            f"jetsentry: {METRICS_PATH} (Prometheus), {STATUS_PATH} (jetsentry status), "
                            f"{SNAPSHOT_PREFIX}{{camera}}{SNAPSHOT_SUFFIX}\n".encode())
            else:
                self._reply(404, "text/plain; charset=utf-8", f"no such page: {path}\n".encode())
        except Exception:  # a broken source must not end the server; the scrape sees a 500
            log.exception("metrics: %s failed", path)
            self._reply(500, "text/plain; charset=utf-8", b"internal error; see the daemon's log\n")

    def _snapshot(self, camera_id: str) -> None:
        from jetsentry.snapshot import NoFrameYet, UnknownCamera

        snapshots = self.server.metrics.sources.snapshots
        text = "text/plain; charset=utf-8"
        if snapshots is None:
            self._reply(404, text, b"snapshots are not served by this process\n")
            return
        try:
            image = snapshots.take(unquote(camera_id))
        except UnknownCamera:
            self._reply(404, text, f"no running camera {unquote(camera_id)[:80]!r}\n".encode())
        except NoFrameYet as exc:
            self._reply(503, text, f"{exc}\n".encode())
        else:
            self._reply(200, "image/jpeg", image.jpeg)

    def _reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
        log.debug("metrics: %s %s", self.address_string(), format % args)


class MetricsServer:
    """The recorder the frame path feeds, the collector, and the HTTP server serving both."""

    def __init__(self, config: MetricsConfig, sources: DaemonSources) -> None:
        self.config = config
        self.sources = sources
        self.recorder = FrameRecorder(sources.max_batch)
        self.rates = FrameRates(self.recorder.processed)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(DaemonCollector(sources, self.recorder))
        ProcessCollector(registry=self.registry)  # CPU seconds, resident memory, open files
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int] | None:
        """Where it listens (the port the OS gave, for port 0); None when not listening."""
        return None if self._httpd is None else self._httpd.server_address[:2]

    def start(self) -> bool:
        """Listen and serve in a thread; False (after one error line) when it cannot listen."""
        host, port = self.config.address
        where = format_address(host, port)
        try:
            self._httpd = _Server((host, port), self)
        except OSError as exc:
            log.error("metrics: cannot listen on %s (metrics.listen): %s; running without metrics and "
                      "status", where, exc.strerror or exc)
            return False
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": SAMPLE_INTERVAL_S},
                                        name="metrics-http", daemon=True)
        self._thread.start()
        log.info("metrics: serving http://%s%s and %s", where, METRICS_PATH, STATUS_PATH)
        return True

    def status(self) -> dict[str, Any]:
        return status_document(self.sources, self.recorder, self.rates)

    def batch_published(self, results, publish_started: float) -> None:
        self.recorder.batch_published(results, publish_started)

    def watch_prefetch(self, prefetch: Any) -> None:
        self.sources.prefetch = prefetch

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


class NoMetrics:
    """metrics.enabled: false — the frame path's calls cost nothing."""

    address = None

    def start(self) -> bool:
        return False

    def batch_published(self, results, publish_started: float) -> None:
        pass

    def watch_prefetch(self, prefetch: Any) -> None:
        pass

    def stop(self) -> None:
        pass


def metrics_for(config: MetricsConfig, sources: DaemonSources) -> MetricsServer | NoMetrics:
    return MetricsServer(config, sources) if config.enabled else NoMetrics()
