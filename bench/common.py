"""Shared benchmark plumbing: models and clips, machine facts, CPU contention, result files.

Benchmarks run on a machine other processes may share, so every result records the
load average and the CPU time that processes outside the benchmark used while it ran
(`CpuMonitor`), and `wait_for_quiet` holds a run back until the machine is idle.
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
from collections.abc import Iterable
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

# Exit status of a benchmark that could not run here (automake's "skipped").
EXIT_SKIP = 77

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


def skip(reason: str) -> None:
    print(f"SKIP {Path(sys.argv[0]).stem}: {reason}", flush=True)
    raise SystemExit(EXIT_SKIP)


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        skip(f"{what} not found at {path}")
    return path


def coco_model() -> Path:
    return require_file(COCO_MODEL, "the COCO test model (../shared/models/yolov8n-coco.onnx)")


def photo_clip(fps: int = CLIP_FPS, frames_per_photo: int = CLIP_REPEATS, height: int = CLIP_HEIGHT) -> Path:
    """An H.264 clip made from 10 real photographs, each shown for `frames_per_photo` frames
    (300 frames by default) at `fps`, 16:9 at `height` (1920x1080 by default); cached, made
    once (~10 s per 300 frames of 1080p)."""
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


def bench_arguments(parser, name: str | None, *, model: bool = True, clip: bool = True, wait: bool = True) -> None:
    """The options every benchmark shares: --model, --clip, --name (result file), --no-wait.

    name None: the benchmark picks its result name from its other options."""
    if model:
        parser.add_argument("--model", type=Path, help="ONNX model (default: the COCO test model)")
    if clip:
        parser.add_argument("--clip", type=Path, help="video (default: the 1080p photo clip)")
    default = f" (default: {name})" if name else ""
    parser.add_argument("--name", default=name, help=f"result file bench/results/NAME.json{default}")
    if wait:
        parser.add_argument("--no-wait", action="store_true", help="do not wait for an idle machine")


def chosen_model(args) -> Path:
    return require_file(args.model, "model") if args.model else coco_model()


def chosen_clip(args, fps: int = CLIP_FPS, frames_per_photo: int = CLIP_REPEATS, height: int = CLIP_HEIGHT) -> Path:
    return require_file(args.clip, "video") if args.clip else photo_clip(fps, frames_per_photo, height)


# ---- machine facts -------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or platform.machine()


def _os_name() -> str:
    try:
        fields = dict(
            line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line
        )
        return fields.get("PRETTY_NAME", "").strip('"')
    except OSError:
        return platform.system()


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


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "daemon"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return out + ("+dirty(daemon)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def _jetsentry_location() -> str | None:
    """Where `jetsentry` is imported from (the checkout, unless PYTHONPATH points at a patched copy)."""
    import importlib.util

    spec = importlib.util.find_spec("jetsentry")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent.parent
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def machine() -> dict:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "os": _os_name(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "onnxruntime": _version("onnxruntime"),
        "numpy": _version("numpy"),
        "opencv": _version("cv2"),
        "gstreamer": _gstreamer_version(),
        "commit": _git_commit(),
        "jetsentry_from": _jetsentry_location(),
    }


# ---- CPU contention ------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def system_busy_s() -> float:
    """CPU-seconds all cores spent busy since boot (user+nice+system+irq+softirq+steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICKS


def process_cpu_s(pid: int) -> float:
    """utime+stime of one process (all its threads), or 0.0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _children(pid: int) -> list[int]:
    pids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            pids += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return pids


def tree_cpu_s(pid: int) -> float:
    """CPU-seconds of a process and its live descendants (plus children it already reaped)."""
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        total += process_cpu_s(current)
        stack += _children(current)
    try:  # cutime+cstime: children that exited and were waited for
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        total += (int(fields[13]) + int(fields[14])) / _TICKS
    except OSError:
        pass
    return total


def children_cpu_s(pid: int | None = None) -> dict[str, float]:
    """CPU-seconds of each live direct child of `pid` (default: this process), keyed 'name[pid]'."""
    out = {}
    for child in _children(pid or os.getpid()):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [Path(a.decode(errors="replace")).name for a in argv[:3] if a]
        name = next((w for w in words if w.endswith(".py") or w == "jetsentry"), words[0] if words else "?")
        out[f"{name}[{child}]"] = tree_cpu_s(child)
    return out


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: round(after[key] - before.get(key, 0.0), 2) for key in after}


class CpuMonitor:
    """How busy the machine was during a run, and how much of that was someone else.

    foreign_cores: CPU-seconds used by processes outside this benchmark's process tree,
    per second of wall time (0.0 = the benchmark had the machine to itself).
    """

    def __init__(self) -> None:
        self._pid = os.getpid()

    def __enter__(self) -> CpuMonitor:
        self.load_before = os.getloadavg()
        self._wall0 = time.monotonic()
        self._busy0 = system_busy_s()
        self._own0 = tree_cpu_s(self._pid)
        return self

    def sample_own(self) -> float:
        """Call shortly before a child is stopped so its CPU time is still counted."""
        self._own_last = tree_cpu_s(self._pid)
        return self._own_last

    def __exit__(self, *exc_info: object) -> None:
        wall = time.monotonic() - self._wall0
        busy = system_busy_s() - self._busy0
        own = max(tree_cpu_s(self._pid), getattr(self, "_own_last", 0.0)) - self._own0
        self.record = {
            "loadavg_before": [round(v, 2) for v in self.load_before],
            "loadavg_after": [round(v, 2) for v in os.getloadavg()],
            "wall_s": round(wall, 2),
            "busy_cores": round(busy / wall, 3) if wall > 0 else None,
            "own_cores": round(own / wall, 3) if wall > 0 else None,
            "foreign_cores": round(max(0.0, busy - own) / wall, 3) if wall > 0 else None,
        }


def wait_for_quiet(max_wait_s: float = 600.0, idle_below: float = 0.15, settle_s: float = 6.0) -> float:
    """Wait until the machine's busy CPU stays below `idle_below` cores for `settle_s`.

    Returns the seconds waited; after `max_wait_s` it gives up and says so (the result's
    foreign_cores then shows how noisy the run was).
    """
    started = time.monotonic()
    quiet_since = None
    before = system_busy_s()
    while True:
        time.sleep(1.0)
        now_busy = system_busy_s()
        busy, before = now_busy - before, now_busy
        now = time.monotonic()
        if busy < idle_below:
            quiet_since = quiet_since or now
            if now - quiet_since >= settle_s:
                return now - started
        else:
            quiet_since = None
        if now - started > max_wait_s:
            print(f"note: machine not quiet after {max_wait_s:.0f} s (last second: {busy:.2f} busy cores); "
                  "running anyway", flush=True)
            return now - started


# ---- results -------------------------------------------------------------------------


def stats_ms(values: Iterable[float]) -> dict:
    data = np.asarray(list(values), dtype=float)
    if data.size == 0:
        return {"n": 0}
    return {
        "n": int(data.size),
        "mean": round(float(data.mean()), 3),
        "p50": round(float(np.percentile(data, 50)), 3),
        "p90": round(float(np.percentile(data, 90)), 3),
        "p99": round(float(np.percentile(data, 99)), 3),
        "max": round(float(data.max()), 3),
    }


def command_line() -> str:
    script = Path(sys.argv[0]).resolve()
    try:
        script_text = str(script.relative_to(REPO))
    except ValueError:
        script_text = str(script)
    return " ".join(["python", script_text, *sys.argv[1:]])


# A timed section in which other processes used more than this many cores is disturbed.
DISTURBED_CORES = 0.1


def load_sections(load: object) -> list[dict]:
    """Every CpuMonitor record found in a result's load (nested dicts and lists)."""
    if isinstance(load, dict) and "foreign_cores" in load:
        return [load]
    if isinstance(load, dict):
        return [section for value in load.values() for section in load_sections(value)]
    if isinstance(load, list):
        return [section for value in load for section in load_sections(value)]
    return []


def _plain(value: object) -> object:
    """numpy scalars (float64, bool_) as the Python values json knows."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write_result(name: str, result: dict, *, load: dict | None = None) -> Path:
    """bench/results/<name>.json: the result with its command, date, machine and load."""
    RESULTS_DIR.mkdir(exist_ok=True)
    record = {
        "bench": name,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(),
        "machine": machine(),
        "note": os.environ.get("BENCH_NOTE"),
        "load": load,
        "result": result,
    }
    foreign = [s["foreign_cores"] for s in load_sections(load) if s["foreign_cores"] is not None]
    record["disturbed"] = bool(foreign) and max(foreign) > DISTURBED_CORES
    if record["disturbed"]:
        print(f"WARNING: other processes used up to {max(foreign):.2f} cores during a timed section: "
              "this result is disturbed, rerun it on a quiet machine", flush=True)
    path = RESULTS_DIR / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.json"
    path.write_text(json.dumps(record, indent=2, default=_plain) + "\n")
    print(f"wrote {path.relative_to(REPO)}", flush=True)
    return path
