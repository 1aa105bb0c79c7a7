"""Camera config -> the GStreamer description for one connection attempt."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from jetsentry.capture import pipeline as desc
from jetsentry.capture.elements import CODECS, choose_decoder, require_elements
from jetsentry.capture.errors import ElementMissing
from jetsentry.capture.probe import VideoFileInfo, probe_video_file
from jetsentry.config.models import CameraConfig, CaptureConfig
from jetsentry.config.source_uri import SourceUri, parse_source_uri


@dataclass(frozen=True)
class RtspCredentials:
    user: str | None
    password: str | None = field(repr=False)


@dataclass(frozen=True)
class SourcePlan:
    description: str  # safe to log: no credentials
    kind: str
    decoders: Mapping[str, str]  # codec -> decoder element (empty for raw sources)
    credentials: RtspCredentials | None = None  # set on rtspsrc name=src after parsing
    file_info: VideoFileInfo | None = None


def decoder_preference(camera: CameraConfig, capture: CaptureConfig) -> str:
    return camera.decoder or capture.decoder


def file_plan(info: VideoFileInfo, preference: str, sink: desc.SinkOptions) -> SourcePlan:
    decoder = choose_decoder(info.codec, preference)
    description = desc.file_description(info.path, info.container, info.codec, decoder, sink)
    return SourcePlan(description, "file", {info.codec: decoder}, file_info=info)


def plan_source(
    camera: CameraConfig,
    capture: CaptureConfig,
    source: SourceUri,
    sink: desc.SinkOptions,
    *,
    file_info: VideoFileInfo | None = None,
) -> SourcePlan:
    """Everything that can be decided before GStreamer runs; raises CaptureError subclasses."""
    preference = decoder_preference(camera, capture)
    if source.kind == "file":
        return file_plan(file_info or probe_video_file(source.path), preference, sink)
    if source.kind == "rtsp":
        decoders = rtsp_decoders(preference)
        location, credentials = split_credentials(source.raw, camera)
        description = desc.rtsp_description(
            location,
            transport=camera.rtsp.transport,
            latency_ms=camera.rtsp.latency_ms,
            decoders=decoders,
            sink=sink,
        )
        return SourcePlan(description, "rtsp", decoders, credentials=credentials)
    if source.kind == "v4l2":
        require_elements("v4l2src")
        return SourcePlan(desc.v4l2_description(source.path, sink), "v4l2", {})
    if source.kind == "csi":
        require_elements("nvarguscamerasrc", "nvvidconv")  # Jetson only
        return SourcePlan(desc.csi_description(source.sensor_id, sink), "csi", {})
    if source.kind == "test":
        return SourcePlan(desc.test_description(source.pattern, sink, **source.test_options), "test", {})
    raise ValueError(f"unknown source kind {source.kind!r}")


def rtsp_decoders(preference: str) -> dict[str, str]:
    """A decoder per codec the preference allows; an RTSP camera may send either.

    An explicit element that decodes only one codec gives a one-branch pipeline.
    """
    decoders: dict[str, str] = {}
    errors: list[ElementMissing] = []
    for codec in CODECS:
        try:
            decoders[codec] = choose_decoder(codec, preference)
        except ElementMissing as exc:
            errors.append(exc)
    if not decoders:
        raise errors[0]
    return decoders


def split_credentials(uri: str, camera: CameraConfig) -> tuple[str, RtspCredentials]:
    """The URI without user:password, and the credentials to use (config wins over the URI)."""
    return parse_source_uri(uri).location, RtspCredentials(*camera.rtsp_credentials())
