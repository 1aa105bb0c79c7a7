#!/bin/bash
# Runs on the lent GPU machine, from the repository root, over what was carried to
# .carry/gpu (data/: model, clip, small wheels, PyNvVideoCodec, the last ONNX Runtime part;
# p0..p4/: the other ONNX Runtime GPU parts, one per call, since a call carries at most
# 64 MiB with the working tree).  Files outside the repository stay while the machine is
# warm, so parts carried by earlier calls wait in /tmp/parts.
#   bash bench/gpu/lease.sh STAGE [ARGS]
#   stages: carry (copy this call's parts), prep, tests, kernel, e2e, quantized, ultralytics, memory, mdwe, nvml, nvcuvid, governor, run
set -u
CARRY=$PWD/.carry/gpu
CODE=$PWD
OUT=${OUT:-/tmp/out}
mkdir -p /tmp/parts /tmp/site /tmp/data "$OUT"
cp -n "$CARRY"/p*/* /tmp/parts/ 2>/dev/null
cp -n "$CARRY"/data/* /tmp/data/ 2>/dev/null
mv -n /tmp/data/ort.part* /tmp/parts/ 2>/dev/null
echo "parts here: $(ls /tmp/parts | tr '\n' ' ')"
[ "${1:-}" = carry ] && exit 0
if [ ! -e /tmp/site/.small ] && ls /tmp/data/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site /tmp/data/*.whl \
    && touch /tmp/site/.small
fi
if [ ! -e /tmp/site/.nvc ] && [ -e /tmp/data/pynvvideocodec-2.2.4.tar.xz ]; then
  tar xJf /tmp/data/pynvvideocodec-2.2.4.tar.xz -C /tmp/site && touch /tmp/site/.nvc
fi
if [ ! -e /tmp/site/onnxruntime ] && [ "$(ls /tmp/parts | wc -l)" -ge 6 ]; then
  cat /tmp/parts/ort.part* > /tmp/ort.tar.xz && tar xJf /tmp/ort.tar.xz -C /tmp/site && rm /tmp/ort.tar.xz
fi
NVLIBS=$(python3 -c "import nvidia, os, glob; print(':'.join(sorted(glob.glob(os.path.join(list(nvidia.__path__)[0], '*', 'lib')))))" 2>/dev/null)
export LD_LIBRARY_PATH=${NVLIBS}:${LD_LIBRARY_PATH:-}
export PYTHONPATH=/tmp/site:$CODE/daemon:$CODE
export PYTHONUNBUFFERED=1 JETSENTRY_GPU_CLIP=/tmp/data/clip.mp4 YOLO_OFFLINE=1
mkdir -p "$CODE/../shared/models" && cp -n /tmp/data/yolov8n-coco.onnx "$CODE/../shared/models/" 2>/dev/null  # where tests look
[ -e /tmp/yolov8n-dyn.onnx ] || python3 "$CODE/bench/gpu/dynamic_batch.py" /tmp/data/yolov8n-coco.onnx /tmp/yolov8n-dyn.onnx
M=engines/models/jetsentry-default
case "${1:-prep}" in
  prep) nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv
        python3 bench/gpu/probe.py /tmp/data/clip.mp4 2>&1 | tee "$OUT/probe.txt" ;;
  tests) shift; timeout 300 python3 -m pytest -q -p no:cacheprovider -c pyproject.toml --rootdir . "$@" 2>&1 | tee "$OUT/tests.txt" | tail -60 ;;
  kernel) timeout 200 python3 bench/gpu/kernel.py --clip /tmp/data/clip.mp4 --out "$OUT" 2>&1 | tail -40 ;;
  e2e) shift; timeout 400 python3 bench/gpu/end_to_end.py --model /tmp/yolov8n-dyn.onnx --clip /tmp/data/clip.mp4 --out "$OUT" "$@" 2>&1 | tail -80 ;;
  memory) shift; python3 bench/gpu/end_to_end.py --model /tmp/yolov8n-dyn.onnx --clip /tmp/data/clip.mp4 --out "$OUT" --memory "$@" 2>&1 | tail -40 ;;
  quantized) timeout 300 python3 bench/gpu/check_quantized_cuda.py --fp32 $M.onnx --fp16 $M.fp16.onnx --int8 $M.int8.onnx \
               --frames engines/samples/sample-scene.mp4 --count 16 --out "$OUT/check_quantized_cuda.json" 2>&1 | tail -30 ;;
  ultralytics) shift; timeout 500 python3 bench/gpu/ultralytics_compare.py --onnx /tmp/data/yolov8n-coco.onnx \
               --dynamic /tmp/yolov8n-dyn.onnx --clip /tmp/data/clip.mp4 --out "$OUT" "$@" 2>&1 | grep -v "^\s*$" | tail -30 ;;
  mdwe) shift; timeout 300 python3 -m tests.support.mdwe_run -m pytest -q -p no:cacheprovider -c pyproject.toml --rootdir . \
          "$@" 2>&1 | tee "$OUT/mdwe.txt" | tail -30 ;;   # the GPU tests under MemoryDenyWriteExecute's rule
  nvml) timeout 120 python3 bench/gpu/nvml_monitor_check.py --out "$OUT" 2>&1 | tail -30 ;;
  nvcuvid) shift; timeout 400 python3 bench/gpu/nvcuvid_probe.py --clip /tmp/data/clip.mp4 --out "$OUT" "$@" 2>&1 | tail -30 ;;
  governor) shift; timeout 400 python3 bench/gpu/governor_gpu.py --providers cuda --out "$OUT" "$@" 2>&1 | tail -40 ;;
  run) shift; "$@" ;;
  *) echo "unknown stage $1" ;;
esac
