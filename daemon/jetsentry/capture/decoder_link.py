"""The messages between the daemon and a camera's NVDEC decoder process (capture/nvdec_process.py).

One message per ``Connection.send_bytes``: a tag byte, then a fixed struct for the per-frame
messages (a frame ready, a buffer released) and JSON for the rare ones.  The pictures
themselves never pass through here: they stay in device buffers the decoder process
allocated and exported with CUDA IPC (gpu/ipc.py), announced once per pool.

daemon -> decoder: Open, Release, PoolClosed, Stop.
decoder -> daemon: Ready (once, when its GPU answered), PoolAnnounced, StreamInfo, FrameReady, Ended.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import asdict, dataclass, field

HANDLE_BYTES = 64  # sizeof(CUipcMemHandle), the driver's IPC handle (gpu/ipc.py)


class LinkError(RuntimeError):
    """A message that is not one of this protocol's."""


@dataclass(frozen=True)
class Open:
    """Decode ``source`` until its end, a failure or Stop (one connection attempt)."""
    camera_id: str
    source: str  # the configured URI, credentials included: it crosses a local socket pair only
    lossless: bool
    paced: bool
    library: str


@dataclass(frozen=True)
class Release:
    pool: int
    index: int


@dataclass(frozen=True)
class PoolClosed:
    """The daemon unmapped every buffer of ``pool``: the decoder may free it."""
    pool: int


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class Ready:
    pid: int
    gpu: str


@dataclass(frozen=True)
class PoolAnnounced:
    pool: int
    width: int
    height: int
    pitch: int
    luma_rows: int
    handles: tuple[bytes, ...]


@dataclass(frozen=True)
class StreamInfo:
    file_info: dict


@dataclass(frozen=True)
class FrameReady:
    pool: int
    index: int
    pts_s: float | None
    capture_ts: float


@dataclass(frozen=True)
class Ended:
    """The attempt ended: ``end`` is eos, failed or stopped; a failure names its CaptureError class."""
    end: str
    error: str | None = None
    message: str | None = None
    problems: list[str] = field(default_factory=list)


Message = Open | Release | PoolClosed | Stop | Ready | PoolAnnounced | StreamInfo | FrameReady | Ended

_PAIR = struct.Struct("<ii")
_POOL = struct.Struct("<iiiiii")
_FRAME = struct.Struct("<iidd")
_JSON_TAGS = {b"O": Open, b"Q": Ready, b"I": StreamInfo, b"E": Ended}
_JSON_KINDS = {kind: tag for tag, kind in _JSON_TAGS.items()}


def encode(message: Message) -> bytes:
    if isinstance(message, FrameReady):
        pts = math.nan if message.pts_s is None else message.pts_s
        return b"F" + _FRAME.pack(message.pool, message.index, pts, message.capture_ts)
    if isinstance(message, Release):
        return b"R" + _PAIR.pack(message.pool, message.index)
    if isinstance(message, PoolClosed):
        return b"C" + _PAIR.pack(message.pool, 0)
    if isinstance(message, Stop):
        return b"S"
    if isinstance(message, PoolAnnounced):
        if any(len(handle) != HANDLE_BYTES for handle in message.handles):
            raise LinkError(f"a pool's IPC handles are {HANDLE_BYTES} bytes each")
        head = _POOL.pack(message.pool, message.width, message.height, message.pitch, message.luma_rows,
                          len(message.handles))
        return b"P" + head + b"".join(message.handles)
    tag = _JSON_KINDS.get(type(message))
    if tag is None:
        raise LinkError(f"not a decoder-link message: {message!r}")
    return tag + json.dumps(asdict(message)).encode()


def decode(data: bytes) -> Message:
    """The message in ``data``; LinkError naming what is wrong for anything else."""
    tag, body = data[:1], data[1:]
    try:
        if tag == b"F":
            pool, index, pts, capture_ts = _FRAME.unpack(body)
            return FrameReady(pool, index, None if math.isnan(pts) else pts, capture_ts)
        if tag == b"R":
            return Release(*_PAIR.unpack(body))
        if tag == b"C":
            return PoolClosed(_PAIR.unpack(body)[0])
        if tag == b"S" and not body:
            return Stop()
        if tag == b"P":
            pool, width, height, pitch, luma_rows, count = _POOL.unpack_from(body)
            handles = body[_POOL.size:]
            if count <= 0 or len(handles) != count * HANDLE_BYTES:
                raise LinkError(f"pool {pool} announces {count} buffers but carries {len(handles)} handle bytes")
            return PoolAnnounced(pool, width, height, pitch, luma_rows,
                                 tuple(handles[i:i + HANDLE_BYTES] for i in range(0, len(handles), HANDLE_BYTES)))
        kind = _JSON_TAGS.get(tag)
        if kind is not None:
            return kind(**json.loads(body))
    except (struct.error, ValueError, TypeError) as exc:
        raise LinkError(f"malformed decoder-link message {tag!r}: {exc}") from None
    raise LinkError(f"unknown decoder-link message tag {tag!r}")
