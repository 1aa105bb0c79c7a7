"""A GStreamer decoder that refuses its first N starts, for testing reconnects.

Every element installed here posts an error when it cannot start; GStreamer refusing a
pipeline without a word (which sessions must retry) happens with third-party elements.
This bin wraps the real avdec_h264 and fails READY->PAUSED the first `refusals` times,
posting nothing; after that it decodes like avdec_h264.  Named as the fake it is.
"""

from __future__ import annotations

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GObject, Gst  # noqa: E402

NAME = "jetsentrytestrefusingdec"


class RefusingDecoder(Gst.Bin):
    __gstmetadata__ = ("Refusing H.264 decoder (test fake)", "Codec/Decoder/Video",
                       "avdec_h264 that refuses its first starts without an error message", "jetsentry tests")
    __gsttemplates__ = (
        Gst.PadTemplate.new("sink", Gst.PadDirection.SINK, Gst.PadPresence.ALWAYS,
                            Gst.Caps.from_string("video/x-h264")),
        Gst.PadTemplate.new("src", Gst.PadDirection.SRC, Gst.PadPresence.ALWAYS, Gst.Caps.from_string("video/x-raw")),
    )
    refusals = 0

    def __init__(self) -> None:
        super().__init__()
        decoder = Gst.ElementFactory.make("avdec_h264", None)
        self.add(decoder)
        for name in ("sink", "src"):
            self.add_pad(Gst.GhostPad.new_from_template(name, decoder.get_static_pad(name),
                                                        self.get_pad_template(name)))

    def do_change_state(self, transition):
        if transition == Gst.StateChange.READY_TO_PAUSED and RefusingDecoder.refusals > 0:
            RefusingDecoder.refusals -= 1
            return Gst.StateChangeReturn.FAILURE
        return Gst.Bin.do_change_state(self, transition)


def install(refusals: int) -> str:
    """Register the element (once per process) to refuse its next `refusals` starts; its name."""
    Gst.init(None)
    if Gst.ElementFactory.find(NAME) is None:
        GObject.type_register(RefusingDecoder)
        Gst.Element.register(None, NAME, Gst.Rank.NONE, RefusingDecoder)
    RefusingDecoder.refusals = refusals
    return NAME
