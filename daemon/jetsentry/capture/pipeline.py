"""gst-launch descriptions for each source kind (pure string building, no GStreamer calls).

The source element is always named "src" (stable names in error messages, and the
session sets rtspsrc credentials on it).
Every description ends in `videoconvert ! video/x-raw,format={I420,NV12} ! appsink
name=sink`, so the session and the offline reader handle all sources the same way.
Decoders already output I420 or NV12, which videoconvert passes through untouched; the
conversion to BGR happens later, only for frames that are used (capture/frame.py).  Credentials
never appear in a description (they are set as rtspsrc properties), so descriptions
are safe to log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from jetsentry.capture.elements import outputs_nvmm

# Container caps name (from probing) -> demuxer; "raw" is an elementary H.264/H.265 stream.
DEMUXERS = {
    "video/quicktime": "qtdemux",
    "video/x-quicktime": "qtdemux",
    "application/x-3gp": "qtdemux",
    "video/x-matroska": "matroskademux",
    "video/webm": "matroskademux",
    "video/mpegts": "tsdemux",
    "raw": None,
}



@dataclass(frozen=True)
class SinkOptions:
    """appsink behaviour.  Live capture drops (newest wins); the offline reader never does."""

    max_buffers: int = 2
    drop: bool = True
    sync: bool = False


OFFLINE_SINK = SinkOptions(max_buffers=4, drop=False, sync=False)

# libav decodes each stream on one thread.  The daemon decodes several streams, usually
# more than it has cores; libav's default frame threading (one thread per core, for
# non-live sources) spends more CPU per frame and delays each frame by one per thread.
# Measured on 4 live 1080p30 file cameras: decoding 7.7 -> 7.0 CPU-s per 15 s
# (docs/PERFORMANCE.md, row 3b).  Live RTSP sources get slice threading only anyway.
CPU_DECODER_THREADS = 1


def quote(value: str) -> str:
    """A gst-launch property value: double-quoted, with backslash and quote escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def appsink_tail(sink: SinkOptions) -> str:
    return (
        "videoconvert ! video/x-raw,format={I420,NV12} ! "
        f"appsink name=sink emit-signals=true drop={_bool(sink.drop)} "
        f"max-buffers={sink.max_buffers} sync={_bool(sink.sync)}"
    )


def decoder_chain(decoder: str) -> str:
    """decoder [! nvvidconv]: Jetson decoders output NVMM memory, which nvvidconv copies to
    system memory as NV12 (the decoder's own layout, which the GPU pre-processor reads
    in place on a Jetson's unified memory; the CPU path converts NV12 as it does I420).
    Unverified here: this project has no Jetson to run it on."""
    if outputs_nvmm(decoder):
        return f"{decoder} ! nvvidconv ! video/x-raw,format=NV12"
    if decoder.startswith("avdec_"):
        return f"{decoder} max-threads={CPU_DECODER_THREADS}"
    return decoder


def decode_chain(codec: str, decoder: str) -> str:
    """parser ! decoder [! nvvidconv]."""
    return f"{codec}parse ! {decoder_chain(decoder)}"


def file_description(path: str, container: str, codec: str, decoder: str, sink: SinkOptions) -> str:
    if container not in DEMUXERS:
        raise ValueError(f"unsupported container {container!r}")
    demuxer = DEMUXERS[container]
    head = f"filesrc name=src location={quote(path)}"
    if demuxer:
        head += f" ! {demuxer}"
    return f"{head} ! {decode_chain(codec, decoder)} ! {appsink_tail(sink)}"


def rtsp_description(
    location: str, *, transport: str, latency_ms: int, decoders: Mapping[str, str], sink: SinkOptions
) -> str:
    """rtspsrc with one depay ! parse [! decoder] branch per codec, joined by a funnel.

    The camera's codec is only known from its SDP; rtspsrc's video pad links to the
    branch whose depayloader accepts it, the other branch stays idle.  So an H.265
    camera needs no second connection.  When one element decodes both codecs
    (nvv4l2decoder), a single decoder sits after the funnel.  `decoders` maps codec ->
    decoder element; `location` must carry no credentials.
    """
    if transport not in ("tcp", "udp"):
        raise ValueError(f"RTSP transport must be tcp or udp, not {transport!r}")
    parts = urlsplit(location)
    if parts.password is not None or parts.username is not None:
        raise ValueError("credentials must be set as rtspsrc properties, not in the location")
    if not decoders:
        raise ValueError("no RTSP decoder")
    shared = len(decoders) > 1 and len(set(decoders.values())) == 1
    text = (
        f"rtspsrc name=src location={quote(location)} protocols={transport} latency={int(latency_ms)} "
        "add-reference-timestamp-meta=true"
    )
    for codec, decoder in decoders.items():
        branch = f"rtp{codec}depay ! {codec}parse" + ("" if shared else f" ! {decoder_chain(decoder)}")
        text += f" src. ! {branch} ! funnel."
    after_funnel = f"{decoder_chain(next(iter(decoders.values())))} ! " if shared else ""
    return f"{text} funnel name=funnel ! {after_funnel}{appsink_tail(sink)}"


def v4l2_description(device: str, sink: SinkOptions) -> str:
    return f"v4l2src name=src device={quote(device)} ! {appsink_tail(sink)}"


def csi_description(sensor_id: int, sink: SinkOptions) -> str:
    # Jetson only: Argus delivers NVMM frames; nvvidconv copies them to system memory.
    return (
        f"nvarguscamerasrc name=src sensor-id={int(sensor_id)} ! video/x-raw(memory:NVMM) ! "
        f"nvvidconv ! video/x-raw,format=I420 ! {appsink_tail(sink)}"
    )


def test_description(pattern: str, sink: SinkOptions, *, width: int, height: int, fps: int) -> str:
    if not pattern.replace("-", "").isalnum():
        raise ValueError(f"bad videotestsrc pattern {pattern!r}")
    return (
        f"videotestsrc name=src pattern={pattern} is-live=true ! "
        f"video/x-raw,width={int(width)},height={int(height)},framerate={int(fps)}/1 ! {appsink_tail(sink)}"
    )


def _bool(value: bool) -> str:
    return "true" if value else "false"
