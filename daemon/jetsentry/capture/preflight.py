"""Sources and decoders in a valid configuration that cannot work on this machine.

For `jetsentry check-config`: warnings, not errors (the same file may be meant for
another machine).  File sources are checked without GStreamer; elements need it, and
when it is not importable that is one warning instead.
"""

from __future__ import annotations

from jetsentry.capture.errors import ElementMissing, FileNotFound, GStreamerMissing
from jetsentry.config.models import AppConfig
from jetsentry.config.source_uri import parse_source_uri

# Source kinds that decode compressed video, and the elements each other kind needs.
_DECODING_KINDS = ("file", "rtsp")
_SOURCE_ELEMENTS = {
    "rtsp": ("rtspsrc",),
    "v4l2": ("v4l2src",),
    "csi": ("nvarguscamerasrc", "nvvidconv"),  # Jetson only
    "test": ("videotestsrc",),
}


def machine_warnings(cfg: AppConfig) -> list[str]:
    """One line per enabled camera source or decoder setting that cannot work here."""
    from jetsentry.capture.probe import check_file

    warnings: list[str] = []
    cameras = [(index, camera, parse_source_uri(camera.source)) for index, camera in enumerate(cfg.cameras)
               if camera.enabled]
    for index, camera, source in cameras:
        if source.kind == "file":
            try:
                check_file(source.path)
            except FileNotFound as exc:
                warnings.append(f"cameras[{index}].source (camera {camera.id}): {exc}")
    try:
        from jetsentry.capture.gst import gst

        gst()
    except GStreamerMissing as exc:
        warnings.append(f"cannot check GStreamer elements and decoders: {exc}")
        return warnings
    warnings += _element_warnings(cfg, cameras)
    return warnings


def _element_warnings(cfg: AppConfig, cameras) -> list[str]:
    from jetsentry.capture.elements import has_element
    from jetsentry.capture.sources import rtsp_decoders

    warnings: list[str] = []
    checked: set[str] = set()  # each decoder setting once, where it is written
    for index, camera, source in cameras:
        missing = [name for name in _SOURCE_ELEMENTS.get(source.kind, ()) if not has_element(name)]
        if missing:
            warnings.append(f"cameras[{index}].source (camera {camera.id}): {source.kind} sources need GStreamer "
                            f"element(s) not installed here: {', '.join(missing)}")
        if source.kind not in _DECODING_KINDS:
            continue
        where = f"cameras[{index}].decoder" if camera.decoder else "capture.decoder"
        if where in checked:
            continue
        checked.add(where)
        if (camera.decoder or cfg.capture.decoder).strip() == "nvdec":
            from jetsentry.capture.decoders import nvdec_available

            usable, found = nvdec_available(getattr(cfg.model.backend, "device", 0))
            if not usable:
                warnings.append(f"{where}: nvdec cannot decode here: {found}")
            continue
        try:
            rtsp_decoders(camera.decoder or cfg.capture.decoder)  # a decoder for at least one codec
        except ElementMissing as exc:
            warnings.append(f"{where}: {exc}")
    return warnings
