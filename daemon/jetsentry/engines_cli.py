"""`jetsentry engines build`: build (or confirm) the TensorRT engine a configuration will use.

The engine goes to the same cache the daemon reads (infer/engine_cache.py), keyed the
same way, so a later `jetsentry run` on this machine starts without building.  Exit
status: 0 built or up to date; 1 the build failed; 2 bad arguments, configuration or
model, or TensorRT missing.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from jetsentry.infer.engine import DEFAULT_STATE_DIR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jetsentry engines", description="TensorRT engines in <state_dir>/engines.")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("build", help="build the engine for a model, or confirm the cached one is up to date")
    p.add_argument("--model", type=Path, required=True, help="the ONNX model (a QDQ file gives INT8, an FP16 file FP16)")
    p.add_argument("--config", type=Path, help="take model.backend (type tensorrt), batching and state_dir from here")
    p.add_argument("--max-batch", type=int, help="the profile's largest batch (default: model.backend.max_batch, "
                   "batching.max_batch, or 4)")
    p.add_argument("--workspace", type=int, metavar="MIB", help="builder workspace in MiB (default 1024)")
    p.add_argument("--dla", type=int, metavar="N", help="build for DLA core N, GPU fallback on")
    p.add_argument("--input-size", type=int, help="longest input side of a dynamic-shape model (default 640)")
    p.add_argument("--device", type=int, help="CUDA device index (default 0)")
    p.add_argument("--state-dir", type=Path, help=f"where engines are kept (default: the config's, or {DEFAULT_STATE_DIR})")
    return parser


def _settings(args: argparse.Namespace):
    from jetsentry.config import load_config, validate_section
    from jetsentry.config.models import ModelConfig

    model_fields: dict = {"backend": {"type": "tensorrt"}}
    max_batch, state_dir = 4, DEFAULT_STATE_DIR
    if args.config is not None:
        cfg = load_config(args.config)
        model_fields = cfg.model.model_dump(exclude={"threads", "parallel_runs"})
        if cfg.model.backend.type != "tensorrt":
            model_fields["backend"] = {"type": "tensorrt"}
        max_batch, state_dir = cfg.batching.max_batch, cfg.state_dir
    model_fields["path"] = args.model
    backend = dict(model_fields["backend"])
    for attr, key in (("max_batch", "max_batch"), ("workspace", "workspace_mib"), ("dla", "dla_core"),
                      ("device", "device")):
        value = getattr(args, attr)
        if value is not None:
            backend[key] = value
    model_fields["backend"] = backend
    if args.input_size is not None:
        model_fields["input_size"] = args.input_size
    model_cfg = validate_section(ModelConfig, model_fields, "engine settings")
    return model_cfg, model_cfg.backend.max_batch or max_batch, args.state_dir or state_dir


def build(args: argparse.Namespace) -> int:
    from jetsentry.config import ConfigError, report_config_error
    from jetsentry.infer.errors import BackendUnavailableError, GpuError, ModelError

    try:
        model_cfg, max_batch, state_dir = _settings(args)
    except ConfigError as exc:
        report_config_error(exc)
        return 2
    from jetsentry.infer.engine_cache import EngineCache, EngineKey
    from jetsentry.infer.model_info import ModelInfo
    from jetsentry.infer.tensorrt_engine import tensorrt as trt  # MissingDependencyError: exit 2 with the command
    from jetsentry.infer.tensorrt_build import build_engine, build_environment, build_settings, tensorrt_major

    try:
        from jetsentry.gpu.cuda import get_device

        info = ModelInfo.from_onnx(model_cfg.path)
        major = tensorrt_major(trt)
        backend = model_cfg.backend
        settings = build_settings(info, backend, max_batch=max_batch, input_size=model_cfg.input_size, major=major)
        device = get_device(backend.device)
        key = EngineKey(info.name, info.sha256, settings, build_environment(trt, device.info))
        cache = EngineCache(state_dir)
        device.activate()
        result = cache.load_or_build(key, lambda timing: build_engine(trt, info.path, settings, major=major,
                                                                      timing_cache=timing))
    except (ModelError, BackendUnavailableError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except GpuError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    state = f"built ({result.reason})" if result.built else "up to date"
    print(f"{result.path}: {state}; TensorRT {trt.__version__}, {settings.precision}, profile "
          f"{list(settings.min_shape)}..{list(settings.max_shape)}")
    return 0


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    args = build_parser().parse_args(argv)
    return build(args)
