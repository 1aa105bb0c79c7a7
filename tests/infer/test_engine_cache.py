"""The engine cache: keys, manifests, and the rebuild decision for each field that can change."""

from __future__ import annotations

import dataclasses
import json
import logging
import os

import pytest

from jetsentry.infer.engine_cache import (
    FIELD_NAMES,
    BuildEnvironment,
    BuildSettings,
    EngineCache,
    EngineKey,
    l4t_release,
)
from jetsentry.infer.errors import BackendUnavailableError

SETTINGS = BuildSettings(precision="int8", input_name="images", min_shape=(1, 3, 640, 640),
                         opt_shape=(4, 3, 640, 640), max_shape=(8, 3, 640, 640), workspace_mib=1024,
                         dla_core=None, gpu_fallback=True, strongly_typed=True)
ENVIRONMENT = BuildEnvironment(tensorrt_version="10.3.0", gpu_name="Orin", compute_capability="8.7",
                               l4t_release="R36.4.3")
KEY = EngineKey("yolo", "a" * 64, SETTINGS, ENVIRONMENT)


class _Builds:
    """Counts builds; each returns distinct engine bytes and a timing cache."""

    def __init__(self):
        self.count = 0
        self.timing_seen = []

    def __call__(self, timing):
        self.count += 1
        self.timing_seen.append(timing)
        return f"engine #{self.count}".encode(), f"timing #{self.count}".encode()


def test_first_load_builds_and_second_reuses(tmp_path):
    cache, builds = EngineCache(tmp_path), _Builds()
    first = cache.load_or_build(KEY, builds)
    assert first.built and first.reason == "no engine built yet" and builds.count == 1
    second = cache.load_or_build(KEY, builds)
    assert not second.built and second.data == first.data and builds.count == 1
    engine_path, manifest_path = cache.paths(KEY)
    assert engine_path.parent == tmp_path / "engines"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["key"]["tensorrt_version"] == "10.3.0" and manifest["key"]["max_shape"] == [8, 3, 640, 640]
    assert manifest["engine_bytes"] == len(first.data)


# Every field of the key, changed one at a time, must rebuild with a reason naming it.
_CHANGES = [("settings", f.name) for f in dataclasses.fields(BuildSettings)] + \
           [("environment", f.name) for f in dataclasses.fields(BuildEnvironment)]


def _changed(part: str, name: str) -> EngineKey:
    section = getattr(KEY, part)
    value = getattr(section, name)
    if isinstance(value, bool):
        new = not value
    elif isinstance(value, tuple):
        new = tuple(v + 1 for v in value)
    elif isinstance(value, int) or value is None:
        new = 1 if value is None else value + 1
    else:
        new = value + "-other"
    return dataclasses.replace(KEY, **{part: dataclasses.replace(section, **{name: new})})


@pytest.mark.parametrize("part, name", _CHANGES)
def test_each_changed_field_rebuilds_with_its_name(tmp_path, part, name, caplog):
    cache, builds = EngineCache(tmp_path), _Builds()
    cache.load_or_build(KEY, builds)
    changed = _changed(part, name)
    if part == "settings":  # another profile or precision is another file: both stay
        assert cache.paths(changed) != cache.paths(KEY)
    engine_path, manifest_path = cache.paths(KEY)
    # Put the old engine where the changed key looks, as after an upgrade of the machine.
    new_engine, new_manifest = cache.paths(changed)
    if new_engine != engine_path:
        new_engine.write_bytes(engine_path.read_bytes())
        new_manifest.write_text(manifest_path.read_text())
    with caplog.at_level(logging.INFO, logger="jetsentry.engines"):
        result = cache.load_or_build(changed, builds)
    assert result.built and builds.count == 2
    assert result.reason.startswith(f"{FIELD_NAMES[name]} changed")
    assert any(FIELD_NAMES[name] in record.getMessage() for record in caplog.records)


def test_model_change_rebuilds(tmp_path):
    cache, builds = EngineCache(tmp_path), _Builds()
    cache.load_or_build(KEY, builds)
    other = dataclasses.replace(KEY, model_sha256="a" * 12 + "b" * 52)  # same file name prefix, other model
    engine, manifest = cache.paths(KEY)
    assert cache.paths(other) == (engine, manifest)
    result = cache.load_or_build(other, builds)
    assert result.built and result.reason.startswith("model file (sha256) changed")


def test_damaged_engine_is_rebuilt_not_deserialised(tmp_path):
    cache, builds = EngineCache(tmp_path), _Builds()
    cache.load_or_build(KEY, builds)
    engine_path, _ = cache.paths(KEY)
    engine_path.write_bytes(b"engine #X")  # same length, other bytes
    result = cache.load_or_build(KEY, builds)
    assert result.built and "damaged" in result.reason and result.data == b"engine #2"


@pytest.mark.parametrize("content, reason", [
    (None, "is missing"),
    ("{not json", "is unreadable"),
    ('{"format": 99}', "has another format"),
])
def test_bad_manifest_rebuilds(tmp_path, content, reason):
    cache, builds = EngineCache(tmp_path), _Builds()
    cache.load_or_build(KEY, builds)
    _, manifest_path = cache.paths(KEY)
    if content is None:
        manifest_path.unlink()
    else:
        manifest_path.write_text(content)
    result = cache.load_or_build(KEY, builds)
    assert result.built and reason in result.reason


def test_timing_cache_is_kept_per_tensorrt_version_and_gpu(tmp_path):
    cache, builds = EngineCache(tmp_path), _Builds()
    cache.load_or_build(KEY, builds)
    assert builds.timing_seen == [None]
    other_profile = dataclasses.replace(KEY, settings=dataclasses.replace(SETTINGS, opt_shape=(2, 3, 640, 640)))
    cache.load_or_build(other_profile, builds)
    assert builds.timing_seen[1] == b"timing #1"  # the same TensorRT and GPU reuse tactic timings
    assert cache.timing_cache_path(ENVIRONMENT).name == "timing-trt10.3.0-Orin-8-7.cache"
    other_gpu = dataclasses.replace(ENVIRONMENT, gpu_name="Thor")
    assert cache.timing_cache_path(other_gpu) != cache.timing_cache_path(ENVIRONMENT)


def test_no_build_allowed_is_an_error_naming_the_command(tmp_path):
    with pytest.raises(BackendUnavailableError, match="no engine built yet.*jetsentry engines build"):
        EngineCache(tmp_path).load_or_build(KEY, _Builds(), allow_build=False)


def test_a_failed_build_leaves_no_engine(tmp_path):
    cache = EngineCache(tmp_path)

    def fails(_timing):
        raise RuntimeError("builder ran out of memory")

    with pytest.raises(RuntimeError):
        cache.load_or_build(KEY, fails)
    engine_path, manifest_path = cache.paths(KEY)
    assert not engine_path.exists() and not manifest_path.exists()
    assert [p.name for p in (tmp_path / "engines").iterdir() if p.suffix == ".tmp"] == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_state_dir_is_a_clear_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(BackendUnavailableError, match=r"cannot write built engines to .*locked/engines.*state_dir"):
            EngineCache(locked)
    finally:
        locked.chmod(0o700)


def test_unwritable_state_dir_under_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(BackendUnavailableError, match=r"cannot write built engines to .*file/engines.*state_dir"):
        EngineCache(blocker)


@pytest.mark.parametrize("text, expected", [
    ("# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, DATE: Wed Jan  8 01:49:37 UTC 2025\n",
     "R36.4.3"),
    ("# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64\n", "R35.4.1"),
    ("garbage\n", "unrecognised"),
])
def test_l4t_release(tmp_path, text, expected):
    path = tmp_path / "nv_tegra_release"
    path.write_text(text)
    assert l4t_release(path) == expected


def test_no_l4t_release_off_a_jetson(tmp_path):
    assert l4t_release(tmp_path / "absent") is None
