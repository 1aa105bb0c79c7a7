#!/usr/bin/env bash
# Train the default model on a lent GPU machine in bounded jobs (see engines/models/README.md).
#   device_train.sh DEADLINE_S   set up if needed, then train (resuming from .carry/last.pt or
#                                the machine's own last.pt) until the first epoch end past DEADLINE_S;
#                                copies last.pt/best.pt/results.csv to $OUT.
# Wheels for Ultralytics and its few missing requirements are expected in .whl/.
set -uo pipefail
deadline=${1:-500}
export YOLO_OFFLINE=1 PYTHONPATH="$PWD/daemon:/tmp/site"
work=/tmp/train
recipe=engines/recipes/jetsentry-default.yaml
[[ -d /tmp/site/ultralytics ]] || pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
python3 -c "import ultralytics, torch; print('ultralytics', ultralytics.__version__, 'torch', torch.__version__, torch.cuda.get_device_name(0))"
python3 engines/recipes/train_default.py --recipe $recipe --work $work --out $work/out --stage data --jobs 16 | tail -3
if [[ ! -f $work/runs/default/weights/last.pt && -f .carry/last.pt ]]; then
  mkdir -p $work/runs/default/weights && cp .carry/last.pt $work/runs/default/weights/last.pt
fi
python3 engines/recipes/train_default.py --recipe $recipe --work $work --out $work/out --stage train \
  --deadline-s "$deadline" > $work/train.log 2>&1
echo "train exit $?"
tr '\r' '\n' < $work/train.log | grep -vE '^\s*$|it/s' | tail -15
mkdir -p "$OUT"
cp $work/runs/default/weights/last.pt $work/runs/default/weights/best.pt $work/runs/default/results.csv "$OUT"/ 2>/dev/null
tail -3 $work/runs/default/results.csv
