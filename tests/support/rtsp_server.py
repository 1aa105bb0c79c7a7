"""A real RTSP server (gst-rtsp-server via PyGObject) for capture tests.

Run as a subprocess:
    python tests/support/rtsp_server.py --port P --mount /cam [--file clip.mp4 | --pattern ball]
It prints "READY <port>" once it listens.  Live sources are encoded with x264enc
tune=zerolatency.  `RtspServerProcess` starts it, kills it with SIGKILL, freezes it
with SIGSTOP (the stream stalls but the TCP connection stays open) and restarts it on
the same port.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def _launch_line(args: argparse.Namespace) -> str:
    if args.file:
        path = str(Path(args.file).resolve()).replace('"', '\\"')
        demux = "matroskademux" if path.endswith(".mkv") else "qtdemux"
        return f'( filesrc location="{path}" ! {demux} ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )'
    encoder = (
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bframes=0 ! h264parse ! "
        "rtph264pay name=pay0 pt=96 config-interval=1"
    )
    if args.codec == "h265":
        encoder = (
            "x265enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} option-string=log-level=0 ! "
            "h265parse ! rtph265pay name=pay0 pt=96 config-interval=1"
        )
    return (
        f"( videotestsrc is-live=true pattern={args.pattern} ! "
        f"video/x-raw,format=I420,width={args.width},height={args.height},framerate={args.fps}/1 ! "
        + encoder.format(gop=args.fps)
        + " )"
    )


def serve(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mount", default="/cam")
    parser.add_argument("--file", help="stream this mp4/mkv (H.264) instead of a live test pattern")
    parser.add_argument("--pattern", default="ball")
    parser.add_argument("--codec", choices=("h264", "h265"), default="h264")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--user", help="require this user (basic auth)")
    parser.add_argument("--password", default="")
    args = parser.parse_args(argv)

    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(_launch_line(args))
    factory.set_shared(True)
    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_role_from_structure(
            Gst.Structure.new_from_string(
                "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
            )
        )
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory(args.mount, factory)
    if server.attach(None) == 0:
        print(f"FAILED cannot listen on port {args.port}", flush=True)
        sys.exit(1)
    print(f"READY {args.port}", flush=True)
    GLib.MainLoop().run()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RtspServerProcess:
    """The server in a subprocess, restartable on the same port."""

    def __init__(self, *server_args: str, port: int | None = None, mount: str = "/cam") -> None:
        self.port = port or free_port()
        self.mount = mount
        self._args = list(server_args)
        self._proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.mount}"

    def start(self, timeout_s: float = 20.0) -> None:
        command = [sys.executable, __file__, "--port", str(self.port), "--mount", self.mount, *self._args]
        deadline = time.monotonic() + timeout_s
        while True:
            self._proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            line = self._proc.stdout.readline()  # blocks until READY or exit
            if line.startswith("READY"):
                return
            self._proc.wait()
            # The port may still be held by the killed server's sockets for a moment.
            if time.monotonic() > deadline:
                raise RuntimeError(f"RTSP server did not start on port {self.port}: {line.strip()!r}")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: the camera vanishes without closing anything cleanly."""
        if self._proc is not None and self._proc.poll() is None:
            os.kill(self._proc.pid, signal.SIGKILL)
            self._proc.wait()

    def freeze(self) -> None:
        """SIGSTOP: the stream stalls while connections stay open."""
        os.kill(self._proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self._proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self.thaw()
            self.kill()
        self._proc = None


if __name__ == "__main__":
    serve()
