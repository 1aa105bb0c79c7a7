"""Do NVDEC decoders created beside ONNX Runtime CUDA inference make its batches fail?

A 560-s run of 16 looping NVDEC streams saw 7 batches fail inside cuDNN with "operation failed
due to a previous error during capture" while the decoders were re-created at each loop
(docs/PERFORMANCE.md, row 11).  That text is CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, which a
thread in CUDA's default (global) stream-capture mode causes when it makes a capture-unsafe call
(a decoder's cuMemAlloc) while another thread captures a stream.  This script tests that
hypothesis: it churns decoders (create, decode a few frames, destroy) on --threads threads while
the main thread runs the engine, in phases that alternate the decoder threads' mode between
CUDA's default and relaxed (cuThreadExchangeStreamCaptureMode), and counts failed batches per mode.
On the H200 neither mode failed a batch (docs/PERFORMANCE.md): decoder creation alone does not
reproduce the failures.

    python bench/gpu/capture_mode_check.py --model M.onnx --clip CLIP [--threads 4] [--pause 0.2] [--phase-seconds 30]
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

from cuda.bindings import driver  # noqa: E402

from jetsentry.gpu.cuda import check, get_device  # noqa: E402
from jetsentry.gpu.memory import stream_pool  # noqa: E402

MODES = {"default": driver.CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_GLOBAL,
         "relaxed": driver.CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_RELAXED}


def churn(clip: Path, mode: list[str], stop: threading.Event, counts: dict, lock: threading.Lock,
          pause_s: float) -> None:
    """Create a demuxer and decoder, decode a few frames, drop them; again until stopped."""
    import PyNvVideoCodec as nvc

    device = get_device(0)
    streams = stream_pool(device)
    stream = streams.take()
    try:
        while not stop.is_set():
            phase = mode[0]
            device.activate()
            check(driver.cuThreadExchangeStreamCaptureMode(MODES[phase]), "cuThreadExchangeStreamCaptureMode")
            try:
                demuxer = nvc.CreateDemuxer(str(clip))
                decoder = nvc.CreateDecoder(gpuid=device.index, codec=demuxer.GetNvCodecId(),
                                            cudacontext=int(device.context), cudastream=stream.handle,
                                            usedevicememory=True)
                decoded = 0
                for packet in demuxer:
                    decoded += len(decoder.Decode(packet))
                    if decoded >= 8 or stop.is_set():
                        break
                with lock:
                    counts[phase]["decoders"] += 1
            except Exception as exc:  # noqa: BLE001 - PyNvVideoCodec raises its own types
                with lock:
                    counts[phase]["decoder_errors"] += 1
                    counts[phase]["decoder_messages"].setdefault(str(exc)[:160], 0)
                    counts[phase]["decoder_messages"][str(exc)[:160]] += 1
            finally:
                decoder = demuxer = None  # noqa: F841 - freed when the objects go
            stop.wait(pause_s)  # PyNvVideoCodec holds the GIL while it creates: leave the engine its share
    finally:
        streams.give_back(stream)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--clip", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between one thread's decoders")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--phase-seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    args = parser.parse_args()
    from bench.gpu.staged import cuda_detector, photo_frames

    device = get_device(0)
    detector = cuda_detector(args.model, args.batch)
    frames = photo_frames(args.clip, args.batch, 4, "churn")
    prepared = detector.prepare(frames)
    engine = detector.engine
    for _ in range(10):
        engine.infer_candidates(prepared.tensor, 0.1, None)
    counts = {phase: {"batches": 0, "failed": 0, "messages": {}, "decoders": 0, "decoder_errors": 0,
                      "decoder_messages": {}, "seconds": 0.0} for phase in MODES}
    lock = threading.Lock()
    mode = ["default"]
    stop = threading.Event()
    threads = [threading.Thread(target=churn, args=(args.clip, mode, stop, counts, lock, args.pause),
                                daemon=True)
               for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(args.rounds):
            for phase in MODES:
                mode[0] = phase
                began = time.perf_counter()
                while time.perf_counter() - began < args.phase_seconds:
                    try:
                        engine.infer_candidates(prepared.tensor, 0.1, None)
                        counts[phase]["batches"] += 1
                    except Exception as exc:  # noqa: BLE001 - what fails is what this counts
                        counts[phase]["failed"] += 1
                        key = f"{type(exc).__name__}: {str(exc)[:200]}"
                        counts[phase]["messages"][key] = counts[phase]["messages"].get(key, 0) + 1
                counts[phase]["seconds"] += time.perf_counter() - began
                print(phase, json.dumps({k: v for k, v in counts[phase].items() if "messages" not in k}), flush=True)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        detector.close()
    result = {"card": device.info.name, "date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv),
              "threads": args.threads, "pause_s": args.pause, "batch": args.batch, "phases": counts}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "capture_mode_check.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
