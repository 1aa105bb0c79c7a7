"""The GPU letterbox kernel on a GPU: its difference from the CPU letterbox and its time per frame.

Frames: the 1080p photo clip decoded by NVDEC (PyNvVideoCodec), eight different photos,
each uploaded to its own pitched device buffer.  Reference: the CPU path on the same
NV12 bytes (cv2 conversion to BGR, then the CPU letterbox).  Times: CUDA events around
single kernel launches (the kernel alone) and a host clock around the whole pre-processor
call (parameters, copies, launch, synchronisation), medians after a warm-up, at batch 1
and batch 8.  Also a device-to-device copy, for the card's memory bandwidth ceiling.

    python bench/gpu/kernel.py --clip CLIP [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "daemon"), str(REPO)]

from jetsentry.capture.frame import DevicePicture, Frame, YuvImage  # noqa: E402
from jetsentry.gpu.cuda import check, driver, get_device  # noqa: E402
from jetsentry.gpu.memory import DeviceBuffer, Event, Stream, copy_2d_async  # noqa: E402
from jetsentry.infer.gpu_preprocess import GpuLetterbox  # noqa: E402
from jetsentry.infer.letterbox_kernel import launch  # noqa: E402
from jetsentry.infer.model_info import ModelInfo  # noqa: E402
from jetsentry.infer.preprocess import Preprocessor  # noqa: E402


def decoded_photos(clip: Path, count: int, every: int) -> list[YuvImage]:
    """Host copies of every ``every``-th NVDEC frame (one per photo of the clip)."""
    from jetsentry.capture.decoders import CaptureBackend
    from jetsentry.capture.session import CameraSession
    from jetsentry.capture.slot import LatestFrameSlot
    from jetsentry.config.models import CameraConfig, CaptureConfig

    slot = LatestFrameSlot()
    session = CameraSession(CameraConfig(id="k", source=str(clip), realtime=False, on_eos="stop", decoder="nvdec"),
                            CaptureConfig(), slot, backend=CaptureBackend("nvdec", "bench", 0))
    session.start()
    pictures: list[YuvImage] = []
    index = 0
    try:
        while len(pictures) < count:
            frame = slot.take()
            if frame is None:
                if not slot.ready.wait(10):
                    raise RuntimeError(f"NVDEC gave no frame: {session.last_error}")
                slot.ready.clear()
                continue
            if index % every == 0:
                pictures.append(frame.device.download())
            frame.release()
            index += 1
    finally:
        session.stop()
        slot.discard()
    return pictures


def upload(device, picture: YuvImage, pitch_pad: int = 128) -> tuple[DeviceBuffer, DevicePicture]:
    pitch = picture.width + pitch_pad
    rows = picture.data.shape[0]
    buffer = DeviceBuffer(device, pitch * rows)
    copy_2d_async(dst=buffer.ptr, dst_pitch=pitch, src=picture.data.ctypes.data, src_pitch=picture.width,
                  width_bytes=picture.width, height=rows, stream=0, src_host=True)
    device.synchronize()
    return buffer, DevicePicture(luma_ptr=buffer.ptr, chroma_ptr=buffer.ptr + pitch * picture.height, pitch=pitch,
                                 width=picture.width, height=picture.height)


def download(tensor) -> np.ndarray:
    host = np.empty(tensor.shape, tensor.dtype)
    check(driver.cuMemcpyDtoH(host.ctypes.data, tensor.ptr, host.nbytes), "cuMemcpyDtoH")
    return host


def copy_bandwidth(device, nbytes: int = 1 << 30, repeats: int = 20) -> float:
    """GB/s of a device-to-device copy, counting bytes read plus bytes written."""
    src, dst = DeviceBuffer(device, nbytes), DeviceBuffer(device, nbytes)
    stream = Stream(device)
    start, end = Event(device, timing=True), Event(device, timing=True)
    try:
        check(driver.cuMemsetD8(src.ptr, 7, nbytes), "cuMemsetD8")
        times = []
        for _ in range(repeats):
            start.record(stream)
            check(driver.cuMemcpyDtoDAsync(dst.ptr, src.ptr, nbytes, stream.handle), "cuMemcpyDtoDAsync")
            end.record(stream)
            end.synchronize()
            times.append(end.elapsed_ms(start))
        return 2 * nbytes / (statistics.median(times[3:]) / 1e3) / 1e9
    finally:
        for resource in (src, dst):
            resource.free()
        stream.destroy()
        start.destroy()
        end.destroy()


def time_batch(device, letterbox: GpuLetterbox, frames: list[Frame], repeats: int) -> dict:
    tensor, boxes = letterbox(frames)  # fills the parameters on the device once
    stream = letterbox._stream
    start, end = Event(device, timing=True), Event(device, timing=True)
    kernel_ms = []
    for _ in range(repeats):
        start.record(stream)
        launch(letterbox._kernel, params_ptr=letterbox._params_dev.ptr, batch=len(frames), out_ptr=tensor.ptr,
               out_hw=boxes[0].input_hw, half=False, stream=stream.handle)
        end.record(stream)
        end.synchronize()
        kernel_ms.append(end.elapsed_ms(start))
    call_ms = []
    for _ in range(repeats):
        began = time.perf_counter()
        letterbox(frames)
        call_ms.append((time.perf_counter() - began) * 1e3)
    start.destroy()
    end.destroy()
    warm = repeats // 10
    kernel = statistics.median(kernel_ms[warm:])
    call = statistics.median(call_ms[warm:])
    height, width = boxes[0].input_hw
    written = len(frames) * 3 * height * width * 4
    read = sum(f.width * f.height * 3 // 2 for f in frames)  # every source byte once, at most
    return {"batch": len(frames), "kernel_ms": round(kernel, 4), "kernel_ms_per_frame": round(kernel / len(frames), 4),
            "call_ms": round(call, 4), "call_ms_per_frame": round(call / len(frames), 4),
            "bytes_per_frame": (written + read) // len(frames),
            "achieved_gb_s": round((written + read) / (kernel / 1e3) / 1e9, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    args = parser.parse_args()
    device = get_device(0)
    photos = decoded_photos(args.clip, 8, every=30)
    buffers = [upload(device, p) for p in photos]
    frames = [Frame("k", i, picture, 0.0, 0.0) for i, (_, picture) in enumerate(buffers)]
    host_frames = [Frame("k", i, p, 0.0, 0.0) for i, p in enumerate(photos)]
    # A static 640x640 model input, as the COCO model has.
    from tests.infer.onnx_models import head, ultralytics_metadata, write_detection_model

    model = write_detection_model(Path("/tmp/kernel-bench.onnx"), head([(1, 1, 1, 1)], [[0.5]], anchors=8),
                                  batch=None, hw=(640, 640), metadata=ultralytics_metadata(["a"], imgsz=(640, 640)))
    info = ModelInfo.from_onnx(model)
    letterbox = GpuLetterbox(device, info, 640, 8)
    result: dict = {"card": device.info.name, "compute_capability": device.info.compute_capability,
                    "date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv), "frames": "1920x1080 NVDEC NV12"}
    try:
        tensor, _ = letterbox(frames)
        got = download(tensor)
        expected, _ = Preprocessor(info, 640)(host_frames)
        difference = np.abs(got - expected)
        inside = difference[expected != 114 / 255]
        result["vs_cpu_letterbox"] = {
            "mean_abs": float(difference.mean()), "max_abs": float(difference.max()),
            "mean_abs_in_255ths": round(float(difference.mean()) * 255, 5),
            "max_abs_in_255ths": round(float(difference.max()) * 255, 3),
            "values_differing": float((difference > 0).mean()), "mean_abs_inside_picture": float(inside.mean()),
        }
        result["timing"] = [time_batch(device, letterbox, frames[:1], args.repeats),
                            time_batch(device, letterbox, frames, args.repeats)]
        result["copy_bandwidth_gb_s"] = round(copy_bandwidth(device), 1)
    finally:
        letterbox.close()
        for buffer, _ in buffers:
            buffer.free()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "kernel.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
