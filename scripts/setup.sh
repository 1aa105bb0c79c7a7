#!/usr/bin/env bash
# Install what jetsentry needs on Debian/Ubuntu/JetPack (as root or with sudo) and make
# the virtual environment .venv (system site packages, so Debian's python3-gi /
# GStreamer bindings, an ONNX Runtime installed for the system Python and, on a Jetson,
# TensorRT's python3-libnvinfer are seen).  Safe to run again.
#   scripts/setup.sh            runtime only
#   scripts/setup.sh --eval     plus the libraries of `jetsentry eval`
#   scripts/setup.sh --test     plus evaluation, test and reference dependencies and the tools
#                               of the packaging tests (debhelper, lintian, debootstrap, qemu)
#   scripts/setup.sh --gpu      ONNX Runtime for a desktop NVIDIA GPU (onnxruntime-gpu), not the CPU one
# An ONNX Runtime that .venv can already import (NVIDIA's Jetson wheel, say) is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=()
runtime=cpu
testing=no
for arg in "$@"; do
  case "$arg" in
    --eval) extras+=(eval) ;;
    --test) extras+=(eval test reference); testing=yes ;;
    --gpu) runtime=gpu ;;
    *) echo "usage: scripts/setup.sh [--eval] [--test] [--gpu]" >&2; exit 2 ;;
  esac
done

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

APT_PACKAGES=(
  python3 python3-venv python3-pip python3-gi python3-gst-1.0
  gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gir1.2-gst-rtsp-server-1.0
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  mosquitto mosquitto-clients
)
# The packaging tests (tests/packaging): build the .deb, check it, install it into chroots,
# the arm64 one's second debootstrap stage under qemu.
if [[ $testing == yes ]]; then
  APT_PACKAGES+=(debhelper dpkg-dev fakeroot lintian debootstrap apt-utils qemu-user-static binfmt-support)
  APT_PACKAGES+=(gcc libc6-dev)  # builds the fake libnvcuvid of tests/capture/test_nvcuvid.py
fi
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The system interpreter, not a pyenv/conda one: python3-gi is built for it.
PY=/usr/bin/python3
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv --system-site-packages .venv
fi

# onnxruntime, onnxruntime-gpu and NVIDIA's Jetson wheels install the same package, each
# replacing the other: keep the one that is there, else install the chosen extra.
ort_found=$(.venv/bin/python - 2>/dev/null <<'EOF' || true
import onnxruntime as ort
print(f"ONNX Runtime {ort.__version__} at {ort.__path__[0]} (providers: {', '.join(ort.get_available_providers())})")
EOF
)
if [[ -n "$ort_found" ]]; then
  echo "leaving the $ort_found as it is"
  if [[ $runtime == gpu && $ort_found != *CUDAExecutionProvider* ]]; then
    echo "note: it has no CUDA provider; for onnxruntime-gpu, first: .venv/bin/python -m pip uninstall onnxruntime" >&2
  fi
elif [[ $runtime == gpu && $(uname -m) == aarch64 ]]; then
  echo "onnxruntime-gpu has no aarch64 build in the package index: on a Jetson, install NVIDIA's" \
       "onnxruntime-gpu wheel for your JetPack into .venv (README, Dependencies), then run this again" >&2
  exit 1
else
  extras=("$runtime" "${extras[@]}")
fi

# Like pip install -e ".[extras]", but without the opencv-python that trackeval and Ultralytics declare.
.venv/bin/python scripts/install_extras.py "${extras[@]}"

.venv/bin/python -c "import gi; gi.require_version('Gst', '1.0'); from gi.repository import Gst; Gst.init(None)" \
  || { echo "GStreamer Python bindings not importable from .venv" >&2; exit 1; }
.venv/bin/python -c "import onnxruntime" || { echo "ONNX Runtime not importable from .venv" >&2; exit 1; }
echo "setup done: $(.venv/bin/jetsentry version)"
