"""Raw engine frames/s at the input shape and batch sizes the pipeline uses (no decoding, pre- or post-processing).

On the same letterboxed frames of the 1080p photo clip, interleaved in `--rounds` rounds:
  ort            a plain onnxruntime.InferenceSession (CPU provider, default options):
                 "raw ONNX Runtime", the reference of the end-to-end targets; a model with
                 a static batch of 1 runs a batch of 4 as 4 calls, as the pipeline does;
  engine_serial  jetsentry's OnnxRuntimeEngine with parallel_runs 1: each frame on all
                 threads in turn;
  engine         jetsentry's OnnxRuntimeEngine as the pipeline configures it
                 (parallel_runs auto: the frames of a batch side by side on single-threaded
                 runs, infer/run_plan.py).

    python bench/bench_engine.py [--model ONNX] [--clip VIDEO] [--batch 1 4] [--frames 120] [--rounds 8]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from common import CpuMonitor, bench_arguments, chosen_clip, chosen_model, stats_ms, wait_for_quiet, write_result

WARMUP_RUNS = 5


def letterboxed_batch(model: Path, clip: Path, batch: int, input_size: int = 640) -> np.ndarray:
    """[batch, 3, H, W] float32: one frame per photo of the clip, letterboxed as the pipeline feeds them."""
    from jetsentry.capture.reader import iter_video_frames
    from jetsentry.infer.model_info import ModelInfo
    from jetsentry.infer.preprocess import Preprocessor

    images = []
    for index, frame in enumerate(iter_video_frames(clip)):
        if index % 30 == 0:
            images.append(frame.image)
        if len(images) == batch:
            break
    while len(images) < batch:
        images.append(images[len(images) % max(1, len(images))])
    tensor, _ = Preprocessor(ModelInfo.from_onnx(model), input_size)(images)
    return tensor.copy()


def ort_runner(model: Path):
    """session.run over [B, 3, H, W] on a plain session, cut into the model's static batch when it has one."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    (model_input,) = session.get_inputs()
    static_batch = model_input.shape[0] if isinstance(model_input.shape[0], int) else None

    def run(tensor: np.ndarray) -> None:
        step = static_batch or tensor.shape[0]
        for start in range(0, tensor.shape[0], step):
            session.run(None, {model_input.name: tensor[start : start + step]})

    return run


def engine_runner(model: Path, parallel_runs: int | str = "auto"):
    from jetsentry.infer.onnx_engine import OnnxRuntimeEngine

    return OnnxRuntimeEngine(model, parallel_runs=parallel_runs).infer


RUNNERS = {
    "ort": ort_runner,
    "engine_serial": lambda model: engine_runner(model, parallel_runs=1),
    "engine": engine_runner,
}


def time_batches(run, tensor: np.ndarray, count: int) -> np.ndarray:
    """Seconds for each of `count` runs of the batch."""
    times = np.empty(count)
    for i in range(count):
        begin = time.perf_counter()
        run(tensor)
        times[i] = time.perf_counter() - begin
    return times


def raw_engine(model: Path, tensor: np.ndarray, frames: int):
    """A callable for common.alternate: `frames` frames (whole batches) through raw ONNX Runtime."""
    run = ort_runner(model)
    for _ in range(WARMUP_RUNS):
        run(tensor)
    batches = max(1, -(-frames // tensor.shape[0]))

    def raw() -> dict:
        seconds = float(time_batches(run, tensor, batches).sum())
        return {"frames": batches * tensor.shape[0], "seconds": seconds}

    return raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "engine_coco")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--input-size", type=int, default=640, help="longest side for dynamic-shape models")
    parser.add_argument("--frames", type=int, default=120, help="frames timed per runner and batch size")
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds the frames are split into")
    args = parser.parse_args()

    model = chosen_model(args)
    clip = chosen_clip(args)
    results, loads = {}, {}
    for batch in args.batch:
        tensor = letterboxed_batch(model, clip, batch, args.input_size)
        runners = {name: make(model) for name, make in RUNNERS.items()}
        for run in runners.values():
            for _ in range(WARMUP_RUNS):
                run(tensor)
        per_round = max(1, -(-args.frames // (batch * args.rounds)))
        if not args.no_wait:
            wait_for_quiet()
        times: dict[str, list[np.ndarray]] = {name: [] for name in runners}
        with CpuMonitor() as monitor:
            for _ in range(args.rounds):
                for name, run in runners.items():
                    times[name].append(time_batches(run, tensor, per_round))
        shape = "x".join(str(d) for d in tensor.shape)
        results[f"batch{batch}"] = {"input": shape}
        loads[f"batch{batch}"] = monitor.record
        for name, parts in times.items():
            seconds = np.concatenate(parts)
            fps = float(seconds.size * batch / seconds.sum())
            results[f"batch{batch}"][name] = {"fps": round(fps, 2), "ms_per_batch": stats_ms(seconds * 1e3)}
            print(f"bench_engine {model.name} {name:13s} input {shape}: {fps:.2f} frames/s, "
                  f"{np.median(seconds) * 1e3:.1f} ms per batch (p50); other processes "
                  f"{monitor.record['foreign_cores']:.2f} cores", flush=True)
    write_result(args.name, {"model": model.name, "clip": clip.name, "batches": results}, load=loads)


if __name__ == "__main__":
    main()
