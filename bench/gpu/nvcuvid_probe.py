"""The ctypes NVDEC decoder (capture/nvcuvid.py) against PyNvVideoCodec's, on the lent GPU.

1. Correctness: the first ``--compare`` frames of the clip decoded by both, copied to the
   host: equal bytes expected (one hardware decoder, one bitstream).
2. Speed: N threads each demuxing and decoding the whole clip (every frame mapped, copied into
   a buffer of its own as the capture stage does, unmapped), for each N of ``--streams``, the
   two decoders alternating.
3. The GIL: a pure-Python thread beside N decoding threads of each kind: the share of the
   time it could not run (gil_probe's ticker), and the frames the decoders made meanwhile.

    python3 bench/gpu/nvcuvid_probe.py --clip CLIP [--compare 30] [--streams 1 16] [--seconds 5] [--out DIR]

Needs PyNvVideoCodec (its demuxer feeds both decoders), cuda-python and the driver's
libnvcuvid.  Writes nvcuvid_probe.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "daemon"), str(REPO)]

import numpy as np  # noqa: E402

from bench.gpu.gil_probe import _ticker  # noqa: E402
from jetsentry.capture import nvcuvid  # noqa: E402
from jetsentry.capture.nvdec import (NVCUVID_CODECS, codec_name, copy_nv12_async, decoded_planes,  # noqa: E402
                                     demuxed_codec, packet_bytes)
from jetsentry.gpu.cuda import get_device  # noqa: E402


class Copier:
    """Copies NV12 pictures (luma and chroma planes) into one device buffer, or to the host."""

    def __init__(self, device, width: int, height: int) -> None:
        from jetsentry.gpu.memory import DeviceBuffer, Stream

        self.width, self.height = width, height
        self.stream = Stream(device)
        self.buffer = DeviceBuffer(device, width * height * 3 // 2)

    def to_device(self, luma: int, luma_pitch: int, chroma: int, chroma_pitch: int) -> None:
        self._copy(self.buffer.ptr, luma, luma_pitch, chroma, chroma_pitch, dst_host=False)

    def to_host(self, luma: int, luma_pitch: int, chroma: int, chroma_pitch: int) -> np.ndarray:
        out = np.empty((self.height * 3 // 2, self.width), np.uint8)
        self._copy(out.ctypes.data, luma, luma_pitch, chroma, chroma_pitch, dst_host=True)
        return out

    def _copy(self, dst: int, luma: int, luma_pitch: int, chroma: int, chroma_pitch: int, *, dst_host: bool) -> None:
        copy_nv12_async(dst=dst, dst_pitch=self.width, dst_rows=self.height, luma=luma, luma_pitch=luma_pitch,
                        chroma=chroma, chroma_pitch=chroma_pitch, width_bytes=self.width, luma_rows=self.height,
                        stream=self.stream.handle, dst_host=dst_host)
        self.stream.synchronize()

    def close(self) -> None:
        self.buffer.free()
        self.stream.destroy()


def ours(clip: Path, device, each, limit: int | None = None, stop=None) -> int:
    """Decode the clip with the ctypes decoder; ``each(copier, luma, pitch, chroma, pitch)`` per frame."""
    import PyNvVideoCodec as nvc

    device.activate()
    demuxer = nvc.CreateDemuxer(str(clip))
    codec = demuxed_codec(demuxer)
    if codec is None:
        raise SystemExit(f"the clip holds {codec_name(demuxer)}; the probe decodes H.264 and H.265")
    decoder = nvcuvid.CuvidDecoder(NVCUVID_CODECS[codec])
    state = {"copier": None, "frames": 0}

    def emit(picture) -> None:
        if state["copier"] is None:
            state["copier"] = Copier(device, decoder.format.width, decoder.format.height)
        copier = state["copier"]
        mapped = decoder.map(picture, int(copier.stream.handle))
        try:
            each(copier, mapped.luma, mapped.pitch, mapped.chroma, mapped.pitch)
        finally:
            mapped.unmap()
        state["frames"] += 1

    try:
        for packet in demuxer:
            address, size, pts = packet_bytes(packet)  # as the capture stage reads a packet
            for picture in decoder.decode(address, size, pts):
                emit(picture)
                if (limit is not None and state["frames"] >= limit) or (stop is not None and stop.is_set()):
                    return state["frames"]
        for picture in decoder.flush():
            emit(picture)
        return state["frames"]
    finally:
        decoder.close()
        if state["copier"] is not None:
            state["copier"].close()


def theirs(clip: Path, device, each, limit: int | None = None, stop=None) -> int:
    """Decode the clip with PyNvVideoCodec's decoder, the way capture/nvdec.py does."""
    import PyNvVideoCodec as nvc

    device.activate()
    demuxer = nvc.CreateDemuxer(str(clip))
    width, height = int(demuxer.Width()), int(demuxer.Height())
    copier = Copier(device, width, height)
    decoder = nvc.CreateDecoder(gpuid=device.index, codec=demuxer.GetNvCodecId(), cudacontext=int(device.context),
                                cudastream=int(copier.stream.handle), usedevicememory=True)
    frames = 0
    try:
        for packet in demuxer:
            for frame in decoder.Decode(packet):
                luma, luma_pitch, chroma, chroma_pitch = decoded_planes(frame, width, height)
                each(copier, luma, luma_pitch, chroma, chroma_pitch)
                frames += 1
                if (limit is not None and frames >= limit) or (stop is not None and stop.is_set()):
                    return frames
        return frames
    finally:
        decoder = None
        copier.close()


def compare(clip: Path, device, count: int) -> dict:
    mine, reference = [], []
    ours(clip, device, lambda c, *planes: mine.append(c.to_host(*planes)), limit=count)
    theirs(clip, device, lambda c, *planes: reference.append(c.to_host(*planes)), limit=count)
    n = min(len(mine), len(reference))
    diffs = [int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max()) for a, b in zip(mine[:n], reference[:n])]
    return {"frames_ours": len(mine), "frames_theirs": len(reference), "compared": n,
            "identical_frames": sum(d == 0 for d in diffs), "max_abs_diff": max(diffs) if diffs else None}


def throughput(decode, clip: Path, device, streams: int) -> dict:
    counts, errors = [0] * streams, []

    def run(index: int) -> None:
        try:
            counts[index] = decode(clip, device, lambda c, *planes: c.to_device(*planes))
        except Exception:  # noqa: BLE001 - reported
            errors.append(traceback.format_exc(limit=3))

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(streams)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"frames": sum(counts), "seconds": round(elapsed, 3), "fps": round(sum(counts) / elapsed, 1),
            "errors": errors[:3]}


def beside_ticker(decode, clip: Path, device, streams: int, seconds: float) -> dict:
    """The ticker's blocked share beside ``streams`` threads decoding the clip in a loop."""
    stop = threading.Event()
    counts = [0] * streams  # frames, counted as they are copied (a clip can outlast the ticker)

    def run(index: int) -> None:
        def each(copier, *planes) -> None:
            copier.to_device(*planes)
            counts[index] += 1

        while not stop.is_set():
            decode(clip, device, each, stop=stop)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(streams)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # decoders created
    before = sum(counts)
    ticks = _ticker(seconds)
    made = sum(counts) - before
    stop.set()
    for thread in threads:
        thread.join()
    return {**ticks, "frames_meanwhile": made}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path, required=True)
    parser.add_argument("--compare", type=int, default=30)
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    args = parser.parse_args()
    device = get_device(0)
    result: dict = {"card": device.info.name, "date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv)}
    import PyNvVideoCodec as nvc

    first = next(iter(nvc.CreateDemuxer(str(args.clip))))
    result["packet_attributes"] = sorted(name for name in dir(first) if not name.startswith("__"))
    steps = [("compare", lambda: compare(args.clip, device, args.compare))]
    for n in args.streams:
        steps += [(f"fps_{n}_ours", lambda n=n: throughput(ours, args.clip, device, n)),
                  (f"fps_{n}_pynvvideocodec", lambda n=n: throughput(theirs, args.clip, device, n))]
    n = max(args.streams)
    steps += [(f"ticker_beside_{n}_ours", lambda: beside_ticker(ours, args.clip, device, n, args.seconds)),
              (f"ticker_beside_{n}_pynvvideocodec", lambda: beside_ticker(theirs, args.clip, device, n, args.seconds))]
    args.out.mkdir(parents=True, exist_ok=True)
    for name, step in steps:  # each step apart: a failure is recorded and the rest still run
        try:
            result[name] = step()
        except Exception:  # noqa: BLE001 - reported
            result[name] = {"error": traceback.format_exc(limit=6)}
        print(name, json.dumps(result[name]), flush=True)
        # After every step: a crash inside the driver (a segfault) keeps the steps before it.
        (args.out / "nvcuvid_probe.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
