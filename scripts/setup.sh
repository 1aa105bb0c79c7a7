#!/usr/bin/env bash
# Install what jetsentry needs on Debian/Ubuntu (as root or with sudo) and make
# the virtual environment .venv (system site packages, so Debian's python3-gi /
# GStreamer bindings and, on a Jetson, TensorRT's python3-libnvinfer are seen).
#   scripts/setup.sh            runtime only
#   scripts/setup.sh --test     plus test and evaluation dependencies
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

APT_PACKAGES=(
  python3 python3-venv python3-pip python3-gi python3-gst-1.0
  gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gir1.2-gst-rtsp-server-1.0
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  mosquitto mosquitto-clients
)
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
extras=""
if ((want_test)); then extras="[eval,test,reference]"; fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"
.venv/bin/python -c "import gi; gi.require_version('Gst', '1.0'); from gi.repository import Gst; Gst.init(None)" \
  || { echo "GStreamer Python bindings not importable from .venv" >&2; exit 1; }
echo "setup done: $(.venv/bin/jetsentry version)"
