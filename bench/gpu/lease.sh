#!/bin/bash
# Runs on the lent GPU machine, from the repository root, over what was carried to
# .carry/i10 (code/, data/, p1..p5/: the project's code, model, clip, wheels, ONNX Runtime
# parts).  Files outside the repository stay while the machine is warm, so parts carried
# by earlier calls wait in /tmp/parts.
#   bash .carry/i10/code/bench/gpu/lease.sh STAGE   (stages: prep, tests, kernel, e2e, latency, memory)
set -u
CARRY=$PWD/.carry/i10
CODE=$CARRY/code
OUT=${OUT:-/tmp/out}
mkdir -p /tmp/parts /tmp/site /tmp/data "$OUT"
cp -n "$CARRY"/p*/* /tmp/parts/ 2>/dev/null; ls -la /tmp/parts /tmp/data | tail -n +1 | grep -c . >/dev/null
cp -n "$CARRY"/data/* /tmp/data/ 2>/dev/null
if [ ! -e /tmp/site/.small ] && ls /tmp/data/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site /tmp/data/*.whl \
    && touch /tmp/site/.small
fi
if [ ! -e "/tmp/site/pynvvideocodec." ] && [ -e "$CARRY/data/pynvvideocodec-2.2.4.tar.xz" ]; then cp "$CARRY/data/pynvvideocodec-2.2.4.tar.xz" /tmp/data/;
  tar xJf /tmp/data/pynvvideocodec-2.2.4.tar.xz -C /tmp/site
fi
if [ ! -e /tmp/site/onnxruntime ] && [ "$(ls /tmp/parts | wc -l)" -ge 4 ]; then
  cat /tmp/parts/ort.part* > /tmp/ort.tar.xz && tar xJf /tmp/ort.tar.xz -C /tmp/site && rm /tmp/ort.tar.xz
fi
NVLIBS=$(python3 -c "import nvidia, os, glob; print(':'.join(sorted(glob.glob(os.path.join(list(nvidia.__path__)[0], '*', 'lib')))))" 2>/dev/null)
export LD_LIBRARY_PATH=${NVLIBS}:${LD_LIBRARY_PATH:-}
export PYTHONPATH=/tmp/site:$CODE/daemon:$CODE
export PYTHONUNBUFFERED=1 JETSENTRY_GPU_CLIP=/tmp/data/clip.mp4
mkdir -p "$CARRY/shared/models" && cp -n /tmp/data/yolov8n-coco.onnx "$CARRY/shared/models/" 2>/dev/null  # where tests/infer/conftest.py looks
[ -e /tmp/yolov8n-dyn.onnx ] || python3 "$CODE/bench/gpu/dynamic_batch.py" /tmp/data/yolov8n-coco.onnx /tmp/yolov8n-dyn.onnx
cd "$CODE"
case "${1:-prep}" in
  prep) nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv
        python3 bench/gpu/probe.py /tmp/data/clip.mp4 2>&1 | tee "$OUT/probe.txt" ;;
  tests) shift; timeout 300 python3 -m pytest -q -p no:cacheprovider -c pyproject.toml --rootdir . "$@" 2>&1 | tee "$OUT/tests.txt" | tail -60 ;;
  kernel) timeout 200 python3 bench/gpu/kernel.py --clip /tmp/data/clip.mp4 --out "$OUT" 2>&1 | tail -40 ;;
  e2e) shift; timeout 400 python3 bench/gpu/end_to_end.py --model /tmp/yolov8n-dyn.onnx --clip /tmp/data/clip.mp4 --out "$OUT" "$@" 2>&1 | tail -80 ;;
  *) echo "unknown stage $1" ;;
esac
