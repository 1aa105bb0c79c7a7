#!/usr/bin/env bash
# Start the default-model training on a lent GPU machine (see engines/models/README.md).
# Wheels for Ultralytics and its few missing requirements are expected in .whl/.
set -euo pipefail
export YOLO_OFFLINE=1 PYTHONPATH="$PWD/daemon:/tmp/site"
pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
python3 -c "import ultralytics, torch; print('ultralytics', ultralytics.__version__, 'torch', torch.__version__, torch.cuda.get_device_name(0))"
mkdir -p /tmp/train
cp -r engines/recipes /tmp/train/recipes
python3 engines/recipes/train_default.py --recipe /tmp/train/recipes/jetsentry-default.yaml --work /tmp/train --out /tmp/train/out --stage data --jobs 16
nohup python3 engines/recipes/train_default.py --recipe /tmp/train/recipes/jetsentry-default.yaml --work /tmp/train --out /tmp/train/out --stage train > /tmp/train/train.log 2>&1 &
echo "training started, pid $!"
