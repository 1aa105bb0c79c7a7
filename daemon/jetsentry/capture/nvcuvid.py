"""NVDEC through the driver's own decode library (libnvcuvid), called with ctypes.

Why not PyNvVideoCodec's decoder: its Decode call keeps Python's GIL while the bitstream is
parsed and while it waits for the hardware (measured on the H200: 0.6-1 ms a frame,
docs/PERFORMANCE.md row 9c), so 16 decoding cameras leave the rest of the process almost no
Python time.  ctypes releases the GIL for the length of every foreign call, so here the
parser (cuvidParseVideoData), the hardware submission (cuvidDecodePicture) and the wait for a
decoded picture (cuvidMapVideoFrame64) run without it; only the parser's three callbacks take
it back, for a few Python statements each.

The layouts and calls follow NVIDIA's Video Codec SDK headers nvcuvid.h and cuviddec.h
(NVDECODE API; the structures have kept their sizes since SDK 9, newer fields taking reserved
space, which stays zero here).  Only 8-bit 4:2:0 H.264 and H.265 are decoded (NV12 output),
the codecs the capture stage accepts.  Packets come from PyNvVideoCodec's demuxer (FFmpeg
inside), which hands over Annex B elementary stream packets.

The context: every call needs the device's primary context current on the calling thread
(CudaDevice.activate()); no context lock is given (``vidLock``), since one decoder is used by
one thread only.

Checked on an H200 (bench/gpu/nvcuvid_probe.py, tests/gpu/test_nvdec_gpu.py): its pictures
equal PyNvVideoCodec's byte for byte; docs/PERFORMANCE.md row 9d gives its speed.
"""

from __future__ import annotations

import ctypes
from ctypes import POINTER, byref, c_int, c_int64, c_short, c_ubyte, c_uint, c_ulong, c_ulonglong, c_void_p
from dataclasses import dataclass

# cudaVideoCodec (cuviddec.h)
CODEC_H264 = 4
CODEC_HEVC = 8
# cudaVideoChromaFormat, cudaVideoSurfaceFormat, cudaVideoDeinterlaceMode, cudaVideoCreateFlags
CHROMA_420 = 1
SURFACE_NV12 = 0
DEINTERLACE_WEAVE = 0
DEINTERLACE_ADAPTIVE = 2
CREATE_PREFER_CUVID = 0x04
# CUvideopacketflags (nvcuvid.h)
PKT_ENDOFSTREAM = 0x01
PKT_TIMESTAMP = 0x02
PKT_NOTIFY_EOS = 0x10

CUDA_SUCCESS = 0
OUTPUT_SURFACES = 2  # pictures mapped at once: one copied while the next is decoded
DISPLAY_DELAY = 1  # the parser's display queue: decoding runs one picture ahead of the copy
# Decode surfaces beyond the stream's minimum: a picture is mapped after the parse call that
# displayed it returns (not inside the display callback, as NVIDIA's sample does), so its
# surface must not be the next one the parser decodes into.
SURFACE_MARGIN = DISPLAY_DELAY + 2


class _FrameRate(ctypes.Structure):
    _fields_ = [("numerator", c_uint), ("denominator", c_uint)]


class _Rect(ctypes.Structure):
    _fields_ = [("left", c_int), ("top", c_int), ("right", c_int), ("bottom", c_int)]


class _ShortRect(ctypes.Structure):
    _fields_ = [("left", c_short), ("top", c_short), ("right", c_short), ("bottom", c_short)]


class _AspectRatio(ctypes.Structure):
    _fields_ = [("x", c_int), ("y", c_int)]


class _SignalDescription(ctypes.Structure):
    _fields_ = [("flags", c_ubyte),  # video_format:3, video_full_range_flag:1, reserved:4
                ("color_primaries", c_ubyte), ("transfer_characteristics", c_ubyte),
                ("matrix_coefficients", c_ubyte)]


class CUVIDEOFORMAT(ctypes.Structure):
    _fields_ = [
        ("codec", c_int),
        ("frame_rate", _FrameRate),
        ("progressive_sequence", c_ubyte),
        ("bit_depth_luma_minus8", c_ubyte),
        ("bit_depth_chroma_minus8", c_ubyte),
        ("min_num_decode_surfaces", c_ubyte),
        ("coded_width", c_uint),
        ("coded_height", c_uint),
        ("display_area", _Rect),
        ("chroma_format", c_int),
        ("bitrate", c_uint),
        ("display_aspect_ratio", _AspectRatio),
        ("video_signal_description", _SignalDescription),
        ("seqhdr_data_length", c_uint),
    ]


class CUVIDPARSERDISPINFO(ctypes.Structure):
    _fields_ = [("picture_index", c_int), ("progressive_frame", c_int), ("top_field_first", c_int),
                ("repeat_first_field", c_int), ("timestamp", c_int64)]


class CUVIDSOURCEDATAPACKET(ctypes.Structure):
    _fields_ = [("flags", c_ulong), ("payload_size", c_ulong), ("payload", c_void_p), ("timestamp", c_int64)]


_SEQUENCE_CALLBACK = ctypes.CFUNCTYPE(c_int, c_void_p, POINTER(CUVIDEOFORMAT))
_DECODE_CALLBACK = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p)  # CUVIDPICPARAMS *: passed through untouched
_DISPLAY_CALLBACK = ctypes.CFUNCTYPE(c_int, c_void_p, POINTER(CUVIDPARSERDISPINFO))


class CUVIDPARSERPARAMS(ctypes.Structure):
    _fields_ = [
        ("CodecType", c_int),
        ("ulMaxNumDecodeSurfaces", c_uint),
        ("ulClockRate", c_uint),
        ("ulErrorThreshold", c_uint),
        ("ulMaxDisplayDelay", c_uint),
        ("uReserved1", c_uint * 5),  # SDK 11+: bAnnexb:1 and reserved bits in the first
        ("pUserData", c_void_p),
        ("pfnSequenceCallback", _SEQUENCE_CALLBACK),
        ("pfnDecodePicture", _DECODE_CALLBACK),
        ("pfnDisplayPicture", _DISPLAY_CALLBACK),
        ("pvReserved2", c_void_p * 7),  # SDK 11+: operating-point and SEI callbacks in the first two
        ("pExtVideoInfo", c_void_p),
    ]


class CUVIDDECODECREATEINFO(ctypes.Structure):
    _fields_ = [
        ("ulWidth", c_ulong),
        ("ulHeight", c_ulong),
        ("ulNumDecodeSurfaces", c_ulong),
        ("CodecType", c_int),
        ("ChromaFormat", c_int),
        ("ulCreationFlags", c_ulong),
        ("bitDepthMinus8", c_ulong),
        ("ulIntraDecodeOnly", c_ulong),
        ("ulMaxWidth", c_ulong),
        ("ulMaxHeight", c_ulong),
        ("Reserved1", c_ulong),
        ("display_area", _ShortRect),
        ("OutputFormat", c_int),
        ("DeinterlaceMode", c_int),
        ("ulTargetWidth", c_ulong),
        ("ulTargetHeight", c_ulong),
        ("ulNumOutputSurfaces", c_ulong),
        ("vidLock", c_void_p),
        ("target_rect", _ShortRect),
        ("Reserved2", c_ulong * 5),  # SDK 12+: enableHistogram in the first
    ]


class CUVIDPROCPARAMS(ctypes.Structure):
    _fields_ = [
        ("progressive_frame", c_int),
        ("second_field", c_int),
        ("top_field_first", c_int),
        ("unpaired_field", c_int),
        ("reserved_flags", c_uint),
        ("reserved_zero", c_uint),
        ("raw_input_dptr", c_ulonglong),
        ("raw_input_pitch", c_uint),
        ("raw_input_format", c_uint),
        ("raw_output_dptr", c_ulonglong),
        ("raw_output_pitch", c_uint),
        ("Reserved1", c_uint),
        ("output_stream", c_void_p),
        ("Reserved", c_uint * 46),
        ("histogram_dptr", c_void_p),
        ("Reserved2", c_void_p * 1),
    ]


class NvcuvidError(RuntimeError):
    """A libnvcuvid call failed; ``call`` names it and ``status`` is its CUresult."""

    def __init__(self, message: str, *, call: str, status: int) -> None:
        super().__init__(message)
        self.call, self.status = call, status


LIBRARY = "libnvcuvid.so.1"  # the NVIDIA driver's
_SIGNATURES = {
    "cuvidCreateVideoParser": [POINTER(c_void_p), POINTER(CUVIDPARSERPARAMS)],
    "cuvidParseVideoData": [c_void_p, POINTER(CUVIDSOURCEDATAPACKET)],
    "cuvidDestroyVideoParser": [c_void_p],
    "cuvidCreateDecoder": [POINTER(c_void_p), POINTER(CUVIDDECODECREATEINFO)],
    "cuvidDestroyDecoder": [c_void_p],
    "cuvidDecodePicture": [c_void_p, c_void_p],
    "cuvidMapVideoFrame64": [c_void_p, c_int, POINTER(c_ulonglong), POINTER(c_uint), POINTER(CUVIDPROCPARAMS)],
    "cuvidUnmapVideoFrame64": [c_void_p, c_ulonglong],
}
_library: ctypes.CDLL | None = None


def bind(lib: ctypes.CDLL) -> ctypes.CDLL:
    """Use ``lib`` (a CDLL: its calls release the GIL) for every decoder made from now on."""
    global _library
    for name, args in _SIGNATURES.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = args, c_int
    _library = lib
    return lib


def library() -> ctypes.CDLL:
    """The bound library, by default the driver's libnvcuvid (loaded once); OSError when absent."""
    return _library if _library is not None else bind(ctypes.CDLL(LIBRARY))


def _check(status: int, call: str) -> None:
    if status != CUDA_SUCCESS:
        raise NvcuvidError(f"{call} failed: CUresult {status}", call=call, status=status)


@dataclass(frozen=True)
class VideoFormat:
    """The stream's format as the parser reported it (the sequence callback)."""

    codec: int
    coded_width: int
    coded_height: int
    width: int  # of the display area: the decoded picture's size
    height: int
    progressive: bool
    bit_depth: int
    chroma_format: int
    decode_surfaces: int


@dataclass(frozen=True)
class DecodedPicture:
    """A picture ready to be mapped: its decode surface and presentation timestamp."""

    index: int
    timestamp: int
    progressive: bool
    top_field_first: bool
    repeat_first_field: int  # -1: an unpaired field


class MappedPicture:
    """A decoded NV12 picture in the decoder's output surface: luma rows at ``luma``, the
    interleaved chroma rows at ``chroma``, both ``pitch`` bytes apart.  Valid until unmap()."""

    def __init__(self, decoder: CuvidDecoder, luma: int, pitch: int, height: int) -> None:
        self._decoder, self.luma, self.pitch = decoder, luma, pitch
        # The chroma plane follows the luma plane of the output surface's height: the picture's, made even.
        self.chroma = luma + pitch * ((height + 1) & ~1)

    def unmap(self) -> None:
        if self._decoder is not None:
            decoder, self._decoder = self._decoder, None
            decoder._unmap(self.luma)


class CuvidDecoder:
    """One stream's parser and decoder.  ``decode(payload, size, pts)`` parses one packet
    (Annex B bytes at a host address) and returns the pictures it made ready for display,
    in display order; map() each, copy it out, unmap() it.  Not thread-safe: one thread."""

    def __init__(self, codec: int) -> None:
        if codec not in (CODEC_H264, CODEC_HEVC):
            raise ValueError(f"only H.264 ({CODEC_H264}) and H.265 ({CODEC_HEVC}) are decoded, got codec {codec}")
        self._lib = library()
        self.format: VideoFormat | None = None
        self._decoder = c_void_p()
        self._parser = c_void_p()
        self._ready: list[DecodedPicture] = []
        self._error: BaseException | None = None
        # The callbacks must live as long as the parser: kept on the instance.
        self._callbacks = (_SEQUENCE_CALLBACK(self._on_sequence), _DECODE_CALLBACK(self._on_decode),
                           _DISPLAY_CALLBACK(self._on_display))
        params = CUVIDPARSERPARAMS()
        params.CodecType = codec
        params.ulMaxNumDecodeSurfaces = 1  # raised by the sequence callback's return value
        params.ulErrorThreshold = 0  # a corrupted picture is not decoded
        params.ulMaxDisplayDelay = DISPLAY_DELAY
        params.pfnSequenceCallback, params.pfnDecodePicture, params.pfnDisplayPicture = self._callbacks
        _check(self._lib.cuvidCreateVideoParser(byref(self._parser), byref(params)), "cuvidCreateVideoParser")
        self._packet = CUVIDSOURCEDATAPACKET()

    # ---- parsing ---------------------------------------------------------------------

    def decode(self, payload: int, size: int, pts: int | None = None) -> list[DecodedPicture]:
        """Parse ``size`` bytes at host address ``payload``; the pictures now ready to display."""
        packet = self._packet
        packet.flags = PKT_TIMESTAMP if pts is not None else 0
        packet.payload_size, packet.payload, packet.timestamp = size, payload, pts or 0
        return self._parse(packet)

    def flush(self) -> list[DecodedPicture]:
        """End of stream: the pictures still in the display queue."""
        packet = self._packet
        packet.flags, packet.payload_size, packet.payload, packet.timestamp = PKT_ENDOFSTREAM, 0, None, 0
        return self._parse(packet)

    def _parse(self, packet: CUVIDSOURCEDATAPACKET) -> list[DecodedPicture]:
        self._ready = []
        status = self._lib.cuvidParseVideoData(self._parser, byref(packet))
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        _check(status, "cuvidParseVideoData")
        return self._ready

    # The parser calls these from inside cuvidParseVideoData, on this thread.  An exception
    # cannot cross the C frames: it is kept, 0 tells the parser to stop, and _parse raises it.

    def _on_sequence(self, _user: int, video_format: ctypes._Pointer) -> int:
        try:
            return self._configure(video_format.contents)
        except BaseException as exc:  # noqa: BLE001 - re-raised by _parse
            self._error = exc
            return 0

    def _on_decode(self, _user: int, picture_params: int) -> int:
        try:
            _check(self._lib.cuvidDecodePicture(self._decoder, picture_params), "cuvidDecodePicture")
            return 1
        except BaseException as exc:  # noqa: BLE001 - re-raised by _parse
            self._error = exc
            return 0

    def _on_display(self, _user: int, info: ctypes._Pointer) -> int:
        if not info:  # end of stream (PKT_NOTIFY_EOS): nothing to show
            return 1
        shown = info.contents
        self._ready.append(DecodedPicture(shown.picture_index, shown.timestamp, bool(shown.progressive_frame),
                                          bool(shown.top_field_first), shown.repeat_first_field))
        return 1

    def _configure(self, fmt: CUVIDEOFORMAT) -> int:
        width = fmt.display_area.right - fmt.display_area.left
        height = fmt.display_area.bottom - fmt.display_area.top
        if width <= 0 or height <= 0:  # no display area signalled: the coded picture
            width, height = fmt.coded_width, fmt.coded_height
        surfaces = max(int(fmt.min_num_decode_surfaces), 1) + SURFACE_MARGIN
        new = VideoFormat(codec=fmt.codec, coded_width=fmt.coded_width, coded_height=fmt.coded_height,
                          width=width, height=height, progressive=bool(fmt.progressive_sequence),
                          bit_depth=8 + fmt.bit_depth_luma_minus8, chroma_format=fmt.chroma_format,
                          decode_surfaces=surfaces)
        if new.bit_depth != 8 or new.chroma_format != CHROMA_420:
            raise NvcuvidError(f"only 8-bit 4:2:0 video is decoded, this stream is {new.bit_depth}-bit with chroma "
                               f"format {new.chroma_format}", call="sequence", status=0)
        if self._decoder:
            if (new.coded_width, new.coded_height, new.width, new.height) == (
                    self.format.coded_width, self.format.coded_height, self.format.width, self.format.height):
                return surfaces  # the same sequence again (a repeated SPS)
            raise NvcuvidError(f"the stream changed size from {self.format.width}x{self.format.height} to "
                               f"{width}x{height}", call="sequence", status=0)
        info = CUVIDDECODECREATEINFO()
        info.ulWidth, info.ulHeight = fmt.coded_width, fmt.coded_height
        info.ulMaxWidth, info.ulMaxHeight = fmt.coded_width, fmt.coded_height
        info.ulNumDecodeSurfaces = surfaces
        info.CodecType, info.ChromaFormat = fmt.codec, fmt.chroma_format
        info.ulCreationFlags = CREATE_PREFER_CUVID
        info.bitDepthMinus8 = fmt.bit_depth_luma_minus8
        info.OutputFormat = SURFACE_NV12
        info.DeinterlaceMode = DEINTERLACE_WEAVE if new.progressive else DEINTERLACE_ADAPTIVE
        info.display_area.left, info.display_area.top = fmt.display_area.left, fmt.display_area.top
        info.display_area.right, info.display_area.bottom = fmt.display_area.right, fmt.display_area.bottom
        info.ulTargetWidth, info.ulTargetHeight = (width + 1) & ~1, (height + 1) & ~1  # even, as NVDEC needs
        info.ulNumOutputSurfaces = OUTPUT_SURFACES
        _check(self._lib.cuvidCreateDecoder(byref(self._decoder), byref(info)), "cuvidCreateDecoder")
        self.format = new
        return surfaces  # > 1: the parser keeps this many surfaces in flight

    # ---- output ----------------------------------------------------------------------

    def map(self, picture: DecodedPicture, stream: int = 0) -> MappedPicture:
        """The decoded picture's NV12 surface (waits, without the GIL, until it is decoded);
        copies made from it on ``stream`` see it complete."""
        params = CUVIDPROCPARAMS()
        # As NVIDIA's NvDecoder sample maps a displayed picture.
        params.progressive_frame = int(picture.progressive)
        params.second_field = picture.repeat_first_field + 1
        params.top_field_first = int(picture.top_field_first)
        params.unpaired_field = int(picture.repeat_first_field < 0)
        params.output_stream = stream or None
        luma, pitch = c_ulonglong(), c_uint()
        _check(self._lib.cuvidMapVideoFrame64(self._decoder, picture.index, byref(luma), byref(pitch), byref(params)),
               "cuvidMapVideoFrame64")
        return MappedPicture(self, luma.value, pitch.value, self.format.height)

    def _unmap(self, luma: int) -> None:
        _check(self._lib.cuvidUnmapVideoFrame64(self._decoder, luma), "cuvidUnmapVideoFrame64")

    def close(self) -> None:
        """Destroy the parser and the decoder (every mapped picture unmapped first)."""
        if self._parser:
            self._lib.cuvidDestroyVideoParser(self._parser)
            self._parser = c_void_p()
        if self._decoder:
            self._lib.cuvidDestroyDecoder(self._decoder)
            self._decoder = c_void_p()
