"""The ctypes NVDEC decoder (capture/nvcuvid.py) against a FAKE libnvcuvid built from C here.

The fake (tests/capture/fake_nvcuvid.c) declares the SDK's structures in C and reproduces the
documented calling pattern (callbacks from inside cuvidParseVideoData, the display delay,
mapping limits), so these tests check what runs without a GPU: that the ctypes layouts are
the C compiler's, the callbacks' plumbing, what the decoder asks of the library, the errors,
and that the parse runs without the GIL.  Decoding itself is the lent GPU's to show
(bench/gpu/nvcuvid_probe.py).
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from jetsentry.capture import nvcuvid

FAKE_SOURCE = Path(__file__).with_name("fake_nvcuvid.c")
PAYLOAD = ctypes.create_string_buffer(b"\x00\x00\x00\x01\x65" + bytes(59))  # any bytes: the fake reads none
ADDRESS, SIZE = ctypes.addressof(PAYLOAD), 64


@pytest.fixture(scope="module")
def fake_library(tmp_path_factory) -> Path:
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("needs a C compiler (gcc) to build the fake libnvcuvid: apt install gcc libc6-dev")
    path = tmp_path_factory.mktemp("fake-nvcuvid") / "libfake_nvcuvid.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o", str(path), str(FAKE_SOURCE)],
                   check=True, capture_output=True)
    return path


@pytest.fixture()
def fake(fake_library):
    previous = nvcuvid._library
    lib = nvcuvid.bind(ctypes.CDLL(str(fake_library)))
    lib.fake_reset()
    lib.fake_set_format(1920, 1088, 1920, 1080, 5, 0, nvcuvid.CHROMA_420, 1)
    yield lib
    nvcuvid._library = previous


def counter(lib, which: str) -> int:
    names = ("parsers", "decoders", "decodes", "maps", "unmaps", "parses", "destroyed_parsers", "destroyed_decoders")
    lib.fake_counter.restype = ctypes.c_long
    return lib.fake_counter(names.index(which))


def test_the_ctypes_layouts_are_the_c_compilers(fake):
    fake.fake_layout.restype = ctypes.c_long
    expected = [
        ctypes.sizeof(nvcuvid.CUVIDEOFORMAT), ctypes.sizeof(nvcuvid.CUVIDPARSERDISPINFO),
        ctypes.sizeof(nvcuvid.CUVIDSOURCEDATAPACKET), ctypes.sizeof(nvcuvid.CUVIDPARSERPARAMS),
        ctypes.sizeof(nvcuvid.CUVIDDECODECREATEINFO), ctypes.sizeof(nvcuvid.CUVIDPROCPARAMS),
        nvcuvid.CUVIDPARSERPARAMS.pUserData.offset, nvcuvid.CUVIDPARSERPARAMS.pExtVideoInfo.offset,
        nvcuvid.CUVIDDECODECREATEINFO.display_area.offset, nvcuvid.CUVIDDECODECREATEINFO.vidLock.offset,
        nvcuvid.CUVIDDECODECREATEINFO.target_rect.offset, nvcuvid.CUVIDPROCPARAMS.output_stream.offset,
        nvcuvid.CUVIDEOFORMAT.display_area.offset, nvcuvid.CUVIDEOFORMAT.seqhdr_data_length.offset,
    ]
    assert [fake.fake_layout(i) for i in range(len(expected))] == expected


def test_packets_give_pictures_in_display_order_with_their_timestamps(fake):
    decoder = nvcuvid.CuvidDecoder(nvcuvid.CODEC_H264)
    try:
        shown = [decoder.decode(ADDRESS, SIZE, pts=1000 * i) for i in range(11)]
        # One picture a packet, shown one packet later (the display delay), the last at the end.
        assert [len(s) for s in shown] == [0] + [1] * 10
        pictures = [p for s in shown for p in s] + decoder.flush()
        assert [p.timestamp for p in pictures] == [1000 * i for i in range(11)]
        surfaces = 5 + nvcuvid.SURFACE_MARGIN  # the stream's minimum and the margin for mapping after the parse
        assert [p.index for p in pictures] == [i % surfaces for i in range(11)]  # cycling through the surfaces
        assert decoder.format == nvcuvid.VideoFormat(codec=nvcuvid.CODEC_H264, coded_width=1920, coded_height=1088,
                                                     width=1920, height=1080, progressive=True, bit_depth=8,
                                                     chroma_format=nvcuvid.CHROMA_420, decode_surfaces=surfaces)
    finally:
        decoder.close()
    parser, created = nvcuvid.CUVIDPARSERPARAMS(), nvcuvid.CUVIDDECODECREATEINFO()
    fake.fake_last_parser(ctypes.byref(parser))
    fake.fake_last_create(ctypes.byref(created))
    assert (parser.CodecType, parser.ulMaxDisplayDelay, parser.ulErrorThreshold) == (nvcuvid.CODEC_H264, 1, 0)
    assert (created.ulWidth, created.ulHeight, created.ulNumDecodeSurfaces) == (1920, 1088, surfaces)
    assert (created.ulTargetWidth, created.ulTargetHeight, created.ulNumOutputSurfaces) == (1920, 1080, 2)
    assert (created.OutputFormat, created.DeinterlaceMode, created.ulCreationFlags) == (
        nvcuvid.SURFACE_NV12, nvcuvid.DEINTERLACE_WEAVE, nvcuvid.CREATE_PREFER_CUVID)
    assert (created.display_area.right, created.display_area.bottom, created.vidLock) == (1920, 1080, None)
    assert counter(fake, "decodes") == 11 and counter(fake, "destroyed_decoders") == 1
    assert counter(fake, "destroyed_parsers") == 1


def test_a_mapped_picture_gives_its_nv12_planes_and_goes_back_on_unmap(fake):
    decoder = nvcuvid.CuvidDecoder(nvcuvid.CODEC_HEVC)
    try:
        decoder.decode(ADDRESS, SIZE, 0)
        first = decoder.decode(ADDRESS, SIZE, 1)[0]
        mapped = decoder.map(first, stream=0x1234)
        proc = nvcuvid.CUVIDPROCPARAMS()
        fake.fake_last_proc(ctypes.byref(proc))
        assert (proc.progressive_frame, proc.second_field, proc.unpaired_field, proc.output_stream) == (1, 1, 0, 0x1234)
        assert (mapped.luma, mapped.pitch) == (0x10000000, 2048)
        assert mapped.chroma == mapped.luma + 2048 * 1080  # the chroma rows follow the luma rows
        second = decoder.map(decoder.decode(ADDRESS, SIZE, 2)[0])
        third = decoder.decode(ADDRESS, SIZE, 3)[0]
        with pytest.raises(nvcuvid.NvcuvidError, match="cuvidMapVideoFrame64"):
            decoder.map(third)  # two output surfaces: both mapped
        mapped.unmap()
        mapped.unmap()  # once only
        decoder.map(third).unmap()
        second.unmap()
        assert counter(fake, "maps") == counter(fake, "unmaps") == 3
    finally:
        decoder.close()


@pytest.mark.parametrize(("bit_depth_minus8", "chroma", "message"), [
    (2, nvcuvid.CHROMA_420, "10-bit"), (0, 2, "chroma format 2")])
def test_a_stream_it_cannot_output_as_nv12_is_refused_naming_why(fake, bit_depth_minus8, chroma, message):
    fake.fake_set_format(1920, 1088, 1920, 1080, 5, bit_depth_minus8, chroma, 1)
    decoder = nvcuvid.CuvidDecoder(nvcuvid.CODEC_HEVC)
    try:
        with pytest.raises(nvcuvid.NvcuvidError, match=message):
            decoder.decode(ADDRESS, SIZE, 0)
        assert counter(fake, "decoders") == 0
    finally:
        decoder.close()


def test_a_failed_hardware_submission_is_raised_naming_the_call(fake):
    fake.fake_fail_decode_at(2)
    decoder = nvcuvid.CuvidDecoder(nvcuvid.CODEC_H264)
    try:
        decoder.decode(ADDRESS, SIZE, 0)
        decoder.decode(ADDRESS, SIZE, 1)
        with pytest.raises(nvcuvid.NvcuvidError, match="cuvidDecodePicture failed"):
            decoder.decode(ADDRESS, SIZE, 2)
    finally:
        decoder.close()


def test_a_repeated_sequence_header_is_accepted_and_a_new_size_refused(fake):
    decoder = nvcuvid.CuvidDecoder(nvcuvid.CODEC_H264)
    try:
        decoder.decode(ADDRESS, SIZE, 0)
        fake.fake_resequence()
        decoder.decode(ADDRESS, SIZE, 1)  # the same format again: the same decoder goes on
        assert counter(fake, "decoders") == 1
        fake.fake_set_format(1280, 720, 1280, 720, 5, 0, nvcuvid.CHROMA_420, 1)
        fake.fake_resequence()
        with pytest.raises(nvcuvid.NvcuvidError, match="changed size from 1920x1080 to 1280x720"):
            decoder.decode(ADDRESS, SIZE, 2)
    finally:
        decoder.close()


def test_only_h264_and_h265_are_decoded(fake):
    with pytest.raises(ValueError, match="only H.264"):
        nvcuvid.CuvidDecoder(7)


def python_progress_during_a_parse(lib) -> int:
    """Loop iterations another Python thread made while one 0.3 s parse call ran.  The loop
    offers the GIL back after each iteration, so this thread gets it whenever it asks."""
    lib.fake_set_parse_delay_us(300_000)
    decoder = nvcuvid.CuvidDecoder(nvcuvid.CODEC_H264)
    state = {"in_call": False, "count": 0, "stop": False}

    def spin() -> None:
        while not state["stop"]:
            if state["in_call"]:
                state["count"] += 1
            time.sleep(0)

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        state["in_call"] = True
        decoder.decode(ADDRESS, SIZE, 0)
        state["in_call"] = False
    finally:
        state["stop"] = True
        thread.join()
        decoder.close()
    return state["count"]


def test_the_parse_runs_without_the_gil(fake_library, fake):
    # The same fake library called through ctypes.PyDLL, which keeps the GIL, is the contrast:
    # there the other thread cannot run while the call lasts.
    released = python_progress_during_a_parse(fake)
    nvcuvid.bind(ctypes.PyDLL(str(fake_library)))
    held = python_progress_during_a_parse(nvcuvid.library())
    assert released >= 50 * max(held, 1)  # here some thousands against about one


@pytest.mark.parametrize(("display", "size", "target"), [
    ((1281, 721), (1281, 721), (1282, 722)),  # odd: the output surface is made even, the chroma after it
    ((0, 0), (1296, 736), (1296, 736))])  # no display area signalled: the coded picture
def test_the_output_surface_has_the_pictures_size_made_even(fake, display, size, target):
    fake.fake_set_format(1296, 736, display[0], display[1], 5, 0, nvcuvid.CHROMA_420, 1)
    decoder = nvcuvid.CuvidDecoder(nvcuvid.CODEC_H264)
    try:
        decoder.decode(ADDRESS, SIZE, 0)
        picture = decoder.decode(ADDRESS, SIZE, 1)[0]
        assert (decoder.format.width, decoder.format.height) == size
        created = nvcuvid.CUVIDDECODECREATEINFO()
        fake.fake_last_create(ctypes.byref(created))
        assert (created.ulTargetWidth, created.ulTargetHeight) == target
        mapped = decoder.map(picture)
        assert mapped.chroma == mapped.luma + mapped.pitch * target[1]
        mapped.unmap()
    finally:
        decoder.close()
