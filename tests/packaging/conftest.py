"""Fixtures of the packaging tests: the .deb files, built once a session, and the root check.

Building needs dpkg-buildpackage and debhelper and the package index for the wheels;
installing needs root (chroot, mount) and debootstrap.  scripts/setup.sh --test installs the
tools.  Everything here is slow (minutes): marked slow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "packaging" / "build_deb.sh"
TOOLS = {"dpkg-buildpackage": "dpkg-dev", "dh": "debhelper", "lintian": "lintian", "debootstrap": "debootstrap",
         "apt-ftparchive": "apt-utils"}


def upstream_version() -> str:
    for line in (REPO / "daemon" / "jetsentry" / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split('"')[1]
    raise AssertionError("no __version__ in daemon/jetsentry/__init__.py")


VERSION = upstream_version()
PREVIOUS = f"{VERSION}~previous"  # sorts before VERSION: the upgrade's starting point


@dataclass(frozen=True)
class Debs:
    amd64: Path
    amd64_previous: Path
    arm64: Path


def needs_root_and_tools() -> None:
    if os.geteuid() != 0:
        pytest.skip("the packaging tests need root (dpkg-statoverride, chroot, mount); CI runs them as root")
    missing = sorted({package for tool, package in TOOLS.items() if shutil.which(tool) is None})
    if missing:
        pytest.skip(f"needs {', '.join(missing)}: bash scripts/setup.sh --test installs them")


def build(out: Path, arch: str, version: str) -> Path:
    result = subprocess.run(["bash", str(BUILD), "--arch", arch, "--version", version, "--out", str(out)],
                            capture_output=True, text=True, timeout=1200,
                            env={**os.environ, "PYTHON": sys.executable})
    assert result.returncode == 0, result.stderr[-6000:]
    deb = out / f"jetsentry_{version}_{arch}.deb"
    assert result.stdout.strip().splitlines()[-1] == str(deb)
    return deb


@pytest.fixture(scope="session")
def debs(tmp_path_factory: pytest.TempPathFactory) -> Debs:
    """This checkout's packages for amd64 and arm64, and an amd64 one of a lower version."""
    needs_root_and_tools()
    out = tmp_path_factory.mktemp("debs")
    return Debs(amd64=build(out, "amd64", VERSION), amd64_previous=build(out, "amd64", PREVIOUS),
                arm64=build(out, "arm64", VERSION))
