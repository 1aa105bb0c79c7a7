"""Decoder choice by probing the GStreamer elements installed here."""

from __future__ import annotations

import pytest

from jetsentry.capture.elements import choose_decoder, has_element
from jetsentry.capture.errors import CaptureError, ElementMissing


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_auto_takes_the_first_installed_in_preference_order(codec):
    order = ["nvv4l2decoder", f"nv{codec}dec", f"avdec_{codec}"]
    expected = next(name for name in order if has_element(name))
    assert choose_decoder(codec, "auto") == expected
    assert choose_decoder(codec, None) == expected


def test_cpu_family():
    assert choose_decoder("h264", "cpu") == "avdec_h264"
    assert choose_decoder("h265", "cpu") == "avdec_h265"


@pytest.mark.skipif(has_element("nvv4l2decoder"), reason="Jetson decoder present")
def test_forcing_a_missing_family_names_the_element():
    with pytest.raises(ElementMissing, match="nvv4l2decoder.*nvv4l2"):
        choose_decoder("h264", "nvv4l2")


@pytest.mark.skipif(has_element("nvh265dec"), reason="NVIDIA desktop decoder present")
def test_forcing_nvcodec_without_it():
    with pytest.raises(ElementMissing, match="nvh265dec"):
        choose_decoder("h265", "nvcodec")


def test_explicit_element_name_is_used_as_given():
    assert choose_decoder("h264", "avdec_h264") == "avdec_h264"


@pytest.mark.skipif(not has_element("libde265dec"), reason="libde265dec not installed")
def test_explicit_element_overrides_the_auto_order():
    assert choose_decoder("h265", "libde265dec") == "libde265dec"


def test_explicit_missing_element_is_named():
    with pytest.raises(ElementMissing, match="'nosuchdecoder' is not installed"):
        choose_decoder("h264", "nosuchdecoder")


def test_explicit_element_that_cannot_decode_the_codec():
    with pytest.raises(ElementMissing, match="avdec_h265.*cannot decode H264"):
        choose_decoder("h264", "avdec_h265")


def test_unsupported_codec():
    with pytest.raises(CaptureError, match="vp9"):
        choose_decoder("vp9", "auto")


def test_probe_is_cached():
    has_element.cache_clear()
    has_element("avdec_h264")
    has_element("avdec_h264")
    assert has_element.cache_info().hits == 1
