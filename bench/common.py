"""Shared benchmark plumbing: inputs, machine facts, load, alternating comparisons, result files.

Benchmarks run on machines other processes may share, so every timed section records the
load average and the CPU time processes outside the benchmark used meanwhile
(`CpuMonitor`), and `wait_for_quiet` holds a run back until the machine is idle.  An
end-to-end figure is compared with the raw engine by `alternate`: end-to-end runs and raw
engine runs take turns in one benchmark, and the ratio is that of their pooled rates.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
CACHE_DIR = BENCH_DIR / ".cache"  # generated clips (git-ignored)
PYTHON = sys.executable
JETSENTRY = str(Path(PYTHON).with_name("jetsentry"))

# The COCO test model lives beside the repository (never inside it: AGPL weights).
COCO_MODEL = REPO.parent / "shared" / "models" / "yolov8n-coco.onnx"
DEFAULT_MODEL = REPO / "engines" / "models" / "jetsentry-default.onnx"
SAMPLE_SCENE = REPO / "engines" / "samples" / "sample-scene.mp4"

EXIT_SKIP = 77  # a benchmark that cannot run here (automake's "skipped")
TARGET_RATIO = 0.95  # end-to-end frames/s against raw ONNX Runtime frames/s
DISTURBED_CORES = 0.1  # other processes using more than this during a timed section disturb it

# The 1080p clip: 10 photo frames x 30 repeats at 30 fps = 300 frames, 10 s.
CLIP_WIDTH, CLIP_HEIGHT, CLIP_REPEATS, CLIP_FPS = 1920, 1080, 30, 30


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds the with-blocks that stop the daemon, broker and server


# SIGTERM, and SIGINT even when started in the background (where the shell ignores it),
# stop a benchmark together with the processes it started.
signal.signal(signal.SIGTERM, _exit_on_signal)
signal.signal(signal.SIGINT, signal.default_int_handler)

if str(REPO) not in sys.path:  # tests.* helpers (photo clip, broker, RTSP server)
    sys.path.insert(0, str(REPO))


# ---- inputs --------------------------------------------------------------------------


def skip(reason: str) -> None:
    print(f"SKIP {Path(sys.argv[0]).stem}: {reason}", flush=True)
    raise SystemExit(EXIT_SKIP)


def require_file(path: Path, what: str) -> Path:
    """The file as an absolute path (generated configs resolve relative paths from their own folder)."""
    if not path.is_file():
        skip(f"{what} not found at {path}")
    return path.resolve()


def photo_clip(fps: int = CLIP_FPS, frames_per_photo: int = CLIP_REPEATS, height: int = CLIP_HEIGHT) -> Path:
    """An H.264 clip made from 10 real photographs, each shown for `frames_per_photo` frames
    (300 frames by default) at `fps`, 16:9 at `height` (1920x1080 by default); made once
    (~10 s per 300 frames of 1080p) and cached."""
    width = height * CLIP_WIDTH // CLIP_HEIGHT
    path = CACHE_DIR / f"photos-{width}x{height}-{frames_per_photo}x-{fps}fps.mp4"
    if path.is_file() and path.stat().st_size > 0:
        return path
    from tests.infer.photo_clip import make_photo_clip

    CACHE_DIR.mkdir(exist_ok=True)
    partial = path.with_suffix(".partial.mp4")
    try:
        make_photo_clip(partial, width, height, frames_per_photo=frames_per_photo, fps=fps)
    except RuntimeError as exc:
        skip(f"cannot make the photo clip: {exc}")
    partial.replace(path)
    return path


def bench_arguments(parser, name: str | None, *, model: bool = True, clip: bool = True) -> None:
    """The options every benchmark shares: --model, --clip, --name (result file; None: the
    benchmark names it from its other options), --no-wait."""
    if model:
        parser.add_argument("--model", type=Path, help="ONNX model (default: the COCO test model)")
    if clip:
        parser.add_argument("--clip", type=Path, help="video (default: the 1080p photo clip)")
    parser.add_argument("--name", default=name, help="result file bench/results/NAME.json"
                        + (f" (default: {name})" if name else ""))
    parser.add_argument("--no-wait", action="store_true", help="do not wait for an idle machine")


def chosen_model(args) -> Path:
    if args.model:
        return require_file(args.model, "model")
    return require_file(COCO_MODEL, "the COCO test model (../shared/models/yolov8n-coco.onnx)")


def chosen_clip(args, fps: int = CLIP_FPS, frames_per_photo: int = CLIP_REPEATS, height: int = CLIP_HEIGHT) -> Path:
    return require_file(args.clip, "video") if args.clip else photo_clip(fps, frames_per_photo, height)


# ---- machine facts -------------------------------------------------------------------


def _run(*command: str) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except Exception:  # not installed, or broken: the record just says so
        return None


def _gstreamer_version() -> str | None:
    try:
        import gi

        gi.require_version("Gst", "1.0")
        from gi.repository import Gst

        Gst.init(None)
        return ".".join(str(part) for part in Gst.version()[:3])
    except Exception:
        return None


def _code_version() -> str:
    dirty = _run("git", "-C", str(REPO), "status", "--porcelain", "--", "daemon")
    return _run("git", "-C", str(REPO), "rev-parse", "--short", "HEAD") + ("+dirty(daemon)" if dirty else "")


# Read when the benchmark starts: the code it measures is the code it imported then.
_CODE_VERSION = _code_version()


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in _run("lscpu").splitlines()
                if line.startswith("Model name:")), platform.processor() or platform.machine())
    os_release = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": os_release.get("PRETTY_NAME", platform.system()).strip('"'),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "onnxruntime": _version("onnxruntime"),
        "numpy": _version("numpy"),
        "opencv": _version("cv2"),
        "gstreamer": _gstreamer_version(),
        "commit": _CODE_VERSION,
    }


# ---- load ----------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def system_busy_s() -> float:
    """CPU-seconds all cores spent busy since boot (user+nice+system+irq+softirq+steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICKS


def process_cpu_s(pid: int, *, children: bool = False) -> float:
    """utime+stime of one process (all its threads; with `children`, plus its waited-for
    children), or 0.0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = [int(v) for v in stat[stat.rindex(")") + 2 :].split()[11:15]]
    return sum(fields if children else fields[:2]) / _TICKS


def tree_cpu_s(pid: int) -> float:
    """CPU-seconds of a process and all its descendants, live or waited for."""
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        total += process_cpu_s(current, children=True)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                stack += [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                continue
    return total


class CpuMonitor:
    """How busy the machine was during a timed section, and how much of that was someone else.

    foreign_cores: CPU-seconds used by processes outside this benchmark's process tree per
    second of wall time (0.0: the benchmark had the machine to itself).  Call `sample_own()`
    shortly before stopping a child, so its CPU time still counts as the benchmark's own.
    """

    def __enter__(self) -> CpuMonitor:
        self.load_before = os.getloadavg()[0]
        self._wall0, self._busy0 = time.monotonic(), system_busy_s()
        self._own0 = self._own_last = tree_cpu_s(os.getpid())
        return self

    def sample_own(self) -> None:
        self._own_last = tree_cpu_s(os.getpid())

    def __exit__(self, *exc_info: object) -> None:
        wall = max(time.monotonic() - self._wall0, 1e-9)
        own = max(tree_cpu_s(os.getpid()), self._own_last) - self._own0
        busy = system_busy_s() - self._busy0
        self.record = {"loadavg_before": round(self.load_before, 2), "wall_s": round(wall, 2),
                       "own_cores": round(own / wall, 3), "foreign_cores": round(max(0.0, busy - own) / wall, 3)}


def wait_for_quiet(max_wait_s: float = 600.0, idle_below: float = 0.15, settle_s: float = 6.0) -> None:
    """Wait until the machine's busy CPU stays below `idle_below` cores for `settle_s`; after
    `max_wait_s` run anyway (the result's foreign_cores then shows how noisy it was)."""
    started = time.monotonic()
    quiet_since, before = None, system_busy_s()
    while time.monotonic() - started < max_wait_s:
        time.sleep(1.0)
        now_busy = system_busy_s()
        busy, before = now_busy - before, now_busy
        quiet_since = (quiet_since or time.monotonic()) if busy < idle_below else None
        if quiet_since and time.monotonic() - quiet_since >= settle_s:
            return
    print(f"note: machine not quiet after {max_wait_s:.0f} s; running anyway", flush=True)


# ---- measurements --------------------------------------------------------------------


def stats_ms(values: Iterable[float]) -> dict:
    data = np.asarray(list(values), dtype=float)
    if data.size == 0:
        return {"n": 0}
    return {"n": int(data.size), "mean": round(float(data.mean()), 3),
            **{f"p{q}": round(float(np.percentile(data, q)), 3) for q in (50, 90, 99)},
            "max": round(float(data.max()), 3)}


def burst_span(times: list[float], gap_s: float = 0.010) -> tuple[int, float]:
    """(frames, seconds) from completion times: the frames after the first burst and the time
    from the first burst to the last (exact for batches whose frames finish together)."""
    times = sorted(times)
    first_burst = 1
    while first_burst < len(times) and times[first_burst] - times[first_burst - 1] < gap_s:
        first_burst += 1
    return len(times) - first_burst, (times[-1] - times[0] if times else 0.0)


def alternate(end_to_end: Callable[[], dict], raw: Callable[[], dict], rounds: int, label: str) -> dict:
    """`rounds` end-to-end runs alternating with raw engine runs (raw first and last).

    Each callable returns a run with "frames" and "seconds" (plus anything else to keep).
    Both sides sample the host's changing speed alike; the result is the ratio of the
    pooled rates (all frames over all seconds) of each side.
    """
    def timed(run: Callable[[], dict], what: str) -> dict:
        with CpuMonitor() as monitor:
            result = run()
            monitor.sample_own()
        result = {**result, "fps": round(result["frames"] / result["seconds"], 2), "load": monitor.record}
        print(f"  {label} {what}: {result['fps']:.2f} frames/s; other processes "
              f"{monitor.record['foreign_cores']:.2f} cores", flush=True)
        return result

    raws = [timed(raw, "raw")]
    runs = []
    for _ in range(rounds):
        runs.append(timed(end_to_end, "end-to-end"))
        raws.append(timed(raw, "raw"))
    fps = sum(r["frames"] for r in runs) / sum(r["seconds"] for r in runs)
    raw_fps = sum(r["frames"] for r in raws) / sum(r["seconds"] for r in raws)
    ratio = fps / raw_fps
    print(f"{label}: {fps:.2f} frames/s = {ratio:.3f} x raw ONNX Runtime {raw_fps:.2f} frames/s "
          f"(target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'NOT met'})", flush=True)
    return {"fps": round(fps, 2), "raw_fps": round(raw_fps, 2), "ratio": round(ratio, 3),
            "target_ratio": TARGET_RATIO, "target_met": ratio >= TARGET_RATIO, "runs": runs, "raw_runs": raws}


# ---- results -------------------------------------------------------------------------


def _load_sections(value: object) -> list[dict]:
    """Every CpuMonitor record in a result (nested dicts and lists)."""
    if isinstance(value, dict):
        return [value] if "foreign_cores" in value else [s for v in value.values() for s in _load_sections(v)]
    if isinstance(value, list):
        return [s for v in value for s in _load_sections(v)]
    return []


def write_result(name: str, result: dict, *, load: dict | None = None, judge_load: bool = True) -> Path:
    """bench/results/<name>.json: the result with its command, date, machine and load.

    A result in which other processes used more than DISTURBED_CORES during a timed section
    is marked disturbed (judge_load False: for measurements CPU load does not disturb)."""
    RESULTS_DIR.mkdir(exist_ok=True)
    script = Path(sys.argv[0]).resolve()
    record = {
        "bench": name,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python", str(script.relative_to(REPO)) if script.is_relative_to(REPO) else str(script),
                             *sys.argv[1:]]),
        "machine": machine(),
        "load": load,
        "result": result,
    }
    foreign = max((s["foreign_cores"] for s in _load_sections([load, result])), default=0.0)
    record["foreign_cores_max"] = foreign
    record["disturbed"] = judge_load and foreign > DISTURBED_CORES
    if record["disturbed"]:
        print(f"WARNING: other processes used up to {foreign:.2f} cores during a timed section: "
              "this result is disturbed, rerun it on a quiet machine", flush=True)
    path = RESULTS_DIR / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.json"
    path.write_text(json.dumps(record, indent=2, default=lambda v: v.item()) + "\n")
    print(f"wrote {path.relative_to(REPO)}", flush=True)
    return path
