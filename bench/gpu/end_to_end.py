"""The GPU frame path end to end: NVDEC -> letterbox kernel -> ONNX Runtime CUDA -> NMS -> ByteTrack -> messages.

For each stream count, in one run and interleaved:
- raw: the engine alone on pre-staged device input (letterboxed once), at the batch the
  pipeline runs (one frame per stream, up to --max-batch), output copied to the host;
- nvdec: NVDEC capacity, the same sessions with a consumer that only releases frames;
- pipeline: N recordings (realtime: false, every frame) through CameraSession (nvdec),
  FrameBatcher, and FrameProcessor (GPU pre-processing, inference, decoding + NMS,
  ByteTrack, JSON messages built), the next batch prepared during inference, as the
  daemon does for recordings.  Messages are built but not published: the GPU machine
  has no MQTT broker.
Host CPU per frame: the consumer thread (inference call, head decoding, NMS, tracking,
messages), the prepare thread (batching, kernel launch), and the rest of the process
(decode threads, PyNvVideoCodec, ONNX Runtime), from thread CPU clocks.

    python bench/gpu/end_to_end.py --model M.onnx --clip CLIP [--streams 1 8 16] [--out DIR]
    python bench/gpu/end_to_end.py --latency --model M.onnx --clip CLIP      # one live-paced stream
    python bench/gpu/end_to_end.py --memory 180 --model M.onnx --clip CLIP  # device memory over time
    python bench/gpu/end_to_end.py ... --nvdec-library pynvvideocodec pynvvideocodec-process  # decoder processes too
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import resource
import statistics
import sys
import threading
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "daemon"), str(REPO)]

from jetsentry.batch import FrameBatcher  # noqa: E402
from jetsentry.batch.finisher import BackgroundFinisher  # noqa: E402
from jetsentry.batch.prefetch import PrefetchedBatches  # noqa: E402
from jetsentry.capture.decoders import CaptureBackend  # noqa: E402
from jetsentry.capture.session import CameraSession  # noqa: E402
from jetsentry.capture.slot import LatestFrameSlot  # noqa: E402
from jetsentry.capture.state import SessionState  # noqa: E402
from jetsentry.config.models import CameraConfig, CaptureConfig, ModelConfig, TrackerConfig  # noqa: E402
from jetsentry.gpu.cuda import get_device  # noqa: E402
from jetsentry.infer import Detector, EngineOptions  # noqa: E402
from jetsentry.pipeline import FrameProcessor  # noqa: E402

DONE = (SessionState.STOPPED, SessionState.FAILED)


NVDEC_LIBRARY = {"name": "pynvvideocodec"}  # capture.nvdec_library of every session (--nvdec-library)


def _sessions(clip: Path, count: int, *, realtime: bool = False, on_eos: str = "stop", fps_cap=None):
    ready = threading.Event()
    sessions = {}
    for index in range(count):
        camera = CameraConfig(id=f"cam{index}", source=str(clip), realtime=realtime, on_eos=on_eos,
                              decoder="nvdec", fps_cap=fps_cap)
        library, _, where = NVDEC_LIBRARY["name"].partition("-")  # "pynvvideocodec-process": capture.nvdec_process
        capture = CaptureConfig(connect_timeout_s=30, nvdec_library=library, nvdec_process=where == "process")
        sessions[camera.id] = CameraSession(camera, capture, LatestFrameSlot(ready),
                                            backend=CaptureBackend("nvdec", "bench", 0))
    return sessions, ready


def _finished(sessions) -> bool:
    return all(s.state in DONE for s in sessions.values()) and not any(s.slot.has_frame() for s in sessions.values())


class SteadyWindow:
    """Frames and seconds from the moment every session streams: leaves out starting the decoders
    (a decoder process's interpreter, each stream's first decoder), which a daemon pays once."""

    def __init__(self, sessions: dict) -> None:
        self._sessions = sessions
        self.started: float | None = None
        self.frames_before = 0

    def note(self, frames: int) -> None:
        if self.started is None and all(s.state is SessionState.STREAMING or s.state in DONE
                                        for s in self._sessions.values()):
            self.started, self.frames_before = time.perf_counter(), frames

    def result(self, frames: int, ended: float) -> dict:
        if self.started is None or ended <= self.started:
            return {"fps": None}
        counted = frames - self.frames_before
        return {"frames": counted, "seconds": round(ended - self.started, 3),
                "fps": round(counted / (ended - self.started), 1)}


def release_frames(sessions: dict, ready: threading.Event, done, window: SteadyWindow | None = None) -> int:
    """Take and release every frame the sessions hand over until ``done()``; the count taken."""
    taken = 0
    while not done():
        if window is not None:
            window.note(taken)
        ready.clear()
        got = False
        for session in sessions.values():
            frame = session.slot.take()
            if frame is not None:
                frame.release()
                taken += 1
                got = True
        if not got:
            ready.wait(0.01)
    return taken


def nvdec_capacity(clip: Path, streams: int) -> dict:
    sessions, ready = _sessions(clip, streams)
    started = time.perf_counter()
    for session in sessions.values():
        session.start()
    window = SteadyWindow(sessions)
    taken = release_frames(sessions, ready, lambda: _finished(sessions), window)
    ended = time.perf_counter()
    elapsed = ended - started
    for session in sessions.values():
        session.stop()
    errors = [s.last_error for s in sessions.values() if s.state == SessionState.FAILED]
    return {"frames": taken, "seconds": round(elapsed, 3), "fps": round(taken / elapsed, 1), "errors": errors,
            "steady": window.result(taken, ended)}


def raw_engine(detector: Detector, frames_source: Path, batch: int, seconds: float = 2.0) -> dict:
    """The engine alone on one letterboxed device batch, repeated (pre-staged input)."""
    from jetsentry.capture.frame import Frame
    from bench.gpu.kernel import decoded_photos

    pictures = decoded_photos(frames_source, min(batch, 8), every=30)
    frames = [Frame("raw", i, pictures[i % len(pictures)], 0.0, 0.0) for i in range(batch)]
    prepared = detector.prepare(frames)
    engine = detector.engine
    result = {"batch": batch}
    for name, run in (("head_selected_on_gpu", lambda: engine.infer_candidates(prepared.tensor, 0.1, None)),
                      ("whole_head_to_host", lambda: engine.infer(prepared.tensor))):
        for _ in range(10):
            run()
        runs = 0
        began = time.perf_counter()
        while time.perf_counter() - began < seconds:
            run()
            runs += 1
        elapsed = time.perf_counter() - began
        result[name] = {"runs": runs, "ms_per_run": round(elapsed / runs * 1e3, 3),
                        "fps": round(runs * batch / elapsed, 1)}
    result["fps"] = result["head_selected_on_gpu"]["fps"]  # what the frame path runs
    return result


def pipeline(detector: Detector, clip: Path, streams: int, max_batch: int, *, finish_behind: bool = False) -> dict:
    sessions, ready = _sessions(clip, streams)
    batcher = FrameBatcher({cid: s.slot for cid, s in sessions.items()}, ready, max_batch=min(streams, max_batch),
                           max_wait_s=0.002)
    processor = FrameProcessor(detector, device_id="bench", tracker=TrackerConfig())
    stage_ms = {"preprocess": [], "inference": [], "postprocess": [], "tracking": []}
    counts = {"frames": 0, "detections": 0, "message_bytes": 0, "batches": 0, "failed_batches": 0}
    failures: list[str] = []
    prepare_cpu = [0.0]
    stop = threading.Event()

    def batches():
        while not stop.is_set():
            yield batcher.next_batch(timeout=0.05)

    def prepare(batch):
        before = time.thread_time()
        try:
            return processor.prepare(batch) if batch else None
        finally:
            prepare_cpu[0] += time.thread_time() - before

    finish_cpu = [0.0]

    def finish(inferred):
        before = time.thread_time()
        results = processor.finish(inferred)
        counts["batches"] += 1
        for result in results:
            counts["frames"] += 1
            counts["detections"] += len(result.detections)
            counts["message_bytes"] += len(result.payload)
            for stage in stage_ms:  # each a batch's time (one tracking pass: a frame of each camera)
                stage_ms[stage].append(result.latency_ms[stage] / len(results))
        finish_cpu[0] += time.thread_time() - before

    process_before = resource.getrusage(resource.RUSAGE_SELF)
    consumer_before = time.thread_time()
    started = time.perf_counter()
    for session in sessions.values():
        session.start()
    finisher = BackgroundFinisher(finish, name="bench-finish") if finish_behind else None
    window = SteadyWindow(sessions)
    with PrefetchedBatches(batches(), prepare, name="bench-prepare") as prepared:
        for ready_batch in prepared:
            window.note(counts["frames"])
            if ready_batch is not None:
                try:
                    inferred = processor.infer(ready_batch)
                except Exception as exc:  # noqa: BLE001 - the daemon counts a failed batch and goes on
                    counts["failed_batches"] += 1
                    if len(failures) < 5:
                        failures.append(f"{type(exc).__name__}: {str(exc)[:400]}")
                    continue
                if finisher is not None:
                    finisher.submit(inferred)
                else:
                    finish(inferred)
            elif _finished(sessions):
                break
        stop.set()
    if finisher is not None:
        finisher.close()
    ended = time.perf_counter()
    elapsed = ended - started
    consumer_cpu = time.thread_time() - consumer_before
    if finisher is None:
        consumer_cpu -= finish_cpu[0]  # reported as the finishing work, apart
    usage = resource.getrusage(resource.RUSAGE_SELF)
    process_cpu = (usage.ru_utime - process_before.ru_utime) + (usage.ru_stime - process_before.ru_stime)
    for session in sessions.values():
        session.stop()
    frames = max(1, counts["frames"])
    errors = [s.last_error for s in sessions.values() if s.state == SessionState.FAILED]
    return {
        **counts, "failures": failures, "seconds": round(elapsed, 3), "fps": round(counts["frames"] / elapsed, 1),
        "errors": errors, "steady": window.result(counts["frames"], ended),
        "mean_batch": round(counts["frames"] / max(1, counts["batches"]), 2),
        "stage_ms_per_frame_wall": {k: round(statistics.fmean(v), 4) if v else None for k, v in stage_ms.items()},
        "finish_behind": finish_behind,
        "cpu_ms_per_frame": {"inference_thread": round(consumer_cpu / frames * 1e3, 4),
                             "finishing (tracking, messages)": round(finish_cpu[0] / frames * 1e3, 4),
                             "prepare_thread": round(prepare_cpu[0] / frames * 1e3, 4),
                             "rest_of_process": round((process_cpu - consumer_cpu - finish_cpu[0] - prepare_cpu[0])
                                                      / frames * 1e3, 4),
                             "whole_process": round(process_cpu / frames * 1e3, 4)},
    }


def _shard(model: Path, clip: Path, streams: int, max_batch: int, barrier, results, nvdec_library: str) -> None:
    """One worker process of `sharded`: its own engine and `streams` of the streams."""
    NVDEC_LIBRARY["name"] = nvdec_library  # a spawned interpreter starts from the module's default
    try:
        detector = Detector.from_config(_model_config(model, max_batch), EngineOptions(max_batch=max_batch))
        try:
            raw_engine(detector, clip, min(streams, max_batch), seconds=0.5)  # warmed before the clock starts
            barrier.wait(300)
            started = time.time()
            result = pipeline(detector, clip, streams, max_batch)
            results.put({**result, "started": started, "ended": time.time()})
        finally:
            detector.close()
    except BaseException as exc:
        results.put({"error": f"{type(exc).__name__}: {str(exc)[:400]}"})
        raise


def sharded(model: Path, clip: Path, streams: int, processes: int, max_batch: int) -> dict:
    """The streams split over `processes` interpreters, each a whole pipeline with its own engine
    on the one GPU: how far the host's per-frame Python work bounds one process."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    share = [streams // processes + (1 if i < streams % processes else 0) for i in range(processes)]
    workers = [context.Process(target=_shard, args=(model, clip, n, max_batch, barrier, results, NVDEC_LIBRARY["name"]))
               for n in share]
    for worker in workers:
        worker.start()
    parts, deadline = [], time.monotonic() + 300
    while len(parts) < len(workers) and time.monotonic() < deadline:
        try:
            parts.append(results.get(timeout=1))
        except queue.Empty:
            if any(worker.exitcode not in (None, 0) for worker in workers):
                break  # a worker died without a word (a crash inside a native library)
    for worker in workers:
        worker.join(10)
        if worker.is_alive():
            worker.terminate()
    failed = [part["error"] for part in parts if "error" in part]
    parts = [part for part in parts if "error" not in part]
    if failed or len(parts) < len(workers):
        return {"processes": processes, "failed": failed, "exitcodes": [worker.exitcode for worker in workers]}
    frames = sum(part["frames"] for part in parts)
    seconds = max(part["ended"] for part in parts) - min(part["started"] for part in parts)
    return {"processes": processes, "streams_per_process": share, "frames": frames, "seconds": round(seconds, 3),
            "fps": round(frames / seconds, 1), "errors": [e for part in parts for e in part["errors"]],
            "process_fps": [part["fps"] for part in parts],
            "failed_batches": sum(part["failed_batches"] for part in parts),
            "failures": [f for part in parts for f in part["failures"]][:5],
            "cpu_ms_per_frame_whole_process": [part["cpu_ms_per_frame"]["whole_process"] for part in parts]}


def latency(detector: Detector, clip: Path, seconds: float) -> dict:
    """One live-paced stream (the file at its 30 frames/s), batch 1, nothing prepared ahead."""
    sessions, ready = _sessions(clip, 1, realtime=True, on_eos="loop")
    batcher = FrameBatcher({cid: s.slot for cid, s in sessions.items()}, ready, max_batch=1, max_wait_s=0.0)
    processor = FrameProcessor(detector, device_id="bench", tracker=TrackerConfig())
    session = next(iter(sessions.values()))
    session.start()
    session.wait_for_state(SessionState.STREAMING, 30)
    totals, decode_to_batch = [], []
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        batch = batcher.next_batch(timeout=0.5)
        for result in processor.process(batch) if batch else []:
            totals.append(result.latency_ms["total"])
            decode_to_batch.append(result.latency_ms["decode_to_batch"])
    session.stop()
    totals.sort()

    def pct(p):
        return round(totals[min(len(totals) - 1, int(p / 100 * len(totals)))], 3) if totals else None

    return {"frames": len(totals), "seconds": seconds, "fps": round(len(totals) / seconds, 2),
            "handover_to_message_ms": {"p50": pct(50), "p99": pct(99), "max": round(totals[-1], 3) if totals else None},
            "handover_to_batch_ms_p50": round(statistics.median(decode_to_batch), 3) if decode_to_batch else None,
            "stats": {"dropped": session.stats.dropped, "loops": session.stats.loops}}


def memory(model: Path, clip: Path, streams: int, seconds: float, max_batch: int, partial: Path | None = None) -> dict:
    """Device memory used: before the engine, with it, with N streams, then every 10 s of a looping run.
    ``partial``: written after every sample, so a run that crashes keeps what it measured."""
    device = get_device(0)

    def used_mib():
        free, total = device.memory_info()
        return round((total - free) / 2**20, 1)

    baseline = used_mib()
    detector = Detector.from_config(_model_config(model, max_batch), EngineOptions(max_batch=max_batch))
    with_engine = used_mib()
    sessions, ready = _sessions(clip, streams, realtime=False, on_eos="loop")
    batcher = FrameBatcher({cid: s.slot for cid, s in sessions.items()}, ready, max_batch=min(streams, max_batch),
                           max_wait_s=0.002)
    processor = FrameProcessor(detector, device_id="bench", tracker=TrackerConfig())
    for session in sessions.values():
        session.start()
    samples, frames, failures = [], 0, []
    began = time.perf_counter()
    next_sample = began + 10
    while time.perf_counter() - began < seconds:
        batch = batcher.next_batch(timeout=0.5)
        try:
            frames += len(processor.process(batch)) if batch else 0
        except Exception as exc:  # noqa: BLE001 - counted like the daemon's failed batches, and the run goes on
            failures.append((round(time.perf_counter() - began, 1), f"{type(exc).__name__}: {str(exc)[:300]}"))
        if time.perf_counter() >= next_sample:
            samples.append((round(time.perf_counter() - began), used_mib()))
            next_sample += 10
            if partial is not None:
                partial.write_text(json.dumps({"streams": streams, "frames": frames, "samples_s_mib": samples,
                                               "failed_batches": len(failures), "first_failures": failures[:5]}))
    for session in sessions.values():
        session.stop()
        session.slot.discard()
    detector.close()
    after = used_mib()
    return {"streams": streams, "seconds": seconds, "frames": frames, "baseline_mib": baseline,
            "engine_mib": round(with_engine - baseline, 1),
            "per_stream_mib": round((samples[0][1] - with_engine) / streams, 2) if samples else None,
            "samples_s_mib": samples, "after_close_mib": after,
            "failed_batches": len(failures), "first_failures": failures[:5],
            "change_first_to_last_sample_mib": round(samples[-1][1] - samples[0][1], 1) if samples else None}


def switch_interval_runs(detector: Detector, args, streams: int, interval_ms: float) -> dict:
    """The pipeline, inline and with finishing behind, at another Python switch interval."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(interval_ms / 1e3)
    try:
        return {"pipeline": pipeline(detector, args.clip, streams, args.max_batch),
                "pipeline_finish_behind": pipeline(detector, args.clip, streams, args.max_batch, finish_behind=True)}
    finally:
        sys.setswitchinterval(previous)


def _model_config(model: Path, max_batch: int) -> ModelConfig:
    return ModelConfig(path=model, backend={"type": "onnxruntime-cuda", "max_batch": max_batch})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a dynamic-batch detection ONNX")
    parser.add_argument("--clip", type=Path, required=True)
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 8, 16])
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--latency", action="store_true", help="measure one live-paced stream instead")
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--memory", type=float, metavar="SECONDS", help="measure device memory over a run instead")
    parser.add_argument("--processes", type=int, nargs="*", default=[],
                        help="also run the streams split over this many processes (each its own engine)")
    parser.add_argument("--switch-intervals-ms", type=float, nargs="*", default=[],
                        help="also run the pipeline at these Python switch intervals (sys.setswitchinterval)")
    parser.add_argument("--nvdec-library", nargs="+", default=["pynvvideocodec"],
                        choices=("pynvvideocodec", "nvcuvid", "pynvvideocodec-process", "nvcuvid-process"),
                        help="capture.nvdec_library of the decoding sessions; -process: each camera decoded in a "
                             "decoder process (capture.nvdec_process)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    args = parser.parse_args()
    libraries = list(dict.fromkeys(args.nvdec_library))
    NVDEC_LIBRARY["name"] = libraries[0]
    device = get_device(0)
    result: dict = {"card": device.info.name, "date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv),
                    "model": args.model.name, "clip": args.clip.name, "nvdec_library": libraries[0]}
    args.out.mkdir(parents=True, exist_ok=True)
    if args.memory:
        name = "memory" + ("" if libraries == ["pynvvideocodec"] else "_" + libraries[0])
        result["memory"] = memory(args.model, args.clip, max(args.streams), args.memory, args.max_batch,
                                  partial=args.out / f"{name}.partial.json")
    else:
        detector = Detector.from_config(_model_config(args.model, args.max_batch),
                                        EngineOptions(max_batch=args.max_batch))
        try:
            if args.latency:
                result["latency"] = latency(detector, args.clip, args.latency_seconds)
                name = "latency"
            else:
                name = "_".join(["end_to_end"] + ([] if libraries == ["pynvvideocodec"] else libraries))
                result["runs"] = []
                for streams in args.streams:
                    batch = min(streams, args.max_batch)
                    entry = {"streams": streams, "raw_before": raw_engine(detector, args.clip, batch)}
                    entry["nvdec"] = nvdec_capacity(args.clip, streams)
                    entry["pipeline"] = pipeline(detector, args.clip, streams, args.max_batch)
                    entry["pipeline_finish_behind"] = pipeline(detector, args.clip, streams, args.max_batch,
                                                               finish_behind=True)
                    entry["by_switch_interval"] = {f"{ms:g}ms": switch_interval_runs(detector, args, streams, ms)
                                                   for ms in args.switch_intervals_ms}
                    entry["sharded"] = [sharded(args.model, args.clip, streams, count, args.max_batch)
                                        for count in args.processes if 1 < count <= streams]
                    entry["other_nvdec_libraries"] = {}
                    for library in libraries[1:]:  # the same pipeline and NVDEC alone, decoding through another library
                        NVDEC_LIBRARY["name"] = library
                        try:
                            entry["other_nvdec_libraries"][library] = {
                                "nvdec": nvdec_capacity(args.clip, streams),
                                "pipeline": pipeline(detector, args.clip, streams, args.max_batch)}
                        except Exception:  # noqa: BLE001 - recorded; the main library's runs go on
                            entry["other_nvdec_libraries"][library] = {"error": traceback.format_exc(limit=6)}
                        finally:
                            NVDEC_LIBRARY["name"] = libraries[0]
                    entry["raw_after"] = raw_engine(detector, args.clip, batch)
                    raw = (entry["raw_before"]["fps"] + entry["raw_after"]["fps"]) / 2
                    bound = min(raw, entry["nvdec"]["fps"])
                    for other in entry["other_nvdec_libraries"].values():
                        if other.get("nvdec", {}).get("fps") and "pipeline" in other:
                            other["ratio_to_min_raw_nvdec"] = round(
                                other["pipeline"]["fps"] / min(raw, other["nvdec"]["fps"]), 3)
                    entry["ratio_to_min_raw_nvdec"] = round(entry["pipeline"]["fps"] / bound, 3)
                    for part in [entry] + list(entry["other_nvdec_libraries"].values()):
                        steady_nvdec = part.get("nvdec", {}).get("steady", {}).get("fps")
                        steady_pipeline = part.get("pipeline", {}).get("steady", {}).get("fps")
                        if steady_nvdec and steady_pipeline:
                            part["steady_ratio_to_min_raw_nvdec"] = round(steady_pipeline / min(raw, steady_nvdec), 3)
                    entry["ratio_finish_behind"] = round(entry["pipeline_finish_behind"]["fps"] / bound, 3)
                    for shard in (s for s in entry["sharded"] if "fps" in s):
                        shard["ratio_to_min_raw_nvdec"] = round(shard["fps"] / bound, 3)
                    result["runs"].append(entry)
                    print(json.dumps(entry), flush=True)
        finally:
            detector.close()
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
