"""Camera source URIs: parsing, validation and credential masking."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit, quote

SOURCE_KINDS = ("file", "rtsp", "v4l2", "csi", "test")


class SourceUriError(ValueError):
    pass


@dataclass(frozen=True)
class SourceUri:
    """A parsed camera source.

    Forms accepted:
      file:///abs/path.mp4 or a plain path      video file (mp4, mkv, raw .h264/.h265)
      rtsp://[user[:pass]@]host[:port]/path      RTSP (rtsps:// too)
      v4l2:///dev/video0                         USB camera
      csi://0                                    Jetson CSI camera (sensor id)
      test://[pattern]                           GStreamer videotestsrc (smpte, ball, ...)
    """

    kind: str
    raw: str
    path: str = ""  # file path or v4l2 device
    sensor_id: int = 0
    pattern: str = "smpte"

    @property
    def masked(self) -> str:
        return mask_uri(self.raw)


def mask_uri(uri: str) -> str:
    """The URI with any password replaced by '***' (safe to log)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "<unparseable uri>"
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def with_credentials(uri: str, username: str | None, password: str | None) -> str:
    """Return an RTSP URI carrying the given credentials (overriding any in the URI)."""
    if not username:
        return uri
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    cred = quote(username, safe="")
    if password:
        cred += ":" + quote(password, safe="")
    return urlunsplit((parts.scheme, f"{cred}@{host}", parts.path, parts.query, parts.fragment))


def parse_source_uri(uri: str) -> SourceUri:
    if not uri or not uri.strip():
        raise SourceUriError("source is empty")
    uri = uri.strip()
    if "://" not in uri:
        return SourceUri(kind="file", raw=uri, path=uri)
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if not parts.path:
            raise SourceUriError(f"file URI has no path: {uri!r}")
        return SourceUri(kind="file", raw=uri, path=parts.path)
    if scheme in ("rtsp", "rtsps", "rtspt"):
        if not parts.hostname:
            raise SourceUriError(f"RTSP URI has no host: {mask_uri(uri)!r}")
        try:
            parts.port  # noqa: B018 - raises on a non-numeric port
        except ValueError as exc:
            raise SourceUriError(f"RTSP URI has a bad port: {mask_uri(uri)!r}") from exc
        return SourceUri(kind="rtsp", raw=uri)
    if scheme == "v4l2":
        device = parts.path or "/dev/video0"
        if not device.startswith("/dev/"):
            raise SourceUriError(f"v4l2 device must be under /dev: {uri!r}")
        return SourceUri(kind="v4l2", raw=uri, path=device)
    if scheme == "csi":
        try:
            sensor = int(parts.netloc or "0")
        except ValueError as exc:
            raise SourceUriError(f"csi sensor id must be an integer: {uri!r}") from exc
        return SourceUri(kind="csi", raw=uri, sensor_id=sensor)
    if scheme == "test":
        return SourceUri(kind="test", raw=uri, pattern=parts.netloc or "smpte")
    raise SourceUriError(
        f"unsupported source scheme {scheme!r} in {mask_uri(uri)!r}; "
        f"use one of file://, rtsp://, v4l2://, csi://, test://"
    )


def file_exists(src: SourceUri) -> bool:
    return src.kind != "file" or Path(src.path).is_file()
