"""Score whole reports of a split's councils as a user tags them: `predict report.pdf` (our PDF
reader, segmentation, sections and neighbours), matched with the hand labels of their sentences.

    .venv/bin/python scripts/score_reports.py                  # the test councils' original PDFs
    .venv/bin/python scripts/score_reports.py --split dev      # the dev councils' PDFs
    .venv/bin/python scripts/score_reports.py --text           # every report of the split, as corpus text
    .venv/bin/python scripts/score_reports.py --model models:/ofsted-tagger@champion

The hand labels were read on the corpus text (pypdf's extraction); a report's PDF goes through
pypdfium2 and our cleaning instead, so this measures the whole path a new user takes (issue 10's
"whole PDFs" row) on the councils the model never saw. The same as
`ofsted-tagger evaluate data/labels/hand.csv --reports PDF...` with the split's PDFs listed.
About 25 seconds for the 20 test-council PDFs (reading the 118,812 labels and the model included).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.config import default_params  # noqa: E402
from pipeline.data import labels_path, split_report_files  # noqa: E402
from pipeline.evaluate import score_records, summary_table  # noqa: E402
from pipeline.label import read_eval_file  # noqa: E402
from pipeline.predict import load_model, tag_paths  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=("dev", "test"), default="test")
    ap.add_argument("--text", action="store_true", help="the split's corpus text files instead of its PDFs")
    ap.add_argument("--model", default=None, help="as for predict (default: the exported champion)")
    args = ap.parse_args()
    params = default_params()
    paths = [str(p) for p in split_report_files(params, args.split, pdf=not args.text)]
    errors: list[str] = []
    score = score_records(tag_paths(load_model(args.model, params), paths, params, errors),
                          read_eval_file(labels_path(params)))
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    kind = "corpus text files" if args.text else "PDFs"
    print(f"{args.split} councils, {len(paths)} {kind}: scored {score.found} of the {score.labelled} labelled "
          f"sentences of their reports")
    if score.found:
        print(summary_table(score.metrics))
    sys.exit(1 if errors or not score.found else 0)


if __name__ == "__main__":
    main()
