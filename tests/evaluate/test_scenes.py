"""Loading scene folders: what is accepted, and every refusal naming its file (and line)."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.evaluate.scenes import SceneError, find_scene_dirs, load_scene, load_scenes
from tests.evaluate.scene_dirs import GOOD_GT, write_scene


def test_scene_folder_loads_with_ground_truth_and_statistics(tmp_path):
    scene = load_scene(write_scene(tmp_path / "scene_0000", frames=3))
    assert scene.name == "scene_0000" and scene.frames == 3 and scene.fps == 15.0
    assert scene.classes[0] == "car"
    assert np.array_equal(scene.gt.frame, [1, 1, 2]) and np.array_equal(scene.gt.consider, [1, 0, 1])
    assert scene.statistics["frames"] == 3 and scene.statistics["tracks"] == 2  # trailing empty frame counts
    assert scene.statistics["mean_objects_in_view"] == pytest.approx(2 / 3)


def test_folder_of_scenes_in_name_order_or_one_scene_itself(tmp_path):
    for name in ("scene_0002", "scene_0001"):
        write_scene(tmp_path / name)
    (tmp_path / "notes").mkdir()
    assert [p.name for p in find_scene_dirs(tmp_path)] == ["scene_0001", "scene_0002"]
    assert find_scene_dirs(tmp_path / "scene_0002") == [tmp_path / "scene_0002"]
    assert [s.name for s in load_scenes(tmp_path)] == ["scene_0001", "scene_0002"]


def _refused(path, *words):
    with pytest.raises(SceneError) as info:
        load_scenes(path)
    message = str(info.value)
    assert all(w in message for w in words), message


def test_missing_or_empty_scene_directory(tmp_path):
    _refused(tmp_path / "nowhere", "not found", "nowhere")
    (tmp_path / "empty").mkdir()
    _refused(tmp_path / "empty", "no scene_* folders", "empty")
    (tmp_path / "file").write_text("x")
    _refused(tmp_path / "file", "not a directory")


def test_scene_without_ground_truth_video_or_description(tmp_path):
    _refused(write_scene(tmp_path / "a" / "scene_0000", gt=None).parent, "gt.txt not found", "scene_0000")
    _refused(write_scene(tmp_path / "b" / "scene_0000", video=None).parent, "video.mp4 not found")
    scene = write_scene(tmp_path / "c" / "scene_0000")
    (scene / "scene.json").unlink()
    _refused(scene.parent, "scene.json not found")


@pytest.mark.parametrize(("line", "words"), [
    ("2,1,12.00,20.00,30.00,40.00,1,0", ["expected 9", "found 8"]),
    ("2,1,12.00,abc,30.00,40.00,1,0,1.0", ["top is not a number", "'abc'"]),
    ("0,1,12.00,20.00,30.00,40.00,1,0,1.0", ["frame must be an integer >= 1"]),
    ("2,1,12.00,20.00,-3.00,40.00,1,0,1.0", ["width and height"]),
    ("2,1,12.00,20.00,30.00,40.00,2,0,1.0", ["consider must be 0 or 1"]),
    ("2,1,12.00,20.00,30.00,40.00,1,5,1.0", ["class must be an integer in 0..4", "5 classes"]),
    ("2,1,12.00,20.00,30.00,40.00,1,0,1.5", ["visibility"]),
    ("3,1,12.00,20.00,30.00,40.00,1,0,1.0", ["beyond the scene's 2 frames"]),
    ("1,2,12.00,20.00,30.00,40.00,1,0,1.0", ["frame 1 id 2 already appears on line 2"]),
])
def test_malformed_line_names_file_and_line(tmp_path, line, words):
    scene = write_scene(tmp_path / "scene_0000", gt=GOOD_GT + "\n" + line + "\n")  # a blank line 4 is skipped
    _refused(scene, "gt.txt:5:", *words)


def test_bad_scene_description(tmp_path):
    _refused(write_scene(tmp_path / "a", classes=None), "scene.json", "'classes'")
    _refused(write_scene(tmp_path / "b", info={"classes": ["car"], "frames": -1}), "'frames' must be a positive")
    scene = write_scene(tmp_path / "c")
    (scene / "scene.json").write_text("{nope", encoding="utf-8")
    _refused(scene, "scene.json: not valid JSON")


def test_scenes_must_share_their_classes(tmp_path):
    write_scene(tmp_path / "scene_0000")
    write_scene(tmp_path / "scene_0001", classes=["car", "person", "bicycle", "dog", "cat"])
    _refused(tmp_path, "scene_0001", "differ from")
