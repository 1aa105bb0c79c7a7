"""Configuration models.  Every field has a description; unknown keys are errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_serializer,
    field_validator,
    model_validator,
)

from jetsentry.config.backends import BackendConfig, OnnxRuntimeCpuBackend, move_legacy_cpu_fields
from jetsentry.config.commands import CommandsConfig
from jetsentry.config.governor import GovernorConfig
from jetsentry.config.limits import check_element_name, check_host, check_text, path_problem, quoted, utf8_size
from jetsentry.config.metrics import MetricsConfig
from jetsentry.config.mqtt_names import MQTT_STRING_MAX_BYTES, check_client_id, check_mqtt_text, check_topic_prefix
from jetsentry.config.rules import check_user_for_password
from jetsentry.config.secrets import resolve_secret
from jetsentry.config.source_uri import SourceUriError, mask_uri, parse_source_uri
from jetsentry.config.tls import TlsConfig

Secret = Annotated[SecretStr | None, BeforeValidator(resolve_secret)]
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_RTSP_TEXT_MAX_BYTES = 4096


class StrictModel(BaseModel):
    # Inputs stay out of ValidationError's text: a value may be a secret or a URI holding one.
    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)


def _usable_path(value: Path) -> Path:
    problem = path_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _check_mqtt_id(value: str, what: str) -> str:
    # Ids become MQTT topic levels: no '/', '+', '#' or blanks.
    if not _ID_PATTERN.match(value):
        raise ValueError(
            f"{what} {quoted(value)} must be 1-64 characters of letters, digits, '_', '-', '.', "
            "starting with a letter or digit"
        )
    return value


class RtspConfig(StrictModel):
    transport: Literal["tcp", "udp"] = Field("tcp", description="RTP transport; TCP survives lossy links and NAT.")
    latency_ms: int = Field(200, ge=0, le=10_000, description="rtspsrc jitter-buffer latency in milliseconds.")
    username: str | None = Field(None, description="RTSP user (overrides one in the URI).")
    password: Secret = Field(None, description="RTSP password: a string, {file: PATH} or {credential: NAME}.")

    @field_validator("username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        if value is not None and ":" in value:
            raise ValueError("an RTSP user name cannot contain ':' (HTTP authentication splits there)")
        return value if value is None else check_text(value, "the user name", max_bytes=_RTSP_TEXT_MAX_BYTES)

    @field_validator("password")
    @classmethod
    def _password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_text(value.get_secret_value(), "the password", max_bytes=_RTSP_TEXT_MAX_BYTES)
        return value


class CameraConfig(StrictModel):
    id: str = Field(description="Camera id; becomes an MQTT topic level.")
    source: str = Field(
        description="file:///path.mp4 (or a plain path), rtsp://host/path, v4l2:///dev/video0, csi://0, test://smpte"
    )
    enabled: bool = Field(True, description="Disabled cameras are not opened.")
    fps_cap: float | None = Field(
        None, gt=0, le=240, description="At most this many frames per second are handed to inference."
    )
    priority: int = Field(
        0, ge=-1000, le=1000,
        description="Load shedding lowers the frame rate of lower-priority cameras first (ties: the later "
        "camera in this list first) and restores higher-priority ones first.",
    )
    on_eos: Literal["stop", "loop"] = Field("loop", description="Video files: stop or loop at end of stream.")
    realtime: bool = Field(
        True,
        description="Video files: true plays the file at its own frame rate, as a camera would deliver it "
        "(frames that inference has no time for are replaced); false hands over every frame, as fast as "
        "inference takes them (processing recordings).",
    )
    decoder: str | None = Field(None, description="Override capture.decoder for this camera.")
    rtsp: RtspConfig = Field(default_factory=RtspConfig, description="RTSP options (rtsp:// sources only).")

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _check_mqtt_id(value, "camera id")

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        try:
            parse_source_uri(value)
        except SourceUriError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("decoder")
    @classmethod
    def _decoder(cls, value: str | None) -> str | None:
        return value if value is None else check_element_name(value, "decoder")

    @model_validator(mode="after")
    def _realtime_only_for_files(self) -> "CameraConfig":
        if not self.realtime and parse_source_uri(self.source).kind != "file":
            raise ValueError("realtime: false applies only to video files; live sources deliver at their own rate")
        return self

    @model_validator(mode="after")
    def _rtsp_user_for_password(self) -> "CameraConfig":
        if parse_source_uri(self.source).kind == "rtsp":
            check_user_for_password(*self.rtsp_credentials(), "RTSP")
        return self

    def rtsp_credentials(self) -> tuple[str | None, str | None]:
        """(user, password) for an rtsp:// source: rtsp.username, with rtsp.password, wins
        over the URI's; rtsp.password alone goes with the URI's user."""
        source = parse_source_uri(self.source)
        user, password = source.username, source.password
        if self.rtsp.username:
            user = self.rtsp.username
            password = self.rtsp.password.get_secret_value() if self.rtsp.password else None
        elif self.rtsp.password is not None:
            password = self.rtsp.password.get_secret_value()
        return user, password

    # A password inside the URI is shown as '***' in repr() and dumps, as SecretStr fields are.
    def __repr_args__(self):
        for name, value in super().__repr_args__():
            yield name, (mask_uri(value) if name == "source" else value)

    @field_serializer("source")
    def _masked_source(self, value: str) -> str:
        return mask_uri(value)


class CaptureConfig(StrictModel):
    decoder: str = Field(
        "auto",
        description="auto (a GPU backend on a machine with PyNvVideoCodec: nvdec; otherwise probe GStreamer: "
        "nvv4l2decoder, then nvh264dec/nvh265dec, then avdec_*), or nvdec (PyNvVideoCodec, frames stay on the "
        "GPU), nvv4l2, nvcodec, cpu, or an explicit GStreamer element name.",
    )
    nvdec_library: Literal["pynvvideocodec", "nvcuvid"] = Field(
        "pynvvideocodec",
        description="What decodes for decoder nvdec (PyNvVideoCodec demuxes either way): pynvvideocodec, or "
        "nvcuvid: the driver's libnvcuvid through ctypes, without holding Python's GIL while it works "
        "(experimental: its pictures equal PyNvVideoCodec's, but it measured no faster; docs/PERFORMANCE.md row 9d).",
    )
    nvdec_process: bool = Field(
        False,
        description="decoder nvdec: decode each camera in a child process of its own, its frames handed over "
        "in GPU memory through CUDA IPC, so no decoder holds the daemon's GIL (desktop GPUs and Jetson Thor; "
        "experimental: docs/PERFORMANCE.md row 9e).",
    )
    backoff_base_s: float = Field(0.5, gt=0, le=60, description="First reconnect delay ceiling (full jitter).")
    backoff_cap_s: float = Field(30.0, gt=0, le=3600, description="Largest reconnect delay ceiling.")
    stall_timeout_s: float = Field(5.0, gt=0, le=600, description="No frame for this long -> RECOVERING.")
    connect_timeout_s: float = Field(10.0, gt=0, le=600, description="CONNECTING longer than this -> RECOVERING.")
    max_buffers: int = Field(2, ge=1, le=64, description="appsink max-buffers (newest frames kept by GStreamer).")

    @field_validator("decoder")
    @classmethod
    def _decoder(cls, value: str) -> str:
        return check_element_name(value, "decoder")

    @model_validator(mode="after")
    def _backoff_order(self) -> "CaptureConfig":
        if self.backoff_cap_s < self.backoff_base_s:
            raise ValueError("backoff_cap_s must be >= backoff_base_s")
        return self


def _existing_model_file(value: Path) -> Path:
    _usable_path(value)
    if not value.is_file():
        raise ValueError(f"model file not found: {quoted(str(value), 200)}")
    return value


class ModelConfig(StrictModel):
    path: Path = Field(
        description="Ultralytics YOLO detection ONNX: YOLOv8/YOLO11 ([B, 4+C, N], NMS applied) or NMS-free "
        "YOLO26/YOLOv10 and nms=True exports ([B, K, 6]); FP32, FP16 or INT8 (QDQ), read from the file."
    )
    variants: dict[Literal["fp32", "fp16", "int8"], Annotated[Path, AfterValidator(_existing_model_file)]] = Field(
        default_factory=dict,
        description="Other precisions of the same model, e.g. {int8: model.int8.onnx, fp16: model.fp16.onnx} "
        "(jetsentry models quantize / fp16 make them); the backend runs the one model.precision picks.",
    )
    precision: Literal["auto", "fp32", "fp16", "int8"] = Field(
        "auto",
        description="Which file runs: auto takes the backend's best among model.path and model.variants "
        "(CPU: int8, fp32, fp16; CUDA: fp16, fp32, int8; TensorRT: int8, fp16, fp32); an explicit precision "
        "must be there.",
    )
    input_size: int = Field(
        640, ge=32, le=4096, description="Longest input side for models with dynamic height/width (multiple of stride)."
    )
    confidence: float = Field(
        0.25, ge=0, le=1,
        description="Detections scoring above this are published. Without tracking it is the NMS threshold; "
        "with tracking NMS keeps scores above tracker.low_threshold for the tracker and its tracked detections "
        "above this are published; above tracker.high_threshold/new_track_threshold it raises them to it, "
        "below low_threshold it publishes nothing more.",
    )
    iou: float = Field(0.7, gt=0, le=1, description="NMS IoU threshold (class-aware; NMS-free models have no NMS).")
    max_detections: int = Field(300, ge=1, le=10_000, description="Detections kept per frame after NMS.")
    classes: list[int | str] = Field(
        default_factory=list, description="Keep only these classes (ids or names); empty keeps all."
    )
    backend: BackendConfig = Field(
        default_factory=lambda: OnnxRuntimeCpuBackend(type="onnxruntime-cpu"),
        description="Inference backend: a type (onnxruntime-cpu, onnxruntime-cuda, onnxruntime-tensorrt, tensorrt) "
        "or a mapping with `type` and that backend's settings (config/backends.py).",
    )

    # Written before backends had their own settings; moved into model.backend when the
    # config loads (config/backends.py), so they are always None here.
    threads: int | None = Field(None, description="Same as model.backend.threads (onnxruntime-cpu).")
    parallel_runs: int | Literal["auto"] | None = Field(
        None, description="Same as model.backend.parallel_runs (onnxruntime-cpu)."
    )

    @model_validator(mode="before")
    @classmethod
    def _legacy_cpu_fields(cls, data: Any) -> Any:
        return move_legacy_cpu_fields(data)

    @field_validator("path")
    @classmethod
    def _exists(cls, value: Path) -> Path:
        return _existing_model_file(value)


class BatchingConfig(StrictModel):
    max_batch: int = Field(4, ge=1, le=64, description="Frames per inference batch, across cameras.")
    max_wait_ms: float = Field(10.0, ge=0, le=1000, description="Longest wait to fill a batch once one frame is ready.")
    prepare_ahead: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Take and letterbox the next batch while the current one is inferred (more frames/s; "
        "frames are taken one inference earlier, so live cameras' results are older). auto: on when every "
        "camera is a recording (realtime: false), off when any is live.",
    )


class TrackerConfig(StrictModel):
    enabled: bool = Field(
        True, description="Run ByteTrack per camera (NMS then keeps scores above low_threshold for it)."
    )
    high_threshold: float = Field(
        0.25, ge=0, le=1, description="First-stage association score; raise to trust fewer detections."
    )
    low_threshold: float = Field(
        0.1, ge=0, le=1,
        description="Detections above this and below high_threshold only extend existing tracks (stage two); "
        "the detector's NMS threshold while tracking.",
    )
    new_track_threshold: float = Field(
        0.25, ge=0, le=1, description="Score needed to start a new track; raise to cut spurious tracks."
    )
    match_threshold: float = Field(
        0.8, gt=0, le=1, description="Largest stage-one cost, 1 - IoU x score, accepted; lower is stricter."
    )
    track_buffer: int = Field(
        30, ge=1, le=10_000,
        description="How long a lost track is kept, in frames at 30 fps (30 = 1 s), converted with the rate "
        "each camera is actually processed at; a camera with no frame for longer starts without tracks.",
    )

    @model_validator(mode="after")
    def _order(self) -> "TrackerConfig":
        if self.low_threshold > self.high_threshold:
            raise ValueError("low_threshold must be <= high_threshold")
        return self


class MqttConfig(StrictModel):
    host: str = Field("localhost", min_length=1, description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port.")
    client_id: str | None = Field(None, description="MQTT client id; defaults to jetsentry-<device_id>.")
    topic_prefix: str = Field("jetsentry", min_length=1, description="First topic level.")
    username: str | None = Field(None, description="Broker user.")
    password: Secret = Field(None, description="Broker password: a string, {file: PATH} or {credential: NAME}.")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keepalive.")
    qos: Literal[0, 1] = Field(1, description="QoS for detection messages.")
    outbox: Literal["disk", "memory"] = Field(
        "disk",
        description="Where messages wait for the broker's acknowledgement: disk (<state_dir>/outbox.db, kept "
        "across broker outages and restarts) or memory (lost on restart, bounded by queue_max).",
    )
    outbox_max_bytes: int = Field(
        512 * 1024 * 1024, ge=1024, le=1 << 40,
        description="Disk outbox quota: topic plus payload bytes held; beyond it the oldest detections are dropped.",
    )
    outbox_max_messages: int = Field(
        1_000_000, ge=1, le=100_000_000,
        description="Disk outbox quota in messages; beyond it the oldest detections are dropped.",
    )
    queue_max: int = Field(10_000, ge=1, le=10_000_000,
                           description="Memory outbox only: messages held while offline; overflow drops the oldest.")
    reconnect_min_s: float = Field(0.5, gt=0, le=60, description="First reconnect delay ceiling.")
    reconnect_max_s: float = Field(30.0, gt=0, le=3600, description="Largest reconnect delay ceiling.")
    tls: TlsConfig | None = Field(
        None,
        description="TLS to the broker (1.2 or newer, certificate and name verified), with a client certificate "
        "for mutual TLS; {} uses the system's CAs; null: plain TCP.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> "MqttConfig":
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        check_user_for_password(self.username, self.password, "MQTT")
        return self

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return check_topic_prefix(value)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return check_host(value)

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str | None) -> str | None:
        return value if value is None else check_client_id(value)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        return value if value is None else check_mqtt_text(value, "the user name")

    @field_validator("password")
    @classmethod
    def _password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:  # MQTT passwords are binary data: only the length is limited
            size = utf8_size(value.get_secret_value(), "the password")
            if size > MQTT_STRING_MAX_BYTES:
                raise ValueError(f"the password is {size} bytes long; MQTT allows at most {MQTT_STRING_MAX_BYTES}")
        return value


class LoggingConfig(StrictModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    format: Literal["text", "json"] = Field("text", description="text for people, json for log shippers.")


class AppConfig(StrictModel):
    device_id: str = Field(description="This appliance's id; becomes an MQTT topic level.")
    state_dir: Path = Field(
        Path("/var/lib/jetsentry"),
        description="Where jetsentry keeps what it makes at run time: built TensorRT engines and their "
        "timing caches under engines/, the run counter (run), the disk message outbox (outbox.db), the "
        "cameras changed by commands (cameras.json) and the replies to recent commands (commands.json).",
    )
    cameras: list[CameraConfig] = Field(min_length=1, description="Cameras to read.")
    capture: CaptureConfig = Field(default_factory=CaptureConfig, description="Capture options for all cameras.")
    model: ModelConfig = Field(description="Detector model.")
    batching: BatchingConfig = Field(default_factory=BatchingConfig, description="Cross-camera batching.")
    tracker: TrackerConfig = Field(default_factory=TrackerConfig, description="ByteTrack parameters.")
    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="Broker connection.")
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Logging.")
    health: HealthConfig = Field(default_factory=lambda: HealthConfig(), description="Health reporting and exit.")
    metrics: MetricsConfig = Field(default_factory=MetricsConfig, description="Prometheus metrics and status.")
    governor: GovernorConfig = Field(
        default_factory=GovernorConfig,
        description="Health governor: falls back to another backend when the GPU overheats or fails, sheds load.",
    )
    commands: CommandsConfig = Field(
        default_factory=CommandsConfig, description="MQTT commands (cameras at run time, snapshots, status)."
    )

    @field_validator("device_id")
    @classmethod
    def _device_id(cls, value: str) -> str:
        return _check_mqtt_id(value, "device_id")

    @field_validator("state_dir")
    @classmethod
    def _state_dir(cls, value: Path) -> Path:
        return _usable_path(value)

    @property
    def governor_enabled(self) -> bool:
        """governor.enabled resolved: auto is on for a GPU model.backend."""
        enabled = self.governor.enabled
        return self.model.backend.type != "onnxruntime-cpu" if enabled == "auto" else bool(enabled)

    @model_validator(mode="after")
    def _unique_cameras(self) -> "AppConfig":
        seen: set[str] = set()
        for cam in self.cameras:
            if cam.id in seen:
                raise ValueError(f"camera id {cam.id!r} is used twice")
            seen.add(cam.id)
        return self


class HealthConfig(StrictModel):
    interval_s: float = Field(
        30.0, gt=0, le=3600,
        description="The retained health message is published at once on every change and at least this "
        "often (with a health log line); a camera with decode errors within this long is degraded.",
    )
    failing_after_batches: int = Field(
        5, ge=1, le=100_000,
        description="Inference batches failed in a row that make health failing (fewer: degraded).",
    )
    error_log_interval_s: float = Field(
        30.0, gt=0, le=3600,
        description="A run of failing batches is logged in full once, then one summary line at most this often.",
    )
    exit_after_failing_s: float | None = Field(
        60.0, ge=0, le=86_400,
        description="Exit with status 1 once health has been failing this long (no working camera, or "
        "inference failing batch after batch), so the supervisor notices; null: never.",
    )
