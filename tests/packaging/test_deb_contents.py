"""The built packages: lintian, their control fields, the machine of every shared object in
their wheels, and whether their wheelhouse resolves offline for each supported Python."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.packaging.conftest import VERSION

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ELF_MACHINE = {"amd64": 62, "arm64": 183}  # e_machine: EM_X86_64, EM_AARCH64
PYTHONS = ("3.10", "3.11", "3.12")
MACHINE = {"amd64": "x86_64", "arm64": "aarch64"}


def unpack(deb: Path, into: Path) -> Path:
    subprocess.run(["dpkg-deb", "-x", str(deb), str(into)], check=True, timeout=300)
    return into


def elf_machine(data: bytes) -> int | None:
    """e_machine of an ELF file's header, None when `data` is not ELF."""
    if data[:4] != b"\x7fELF":
        return None
    return int.from_bytes(data[18:20], "little" if data[5] == 1 else "big")


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_lintian_reports_nothing(debs, arch):
    deb = getattr(debs, arch)
    result = subprocess.run(["lintian", "--info", "--pedantic", "--display-experimental", str(deb)],
                            capture_output=True, text=True, timeout=600)
    tags = [line for line in result.stdout.splitlines() if line[:3] in {"E: ", "W: ", "I: ", "P: ", "X: "}]
    assert result.returncode == 0 and not tags, result.stdout + result.stderr


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_control_fields(debs, arch):
    fields = subprocess.run(["dpkg-deb", "-f", str(getattr(debs, arch)), "Package", "Version", "Architecture",
                             "Depends", "Recommends", "Suggests"],
                            capture_output=True, text=True, check=True).stdout
    assert f"Version: {VERSION}\n" in fields and f"Architecture: {arch}\n" in fields
    assert "python3 (>= 3.10), python3 (<< 3.13)" in fields
    for package in ("python3-venv", "python3-gi", "gstreamer1.0-libav", "nvidia-l4t-gstreamer", "python3-libnvinfer"):
        assert package in fields


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_every_shared_object_is_built_for_the_package_architecture(debs, arch, tmp_path):
    """The wheels hold every native library; each ELF file in each of them is the arch's."""
    root = unpack(getattr(debs, arch), tmp_path / "root")
    wheels = sorted((root / "opt/jetsentry/wheels").glob("*.whl"))
    machines: dict[str, int] = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if ".so" in Path(name).name:
                    machine = elf_machine(archive.open(name).read(64))
                    if machine is not None:
                        machines[f"{wheel.name}:{name}"] = machine
    # Not-ELF native files outside the wheels would escape the check above.
    outside = [path for path in root.rglob("*") if path.is_file() and path.suffix != ".whl"
               and elf_machine(path.read_bytes()[:64]) is not None]
    assert not outside
    assert len(machines) > 50, sorted(machines)  # numpy, OpenCV, ONNX Runtime, ... each have several
    wrong = {name: machine for name, machine in machines.items() if machine != ELF_MACHINE[arch]}
    assert not wrong, wrong


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_wheelhouse_resolves_offline_for_each_python(debs, arch, python, tmp_path):
    """What the postinst installs, resolved from the shipped wheels alone for that Python and
    machine: the check for the Pythons that no chroot here has (3.10 on Ubuntu 22.04/JetPack 6,
    3.12 on Ubuntu 24.04) and for arm64."""
    wheels = unpack(getattr(debs, arch), tmp_path / "root") / "opt/jetsentry/wheels"
    assert python in (wheels / "PYTHONS").read_text().split()
    # The tags of glibc 2.35, Ubuntu 22.04's, the oldest of the targets (manylinux2014 is 2.17's old name).
    tags = [f"manylinux2014_{MACHINE[arch]}"] + [f"manylinux_2_{minor}_{MACHINE[arch]}" for minor in range(17, 36)]
    platforms = [arg for tag in tags for arg in ("--platform", tag)]
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-index", "--find-links", str(wheels), "--isolated",
         "--only-binary=:all:", "--implementation", "cp", "--python-version", python, *platforms,
         "--dest", str(tmp_path / "resolved"), "jetsentry[cpu,nvml]"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    resolved = {path.name.split("-")[0].lower() for path in (tmp_path / "resolved").glob("*.whl")}
    assert {"jetsentry", "numpy", "onnxruntime", "opencv_python_headless", "onnx", "pydantic_core", "lap",
            "nvidia_ml_py"} <= resolved
