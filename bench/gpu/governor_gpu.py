"""The health governor on a GPU: ONNX Runtime CUDA as primary, ONNX Runtime on the CPU as fallback, in one run.

The frame processor is driven directly (the GPU machine has no GStreamer and no broker): frames
decoded by OpenCV from a video, handed over in batches, the next batch prepared during
inference by the prefetch thread as the daemon does; the governor (governor/runner.py) with its
real policy, detector switch and monitors: a FAKE Jetson thermal zone this script writes
(temperatures), plus NVML on the real card when it loads.  Events are collected instead of
published.  Scenarios, one after the other, each ending back on the primary:

  thermal   the thermal zone goes above t_hot, then cool: time from the write to the first frame
            the fallback served, and from the end of the cooldown to the first frame the primary
            served again;
  cuda      the primary's engine raises CudaError (CUDA_ERROR_LAUNCH_FAILED) for a few batches:
            a FAKE injection around the real engine; the rebuilt primary runs clean;
  memory    the primary is rebuilt under a GPU memory cap (model.backend.gpu_mem_limit_mib, the
            arena growing by what is requested, cuDNN's heuristic algorithm choice so no
            benchmarking allocates by chance) found by trying caps upward: the first cap at which
            the engine builds and a full batch (max_batch frames) fails, warmed up and probed as
            the detector switch does it, on two fresh engines in a row.  The batches fail, the
            fallback takes over, and the rebuilt primary (same cap) either fails its probe (a full
            batch: detector_switch.py pads the probe to max_batch) or passes it and fails real
            batches after its return, which falls back again with a longer cooldown
            (governor/policy.py); then the cap is lifted and the primary returns.

Each wait has a timeout (``--wait``): a scenario that times out is reported with what it saw
(events, frames) and the run stops there, its result file written, status 1; ``--max-seconds``
ends the whole run (a result file with what was seen, status 3) whatever hangs.

Per scenario: the events, the switch times, frames taken, served by each backend, retried (their
batch failed on the primary, then the fallback inferred them: governor/held_frames.py), failed
(never served) and lost (taken, neither served nor failed: 0 is the target).

    python3 bench/gpu/governor_gpu.py [--providers cuda|cpu] [--scenarios thermal cuda memory] [--model M.onnx]
                                      [--clip CLIP] [--out DIR] [--wait 60] [--max-seconds 900]

``--providers cpu`` runs the same scenarios with ONNX Runtime's CPU engine on the FP32 file standing
in for the GPU primary (the memory scenario then injects GpuMemoryError, a FAKE: a CPU engine has no
device memory to cap); the tests run it so (tests/governor/test_governor_gpu_script.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "daemon"), str(REPO)]

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from jetsentry.batch.prefetch import PrefetchedBatches  # noqa: E402
from jetsentry.capture.frame import Frame  # noqa: E402
from jetsentry.config.models import AppConfig  # noqa: E402
from jetsentry.detector_switch import warm_up  # noqa: E402
from jetsentry.governor.wiring import build_governor, fallback_model  # noqa: E402
from jetsentry.infer import Detector, EngineOptions  # noqa: E402
from jetsentry.pipeline import FrameProcessor  # noqa: E402
from tests.governor.faulty_engine import raise_fault  # noqa: E402

DEFAULT_MODEL = REPO / "engines" / "models" / "jetsentry-default.onnx"
INT8_MODEL = DEFAULT_MODEL.with_name("jetsentry-default.int8.onnx")
SAMPLE = REPO / "engines" / "samples" / "sample-scene.mp4"
CAMERAS = ("cam0", "cam1", "cam2", "cam3")
MAX_BATCH = 4
CAPS_MIB = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)


class ScenarioTimeout(Exception):
    """A wait of a scenario ran past its timeout; the message says for what and what was seen."""


class Injector:
    """A FAKE fault around a real engine: raises ``kind`` for the next ``count`` runs."""

    def __init__(self) -> None:
        self.kind, self.count = "", 0
        self._lock = threading.Lock()

    def arm(self, kind: str, count: int) -> None:
        with self._lock:
            self.kind, self.count = kind, count

    def check(self) -> None:
        with self._lock:
            if self.count <= 0:
                return
            self.count -= 1
            kind = self.kind
        raise_fault(kind)


class InjectedEngine:
    def __init__(self, engine, injector: Injector) -> None:
        self._engine, self._injector = engine, injector
        self.info, self.backend = engine.info, engine.backend
        if hasattr(engine, "infer_candidates"):  # a GPU engine selects anchors on the device
            self.infer_candidates = self._candidates

    def infer(self, batch):
        self._injector.check()
        return self._engine.infer(batch)

    def _candidates(self, *args):
        self._injector.check()
        return self._engine.infer_candidates(*args)

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def close(self) -> None:
        self._engine.close()


def decoded_frames(clip: Path, count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(clip))
    pictures = []
    while len(pictures) < count:
        ok, picture = capture.read()
        if not ok:
            break
        pictures.append(picture)
    capture.release()
    if not pictures:
        raise SystemExit(f"no frame decoded from {clip}")
    return pictures


def app_config(args, sysfs_root: str) -> AppConfig:
    primary = {"type": "onnxruntime-cuda"} if args.providers == "cuda" else {"type": "onnxruntime-cpu"}
    return AppConfig.model_validate({
        "device_id": "gpu-bench",
        "cameras": [{"id": cid, "source": "test://ball"} for cid in CAMERAS],
        "model": {"path": str(args.model), "precision": "fp32", "variants": {"int8": str(INT8_MODEL)},
                  "backend": primary},
        "batching": {"max_batch": MAX_BATCH},
        "governor": {"enabled": True, "interval_s": 0.1, "cooldown_s": args.cooldown, "t_hot_c": 90, "t_cool_c": 80,
                     "engine_errors": 3, "error_window_s": 30, "shedding": {"enabled": False},
                     "monitors": {"sysfs_root": sysfs_root, "jetson_gpu_load": False,
                                  "nvml": None if args.providers == "cuda" else False}},
    })


class Run:
    """The frame processor and governor, fed batches from the prefetch thread."""

    def __init__(self, args, cfg: AppConfig, zone: Path, pictures: list[np.ndarray]) -> None:
        self.cfg, self.zone, self.pictures = cfg, zone, pictures
        self.wait_s = args.wait
        self.options = EngineOptions(max_batch=MAX_BATCH, state_dir=Path(tempfile.mkdtemp(prefix="gov-state-")))
        self.injector = Injector()
        self.cap_mib: int | None = None  # the primary's GPU memory cap (the memory scenario)
        self.emulate_memory = args.providers != "cuda"
        self.events: list[dict] = []
        self.served: list[tuple[float, int, str, str]] = []  # (time, seq, backend, sha256)
        self.taken: set[tuple[str, int]] = set()  # (camera, seq) of every frame the consumer took
        self.failed: set[tuple[str, int]] = set()  # frames of batches that raised
        self.served_ids: set[tuple[str, int]] = set()
        self._seq = 0
        detector = self.build_primary()
        self.processor = FrameProcessor(detector, device_id=cfg.device_id, tracker=cfg.tracker)
        # The primary is rebuilt by this script's builder: it keeps the injector and the cap.
        self.governor = build_governor(cfg, self.processor, {}, _EventSink(self.events),
                                       build_primary=self.build_primary)
        self.governor.start()

    def build_primary(self) -> Detector:
        model = self.cfg.model
        if self.cap_mib is not None and not self.emulate_memory:
            backend = model.backend.model_copy(update={"gpu_mem_limit_mib": self.cap_mib,
                                                       "arena_extend_strategy": "same_as_requested",
                                                       "cudnn_conv_algo_search": "heuristic"})
            model = model.model_copy(update={"backend": backend})
        detector = Detector.from_config(model, self.options)
        detector.engine = InjectedEngine(detector.engine, self.injector)
        return detector

    def temperature(self, celsius: float) -> float:
        partial = self.zone / "temp.partial"
        partial.write_text(f"{round(celsius * 1000)}\n")
        os.replace(partial, self.zone / "temp")
        return time.monotonic()

    def batches(self, until):
        """Batches of one frame per camera, as the daemon's prefetch thread takes them: none while a
        replaced detector's batch is still to run or the failing primary is being replaced, and the
        batches the primary failed first once the fallback serves."""
        while not until():
            if self.processor.draining or self.governor.paused:
                time.sleep(0.002)
                yield []
                continue
            held = self.governor.retries()
            if held:
                yield from held
                continue
            batch = []
            for cid in CAMERAS:
                picture = self.pictures[self._seq % len(self.pictures)]
                batch.append(Frame(cid, self._seq, picture, time.time(), time.monotonic()))
            self._seq += 1
            yield batch
            time.sleep(0.02)  # cameras' pace: ~50 batches/s at most

    def serve(self, until, what: str = "", timeout_s: float | None = None) -> None:
        timeout_s = self.wait_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout_s
        done = lambda: until() or time.monotonic() > deadline  # noqa: E731
        with PrefetchedBatches(self.batches(done), self._prepare) as prepared:
            for batch in prepared:
                if batch is not None:
                    self.taken.update(_ids(batch.frames))  # by the consumer (a batch discarded at the end is not)
                    try:
                        results = self.processor.complete(batch)
                    except Exception:
                        self.failed.update(_ids(batch.frames))
                        self.governor.engine_failed(sys.exc_info()[1], batch.frames,
                                                    by_previous=not self.processor.prepared_by_current(batch))
                    else:
                        now = time.monotonic()
                        for r in results:
                            message = json.loads(r.payload)
                            self.served.append((now, r.frame.seq, message["backend"], message["model"]["sha256"]))
                            self.served_ids.add((r.frame.camera_id, r.frame.seq))
                self.governor.tick()
        if not until():
            raise ScenarioTimeout(f"no {what or 'end of the wait'} within {timeout_s:g} s; events so far: "
                                  f"{[e['type'] for e in self.events]}; state {self.governor.policy.state.value}, "
                                  f"reason: {self.governor.reason}")

    def _prepare(self, batch):
        if not batch:
            return None
        try:
            return self.processor.prepare(batch)
        except Exception:
            self.taken.update(_ids(batch))
            self.failed.update(_ids(batch))
            self.governor.engine_failed(sys.exc_info()[1], batch)
            return None

    def seen(self, kind: str, count: int = 1):
        return lambda: sum(e["type"] == kind for e in self.events) >= count

    def first_served_after(self, since: float, sha: str) -> float | None:
        return next((t - since for t, _, _, s in self.served if t >= since and s == sha), None)


def _ids(frames) -> list[tuple[str, int]]:
    return [(frame.camera_id, frame.seq) for frame in frames]


class _EventSink:
    """Stands in for the MQTT publisher (no broker on the GPU machine): keeps each event."""

    def __init__(self, events: list[dict]) -> None:
        self._events = events

    def publish(self, _topic: str, payload: bytes, qos=None, retain: bool = False) -> None:
        self._events.append(json.loads(payload))


def full_batch_fails(run: Run) -> str | None:
    """Build the primary under run.cap_mib, warm it up and probe it with a full batch as the detector
    switch does; why it failed, or None when it passed."""
    detector = run.build_primary()
    try:
        warm_up(detector, run.pictures[:MAX_BATCH], probe=True)
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc)[:160]}"
    finally:
        detector.close()
    return None


def find_failing_cap(run: Run, log: list[str]) -> int | None:
    """The smallest cap at which the primary builds and a full batch fails, on two fresh engines in a row
    (a cap that fails only sometimes would let the rebuilt primary pass its probe)."""
    for cap in CAPS_MIB:
        run.cap_mib = cap
        try:
            failures = [full_batch_fails(run), full_batch_fails(run)]
        except Exception as exc:
            log.append(f"cap {cap} MiB: the engine does not build ({type(exc).__name__}: {str(exc)[:120]})")
            print(f"  {log[-1]}", flush=True)
            continue
        if all(failures):
            log.append(f"cap {cap} MiB: builds, a full batch fails twice: {failures[0]}")
            print(f"  {log[-1]}", flush=True)
            return cap
        log.append(f"cap {cap} MiB: a full batch ran {failures.count(None)} time(s) of 2: no deterministic "
                   "failing cap at or above it")
        print(f"  {log[-1]}", flush=True)
        break
    run.cap_mib = None
    return None


def scenario(run: Run, name: str, shas: dict[str, str]) -> dict:
    start_events, start_served = len(run.events), len(run.served)
    start_taken, start_failed, start_ids = set(run.taken), set(run.failed), set(run.served_ids)
    result: dict = {"scenario": name}
    try:
        run_scenario(run, name, shas, result)
    except ScenarioTimeout as exc:
        result["timed_out"] = str(exc)
        print(f"  timed out: {exc}", flush=True)
        run.injector.arm("", 0)
        run.cap_mib = None
    events = run.events[start_events:]
    served = run.served[start_served:]
    result["expected_events"] = EXPECTED.get(name)
    # A return prepared before the cap was lifted may fail its probe once more: repeated
    # switch_failed events count as one.
    kinds = [k for i, k in enumerate(e["type"] for e in events)
             if not (k == "switch_failed" and i and events[i - 1]["type"] == k)]
    expected = EXPECTED.get(name, kinds)
    result["as_expected"] = "timed_out" not in result and (kinds in expected if isinstance(expected, tuple)
                                                           else kinds == expected)
    taken = run.taken - start_taken
    failed = run.failed - start_failed
    served_ids = run.served_ids - start_ids
    time.sleep(0.2)
    result.update({
        "events": [{k: e[k] for k in ("type", "reason", "from_backend", "to_backend")} for e in events],
        "frames_taken": len(taken),
        "served_by_primary": sum(1 for *_, s in served if s == shas["primary"]),
        "served_by_fallback": sum(1 for *_, s in served if s == shas["fallback"]),
        "retried": len(failed & served_ids),
        "failed": len(failed - served_ids),
        "lost": len(taken - served_ids - failed),
    })
    return result


EXPECTED = {"thermal": ["fallback", "recovery"], "cuda": ["fallback", "recovery"],
            "memory": (["fallback", "switch_failed", "recovery"], ["fallback", "recovery", "fallback", "recovery"])}


def run_scenario(run: Run, name: str, shas: dict[str, str], result: dict) -> None:
    if name == "thermal":
        hot = run.temperature(95.0)
        run.serve(lambda: run.first_served_after(hot, shas["fallback"]) is not None, "frame from the fallback")
        result["to_fallback_s"] = round(run.first_served_after(hot, shas["fallback"]), 3)
        cool = run.temperature(60.0)
        due = cool + run.cfg.governor.cooldown_s
        run.serve(lambda: run.first_served_after(due, shas["primary"]) is not None, "frame from the primary")
        result["to_primary_s"] = round(run.first_served_after(due, shas["primary"]), 3)
    elif name == "cuda":
        run.injector.arm("cuda", 3)
        run.serve(run.seen("fallback", run.governor.policy.switches // 2 + 1), "fallback event")
        run.serve(run.seen("recovery", run.governor.policy.switches // 2 + 1), "recovery event")
    elif name == "memory":
        if run.emulate_memory:
            result["cap"] = "emulated: GpuMemoryError injected (a CPU engine has no device memory to cap)"
            run.injector.arm("memory", 10_000)  # every run fails, the rebuilt primary's probe too
            failing = True
        else:
            result["cap_search"] = []
            cap = find_failing_cap(run, result["cap_search"])
            result["cap_mib"] = cap
            failing = cap is not None
            if failing:  # the serving primary is replaced by one under the cap, through the same seam
                run.processor.swap_detector(run.build_primary(), engine_timeout_s=run.cfg.governor.engine_timeout_s)
        if failing:
            fallbacks = sum(e["type"] == "fallback" for e in run.events) + 1
            run.serve(run.seen("fallback", fallbacks), "fallback event")
            # The rebuilt primary under the cap fails its probe (switch_failed), or passes it and fails
            # real batches after its return: a second fallback, its next cooldown lengthened.
            start = len(run.events)
            run.serve(lambda: any(e["type"] == "switch_failed" or (e["type"] == "fallback" and "failed again" in
                                                                   e["reason"]) for e in run.events[start:]),
                      "switch_failed event, or a fallback soon after a return")
            caught = next(e for e in run.events[start:] if e["type"] in ("switch_failed", "fallback"))
            result["rebuilt_primary_caught_by"] = "its probe" if caught["type"] == "switch_failed" else \
                "failing again after its return (cooldown lengthened)"
            result["kept_fallback"] = run.governor.policy.on_fallback
            run.injector.arm("", 0)
            run.cap_mib = None  # the cap lifted: the next return passes
            run.serve(run.seen("recovery", sum(e["type"] == "recovery" for e in run.events) + 1), "recovery event")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--clip", type=Path, default=SAMPLE)
    parser.add_argument("--cooldown", type=float, default=1.0)
    parser.add_argument("--scenarios", nargs="+", default=["thermal", "cuda", "memory"])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    parser.add_argument("--wait", type=float, default=60.0, help="timeout of each wait of a scenario, seconds")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="the whole run's limit, seconds")
    args = parser.parse_args()
    seen: dict = {"providers": args.providers, "scenarios": []}
    path = args.out / f"governor_{args.providers}.json"

    def give_up() -> None:  # whatever hangs: the result file says what was seen, then the process ends
        seen["timed_out"] = f"the run passed --max-seconds {args.max_seconds:g}"
        args.out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(seen, indent=2, default=str) + "\n")
        print(f"{seen['timed_out']}; wrote {path}", flush=True)
        os._exit(3)

    watchdog = threading.Timer(args.max_seconds, give_up)
    watchdog.daemon = True
    watchdog.start()
    pictures = decoded_frames(args.clip, 32)
    with tempfile.TemporaryDirectory(prefix="jetsentry-sysfs-") as root:
        zone = Path(root) / "sys/devices/virtual/thermal/thermal_zone0"
        zone.mkdir(parents=True)
        (zone / "type").write_text("tj-thermal\n")
        (zone / "temp").write_text("60000\n")
        run = Run(args, app_config(args, root), zone, pictures)
        shas = {"primary": run.processor.detector.info.sha256}
        seen["events"] = run.events
        run.serve(lambda: len(run.served) >= 8, "8 frames from the primary")
        fallback = Detector.from_config(fallback_model(run.cfg), run.options)
        shas["fallback"] = fallback.info.sha256
        fallback.close()
        results = seen["scenarios"]
        for name in args.scenarios:
            print(f"scenario {name}", flush=True)
            results.append(scenario(run, name, shas))
            print(json.dumps(results[-1], indent=1), flush=True)
            if "timed_out" in results[-1]:
                break  # the state it left is unknown: the next scenarios would measure nothing
        summary = {
            "providers": args.providers,
            "primary_backend": run.cfg.model.backend.type, "fallback_backend": run.cfg.governor.fallback.backend.type,
            "model": str(args.model), "clip": str(args.clip), "max_batch": MAX_BATCH,
            "scenarios": results, "switches": run.governor.policy.switches,
            "frames_taken": len(run.taken), "frames_retried": len(run.failed & run.served_ids),
            "frames_failed": len(run.failed - run.served_ids),
            "frames_lost": len(run.taken - run.served_ids - run.failed),
            "temperatures_c": run.governor.health_part()["temperatures_c"],
            "gpu_memory_used_bytes": run.governor.health_part()["gpu_memory_used_bytes"],
        }
        run.governor.close()
        run.processor.close()
    watchdog.cancel()
    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"frames taken {summary['frames_taken']}, retried {summary['frames_retried']}, failed "
          f"{summary['frames_failed']}, lost {summary['frames_lost']}; "
          f"wrote {path}")
    as_expected = all(s["as_expected"] for s in results) and len(results) == len(args.scenarios)
    return 0 if summary["frames_lost"] == 0 and as_expected else 1


if __name__ == "__main__":
    raise SystemExit(main())
