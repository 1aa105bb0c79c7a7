"""Synthetic scenes with exact ground truth: rendering, H.264 encoding, YOLO dataset export."""

from jetsentry.synth.groundtruth import GroundTruth, read_gt, write_gt
from jetsentry.synth.scene import GENERATOR_VERSION, SceneResult, generate_scene, scene_seed
from jetsentry.synth.shapes import SYNTH_CLASSES
from jetsentry.synth.stats import combine_statistics, gt_statistics, scene_statistics

__all__ = [
    "GENERATOR_VERSION",
    "GroundTruth",
    "SYNTH_CLASSES",
    "SceneResult",
    "combine_statistics",
    "generate_scene",
    "gt_statistics",
    "read_gt",
    "scene_seed",
    "scene_statistics",
    "write_gt",
]
