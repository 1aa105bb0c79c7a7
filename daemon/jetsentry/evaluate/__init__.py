"""evaluate: score the full pipeline on scenes with ground truth (`jetsentry eval`).

scenes (load and check scene folders) -> runner (decode -> infer -> NMS -> ByteTrack, the
daemon's code) -> detection_metrics (COCO mAP) and tracking_metrics (MOTA, IDF1, HOTA)
-> report (tables and the JSON line); cli ties them together.  docs/EVALUATION.md
explains the protocol.  Submodules import lazily: the metric libraries load only here.
"""
