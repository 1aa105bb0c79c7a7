"""One short held-out scene (run seed 9100, never trained on), rendered once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from jetsentry.config.models import ModelConfig, TrackerConfig
from jetsentry.evaluate.runner import SceneRun, SceneRunner
from jetsentry.evaluate.scenes import load_scene

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO / "engines" / "models" / "jetsentry-default.onnx"
HELDOUT_SEED = 9100  # the model was trained on run seed 1000 and is measured on 9000
HELDOUT_FRAMES = 75
DAEMON_CONFIDENCE = 0.25  # ModelConfig's default, what the daemon runs with


@pytest.fixture(scope="session")
def default_model() -> Path:
    if not DEFAULT_MODEL.is_file():
        pytest.skip(f"needs the bundled default model {DEFAULT_MODEL}")
    return DEFAULT_MODEL


@pytest.fixture(scope="session")
def heldout_scene_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with one scene_0000 of HELDOUT_FRAMES frames at the default 640x360."""
    from jetsentry.synth.cli import main as synth_main

    out = tmp_path_factory.mktemp("heldout")
    rc = synth_main(["--seed", str(HELDOUT_SEED), "--out", str(out), "--scenes", "1",
                     "--frames", str(HELDOUT_FRAMES), "--jobs", "1"])
    assert rc == 0
    return out


@pytest.fixture(scope="session")
def heldout_run(default_model: Path, heldout_scene_dir: Path) -> SceneRun:
    """The held-out scene through the evaluation's pipeline pass (detector at 0.001, daemon's tracker)."""
    model = ModelConfig(path=default_model, confidence=0.001)
    runner = SceneRunner(model, TrackerConfig(), track_confidence=DAEMON_CONFIDENCE)
    return runner.run(load_scene(heldout_scene_dir / "scene_0000"))
