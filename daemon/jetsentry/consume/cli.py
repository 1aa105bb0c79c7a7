"""`jetsentry consume`: a reference fleet-side consumer of detections messages.

Subscribes with QoS 1 over MQTT 5 with a persistent session (clean_start false and a
session expiry, so the broker keeps what arrives while the consumer is away), optionally
as one member of a shared subscription `$share/{group}/{prefix}/+/+/detections`; drops
duplicates by message_id, reports gaps per device, camera and run, and writes each new
message as one JSON line.  A message is acknowledged only after its line is written and
flushed.  Exit codes: 0 stopped by a signal, 1 failure while running (the broker refused
the connection, TLS failed, output cannot be written), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import re
import socket
import sys
from pathlib import Path

from jetsentry.config.mqtt_names import check_client_id, check_topic_level, check_topic_prefix
from jetsentry.consume.consumer import Consumer
from jetsentry.consume.tracker import DeliveryTracker

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
DEFAULT_SESSION_EXPIRY_S = 86_400


class UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="jetsentry consume",
                                description="Receive detections messages: de-duplicated by message_id, gaps "
                                "reported, one JSON line each.")
    p.add_argument("--host", default="localhost", help="broker host (default localhost)")
    p.add_argument("--port", type=int, help="broker port (default 1883, 8883 with TLS)")
    p.add_argument("--prefix", default="jetsentry", help="mqtt.topic_prefix of the devices (default jetsentry)")
    p.add_argument("--group", help="share group: consume $share/GROUP/PREFIX/+/+/detections, one of several "
                   "consumers that split the messages")
    p.add_argument("--client-id", help="MQTT client id, the key of the persistent session; each consumer "
                   "needs its own (default jetsentry-consume-<host name>[-<group>])")
    p.add_argument("--session-expiry", type=int, default=DEFAULT_SESSION_EXPIRY_S, metavar="S",
                   help=f"seconds the broker keeps the session while disconnected (default {DEFAULT_SESSION_EXPIRY_S})")
    p.add_argument("--username", help="broker user")
    p.add_argument("--password-file", type=Path, help="file holding the broker password")
    p.add_argument("--ca-file", type=Path, help="TLS: PEM CAs of the broker's certificate (turns TLS on)")
    p.add_argument("--cert-file", type=Path, help="TLS: PEM client certificate (mutual TLS; turns TLS on)")
    p.add_argument("--key-file", type=Path, help="TLS: its PEM private key")
    p.add_argument("--server-name", help="TLS: the name the broker's certificate must hold (default: --host)")
    p.add_argument("--tls", action="store_true", help="TLS with the system's CAs")
    p.add_argument("--out", type=Path, help="append JSON lines to this file (default: standard output)")
    p.add_argument("--remember", type=int, default=100_000, metavar="N",
                   help="message ids kept for de-duplication (default 100000)")
    return p


def _tls_context(args: argparse.Namespace):
    if not (args.tls or args.ca_file or args.cert_file or args.key_file or args.server_name):
        return None
    from pydantic import ValidationError

    from jetsentry.config.tls import TlsConfig, TlsProblem, client_context

    try:
        return client_context(TlsConfig(ca_file=args.ca_file, cert_file=args.cert_file, key_file=args.key_file,
                                        server_name=args.server_name))
    except ValidationError as exc:
        raise UsageError(_as_options("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors()))) from None
    except TlsProblem as exc:
        raise UsageError(_as_options(str(exc))) from None


def _as_options(message: str) -> str:
    """The TLS checks name config fields (mqtt.tls.ca_file, ca_file); here they are options."""
    for field in ("ca_file", "cert_file", "key_file", "server_name"):
        option = "--" + field.replace("_", "-")
        message = message.replace(f"mqtt.tls.{field}", option)
        message = re.sub(rf"(^|; ){field}\b", rf"\g<1>{option}", message)
    return message


def _checked(args: argparse.Namespace) -> tuple[str, str]:
    """(topic filter, client id), or UsageError."""
    try:
        prefix = check_topic_prefix(args.prefix)
        topic = f"{prefix}/+/+/detections"
        if args.group is not None:
            check_topic_level(args.group, "share group")
            topic = f"$share/{args.group}/{topic}"
        client_id = args.client_id or f"jetsentry-consume-{socket.gethostname()}" + (
            f"-{args.group}" if args.group else "")
        check_client_id(client_id)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not 0 <= args.session_expiry <= 0xFFFFFFFF:
        raise UsageError(f"--session-expiry must be 0-{0xFFFFFFFF} seconds, got {args.session_expiry}")
    if args.remember < 1:
        raise UsageError(f"--remember must be at least 1, got {args.remember}")
    if args.port is not None and not 1 <= args.port <= 65535:
        raise UsageError(f"--port must be 1-65535, got {args.port}")
    return topic, client_id


def main(argv: list[str]) -> int:
    from jetsentry.config.models import LoggingConfig
    from jetsentry.logsetup import setup_logging

    args = build_parser().parse_args(argv)
    setup_logging(LoggingConfig(level="INFO", format="text"))
    try:
        topic, client_id = _checked(args)
        context = _tls_context(args)
        password = _password(args)
    except UsageError as exc:
        print(f"jetsentry consume: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        out = open(args.out, "a", encoding="utf-8") if args.out else sys.stdout
    except OSError as exc:
        print(f"jetsentry consume: error: cannot open {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        from jetsentry.consume.session import run_session
        from jetsentry.signals import StopRequest

        consumer = Consumer(out, DeliveryTracker(args.remember))
        port = args.port or (8883 if context is not None else 1883)
        error = run_session(consumer, StopRequest().install(), host=args.host, port=port, topic=topic,
                            client_id=client_id, session_expiry=args.session_expiry, tls=context,
                            username=args.username, password=password)
        print(f"jetsentry consume: {consumer.summary()}", file=sys.stderr)
        if error:
            print(f"jetsentry consume: error: {error}", file=sys.stderr)
            return EXIT_FAILURE
        return EXIT_OK
    finally:
        if out is not sys.stdout:
            out.close()


def _password(args: argparse.Namespace) -> str | None:
    if args.password_file is None:
        return None
    if not args.username:
        raise UsageError("--password-file needs --username")
    from jetsentry.config.files import SECRET_MAX_BYTES, UnreadableFile, read_regular_file

    try:
        return read_regular_file(args.password_file, max_bytes=SECRET_MAX_BYTES).decode("utf-8").rstrip("\r\n")
    except (UnreadableFile, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the password from {args.password_file}: {exc}") from None
