"""Built TensorRT engines in ``<state_dir>/engines/``, each beside a JSON manifest.

An engine is only valid for the TensorRT version, GPU and JetPack (L4T) release that
built it, and for the model and build settings it was built from.  The manifest records
all of them and the engine file's sha256; before an engine is deserialised, every field
is compared with what this machine and configuration have now.  Any difference, a
missing or unreadable manifest, or an engine file whose bytes do not match, means the
engine is rebuilt, with a log line naming the reason: TensorRT never sees an engine from
another version ("version tag does not match" after a JetPack upgrade cannot happen).

The file name holds the model's hash and a digest of the build settings, so engines for
several models or profiles live side by side; one built on another machine state is
replaced in place.  Writes are atomic (temporary file, fsync, rename: engine first,
manifest last), and a lock file serialises builds between processes (the daemon and
``jetsentry engines build``).  The timing cache of each TensorRT version and GPU sits
beside the engines, so a rebuild after a settings change takes less time.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from jetsentry.atomicfile import make_writable_dir, write_atomically
from jetsentry.infer.errors import BackendUnavailableError
from jetsentry.supervision.notify import extended_timeout

log = logging.getLogger("jetsentry.engines")

MANIFEST_FORMAT = 1
NV_TEGRA_RELEASE = Path("/etc/nv_tegra_release")
_RELEASE = re.compile(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*([0-9.]+)")


@dataclass(frozen=True)
class BuildSettings:
    """What the configuration and the model decide about an engine."""

    precision: str  # "fp32", "fp16" or "int8" (explicit quantization): from the model file
    input_name: str
    min_shape: tuple[int, int, int, int]  # the optimization profile of the input
    opt_shape: tuple[int, int, int, int]
    max_shape: tuple[int, int, int, int]
    workspace_mib: int
    dla_core: int | None
    gpu_fallback: bool
    strongly_typed: bool


@dataclass(frozen=True)
class BuildEnvironment:
    """What this machine decides about an engine: an engine runs only where these match."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "8.7"
    l4t_release: str | None  # "R36.4.3" on a Jetson, None elsewhere


@dataclass(frozen=True)
class EngineKey:
    model_name: str
    model_sha256: str
    settings: BuildSettings
    environment: BuildEnvironment

    def fields(self) -> dict[str, object]:
        """Every field an engine must match, flat (as the manifest stores them)."""
        values: dict[str, object] = {"model_sha256": self.model_sha256}
        values.update(_plain(asdict(self.settings)))
        values.update(_plain(asdict(self.environment)))
        return values

    @property
    def file_stem(self) -> str:
        settings = json.dumps(_plain(asdict(self.settings)), sort_keys=True).encode()
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", self.model_name)[:64] or "model"
        return f"{name}-{self.model_sha256[:12]}-{hashlib.sha256(settings).hexdigest()[:10]}"


def _plain(values: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


# Names for log lines: which difference made an engine unusable.
FIELD_NAMES = {
    "model_sha256": "model file (sha256)",
    "precision": "precision",
    "input_name": "input tensor",
    "min_shape": "profile minimum shape",
    "opt_shape": "profile optimum shape",
    "max_shape": "profile maximum shape",
    "workspace_mib": "workspace (MiB)",
    "dla_core": "DLA core",
    "gpu_fallback": "GPU fallback",
    "strongly_typed": "strongly typed network",
    "tensorrt_version": "TensorRT version",
    "gpu_name": "GPU",
    "compute_capability": "compute capability",
    "l4t_release": "L4T (JetPack) release",
}


def l4t_release(path: Path = NV_TEGRA_RELEASE) -> str | None:
    """The Jetson Linux release from /etc/nv_tegra_release ("R36.4.3"); None off a Jetson."""
    try:
        first = path.read_text(encoding="utf-8", errors="replace").splitlines()[:1]
    except OSError:
        return None
    match = _RELEASE.search(first[0]) if first else None
    return f"R{match.group(1)}.{match.group(2)}" if match else "unrecognised"


@dataclass(frozen=True)
class Decision:
    reuse: bool
    reason: str  # why it cannot be reused (empty when it can)


def decide(engine_path: Path, manifest_path: Path, key: EngineKey) -> tuple[Decision, bytes | None]:
    """Whether the cached engine may be deserialised, and its bytes when it may."""
    if not engine_path.is_file():
        return Decision(False, "no engine built yet"), None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Decision(False, f"its manifest {manifest_path.name} is missing"), None
    except (OSError, ValueError) as exc:
        return Decision(False, f"its manifest {manifest_path.name} is unreadable ({exc})"), None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        return Decision(False, f"its manifest {manifest_path.name} has another format"), None
    recorded = manifest.get("key", {})
    for name, wanted in key.fields().items():
        found = recorded.get(name) if isinstance(recorded, dict) else None
        if found != wanted:
            return Decision(False, f"{FIELD_NAMES[name]} changed: {_show(found)} when built, {_show(wanted)} now"), None
    try:
        data = engine_path.read_bytes()
    except OSError as exc:
        return Decision(False, f"the engine file is unreadable ({exc})"), None
    if len(data) != manifest.get("engine_bytes") or hashlib.sha256(data).hexdigest() != manifest.get("engine_sha256"):
        return Decision(False, "the engine file is damaged (its size or sha256 differs from the manifest)"), None
    return Decision(True, ""), data


def _show(value: object) -> str:
    return "none" if value is None else (str(value)[:16] if isinstance(value, str) and len(value) == 64 else str(value))


def engine_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "engines"


def writable_dir(state_dir: Path, *parts: str) -> Path:
    """``<state_dir>/engines/<parts>``, created; BackendUnavailableError naming the path and
    the setting when it cannot be."""
    path = engine_dir(state_dir).joinpath(*parts)
    try:
        make_writable_dir(path)
    except OSError as exc:
        raise BackendUnavailableError(
            f"cannot write built engines to {path}: {exc.strerror or exc} (set state_dir in the config, "
            "or --state-dir, to a directory this user can write)"
        ) from None
    return path


# build(timing cache bytes or None) -> (engine bytes, new timing cache bytes or None)
Builder = Callable[[bytes | None], tuple[bytes, bytes | None]]


@dataclass(frozen=True)
class CachedEngine:
    data: bytes
    path: Path
    built: bool  # False when an existing engine was reused
    reason: str  # why it was built


class EngineCache:
    """The engines folder of one state_dir."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = writable_dir(state_dir)

    def paths(self, key: EngineKey) -> tuple[Path, Path]:
        stem = key.file_stem
        return self.dir / f"{stem}.engine", self.dir / f"{stem}.json"

    def timing_cache_path(self, environment: BuildEnvironment) -> Path:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{environment.gpu_name}-{environment.compute_capability}").strip("-")
        return self.dir / f"timing-trt{environment.tensorrt_version}-{slug}.cache"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.dir / ".lock", "a+b") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                log.info("waiting for another process building an engine in %s", self.dir)
                with extended_timeout("waiting for another process building a TensorRT engine"):
                    fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def check(self, key: EngineKey) -> Decision:
        engine_path, manifest_path = self.paths(key)
        return decide(engine_path, manifest_path, key)[0]

    def load_or_build(self, key: EngineKey, build: Builder, *, allow_build: bool = True) -> CachedEngine:
        """The cached engine when every field matches, else a newly built one (stored)."""
        engine_path, manifest_path = self.paths(key)
        with self._locked():
            decision, data = decide(engine_path, manifest_path, key)
            if decision.reuse:
                log.info("TensorRT engine %s is up to date", engine_path)
                return CachedEngine(data, engine_path, False, "")
            if not allow_build:
                raise BackendUnavailableError(
                    f"the TensorRT engine for {key.model_name} must be built ({decision.reason}) and "
                    "model.backend.build_at_start is false: run `jetsentry engines build`"
                )
            log.info("building TensorRT engine %s for %s: %s (this takes minutes; later starts reuse it)",
                     engine_path.name, key.model_name, decision.reason)
            timing_path = self.timing_cache_path(key.environment)
            timing = timing_path.read_bytes() if timing_path.is_file() else None
            started = time.monotonic()
            # Under systemd, minutes beyond TimeoutStartSec= are asked for while it builds.
            with extended_timeout(f"building the TensorRT engine for {key.model_name}"):
                data, new_timing = build(timing)
            seconds = time.monotonic() - started
            write_atomically(engine_path, data)
            manifest = {"format": MANIFEST_FORMAT, "key": key.fields(), "model": key.model_name,
                        "engine_bytes": len(data), "engine_sha256": hashlib.sha256(data).hexdigest(),
                        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "build_seconds": round(seconds, 1), "reason": decision.reason}
            write_atomically(manifest_path, json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n")
            if new_timing:
                write_atomically(timing_path, new_timing)
            log.info("built TensorRT engine %s in %.0f s", engine_path, seconds)
            return CachedEngine(data, engine_path, True, decision.reason)
