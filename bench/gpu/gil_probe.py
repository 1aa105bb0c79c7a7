"""How long the GPU frame path's native calls keep Python's GIL, and what a busy Python thread
does to them, on the lent GPU.

For each call under test (PyNvVideoCodec's demux + decode of the clip, ONNX Runtime CUDA's
batch run with the head selected on the GPU, the letterbox kernel's batch), a worker thread
calls it in a loop, and:
- alone: calls per second;
- beside a ticker (the main thread in a pure-Python loop, reading the clock): the share of
  the time the ticker could not run (gaps over 200 us: the worker held the GIL), and the
  worker's calls per second, at Python's default switch interval (5 ms) and at shorter ones.
A call that releases the GIL while it works leaves the ticker running; one that holds it
stops the ticker for as long as it runs.  Each time a worker that released the GIL wants it
back from a thread running Python, it waits up to one switch interval.

Then, with --beside-nvdec N: the engine's batch run alone, beside N NVDEC sessions decoding
the clip in a loop in this process (frames released at once), and beside the same sessions
in another process: slower in both says the GPU is shared, slower only in-process says the
GIL is.

    python3 bench/gpu/gil_probe.py --model M.onnx --clip CLIP [--seconds 3] [--beside-nvdec 16] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "daemon"), str(REPO)]

from jetsentry.gpu.cuda import get_device  # noqa: E402

GAP_S = 200e-6


def _ticker(seconds: float) -> dict:
    """Run Python for ``seconds``; the share of the time spent in gaps over GAP_S."""
    start = last = time.perf_counter()
    end = start + seconds
    blocked = 0.0
    gaps = 0
    longest = 0.0
    while True:
        now = time.perf_counter()
        gap = now - last
        if gap > GAP_S:
            blocked += gap
            gaps += 1
            longest = max(longest, gap)
        last = now
        if now >= end:
            break
    return {"blocked_share": round(blocked / (last - start), 4), "gaps": gaps, "longest_gap_ms": round(longest * 1e3, 3)}


def _measure(call, seconds: float, *, ticker: bool, switch_interval_s: float | None = None) -> dict:
    """Calls per second of ``call`` on a worker thread, alone or beside the ticker."""
    stop = threading.Event()
    counted = [0]

    def work() -> None:
        while not stop.is_set():
            call()
            counted[0] += 1

    previous = sys.getswitchinterval()
    if switch_interval_s is not None:
        sys.setswitchinterval(switch_interval_s)
    try:
        worker = threading.Thread(target=work, daemon=True)
        began = time.perf_counter()
        worker.start()
        ticks = _ticker(seconds) if ticker else (time.sleep(seconds) or None)
        stop.set()
        worker.join()
        elapsed = time.perf_counter() - began
    finally:
        sys.setswitchinterval(previous)
    result = {"calls_per_s": round(counted[0] / elapsed, 1)}
    if ticks is not None:
        result.update(ticks)
    return result


def _decode_call(clip: Path, device):
    import PyNvVideoCodec as nvc

    state = {"packets": None, "decoder": None, "stream": None}

    def call() -> None:
        if state["packets"] is None:
            demuxer = nvc.CreateDemuxer(str(clip))
            state["decoder"] = nvc.CreateDecoder(gpuid=device.index, codec=demuxer.GetNvCodecId(),
                                                 cudacontext=int(device.context), cudastream=0,
                                                 usedevicememory=True)
            state["packets"] = iter(demuxer)
            state["demuxer"] = demuxer
        device.activate()
        packet = next(state["packets"], None)
        if packet is None:
            state["packets"] = None
            return
        for frame in state["decoder"].Decode(packet):
            frame.cuda()

    return call


def _decode_until(clip: Path, streams: int, stop, decoded=None) -> None:
    """N looping NVDEC sessions, each frame released as soon as it is taken, until ``stop`` is set."""
    from bench.gpu.end_to_end import _sessions, release_frames

    sessions, ready = _sessions(clip, streams, on_eos="loop")
    for session in sessions.values():
        session.start()
    taken = 0
    try:
        taken = release_frames(sessions, ready, stop.is_set)
    finally:
        for session in sessions.values():
            session.stop()
        if decoded is not None:
            decoded.value = taken


def _decode_process(clip: str, streams: int, stop, started, decoded) -> None:
    sys.path[:0] = [str(REPO / "daemon"), str(REPO)]
    started.set()
    _decode_until(Path(clip), streams, stop, decoded)


def beside_nvdec(call, clip: Path, streams: int, seconds: float) -> dict:
    """The call's rate alone, beside decoding in this process, and beside decoding in another."""
    import multiprocessing

    result = {"alone": _measure(call, seconds, ticker=False)}
    stop = threading.Event()
    decoder = threading.Thread(target=_decode_until, args=(clip, streams, stop), daemon=True)
    decoder.start()
    time.sleep(1.0)  # sessions connected and decoding
    result["beside_nvdec_in_this_process"] = _measure(call, seconds, ticker=False)
    stop.set()
    decoder.join()
    context = multiprocessing.get_context("spawn")
    stop_p, started, decoded = context.Event(), context.Event(), context.Value("q", 0)
    child = context.Process(target=_decode_process, args=(str(clip), streams, stop_p, started, decoded))
    child.start()
    started.wait(60)
    time.sleep(3.0)  # the child imports, connects and decodes
    result["beside_nvdec_in_another_process"] = _measure(call, seconds, ticker=False)
    stop_p.set()
    child.join(60)
    result["other_process_frames"] = decoded.value
    return result


def _demux_call(clip: Path):
    import PyNvVideoCodec as nvc

    state = {"packets": None}

    def call() -> None:
        if state["packets"] is None:
            state["demuxer"] = nvc.CreateDemuxer(str(clip))
            state["packets"] = iter(state["demuxer"])
        if next(state["packets"], None) is None:
            state["packets"] = None

    return call


def _threaded_call(clip: Path, device, notes: dict):
    """PyNvVideoCodec's ThreadedDecoder (decodes on a native thread of its own): one frame a call."""
    import PyNvVideoCodec as nvc

    state: dict = {"decoder": None}

    def call() -> None:
        if state["decoder"] is None:
            state["decoder"] = nvc.ThreadedDecoder(str(clip), 8, gpu_id=device.index,
                                                   cuda_context=int(device.context), cuda_stream=0,
                                                   use_device_memory=True)
        frames = state["decoder"].get_batch_frames(1)
        if not frames:
            notes.setdefault("at_end", repr(frames))
            state["decoder"].end()
            state["decoder"] = None
            return
        frame = frames[0]
        if "frame" not in notes:
            notes["frame"] = sorted(name for name in dir(frame) if not name.startswith("__"))
            for name in ("timestamp", "getPTS", "frame_idx", "decode_stats"):
                value = getattr(frame, name, None)
                if value is not None:
                    try:
                        notes[f"frame.{name}"] = repr(value() if callable(value) else value)
                    except Exception as exc:  # noqa: BLE001 - a probe
                        notes[f"frame.{name}"] = f"raised {exc!r}"
            views = frame.cuda()
            notes["planes"] = [v.__cuda_array_interface__ for v in views]
        frame.cuda()

    return call


def _threaded_until(clip: Path, streams: int, device, stop, counted: list) -> None:
    threads = []

    def one() -> None:
        call = _threaded_call(clip, device, {})
        while not stop.is_set():
            call()
            counted[0] += 1

    for _ in range(streams):
        thread = threading.Thread(target=one, daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a dynamic-batch detection ONNX")
    parser.add_argument("--clip", type=Path, required=True)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--switch-intervals-ms", type=float, nargs="+", default=[5.0, 1.0, 0.2])
    parser.add_argument("--beside-nvdec", type=int, metavar="STREAMS", help="also the engine beside NVDEC decoding")
    parser.add_argument("--threaded", type=int, metavar="STREAMS",
                        help="also PyNvVideoCodec's ThreadedDecoder, and the engine beside that many")
    parser.add_argument("--skip-calls", action="store_true", help="of the calls alone, only the threaded decoder")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    args = parser.parse_args()
    from bench.gpu.staged import cuda_detector, photo_frames

    device = get_device(0)
    detector = cuda_detector(args.model, args.batch)
    result: dict = {"card": device.info.name, "date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv),
                    "default_switch_interval_ms": sys.getswitchinterval() * 1e3, "calls": {}}
    try:
        frames = photo_frames(args.clip, args.batch, 8, "probe")
        prepared = detector.prepare(frames)
        engine = detector.engine
        calls = {
            "nvdec_demux_and_decode_one_packet": _decode_call(args.clip, device),
            "demux_one_packet": _demux_call(args.clip),
            f"onnxruntime_cuda_batch_{args.batch}": lambda: engine.infer_candidates(prepared.tensor, 0.1, None),
            f"letterbox_batch_{args.batch}_from_host": lambda: detector.prepare(frames),
        }
        if args.beside_nvdec:
            run = calls[f"onnxruntime_cuda_batch_{args.batch}"]
            result["engine_beside_nvdec"] = beside_nvdec(run, args.clip, args.beside_nvdec, args.seconds)
            print("engine beside nvdec", json.dumps(result["engine_beside_nvdec"]), flush=True)
        if args.threaded:
            notes: dict = {}
            calls["threaded_decoder_one_frame"] = _threaded_call(args.clip, device, notes)
            result["threaded_decoder_notes"] = notes
            run = calls[f"onnxruntime_cuda_batch_{args.batch}"]
            stop, counted = threading.Event(), [0]
            decoders = threading.Thread(target=_threaded_until, args=(args.clip, args.threaded, device, stop, counted),
                                        daemon=True)
            decoders.start()
            time.sleep(2.0)
            before = counted[0]
            measured = _measure(run, args.seconds, ticker=False)
            measured["decoded_frames_per_s"] = round((counted[0] - before) / args.seconds, 1)
            stop.set()
            decoders.join()
            result["engine_beside_threaded_decoders"] = measured
            print("engine beside threaded decoders", json.dumps(measured), flush=True)
        for name, call in ({k: v for k, v in calls.items() if k.startswith("threaded")} if args.skip_calls
                           else calls).items():
            for _ in range(5):
                call()
            entry = {"alone": _measure(call, args.seconds, ticker=False)}
            for interval_ms in args.switch_intervals_ms:
                entry[f"beside_python_switch_{interval_ms:g}ms"] = _measure(
                    call, args.seconds, ticker=True, switch_interval_s=interval_ms / 1e3)
            result["calls"][name] = entry
            print(name, json.dumps(entry), flush=True)
    finally:
        detector.close()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gil_probe.json").write_text(json.dumps(result, indent=2, default=repr))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
