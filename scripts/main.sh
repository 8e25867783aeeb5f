#!/usr/bin/env bash
# The main job: set up, train (tracked in the local MLflow store), then tag the
# five seed articles and a sample report into out/ (HTML, JSONL, XLSX).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
T=.venv/bin/ofsted-tagger
$T data check
$T train
mkdir -p out
sample=$(.venv/bin/python -c "from pipeline.config import default_params as d; print(d().paths.sample_report)")
$T predict seeds/ "$sample" --output out/tagged.html
$T predict seeds/ "$sample" --output out/tagged.jsonl --no-summary
$T predict seeds/ "$sample" --output out/tagged.xlsx --no-summary
echo "done: open out/tagged.html (also out/tagged.jsonl, out/tagged.xlsx); MLflow runs in mlflow.db"
