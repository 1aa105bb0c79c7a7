"""Raw ONNX Runtime frames/s at the input shape and batch sizes the pipeline uses (no decode, pre- or post-processing).

Three measurements per batch size, on the same letterboxed frames of the 1080p photo clip:
  ort         a plain onnxruntime.InferenceSession (CPU provider, default options) and
              session.run; a model with a static batch of 1 runs a batch of 4 as 4 calls;
  ort_nospin  the same with session.intra_op.allow_spinning=0 (idle intra-op workers
              sleep instead of busy-waiting: matters when other threads need the cores);
  engine      jetsentry's OnnxRuntimeEngine.infer as the pipeline configures it (what the
              pipeline calls; parallel_runs auto: the frames of a batch split between
              concurrent single-threaded runs, infer/run_plan.py);
  engine_serial  the same engine with parallel_runs 1: each frame on all threads in turn.

The runners are interleaved in `--rounds` rounds (this host's speed drifts by tens of
percent over minutes).

    python bench/bench_engine.py [--model ONNX] [--clip VIDEO] [--batch 1 4] [--frames 120] [--rounds 4]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from common import CpuMonitor, bench_arguments, chosen_clip, chosen_model, stats_ms, wait_for_quiet, write_result

WARMUP_RUNS = 5


def letterboxed_batch(model: Path, clip: Path, batch: int, input_size: int = 640) -> np.ndarray:
    """[batch, 3, H, W] float32: the first `batch` distinct-looking frames of the clip, as the pipeline feeds them."""
    from jetsentry.capture.reader import iter_video_frames
    from jetsentry.infer.model_info import ModelInfo
    from jetsentry.infer.preprocess import Preprocessor

    images = []
    for index, frame in enumerate(iter_video_frames(clip)):
        if index % 30 == 0:  # one frame per photo of the clip
            images.append(frame.image)
        if len(images) == batch:
            break
    while len(images) < batch:
        images.append(images[len(images) % max(1, len(images))])
    tensor, _ = Preprocessor(ModelInfo.from_onnx(model), input_size)(images)
    return tensor.copy()


def _time_batches(run, tensor: np.ndarray, count: int) -> np.ndarray:
    """Seconds for each of `count` runs of the batch."""
    times = np.empty(count)
    for i in range(count):
        begin = time.perf_counter()
        run(tensor)
        times[i] = time.perf_counter() - begin
    return times


def ort_runner(model: Path, spinning: bool = True):
    """session.run over [B, 3, H, W], cut into the model's static batch when it has one."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if not spinning:  # idle intra-op workers sleep instead of busy-waiting for the next parallel section
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
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
    "ort_nospin": lambda model: ort_runner(model, spinning=False),
    "engine_serial": lambda model: engine_runner(model, parallel_runs=1),
    "engine": engine_runner,
}


def measure(model: Path, tensor: np.ndarray, frames: int, which: tuple[str, ...] = ("ort", "engine"),
            rounds: int = 1) -> dict:
    """{runner: {fps, ms_per_batch}} for one batch tensor; runners from RUNNERS.

    With several runners, `rounds` > 1 interleaves them (each round times every runner
    for frames/rounds frames), so a drift of the host's speed hits all of them alike.
    """
    batch = tensor.shape[0]
    runners = {name: RUNNERS[name](model) for name in which}
    for run in runners.values():
        for _ in range(WARMUP_RUNS):
            run(tensor)
    per_round = max(1, -(-frames // (batch * rounds)))
    times: dict[str, list[np.ndarray]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            times[name].append(_time_batches(run, tensor, per_round))
    result = {}
    for name, parts in times.items():
        seconds = np.concatenate(parts)
        fps = float(seconds.size * batch / seconds.sum())
        result[name] = {"fps": round(fps, 2), "ms_per_batch": stats_ms(seconds * 1e3)}
    return result


def raw_ort_run(model: Path, tensor: np.ndarray, frames: int, with_engine: bool = False) -> dict:
    """One raw measurement, printed: {'fps', 'load'} for a plain ONNX Runtime session (default
    options), plus 'engine_fps' for jetsentry's OnnxRuntimeEngine as the pipeline configures it
    when `with_engine` (the two interleaved in two rounds, `frames` each)."""
    which = ("ort", "engine") if with_engine else ("ort",)
    with CpuMonitor() as monitor:
        result = measure(model, tensor, frames, which=which, rounds=2)
    line = f"  raw ONNX Runtime {'x'.join(map(str, tensor.shape))}: {result['ort']['fps']:.2f} frames/s"
    run = {"fps": result["ort"]["fps"], "load": monitor.record}
    if with_engine:
        run["engine_fps"] = result["engine"]["fps"]
        line += f", jetsentry engine {run['engine_fps']:.2f}"
    print(f"{line}; foreign load {monitor.record['foreign_cores']:.2f} cores", flush=True)
    return run


TARGET_RATIO = 0.95  # end-to-end frames/s against raw ONNX Runtime frames/s


def bracketed_by_raw(model: Path, tensor: np.ndarray, raw_frames: int, repeat: int, label: str,
                     run_once: Callable[[], dict], fps_of: Callable[[dict], float],
                     describe: Callable[[dict], str], judge: bool = True) -> tuple[dict, dict]:
    """`repeat` end-to-end runs, each between two raw ONNX Runtime runs (this host's speed drifts
    by tens of percent over minutes, so each run is compared with the raw runs around it).

    Each run dict gains raw_fps_around and ratio and is printed with `describe(run)`; judge=False
    leaves the 0.95 target out (for runs that are not jetsentry's).
    Returns the run with the median ratio, and the result fields shared by the end-to-end
    benchmarks (ratio, target, every run and raw run); the loads go under "loads".
    """
    raws = [raw_ort_run(model, tensor, raw_frames)]
    runs = []
    for index in range(repeat):
        run = run_once()
        raws.append(raw_ort_run(model, tensor, raw_frames))
        run["raw_fps_around"] = round((raws[-2]["fps"] + raws[-1]["fps"]) / 2, 2)
        run["ratio"] = round(fps_of(run) / run["raw_fps_around"], 3)
        runs.append(run)
        print(f"{label} run {index + 1}: {describe(run)} = {run['ratio']:.3f} x raw {run['raw_fps_around']:.2f}; "
              f"foreign load {run['load']['foreign_cores']:.2f} cores", flush=True)
    ratios = [run["ratio"] for run in runs]
    median_run = runs[int(np.argsort(ratios)[(len(ratios) - 1) // 2])]  # the lower middle of an even count
    ratio = median_run["ratio"]
    verdict = f"; target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'NOT met'}" if judge else ""
    print(f"{label}: {fps_of(median_run):.2f} frames/s = {ratio:.3f} x raw ONNX Runtime "
          f"{median_run['raw_fps_around']:.2f} frames/s, input {'x'.join(map(str, tensor.shape))} (median ratio of "
          f"{repeat}{verdict})", flush=True)
    fields = {
        "input": "x".join(map(str, tensor.shape)),
        "fps_median_run": fps_of(median_run),
        "raw_fps_median_run": median_run["raw_fps_around"],
        "ratio_to_raw_ort": ratio,
        "ratios": ratios,
        "fps_runs": [fps_of(run) for run in runs],
        "raw_fps_runs": [r["fps"] for r in raws],
        **({"target_ratio": TARGET_RATIO, "target_met": ratio >= TARGET_RATIO} if judge else {}),
        "runs": runs,
        "loads": {"raw": [r["load"] for r in raws], "runs": [run["load"] for run in runs]},
    }
    return median_run, fields


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
    results = {}
    loads = {}
    for batch in args.batch:
        tensor = letterboxed_batch(model, clip, batch, args.input_size)
        if not args.no_wait:
            wait_for_quiet()
        with CpuMonitor() as monitor:
            measured = measure(model, tensor, args.frames, which=tuple(RUNNERS), rounds=args.rounds)
        loads[f"batch{batch}"] = monitor.record
        shape = "x".join(str(d) for d in tensor.shape)
        results[f"batch{batch}"] = {"input": shape, **measured}
        for name, data in measured.items():
            print(f"bench_engine {model.name} {name:10s} input {shape}: {data['fps']:.2f} frames/s, "
                  f"{data['ms_per_batch']['p50']:.1f} ms per batch (p50); "
                  f"foreign load {monitor.record['foreign_cores']:.2f} cores", flush=True)
    write_result(args.name, {"model": model.name, "clip": clip.name, "batches": results}, load=loads)


if __name__ == "__main__":
    main()
