"""Which decoder family a camera uses: GStreamer (host pictures) or NVDEC (device pictures).

``capture.decoder: auto`` (or a camera's ``decoder``) probes: a file or RTSP camera feeding
a GPU backend is decoded with NVDEC through PyNvVideoCodec when it imports and the GPU
answers, so its frames never leave the GPU; anything else goes through GStreamer, which
probes its own elements (capture/elements.py: nvv4l2decoder on a Jetson, nvh264dec on a
desktop GPU, avdec_* on a CPU).  PyNvVideoCodec is not available on Jetson Orin (no Video
Codec SDK there): Orin decodes with nvv4l2decoder into NV12 host memory, which the GPU
pre-processor reads in place (unified memory).  The choice and its reason are logged
once per camera.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from jetsentry.config.models import CameraConfig, CaptureConfig
from jetsentry.config.source_uri import parse_source_uri

log = logging.getLogger("jetsentry.capture")

NVDEC = "nvdec"
NVDEC_SOURCE_KINDS = ("file", "rtsp")


@dataclass(frozen=True)
class CaptureBackend:
    name: str  # "gstreamer" or "nvdec"
    reason: str
    device: int = 0  # the GPU NVDEC decodes on (the engine's)


@functools.lru_cache(maxsize=None)
def nvdec_available(device: int = 0) -> tuple[bool, str]:
    """(usable, what was found): PyNvVideoCodec imports and GPU ``device`` answers."""
    try:
        import PyNvVideoCodec as nvc
    except ImportError as exc:
        return False, f"PyNvVideoCodec is not installed ({exc})"
    try:
        from jetsentry.gpu.cuda import get_device

        gpu = get_device(device)
    except Exception as exc:  # noqa: BLE001 - no driver, no GPU, no cuda-python: all mean GStreamer
        return False, f"no usable GPU {device} ({exc})"
    return True, f"PyNvVideoCodec {getattr(nvc, '__version__', '?')} on GPU {device} ({gpu.info.name})"


def choose_backend(camera: CameraConfig, capture: CaptureConfig, *, gpu_engine: bool = False,
                   device: int = 0) -> CaptureBackend:
    """The decoder family for ``camera``; ``gpu_engine``: the model's backend takes device pictures."""
    preference = (camera.decoder or capture.decoder).strip()
    kind = parse_source_uri(camera.source).kind
    if preference == NVDEC:
        return CaptureBackend(NVDEC, "decoder: nvdec in the configuration", device)
    if preference != "auto":
        return CaptureBackend("gstreamer", f"decoder: {preference} in the configuration")
    if kind not in NVDEC_SOURCE_KINDS:
        return CaptureBackend("gstreamer", f"{kind} sources are read through GStreamer")
    if not gpu_engine:
        return CaptureBackend("gstreamer", "the model runs on the CPU, so frames are decoded into host memory")
    usable, found = nvdec_available(device)
    if usable:
        return CaptureBackend(NVDEC, f"the model runs on the GPU and {found} decodes into GPU memory", device)
    return CaptureBackend("gstreamer", f"NVDEC cannot be used: {found}")


def log_choice(camera_id: str, backend: CaptureBackend) -> None:
    what = "NVDEC (PyNvVideoCodec)" if backend.name == NVDEC else "GStreamer (decoder probed per stream)"
    log.info("camera %s: decoding with %s: %s", camera_id, what, backend.reason)
