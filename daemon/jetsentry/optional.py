"""Optional dependencies: check that a feature's packages import, or say exactly how to install them.

A command checks everything it needs before it starts any work (`require`); a module that
imports an optional package at its top turns the ImportError into the same error
(`missing`).  The message names the feature, what is missing, the interpreter that could not
import it, and the command that installs it for that interpreter.  Nothing here installs
anything.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# The checkout this module runs from, if it runs from one (daemon/jetsentry/optional.py).
_CHECKOUT = Path(__file__).resolve().parents[2]
_INSTALL_EXTRAS = _CHECKOUT / "scripts" / "install_extras.py"

# Debian/Ubuntu/JetPack packages behind capture/gst.py: PyGObject, the Gst, GstVideo and
# GstPbutils typelibs, and the base plugins (appsink, videoconvert, typefind).
GSTREAMER_APT_PACKAGES = (
    "python3-gi", "python3-gst-1.0", "gir1.2-gstreamer-1.0", "gir1.2-gst-plugins-base-1.0",
    "gstreamer1.0-plugins-base",
)


class MissingDependencyError(ImportError):
    """A package that a feature needs does not import; the message says what to install and how."""


@dataclass(frozen=True)
class Dependency:
    """Something a feature imports that a plain `pip install jetsentry` does not bring."""

    name: str  # as a user knows it: "faster-coco-eval"
    modules: tuple[str, ...]  # import names; each must import
    install: Callable[[], list[str]]  # the lines that say how to install it, for this interpreter
    probe: Callable[[], None] | None = None  # a further check once imported; raises ImportError or ValueError


def require(
    feature: str, *dependencies: Dependency, error: type[MissingDependencyError] = MissingDependencyError
) -> None:
    """Raise `error` naming every one of `dependencies` that does not import."""
    problems = [(dep, problem) for dep in dependencies if (problem := _problem(dep)) is not None]
    if problems:
        raise error(_message(feature, problems))


def missing(feature: str, dependency: Dependency, cause: BaseException) -> MissingDependencyError:
    """The error for an import of `dependency` that failed with `cause`."""
    return MissingDependencyError(_message(feature, [(dependency, str(cause))]))


def _problem(dep: Dependency) -> str | None:
    try:
        for module in dep.modules:
            importlib.import_module(module)
        if dep.probe is not None:
            dep.probe()
    except (ImportError, ValueError) as exc:  # gi.require_version raises ValueError for a missing typelib
        return str(exc)
    return None


def _message(feature: str, problems: list[tuple[Dependency, str]]) -> str:
    names = " and ".join(dep.name for dep, _ in problems)
    reasons = "; ".join(dict.fromkeys(problem for _, problem in problems))  # TrackEval fails for want of SciPy
    # One line, so a log record or a check-config warning holds all of it; each extra's command once.
    install = "; ".join(dict.fromkeys(line for dep, _ in problems for line in dep.install()))
    return f"{feature} needs {names}, which {sys.executable} cannot import ({reasons}). Install: {install}"


def _python() -> str:
    return shlex.quote(sys.executable)


def extra_command(extra: str) -> str:
    """The command that installs jetsentry's extra `extra` for this interpreter.

    From a checkout, scripts/install_extras.py (what scripts/setup.sh runs): it keeps the
    packages that declare opencv-python from installing it over opencv-python-headless.
    """
    if _INSTALL_EXTRAS.is_file():
        return f"{_python()} {shlex.quote(str(_INSTALL_EXTRAS))} {extra}"
    return f"{_python()} -m pip install {shlex.quote(f'jetsentry[{extra}]')}"


def _extra(extra: str) -> Callable[[], list[str]]:
    return lambda: [extra_command(extra)]


def _system_packages_note() -> str | None:
    """Why this interpreter would not see Debian's python3-* packages once installed, if it would not."""
    if Path(sys.base_prefix).resolve() != Path("/usr"):
        return (f"python3-gi is built for the system's /usr/bin/python3, and {sys.executable} is based on "
                f"{sys.base_prefix}: run jetsentry from a virtual environment made with "
                "/usr/bin/python3 -m venv --system-site-packages DIR (scripts/setup.sh makes .venv so)")
    if sys.prefix != sys.base_prefix:
        try:
            cfg = Path(sys.prefix, "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
        except OSError:
            cfg = ""
        if not re.search(r"^\s*include-system-site-packages\s*=\s*true\s*$", cfg, re.IGNORECASE | re.MULTILINE):
            return (f"the virtual environment {sys.prefix} does not see the system's packages: recreate it "
                    f"with /usr/bin/python3 -m venv --system-site-packages {shlex.quote(sys.prefix)}")
    return None


def _gstreamer_install() -> list[str]:
    sudo = "" if os.geteuid() == 0 else "sudo "
    lines = [f"{sudo}apt-get install {' '.join(GSTREAMER_APT_PACKAGES)} (Debian, Ubuntu, JetPack)"]
    note = _system_packages_note()
    if note is not None:
        lines.append(f"and {note}")
    return lines


def _require_gst_typelibs() -> None:
    import gi

    for namespace in ("Gst", "GstVideo", "GstPbutils"):
        gi.require_version(namespace, "1.0")


def _onnx_runtime_install() -> list[str]:
    return [
        f"{extra_command('cpu')} (CPU, x86-64 or ARM: onnxruntime)",
        f"or {extra_command('gpu')} (desktop NVIDIA GPU with CUDA: onnxruntime-gpu)",
        "or, on a Jetson, NVIDIA's onnxruntime-gpu wheel for its JetPack and Python: "
        f"{_python()} -m pip install onnxruntime_gpu-*.whl (README, Which ONNX Runtime)",
    ]


GSTREAMER = Dependency("GStreamer's Python bindings (PyGObject with the Gst typelibs)", ("gi",),
                       _gstreamer_install, probe=_require_gst_typelibs)
ONNX_RUNTIME = Dependency("ONNX Runtime", ("onnxruntime",), _onnx_runtime_install)
FASTER_COCO_EVAL = Dependency("faster-coco-eval", ("faster_coco_eval",), _extra("eval"))
PYCOCOTOOLS = Dependency("pycocotools", ("pycocotools",), _extra("eval"))
TRACKEVAL = Dependency("TrackEval", ("trackeval",), _extra("eval"))
SCIPY = Dependency("SciPy", ("scipy",), _extra("eval"))


def _cuda_python_install() -> list[str]:
    return [f"{extra_command('gpu')} (cuda-python, with onnxruntime-gpu)",
            f"or {_python()} -m pip install 'cuda-python>=12.6' (cuda.bindings for your CUDA major version)"]


def _tensorrt_install() -> list[str]:
    sudo = "" if os.geteuid() == 0 else "sudo "
    return [f"on a Jetson: {sudo}apt-get install python3-libnvinfer (JetPack's TensorRT; a virtual environment "
            "needs --system-site-packages to see it)",
            f"on x86-64 or SBSA: {_python()} -m pip install tensorrt (NVIDIA's wheels for your CUDA major version)"]


CUDA_PYTHON = Dependency("cuda-python (cuda.bindings)", ("cuda.bindings.driver", "cuda.bindings.nvrtc"),
                         _cuda_python_install)
TENSORRT = Dependency("TensorRT's Python bindings", ("tensorrt",), _tensorrt_install)
PYNVVIDEOCODEC = Dependency("PyNvVideoCodec", ("PyNvVideoCodec",), _extra("nvdec"))


def _nvml_install() -> list[str]:
    return [f"{extra_command('nvml')} (nvidia-ml-py alone; the gpu extra brings it too)",
            f"or {_python()} -m pip install 'nvidia-ml-py>=12.535'"]


NVML = Dependency("nvidia-ml-py (NVML)", ("pynvml",), _nvml_install)
