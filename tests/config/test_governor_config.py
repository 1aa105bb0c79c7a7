"""The governor section: defaults, the fallback model, and errors that name the field."""

from __future__ import annotations

import pytest

from jetsentry.config import ConfigError, load_config
from jetsentry.governor.wiring import fallback_model
from tests.config.test_config import minimal, write_config


def problems_for(tmp_path, model_file, **sections) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, minimal(model_file, **sections)), environ={})
    return "\n".join(info.value.problems)


def test_defaults_and_auto_enable_only_for_a_gpu_primary(tmp_path, model_file):
    cfg = load_config(write_config(tmp_path, minimal(model_file)), environ={})
    g = cfg.governor
    assert (g.t_hot_c, g.t_cool_c, g.cooldown_s, g.engine_errors, g.error_window_s) == (90, 80, 60, 3, 60)
    assert g.fallback.backend.type == "onnxruntime-cpu" and g.probe_before_return
    assert (g.engine_timeout_s, g.prepare_lead_s) == (5.0, 5.0)
    data = minimal(model_file, governor={"engine_timeout_s": None})
    assert load_config(write_config(tmp_path, data), environ={}).governor.engine_timeout_s is None
    assert cfg.governor_enabled is False  # the CPU primary has nothing to fall back to
    assert cfg.cameras[0].priority == 0
    data = minimal(model_file, governor={"enabled": True, "monitors": {"sysfs_root": str(tmp_path),
                                                                      "thermal_zone_types": ["tj-thermal"]}})
    cfg = load_config(write_config(tmp_path, data), environ={})
    assert cfg.governor_enabled
    settings = cfg.governor.monitors.settings()
    assert settings.sysfs_root == tmp_path and settings.thermal_zone_types == ("tj-thermal",)


def test_fallback_model_takes_the_fallback_backend_and_the_cpu_int8_variant(tmp_path):
    from tests.pipeline.daemon_process import DEFAULT_MODEL

    int8 = DEFAULT_MODEL.with_name("jetsentry-default.int8.onnx")
    data = minimal(DEFAULT_MODEL, governor={"enabled": True, "fallback": {"backend": {"type": "onnxruntime-cpu",
                                                                                      "threads": 2}}})
    data["model"].update(variants={"int8": str(int8)}, precision="fp32")
    cfg = load_config(write_config(tmp_path, data), environ={})
    from jetsentry.infer.variants import select_model_file

    fallback = fallback_model(cfg)
    assert fallback.backend.threads == 2 and fallback.precision == "auto"
    assert select_model_file(fallback).path == int8  # the primary runs fp32 (model.precision)
    assert select_model_file(cfg.model).path == DEFAULT_MODEL


@pytest.mark.parametrize(("governor", "message"), [
    ({"t_hot_c": 80, "t_cool_c": 85}, "t_cool_c (85) must be below t_hot_c (80)"),
    ({"shedding": {"latency_enter_s": 0.5, "latency_leave_s": 0.5}}, "latency_leave_s (0.5) must be below"),
    ({"shedding": {"backlog_enter": 3, "backlog_leave": 4}}, "backlog_leave (4) must be below backlog_enter (3)"),
    ({"engine_errors": 0}, "governor.engine_errors"),
    ({"engine_timeout_s": 0}, "governor.engine_timeout_s"),
    ({"engine_timeout_s": "soon"}, "governor.engine_timeout_s"),
    ({"prepare_lead_s": -1}, "governor.prepare_lead_s"),
    ({"fallback": {"backend": "nope"}}, "governor.fallback.backend"),
    ({"shedding": {"step": 1.5}}, "governor.shedding.step"),
    ({"t_hot": 90}, "governor.t_hot"),  # a typo is an error, not ignored
])
def test_bad_governor_settings_name_the_field(tmp_path, model_file, governor, message):
    text = problems_for(tmp_path, model_file, governor=governor)
    assert message in text and "governor" in text, text


def test_camera_priority_is_validated(tmp_path, model_file):
    data = minimal(model_file)
    data["cameras"][0]["priority"] = "high"
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, data), environ={})
    assert "cameras[0].priority" in "\n".join(info.value.problems)
