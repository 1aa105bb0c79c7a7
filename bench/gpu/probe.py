"""What the GPU machine offers the GPU path: devices, libraries, and PyNvVideoCodec's frame layout.

    python bench/gpu/probe.py CLIP
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    facts: dict = {}
    try:
        from cuda.bindings import driver, nvrtc

        facts["cuda_bindings"] = getattr(sys.modules["cuda.bindings"], "__version__", "?")
        facts["nvrtc"] = str(nvrtc.nvrtcVersion())
        facts["driver"] = str(driver.cuInit(0)) + " " + str(driver.cuDriverGetVersion())
    except Exception as exc:  # noqa: BLE001
        facts["cuda_error"] = repr(exc)
    try:
        import onnxruntime as ort

        facts["onnxruntime"] = (ort.__version__, ort.__file__, ort.get_available_providers())
    except Exception as exc:  # noqa: BLE001
        facts["onnxruntime_error"] = repr(exc)
    try:
        import PyNvVideoCodec as nvc

        facts["pynvvideocodec"] = nvc.__version__
        demuxer = nvc.CreateDemuxer(sys.argv[1])
        facts["codec"] = str(demuxer.GetNvCodecId())
        facts["size_fps"] = (demuxer.Width(), demuxer.Height(), demuxer.FrameRate())
        decoder = nvc.CreateDecoder(gpuid=0, codec=demuxer.GetNvCodecId(), cudacontext=0, cudastream=0,
                                    usedevicememory=True)
        for packet in demuxer:
            frames = decoder.Decode(packet)
            if frames and "frame_attrs" not in facts:
                frame = frames[0]
                facts["frame_attrs"] = [a for a in dir(frame) if not a.startswith("__")]
                facts["frame_shape"] = str(getattr(frame, "shape", None))
                facts["frame_strides"] = str(getattr(frame, "strides", None))
                facts["frame_format"] = str(getattr(frame, "format", None))
                facts["ptr_plane0"] = int(frame.GetPtrToPlane(0))
                try:
                    views = frame.cuda()
                    facts["cuda_views"] = [v.__cuda_array_interface__ for v in views]
                except Exception as exc:  # noqa: BLE001
                    facts["cuda_views_error"] = repr(exc)
                facts["timestamp"] = str(getattr(frame, "timestamp", None))
        total = 0
        demuxer = nvc.CreateDemuxer(sys.argv[1])
        decoder = nvc.CreateDecoder(gpuid=0, codec=demuxer.GetNvCodecId(), cudacontext=0, cudastream=0,
                                    usedevicememory=True)
        for packet in demuxer:
            total += len(decoder.Decode(packet))
        facts["frames_decoded_in_one_pass"] = total
    except Exception as exc:  # noqa: BLE001
        facts["pynvvideocodec_error"] = repr(exc)
    print(json.dumps(facts, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
