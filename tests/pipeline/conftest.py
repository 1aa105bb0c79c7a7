"""Fixtures shared by the daemon tests of this folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.daemon_process import DaemonProcess


@pytest.fixture
def daemons():
    """start(config) runs a daemon; every daemon started is killed when the test ends."""
    started: list[DaemonProcess] = []

    def start(config: Path) -> DaemonProcess:
        daemon = DaemonProcess(config).start()
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.kill()
