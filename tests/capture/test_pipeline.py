"""gst-launch descriptions for each source kind, and that the real ones parse."""

from __future__ import annotations

import pytest

from jetsentry.capture import pipeline as desc
from jetsentry.capture.elements import has_element
from jetsentry.capture.gst import gst
from jetsentry.capture.pipeline import OFFLINE_SINK, SinkOptions
from jetsentry.config import source_uri

LIVE = SinkOptions(max_buffers=2, drop=True, sync=False)
LIVE_TAIL = (
    "videoconvert ! video/x-raw,format={I420,NV12} ! appsink name=sink emit-signals=true drop=true max-buffers=2 sync=false"
)


def test_mp4_file_uses_qtdemux_parser_and_decoder():
    text = desc.file_description("/v/a.mp4", "video/quicktime", "h264", "avdec_h264", LIVE)
    assert text.startswith('filesrc name=src location="/v/a.mp4" ! qtdemux ! h264parse ! avdec_h264 max-threads=1 ! ')
    assert text.endswith(LIVE_TAIL)


def test_mkv_h265_file_uses_matroskademux():
    text = desc.file_description("/v/a.mkv", "video/x-matroska", "h265", "avdec_h265", LIVE)
    assert "filesrc name=src location=\"/v/a.mkv\" ! matroskademux ! h265parse ! avdec_h265 max-threads=1 ! " in text


def test_raw_stream_has_no_demuxer():
    text = desc.file_description("/v/a.h264", "raw", "h264", "avdec_h264", LIVE)
    assert text.startswith('filesrc name=src location="/v/a.h264" ! h264parse ! avdec_h264 max-threads=1 ! ')


def test_offline_sink_never_drops():
    text = desc.file_description("/v/a.mp4", "video/quicktime", "h264", "avdec_h264", OFFLINE_SINK)
    assert "drop=false" in text and "drop=true" not in text
    assert "sync=false" in text


def test_unknown_container_is_rejected():
    with pytest.raises(ValueError, match="video/x-msvideo"):
        desc.file_description("/v/a.avi", "video/x-msvideo", "h264", "avdec_h264", LIVE)


def test_jetson_decoder_gets_nvvidconv_before_videoconvert():
    text = desc.file_description("/v/a.mp4", "video/quicktime", "h264", "nvv4l2decoder", LIVE)
    assert "h264parse ! nvv4l2decoder ! nvvidconv ! video/x-raw,format=NV12 ! " in text
    assert text.index("nvvidconv") < text.index("videoconvert")


def test_desktop_nvidia_decoder_needs_no_nvvidconv():
    assert "nvvidconv" not in desc.decode_chain("h265", "nvh265dec")


def test_path_with_spaces_and_quotes_is_quoted():
    path = '/videos/my "front" door\\cam.mp4'
    text = desc.file_description(path, "video/quicktime", "h264", "avdec_h264", LIVE)
    assert 'location="/videos/my \\"front\\" door\\\\cam.mp4"' in text


def test_quoted_path_round_trips_through_gst_parse(tmp_path):
    Gst = gst()
    path = str(tmp_path / 'a "b" c.mp4')
    pipeline = Gst.parse_launch(f"filesrc name=f location={desc.quote(path)} ! fakesink")
    assert pipeline.get_by_name("f").get_property("location") == path


CPU_DECODERS = {"h264": "avdec_h264", "h265": "avdec_h265"}


def test_rtsp_description_has_a_branch_per_codec_joined_by_a_funnel():
    text = desc.rtsp_description(
        "rtsp://cam.local:8554/live", transport="udp", latency_ms=150, decoders=CPU_DECODERS, sink=LIVE
    )
    assert text.startswith(
        'rtspsrc name=src location="rtsp://cam.local:8554/live" protocols=udp latency=150 '
        "add-reference-timestamp-meta=true "
    )
    assert " src. ! rtph264depay ! h264parse ! avdec_h264 max-threads=1 ! funnel. " in text
    assert " src. ! rtph265depay ! h265parse ! avdec_h265 max-threads=1 ! funnel. " in text
    assert " funnel name=funnel ! videoconvert " in text
    assert text.endswith(LIVE_TAIL)


def test_rtsp_with_one_decoder_for_both_codecs_decodes_after_the_funnel():
    both = {"h264": "nvv4l2decoder", "h265": "nvv4l2decoder"}
    text = desc.rtsp_description("rtsp://cam/x", transport="tcp", latency_ms=0, decoders=both, sink=LIVE)
    assert " src. ! rtph264depay ! h264parse ! funnel. " in text
    assert " src. ! rtph265depay ! h265parse ! funnel. " in text
    assert " funnel name=funnel ! nvv4l2decoder ! nvvidconv ! video/x-raw,format=NV12 ! videoconvert " in text
    assert text.count("nvv4l2decoder") == 1


def test_rtsp_with_a_single_codec_decoder():
    text = desc.rtsp_description(
        "rtsp://cam/x", transport="tcp", latency_ms=0, decoders={"h264": "avdec_h264"}, sink=LIVE
    )
    assert "rtph264depay" in text and "rtph265depay" not in text


def test_rtsp_description_refuses_credentials_in_location():
    with pytest.raises(ValueError, match="credentials"):
        desc.rtsp_description(
            "rtsp://u:secret@cam/live", transport="tcp", latency_ms=0, decoders=CPU_DECODERS, sink=LIVE
        )


def test_rtsp_transport_must_be_tcp_or_udp():
    with pytest.raises(ValueError, match="transport"):
        desc.rtsp_description("rtsp://cam/x", transport="http", latency_ms=0, decoders=CPU_DECODERS, sink=LIVE)


def test_v4l2_description():
    assert desc.v4l2_description("/dev/video2", LIVE).startswith('v4l2src name=src device="/dev/video2" ! ')


def test_csi_description_converts_nvmm_frames():
    text = desc.csi_description(1, LIVE)
    assert text.startswith("nvarguscamerasrc name=src sensor-id=1 ! video/x-raw(memory:NVMM) ! nvvidconv ! ")
    assert text.endswith(LIVE_TAIL)


def test_test_source_description_and_uri_options():
    options = source_uri.test_source_options("test://ball?width=320&height=200&fps=12")
    assert options == {"width": 320, "height": 200, "fps": 12}
    text = desc.test_description("ball", LIVE, **options)
    assert text.startswith(
        "videotestsrc name=src pattern=ball is-live=true ! video/x-raw,width=320,height=200,framerate=12/1 ! "
    )
    assert source_uri.test_source_options("test://smpte") == source_uri.TEST_DEFAULTS


@pytest.mark.parametrize("uri", ["test://ball?width=abc", "test://ball?fps=0"])
def test_test_source_bad_options_name_the_field(uri):
    with pytest.raises(ValueError, match="width|fps"):
        source_uri.test_source_options(uri)


def test_test_source_rejects_injection_in_pattern():
    with pytest.raises(ValueError, match="pattern"):
        desc.test_description("ball ! filesink location=/etc/x", LIVE, width=1, height=1, fps=1)


@pytest.mark.parametrize(
    "text",
    [
        desc.rtsp_description("rtsp://127.0.0.1:1/x", transport="tcp", latency_ms=100, decoders=CPU_DECODERS,
                              sink=LIVE),
        desc.v4l2_description("/dev/video0", LIVE),
        desc.test_description("smpte", LIVE, width=64, height=48, fps=5),
    ],
    ids=["rtsp", "v4l2", "test"],
)
def test_live_descriptions_parse_with_real_gstreamer(text):
    Gst = gst()
    pipeline = Gst.parse_launch(text)
    assert pipeline.get_by_name("sink") is not None
    pipeline.set_state(Gst.State.NULL)


@pytest.mark.skipif(has_element("nvarguscamerasrc"), reason="this check is for machines without Argus")
def test_csi_on_a_non_jetson_is_a_clear_missing_element_error():
    from jetsentry.capture.errors import ElementMissing
    from jetsentry.capture.sources import plan_source
    from jetsentry.config.models import CameraConfig, CaptureConfig
    from jetsentry.config.source_uri import parse_source_uri

    camera = CameraConfig(id="csi", source="csi://0")
    with pytest.raises(ElementMissing, match="nvarguscamerasrc"):
        plan_source(camera, CaptureConfig(), parse_source_uri(camera.source), LIVE)


def test_cpu_decoder_runs_on_one_thread_in_a_real_pipeline():
    Gst = gst()
    text = desc.file_description("/v/a.mp4", "video/quicktime", "h264", "avdec_h264", LIVE)
    pipeline = Gst.parse_launch(text)
    decoders = [e for e in pipeline.iterate_elements() if e.get_factory().get_name() == "avdec_h264"]
    assert len(decoders) == 1
    assert decoders[0].get_property("max-threads") == desc.CPU_DECODER_THREADS == 1


def test_hardware_decoders_get_no_libav_options():
    text = desc.file_description("/v/a.mp4", "video/quicktime", "h264", "nvh264dec", LIVE)
    assert " ! nvh264dec ! videoconvert " in text
