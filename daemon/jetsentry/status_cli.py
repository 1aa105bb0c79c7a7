"""`jetsentry status`: the running daemon's state, read from its metrics server's /status.json.

The metrics server is the source because it is already there, loopback-only by default, and
reachable from a remote shell with --url; a second listener (a UNIX socket) would need its own
runtime directory and permissions under the unit's sandbox.  0: the daemon answered; 1: it
did not (not running, wrong address, a reply that is not jetsentry's status); 2: bad
arguments or configuration.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from jetsentry.config.metrics import DEFAULT_LISTEN, MetricsConfig, connect_host, parse_listen

STATUS_PATH = "/status.json"  # metrics/server.py serves it; not imported, to keep this command light
STATUS_SCHEMA = "jetsentry.status/1"
TIMEOUT_S = 5.0

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class StatusError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jetsentry status", description="Show the running daemon's state.")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", type=Path,
                        help="the daemon's configuration: its metrics.listen is asked (default: " + DEFAULT_LISTEN + ")")
    source.add_argument("--url", help="the daemon's metrics server, e.g. http://127.0.0.1:29100")
    parser.add_argument("--json", action="store_true", help="print the status document as JSON")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help=f"seconds to wait (default {TIMEOUT_S:g})")
    return parser


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.timeout > 0:
        parser.error(f"--timeout must be more than 0 seconds, got {args.timeout:g}")
    try:
        url = status_url(args)
        status = fetch_status(url, args.timeout)
    except StatusError as exc:
        print(f"jetsentry status: error: {exc}", file=sys.stderr)
        return exc.code
    print(json.dumps(status, indent=2) if args.json else render(status))
    return EXIT_OK


def status_url(args: argparse.Namespace) -> str:
    if args.url:
        parts = urllib.parse.urlsplit(args.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StatusError(f"--url {args.url!r} is not an http:// URL with a host, e.g. http://127.0.0.1:29100",
                              EXIT_USAGE)
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + STATUS_PATH, "", ""))
    if args.config is not None:
        config = _metrics_config(args.config)
        if not config.enabled:
            raise StatusError(f"{args.config}: metrics.enabled is false, so the daemon serves no status")
        host, port = config.address
    else:
        host, port = parse_listen(DEFAULT_LISTEN)
    host = connect_host(host)
    return f"http://{f'[{host}]' if ':' in host else host}:{port}{STATUS_PATH}"


def _metrics_config(path: Path) -> MetricsConfig:
    """Only the `metrics:` section: reading the rest (secrets, model files) is not this command's
    business and may need the daemon's permissions."""
    from jetsentry.config import ConfigError
    from jetsentry.config.loader import load_section

    try:
        return load_section(path, "metrics", MetricsConfig)
    except ConfigError as exc:
        raise StatusError(str(exc), EXIT_USAGE) from None


def fetch_status(url: str, timeout_s: float) -> dict[str, Any]:
    where = urllib.parse.urlsplit(url).netloc
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as reply:
            body = reply.read(16 * 1024 * 1024)
    except urllib.error.HTTPError as exc:
        raise StatusError(f"{url} answered {exc.code} {exc.reason}: not a jetsentry metrics server "
                          "(wrong address or port?)") from None
    except urllib.error.URLError as exc:
        raise StatusError(_unreachable(where, exc.reason)) from None
    except (socket.timeout, TimeoutError):
        raise StatusError(f"no reply from {where} within {timeout_s:g} s") from None
    except (OSError, ValueError) as exc:  # reset connection, malformed HTTP
        raise StatusError(f"{url}: {exc}") from None
    try:
        status = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise StatusError(f"{url} did not reply with JSON: not a jetsentry metrics server "
                          "(wrong address or port?)") from None
    if not isinstance(status, dict) or status.get("schema") != STATUS_SCHEMA:
        raise StatusError(f"{url} replied with JSON that is not a {STATUS_SCHEMA} document")
    if not isinstance(status.get("cameras"), dict):
        raise StatusError(f"{url}: malformed status (no cameras)")
    return status


def _unreachable(where: str, reason: Any) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return (f"nothing listens on {where} (connection refused): is the daemon running, with metrics.enabled, "
                "listening there (metrics.listen)?")
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return f"no reply from {where} (timed out)"
    return f"cannot reach {where}: {getattr(reason, 'strerror', None) or reason}"


def render(status: dict[str, Any]) -> str:
    """The status as a few lines and a camera table."""
    health = status.get("health") or {}
    reasons = health.get("reasons") or []
    model = status.get("model") or {}
    lines = [
        f"jetsentry {status.get('version', '?')} on {status.get('device_id', '?')}: {health.get('state', '?')} "
        f"since {health.get('since', '?')}, up {_duration(status.get('uptime_s'))}",
        f"model {model.get('name', '?')} ({model.get('precision', '?')}), backend {status.get('backend', '?')}",
    ]
    lines += [f"  - {reason}" for reason in reasons]
    governor = status.get("governor")
    if governor:
        temps = ", ".join(f"{name} {value:.1f} °C" for name, value in (governor.get("temperatures_c") or {}).items())
        gpu = governor.get("gpu_load")
        lines.append(f"governor {governor.get('mode', '?')}, {governor.get('switches', 0)} switch(es)"
                     + (f", GPU {gpu:.0%}" if isinstance(gpu, (int, float)) else "")
                     + (f"; temperatures {temps}" if temps else ""))
    queues, mqtt, inference = status.get("queues") or {}, status.get("mqtt") or {}, status.get("inference") or {}
    lines.append(f"inference {_fps(inference.get('fps'))} frames/s, {inference.get('frames', 0)} frames, "
                 f"{inference.get('batch_errors', 0)} failed batch(es)")
    lines.append(f"mqtt {'connected' if mqtt.get('connected') else 'NOT connected'}, outbox "
                 f"{queues.get('mqtt_outbox', 0)}/{queues.get('mqtt_capacity', '?')}, sent {mqtt.get('sent', 0)}, "
                 f"dropped {mqtt.get('dropped_overflow', 0) + mqtt.get('dropped_quota', 0) + mqtt.get('dropped_rejected', 0)}")
    header = ("CAMERA", "STATE", "FPS", "PROCESSED", "DROPPED", "RECONNECTS", "DECODE ERR", "LAST ERROR")
    rows = [header]
    for camera_id, cam in sorted(status["cameras"].items()):
        rows.append((camera_id, str(cam.get("state", "?")), _fps(cam.get("fps")), str(cam.get("processed", 0)),
                     str(cam.get("dropped", 0)), str(cam.get("reconnects", 0)), str(cam.get("decode_errors", 0)),
                     cam.get("last_error") or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines.append("")
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows]
    return "\n".join(lines)


def _fps(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, (int, float)) else "-"


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return (f"{days}d " if days else "") + f"{hours:02d}:{minutes:02d}:{secs:02d}"
