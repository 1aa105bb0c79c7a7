"""Every command prints configuration errors the same way: on stderr, one line per
problem, exit 2 (`run` used to print them on stdout)."""

from __future__ import annotations

import pytest

from tests.config.test_config_input import GOOD, run_cli, write
from tests.evaluate.scene_dirs import write_scene
from tests.pipeline.daemon_process import DEFAULT_MODEL


@pytest.mark.parametrize("command", ["check-config", "run", "analyze", "eval"])
def test_every_command_prints_config_errors_on_stderr(tmp_path, command):
    path = write(tmp_path, GOOD.replace("device_id: dev", "device_id: bad/id"))
    argv = {"check-config": ["check-config", str(path)], "run": ["run", "--config", str(path)],
            "analyze": ["analyze", "x.mp4", "--model", str(DEFAULT_MODEL), "--config", str(path)],
            "eval": ["eval", "--model", str(DEFAULT_MODEL), "--scenes", str(tmp_path), "--config", str(path)]}[command]
    if command == "eval":
        write_scene(tmp_path / "scene_0000")  # scenes are loaded before the config
    result = run_cli(*argv)
    assert result.returncode == 2
    assert "device_id: device_id 'bad/id' must be" in result.stderr, result.stderr
    assert "error(s)" in result.stderr and "device_id" not in result.stdout
