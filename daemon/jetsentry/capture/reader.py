"""Every frame of a video file, in order, as fast as it decodes (for `jetsentry analyze`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from jetsentry.capture.buffers import CaptureClock, YuvSampleReader
from jetsentry.capture.decode_problems import DecodeProblems
from jetsentry.capture.errors import BadVideoFile, CaptureError
from jetsentry.capture.frame import Frame
from jetsentry.capture.gst_pipeline import GstPipeline
from jetsentry.capture.pipeline import OFFLINE_SINK
from jetsentry.capture.probe import VideoFileInfo, probe_video_file
from jetsentry.capture.sources import file_plan
from jetsentry.config.source_uri import SourceUriError, parse_source_uri

# How long one pull waits before the bus is checked for an error.
_PULL_TIMEOUT_S = 0.1
# A file that yields nothing for this long is stuck (a broken demuxer), not slow.
NO_PROGRESS_TIMEOUT_S = 30.0


class VideoFileReader:
    """Decodes a file with appsink drop=false, so no frame is lost (the pipeline waits for us).

    `info` (codec, size, fps, duration) is known after construction.  Iterating raises
    FileNotFound / BadVideoFile; a decode error mid-stream is raised after the frames
    that decoded before it were yielded.  Damage that does not stop decoding shows in
    `decoded` against `info.frame_count`, and in `decode_errors` (capture/decode_problems.py).
    """

    def __init__(
        self,
        path_or_uri: str | Path,
        *,
        camera_id: str = "file",
        decoder: str = "auto",
        idle_priority: bool = False,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        try:
            source = parse_source_uri(str(path_or_uri))
        except SourceUriError as exc:
            raise CaptureError(str(exc)) from None
        if source.kind != "file":
            raise CaptureError(f"not a video file: {source.masked} (the reader takes file paths or file:// URIs)")
        self.camera_id = camera_id
        self.info: VideoFileInfo = probe_video_file(source.path)
        self._plan = file_plan(self.info, decoder, OFFLINE_SINK)
        self._idle_priority = idle_priority  # decode only in CPU time the consumer leaves idle
        self._wall_clock = wall_clock
        self._clock = clock
        self.decoded = 0  # frames the last iteration yielded
        self._problems: DecodeProblems | None = None

    @property
    def fps(self) -> float | None:
        """The file's frame rate, when it declares one."""
        return self.info.fps

    @property
    def decoder(self) -> str:
        return self._plan.decoders[self.info.codec]

    @property
    def decode_errors(self) -> int:
        """Decode problems the last iteration met (errors and warnings; FFmpeg's too)."""
        return self._problems.count if self._problems is not None else 0

    @property
    def latest_decode_error(self) -> str | None:
        return self._problems.snapshot()[1] if self._problems is not None else None

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def frames(self) -> Iterator[Frame]:
        pipe = GstPipeline(
            self._plan.description, source_kind="file", source_name=self.info.path, idle_priority=self._idle_priority
        )
        pictures = YuvSampleReader()
        capture_clock = CaptureClock(self._wall_clock, use_pts=True)
        sink = pipe.sink
        self._problems = pipe.problems
        self.decoded = seq = 0
        try:
            pipe.play()
            last_progress = self._clock()
            while True:
                sample = sink.emit("try-pull-sample", int(_PULL_TIMEOUT_S * 1e9))
                if sample is not None:
                    buffer = sample.get_buffer()
                    picture = pictures.picture(sample)
                    yield Frame(self.camera_id, seq, picture, capture_clock.capture_ts(buffer), self._clock())
                    seq += 1
                    self.decoded = seq
                    last_progress = self._clock()
                    continue
                # No sample: finished, failed, or slow to start; the bus says which.
                msg = pipe.next_message(0)
                if msg is not None and pipe.is_error(msg):
                    raise pipe.error_from(msg)
                if sink.get_property("eos") or (msg is not None and pipe.is_eos(msg)):
                    return
                if self._clock() - last_progress > NO_PROGRESS_TIMEOUT_S:
                    raise BadVideoFile(f"no frame decoded from {self.info.path} for {NO_PROGRESS_TIMEOUT_S:g} s")
        finally:
            pipe.close()


def iter_video_frames(path_or_uri: str | Path, *, camera_id: str = "file", decoder: str = "auto") -> Iterator[Frame]:
    """Every frame of a video file in order; see VideoFileReader (use it for the source fps)."""
    return iter(VideoFileReader(path_or_uri, camera_id=camera_id, decoder=decoder))
