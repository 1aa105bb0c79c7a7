"""Fixtures for the configuration tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"placeholder: config validation only checks the file exists")
    return path
