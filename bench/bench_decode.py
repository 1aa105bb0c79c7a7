"""What one frame costs outside inference: decode and copy, BGR conversion, letterbox; CPU-ms per frame.

Decodes the whole clip with the capture reader (the path `jetsentry analyze` uses:
demux ! h264parse ! avdec_h264 ! I420 appsink, one copy of the planes into numpy, in
GStreamer's threads) as fast as it goes and converts every frame to BGR where it is used
(Frame.image, OpenCV, timed in the main thread); the process's CPU time over the loop
gives the CPU-ms per frame.  Then letterboxes the decoded frames with the pipeline's
Preprocessor.  These are the costs that compete with ONNX Runtime for the same cores.

    python bench/bench_decode.py [--clip VIDEO] [--repeat 3] [--name NAME]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from common import COCO_MODEL, DEFAULT_MODEL, CpuMonitor, bench_arguments, chosen_clip, process_cpu_s, stats_ms
from common import wait_for_quiet, write_result


def decode_once(clip: Path) -> tuple[int, float, float, list[np.ndarray], float]:
    """frames, seconds, CPU-seconds of the process, every 30th image (for letterboxing), and
    the seconds spent converting frames to BGR."""
    from jetsentry.capture.reader import VideoFileReader

    reader = VideoFileReader(clip)
    kept = []
    cpu0 = process_cpu_s(os.getpid())
    started = time.perf_counter()
    frames = 0
    converting = 0.0
    for frame in reader:
        begin = time.perf_counter()
        image = frame.image  # the conversion a used frame costs
        converting += time.perf_counter() - begin
        if frames % 30 == 0:
            kept.append(image)
        frames += 1
    seconds = time.perf_counter() - started
    return frames, seconds, process_cpu_s(os.getpid()) - cpu0, kept, converting


def letterbox_ms(images: list[np.ndarray], runs: int = 200) -> np.ndarray:
    from jetsentry.infer.model_info import ModelInfo
    from jetsentry.infer.preprocess import Preprocessor

    model = COCO_MODEL if COCO_MODEL.is_file() else DEFAULT_MODEL
    preprocess = Preprocessor(ModelInfo.from_onnx(model), 640)
    times = np.empty(runs)
    for i in range(runs):
        image = images[i % len(images)]
        start = time.perf_counter()
        preprocess([image])
        times[i] = time.perf_counter() - start
    return times * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "decode_1080p", model=False)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    clip = chosen_clip(args)

    runs, loads = [], []
    images: list[np.ndarray] = []
    for _ in range(args.repeat):
        if not args.no_wait:
            wait_for_quiet()
        with CpuMonitor() as monitor:
            frames, seconds, cpu_s, images, converting = decode_once(clip)
        loads.append(monitor.record)
        runs.append({"frames": frames, "seconds": round(seconds, 3), "fps": round(frames / seconds, 1),
                     "cpu_ms_per_frame": round(cpu_s / frames * 1e3, 2),
                     "bgr_conversion_ms_per_frame": round(converting / frames * 1e3, 2)})
        print(f"decode {clip.name}: {frames} frames in {seconds:.2f} s = {frames / seconds:.1f} frames/s; "
              f"{runs[-1]['cpu_ms_per_frame']:.2f} CPU-ms per frame (of which BGR conversion "
              f"{runs[-1]['bgr_conversion_ms_per_frame']:.2f}); other processes "
              f"{monitor.record['foreign_cores']:.2f} cores", flush=True)
    best = min(runs, key=lambda run: run["cpu_ms_per_frame"])
    letterbox = stats_ms(letterbox_ms(images))
    print(f"bench_decode {clip.name}: decode + copy + BGR {best['cpu_ms_per_frame']:.2f} CPU-ms per frame "
          f"(least of {args.repeat}); letterbox to 640 {letterbox['p50']:.2f} ms per frame (p50, one thread)",
          flush=True)
    write_result(args.name, {"clip": clip.name, "runs": runs, "letterbox_ms": letterbox}, load=loads)


if __name__ == "__main__":
    main()
