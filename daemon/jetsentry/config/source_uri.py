"""Camera source URIs: parsing, validation and credential masking.

Credentials are split off before anything else reads the URI, so no message, log line
or exception can show a password: `SourceUri.masked` is the form to print, and
`SourceUri.location` is an RTSP URI without user and password (rtspsrc gets those as
properties).  In `rtsp://user:password@host/path` the user ends at the first ':' and
the password at the last '@', so a password may hold any character as it is ('/', '?',
'#', '@', ':', '%', spaces) or percent-encoded (%2F); write a literal '%' followed by
two hex digits as %25, and an '@' in the path or query as %40.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from jetsentry.config.limits import PATH_MAX_BYTES, check_text, cut, path_problem, quoted

SOURCE_KINDS = ("file", "rtsp", "v4l2", "csi", "test")
RTSP_SCHEMES = ("rtsp", "rtsps", "rtspt")
MAX_CSI_SENSOR = 255
_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")  # videotestsrc pattern nick or number
_MASK = "***"
TEST_DEFAULTS = {"width": 640, "height": 480, "fps": 30}


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
    raw: str = field(repr=False)  # as configured: may hold credentials
    path: str = ""  # file path or v4l2 device
    sensor_id: int = 0
    pattern: str = "smpte"
    location: str = ""  # rtsp: the URI without user and password
    username: str | None = None  # rtsp: from the URI, percent-decoded
    password: str | None = field(default=None, repr=False)
    masked: str = ""  # the URI with any password replaced by '***': safe to log
    test_options: dict[str, int] = field(default_factory=lambda: dict(TEST_DEFAULTS), compare=False)  # test:// query

    def __repr__(self) -> str:
        return f"SourceUri({self.kind}, {self.masked!r})"

    __str__ = __repr__


def _split_userinfo(rest: str) -> tuple[str | None, str]:
    """(userinfo or None, the rest) for the text after '://'.

    The userinfo ends at the last '@'.  Text before it that holds no ':' but a '/', '?'
    or '#' is a path or query with an '@' in it, not a user name.
    """
    at = rest.rfind("@")
    if at < 0:
        return None, rest
    candidate = rest[:at]
    if ":" not in candidate and any(c in candidate for c in "/?#"):
        return None, rest
    return candidate, rest[at + 1:]


def _masked(scheme: str, userinfo: str | None, rest: str) -> str:
    if userinfo is None:
        return f"{scheme}://{rest}"
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{cut(user, 64)}{':' + _MASK if colon else ''}@{rest}"


def mask_uri(uri: str) -> str:
    """The URI with any password replaced by '***' (safe to log)."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri
    userinfo, rest = _split_userinfo(rest)
    return _masked(scheme, userinfo, rest)


def parse_source_uri(uri: str) -> SourceUri:
    if not uri or not uri.strip():
        raise SourceUriError("source is empty")
    uri = uri.strip()
    masked = mask_uri(uri)
    try:
        check_text(uri, "the source", max_bytes=PATH_MAX_BYTES)
    except ValueError as exc:
        raise SourceUriError(str(exc)) from None
    if "://" not in uri:
        _check_path(uri, masked)
        return SourceUri(kind="file", raw=uri, path=uri, masked=masked)
    scheme = uri.partition("://")[0].lower()
    if scheme in RTSP_SCHEMES:
        return _parse_rtsp(uri, scheme, masked)
    try:
        parts = urlsplit(uri)
    except ValueError:
        raise SourceUriError(f"cannot parse the source {quoted(masked, 200)}") from None
    if scheme == "file":
        if not parts.path:
            raise SourceUriError(f"file URI has no path: {quoted(masked, 200)}")
        _check_path(parts.path, masked)
        return SourceUri(kind="file", raw=uri, path=parts.path, masked=masked)
    if scheme == "v4l2":
        device = parts.path or "/dev/video0"
        if not device.startswith("/dev/"):
            raise SourceUriError(f"v4l2 device must be under /dev: {quoted(masked, 200)}")
        _check_path(device, masked)
        return SourceUri(kind="v4l2", raw=uri, path=device, masked=masked)
    if scheme == "csi":
        sensor = parts.netloc or "0"
        if not sensor.isdigit() or int(sensor) > MAX_CSI_SENSOR:
            raise SourceUriError(f"csi sensor id must be an integer from 0 to {MAX_CSI_SENSOR}: {quoted(masked)}")
        return SourceUri(kind="csi", raw=uri, sensor_id=int(sensor), masked=masked)
    if scheme == "test":
        pattern = parts.netloc or "smpte"
        if not _PATTERN.match(pattern):
            raise SourceUriError(f"test pattern must be a videotestsrc pattern name such as ball: {quoted(masked)}")
        try:
            options = test_source_options(uri)
        except ValueError as exc:
            raise SourceUriError(f"{exc}: {quoted(masked)}") from None
        return SourceUri(kind="test", raw=uri, pattern=pattern, masked=masked, test_options=options)
    raise SourceUriError(
        f"unsupported source scheme {quoted(scheme, 20)} in {quoted(masked, 200)}; "
        f"use one of file://, rtsp://, v4l2://, csi://, test://"
    )


def _check_path(path: str, masked: str) -> None:
    problem = path_problem(path)
    if problem:
        raise SourceUriError(f"{problem}: {quoted(masked)}")


def _parse_rtsp(uri: str, scheme: str, masked: str) -> SourceUri:
    userinfo, rest = _split_userinfo(uri.partition("://")[2])
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    hostport, tail = rest[:end], rest[end:]
    if hostport.startswith("["):  # IPv6 literal
        close = hostport.find("]")
        host, port = (hostport[: close + 1], hostport[close + 1:]) if close > 0 else ("", "")
        if port and not port.startswith(":"):
            host = ""
        port = port[1:]
    else:
        host, _, port = hostport.partition(":")
    if not host or any(c.isspace() for c in host):
        raise SourceUriError(f"RTSP URI has no host: {quoted(masked, 200)}")
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise SourceUriError(f"RTSP URI has a bad port {quoted(port, 20)} (1-65535): {quoted(masked, 200)}")
    username = password = None
    if userinfo is not None:
        user_text, colon, password_text = userinfo.partition(":")
        try:
            username = unquote(user_text, errors="strict") or None
            password = unquote(password_text, errors="strict") if colon else None
        except UnicodeDecodeError:
            raise SourceUriError(
                f"a %-escape in the user or password of {quoted(masked, 200)} is not UTF-8; write '%' as %25"
            ) from None
    return SourceUri(kind="rtsp", raw=uri, location=f"{scheme}://{hostport}{tail}", username=username,
                     password=password, masked=masked)


def file_exists(src: SourceUri) -> bool:
    return src.kind != "file" or Path(src.path).is_file()


def test_source_options(uri: str) -> dict[str, int]:
    """width/height/fps from a test:// URI query (test://ball?width=320&height=240&fps=15);
    ValueError naming the field for anything else in the query or a value out of range."""
    query = parse_qs(urlsplit(uri).query, keep_blank_values=True)
    unknown = sorted(set(query) - set(TEST_DEFAULTS))
    if unknown:
        raise ValueError(f"test source has no option {quoted(unknown[0], 40)} (it takes width, height, fps)")
    options = dict(TEST_DEFAULTS)
    for key, values in query.items():
        try:
            value = int(values[-1])
        except ValueError:
            raise ValueError(f"test source {key} must be an integer, got {quoted(values[-1], 40)}") from None
        if not 1 <= value <= 8192:
            raise ValueError(f"test source {key} out of range: {value} (1 to 8192)")
        options[key] = value
    return options
