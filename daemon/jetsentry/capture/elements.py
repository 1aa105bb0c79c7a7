"""Which GStreamer elements exist here, and which decoder to use.

Probing (instead of assuming a platform) keeps one code path for Jetson, desktop
NVIDIA and plain CPU machines; JetPack releases add and drop elements.
"""

from __future__ import annotations

import functools
from typing import Literal

from jetsentry.capture.errors import BadVideoFile, ElementMissing
from jetsentry.capture.gst import gst

Codec = Literal["h264", "h265"]
CODECS: tuple[str, ...] = ("h264", "h265")

# Jetson hardware decoder (both codecs, outputs NVMM memory).
JETSON_DECODER = "nvv4l2decoder"
_NVCODEC = {"h264": "nvh264dec", "h265": "nvh265dec"}
_CPU = {"h264": "avdec_h264", "h265": "avdec_h265"}
_CODEC_CAPS = {"h264": "video/x-h264", "h265": "video/x-h265"}
DECODER_PREFERENCES = ("auto", "nvv4l2", "nvcodec", "cpu")


@functools.lru_cache(maxsize=None)
def has_element(name: str) -> bool:
    """True when a GStreamer element factory of this name is installed (cached)."""
    return gst().ElementFactory.find(name) is not None


def require_elements(*names: str) -> None:
    missing = [name for name in names if not has_element(name)]
    if missing:
        raise ElementMissing(f"GStreamer element(s) not installed: {', '.join(missing)}")


def outputs_nvmm(decoder: str) -> bool:
    """Jetson decoders output NVMM (device) memory, which needs nvvidconv before videoconvert."""
    return decoder == JETSON_DECODER


def choose_decoder(codec: str, preference: str | None = "auto") -> str:
    """The decoder element name for `codec` under `preference`.

    auto: nvv4l2decoder (Jetson) -> nvh264dec/nvh265dec (desktop NVIDIA) -> avdec_* (CPU).
    nvv4l2 / nvcodec / cpu force one family; anything else is an explicit element name.
    Raises ElementMissing when the chosen element is not installed or cannot decode `codec`.
    """
    if codec not in CODECS:
        raise BadVideoFile(f"unsupported codec {codec!r}; only H.264 and H.265 are supported")
    pref = (preference or "auto").strip()
    if pref == "auto":
        for name in (JETSON_DECODER, _NVCODEC[codec], _CPU[codec]):
            if has_element(name):
                return name
        raise ElementMissing(
            f"no {codec.upper()} decoder found (tried {JETSON_DECODER}, {_NVCODEC[codec]}, {_CPU[codec]}); "
            "install gstreamer1.0-libav"
        )
    family = {"nvv4l2": JETSON_DECODER, "nvcodec": _NVCODEC[codec], "cpu": _CPU[codec]}
    name = family.get(pref, pref)
    if not has_element(name):
        hint = f" (decoder preference {pref!r})" if pref in family else ""
        raise ElementMissing(f"decoder element {name!r} is not installed{hint}")
    if not _can_decode(name, codec):
        raise ElementMissing(f"decoder element {name!r} cannot decode {codec.upper()}")
    return name


@functools.lru_cache(maxsize=None)
def _can_decode(name: str, codec: str) -> bool:
    Gst = gst()
    factory = Gst.ElementFactory.find(name)
    return factory is not None and factory.can_sink_any_caps(Gst.Caps.from_string(_CODEC_CAPS[codec]))
