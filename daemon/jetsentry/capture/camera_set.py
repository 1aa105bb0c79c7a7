"""The daemon's cameras: their configurations, a session for each enabled one, and the changes
made at run time (commands/), through the one place sessions are made, started and stopped.

`sessions` is a read-only mapping that is replaced whole at each change (copy on write), so
the stages that iterate it in other threads (health, metrics, the systemd status line, the
governor) never see it change under them.  Changes run one at a time; `watch()` tells the
other stages (the batcher, the watchdog, the topics) when a session comes or goes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence

from jetsentry.capture.decoders import choose_backend, log_choice
from jetsentry.capture.session import CameraSession
from jetsentry.capture.slot import LatestFrameSlot
from jetsentry.config.models import CameraConfig, CaptureConfig

log = logging.getLogger("jetsentry.capture")

# Fields a running session takes without a restart.
LIVE_FIELDS = frozenset({"fps_cap", "priority"})


class CameraSessions(Mapping[str, CameraSession]):
    """camera id -> session; each change replaces the dict, so an iteration sees one version."""

    def __init__(self) -> None:
        self._sessions: dict[str, CameraSession] = {}

    def __getitem__(self, camera_id: str) -> CameraSession:
        return self._sessions[camera_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sessions)

    def __len__(self) -> int:
        return len(self._sessions)

    def items(self):
        return self._sessions.items()

    def values(self):
        return self._sessions.values()

    def keys(self):
        return self._sessions.keys()

    def _put(self, session: CameraSession) -> None:
        self._sessions = {**self._sessions, session.camera_id: session}

    def _pop(self, camera_id: str) -> CameraSession | None:
        sessions = dict(self._sessions)
        session = sessions.pop(camera_id, None)
        self._sessions = sessions
        return session


class CameraSet:
    """Every configured camera (enabled or not) and the sessions of the enabled ones."""

    def __init__(self, cameras: Sequence[CameraConfig], capture: CaptureConfig, ready: threading.Event, *,
                 gpu_engine: bool = False, device: int = 0) -> None:
        self._capture = capture
        self._ready = ready
        self._gpu_engine = gpu_engine
        self._device = device
        self.configs: dict[str, CameraConfig] = {camera.id: camera for camera in cameras}
        self.sessions = CameraSessions()
        self._next_seq: dict[str, int] = {}  # a stopped camera's next seq, for its next session in this run
        self._lock = threading.Lock()  # one change at a time
        self._on_started: Callable[[CameraSession], object] = lambda session: None
        self._on_stopped: Callable[[CameraSession], object] = lambda session: None
        for camera in cameras:
            if camera.enabled:
                self.sessions._put(self._new_session(camera))

    def watch(self, on_started: Callable[[CameraSession], object], on_stopped: Callable[[CameraSession], object]) -> None:
        """Call on_started(session) before a run-time session starts, on_stopped(session) after one stopped."""
        self._on_started, self._on_stopped = on_started, on_stopped

    def _new_session(self, camera: CameraConfig) -> CameraSession:
        backend = choose_backend(camera, self._capture, gpu_engine=self._gpu_engine, device=self._device)
        log_choice(camera.id, backend)
        return CameraSession(camera, self._capture, LatestFrameSlot(self._ready), backend=backend,
                             first_seq=self._next_seq.get(camera.id, 0))

    def start_all(self) -> None:
        for session in self.sessions.values():
            session.start()

    def stop_all(self) -> None:
        for session in self.sessions.values():
            session.stop()
            session.slot.discard()  # a device picture left in the slot goes back to its decoder

    # ---- run-time changes (one thread at a time; each may wait for a session to stop) -------

    def add(self, camera: CameraConfig) -> None:
        with self._lock:
            if camera.id in self.configs:
                raise KeyError(camera.id)
            self.configs[camera.id] = camera
            if camera.enabled:
                self._start(camera)

    def remove(self, camera_id: str) -> CameraConfig:
        with self._lock:
            camera = self.configs.pop(camera_id)
            self._stop(camera_id)
            return camera

    def replace(self, camera: CameraConfig) -> bool:
        """Apply a changed definition of a known camera; True when its session was restarted."""
        with self._lock:
            old = self.configs[camera.id]
            self.configs[camera.id] = camera
            session = self.sessions.get(camera.id)
            changed = {name for name in CameraConfig.model_fields if getattr(old, name) != getattr(camera, name)}
            if session is not None and changed <= LIVE_FIELDS:
                if "fps_cap" in changed:
                    session.set_fps_cap(camera.fps_cap)
                session.camera = camera
                return False
            self._stop(camera.id)
            if camera.enabled:
                self._start(camera)
            return session is not None and camera.enabled

    def _start(self, camera: CameraConfig) -> None:
        session = self._new_session(camera)
        self._on_started(session)
        self.sessions._put(session)
        session.start()

    def _stop(self, camera_id: str) -> None:
        session = self.sessions._pop(camera_id)
        if session is None:
            return
        self._on_stopped(session)  # the batcher no longer looks at its slot
        session.stop()
        session.slot.discard()
        self._next_seq[camera_id] = session.next_seq
