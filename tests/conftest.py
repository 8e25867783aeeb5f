"""Shared fixtures: the real corpus and seeds, the project's params."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import Params, default_params

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def params() -> Params:
    return default_params()


@pytest.fixture(scope="session")
def corpus_pdfs(params: Params) -> list[Path]:
    pdfs = sorted(params.paths.corpus_pdf.glob("*.pdf"))
    assert len(pdfs) == 108, f"expected the 108 corpus PDFs under {params.paths.corpus_pdf}"
    return pdfs


@pytest.fixture(scope="session")
def seeds(params: Params) -> list[Path]:
    files = sorted(params.paths.seeds.glob("*.txt"))
    assert len(files) == 5
    return files


def write_params(tmp: Path, serve: dict | None = None, ingest: dict | None = None, model: dict | None = None,
                 **paths: Path) -> Path:
    """A copy of params.yaml with absolute paths, some pointed into ``tmp``, and serve/ingest/model overrides."""
    import yaml

    base = default_params()
    raw = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    raw["paths"] = {k: str(getattr(base.paths, k)) for k in raw["paths"]}
    raw["paths"].update({k: str(v) for k, v in paths.items()})
    raw["serve"].update(serve or {})
    raw["ingest"].update(ingest or {})
    raw["model"].update(model or {})
    out = tmp / "params.yaml"
    out.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return out


# model overrides for tests of the training mechanics: no neighbours for the theme tagger, which would
# segment the ~400 reports small_data's rows come from (about 14 s in each training process), and no
# written sentences (44,000 rows beside small_data's 6,000); the session's ``trained`` model and
# tests/model exercise both
MECHANICS_MODEL = {"theme_context_weight": 0.0, "use_written": False}


def small_data(tmp: Path, train_rows: int = 6000, held_out_rows: int = 1000) -> Path:
    """A data/ directory with a fixed sample of the hand labels (every split represented) and the
    council split: for tests of the training *mechanics* (CLI, registry, tracking server), which
    need a real model but not one fitted on every label (write their params with
    ``model=MECHANICS_MODEL``)."""
    import csv
    import shutil

    from pipeline.data import council_of, read_metadata, read_split

    p = default_params()
    src = p.paths.data
    split, meta = read_split(src / "split.csv"), read_metadata(p.paths.corpus_metadata)
    with (src / "labels" / "hand.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    keep, seen = [], {"train": 0, "dev": 0, "test": 0}
    for r in rows:  # hand.csv is in a fixed order: the first rows of each split
        side = split.get(council_of(r["report"], meta), "train")
        limit = train_rows if side == "train" else held_out_rows
        if seen[side] < limit:
            seen[side] += 1
            keep.append(r)
    out = tmp / "data"
    (out / "labels").mkdir(parents=True)
    shutil.copy(src / "split.csv", out / "split.csv")
    with (out / "labels" / "hand.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(keep)
    shutil.copytree(src / "labels" / "written", out / "labels" / "written")
    return out


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> dict:
    """Train once for the session into a private MLflow store and models/ directory."""
    import os

    from pipeline.config import load_params
    from pipeline.tracking import run_training

    tmp = tmp_path_factory.mktemp("trained")
    pfile = write_params(tmp, models=tmp / "models", mlflow_db=tmp / "mlflow.db", mlflow_artifacts=tmp / "mlruns")
    saved = os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        p = load_params(pfile)
        result = run_training(p, register=True, log=lambda *_: None)
    finally:
        if saved is not None:
            os.environ["MLFLOW_TRACKING_URI"] = saved
    return {"params_file": pfile, "params": p, "result": result, "model_dir": tmp / "models" / "champion"}


@pytest.fixture(scope="session")
def model(trained):
    from pipeline.predict import load_model

    return load_model(str(trained["model_dir"]), trained["params"])


# --------------------------------------------------------------------------- #
# Synthetic data for the fast tier: no corpus model, no MLflow
# --------------------------------------------------------------------------- #
SUBJECTS = {
    "leadership_governance": "senior leaders' oversight",
    "performance_quality_assurance": "the auditing of case files",
    "workforce": "the recruitment of social workers",
    "management_oversight": "supervision by managers",
    "front_door": "the screening of referrals at the front door",
    "early_help": "the early help offer",
    "assessment_planning": "assessment and planning for children",
    "child_protection": "child protection enquiries",
    "domestic_abuse_neglect": "the response to domestic abuse",
    "missing_exploitation": "return home interviews after missing episodes",
    "disabled_children": "support for disabled children",
    "children_in_care": "placement stability for children in care",
    "fostering_adoption": "the assessment of foster carers",
    "care_leavers": "pathway plans for care leavers",
    "partnership": "information-sharing with the police",
    "voice_of_child": "direct work capturing children's wishes and feelings",
    "allegations": "the management of allegations against professionals",
    "vulnerable_groups": "support for homeless 16- and 17-year-olds",
}
TEMPLATES = {
    "strength": ["{s} is effective and timely.", "Leaders ensure that {s} is strong and well established."],
    "weakness": ["{s} is not always effective and too many children wait.", "There are delays in {s}, which is poor."],
    "recommendation": ["Ensure that {s} improves.", "The local authority should improve {s}."],
    "neutral": ["Inspectors looked at {s} during the visit in 2024.", "The council said {s} was discussed on 3 May."],
}


def synthetic_rows(variant: int = 0):
    """Labelled sentences written for the tests: every type x theme, two wordings each (4 x 18 = 72 rows)."""
    from pipeline.label import LabelRow

    rows = []
    for theme, subject in SUBJECTS.items():
        for typ, templates in TEMPLATES.items():
            text = templates[variant % 2].format(s=subject)
            text = text[0].upper() + text[1:]
            section = "What needs to improve?" if typ == "recommendation" else ""
            themes = () if typ == "neutral" else (theme,)
            rows.append(LabelRow(f"{theme}-{typ}-{variant}", "synthetic", section, text, typ, themes, "test"))
    return rows


@pytest.fixture(scope="session")
def tiny_model():
    """A TaggerModel fitted in a second on the synthetic sentences, with the project's hyperparameters."""
    from pipeline.train import fit_model

    return fit_model(synthetic_rows(0), synthetic_rows(1), default_params().model)


# Tests that use these fixtures train on the corpus or start servers: they belong to the slow tier.
SLOW_FIXTURES = {"trained", "model", "server", "browser", "analysed", "mlflow_server", "tiny_server",
                 "axe_violations"}


def pytest_collection_modifyitems(config, items):
    unmarked = [it.nodeid for it in items if SLOW_FIXTURES & set(getattr(it, "fixturenames", ()))
                and it.get_closest_marker("slow") is None]
    if unmarked:
        raise pytest.UsageError("tests using a trained corpus model or a server must be marked slow: "
                                + ", ".join(unmarked))


# --------------------------------------------------------------------------- #
# Real report sentences with their hand labels: records as the tagger shapes them, no model
# --------------------------------------------------------------------------- #
def hand_records(councils: set[str]) -> tuple[list[dict], dict]:
    """Every hand-labelled sentence of these councils' corpus reports (data/labels/hand.csv, adjudicated
    labels applied) as a tagged record with confidence 1, and each report's council and date."""
    import csv
    import re

    from pipeline.data import ReportMeta
    from pipeline.schema import THEMES, TYPES

    labels = ROOT / "data" / "labels"
    with (labels / "adjudicated.csv").open(encoding="utf-8", newline="") as fh:
        adjudicated = {r["id"]: r for r in csv.DictReader(fh)}
    records: list[dict] = []
    metas: dict = {}
    seen: dict[str, int] = {}
    with (labels / "hand.csv").open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            m = re.match(r"(.*)_(\d{4}-\d\d-\d\d)$", r["report"])
            if not m or m.group(1) not in councils:
                continue
            label = adjudicated.get(r["id"], r)
            themes = [t for t in label["themes"].split(";") if t]
            n = seen[r["report"]] = seen.get(r["report"], -1) + 1
            records.append({"report": r["report"], "index": n, "section": r["section"], "grade": None,
                            "kind": "sentence", "text": r["text"], "type": label["type"], "confidence": 1.0,
                            "type_scores": {t: float(t == label["type"]) for t in TYPES}, "themes": themes,
                            "theme_scores": {t: float(t in themes) for t in THEMES}, "evidence": []})
            metas[r["report"]] = ReportMeta(r["report"], m.group(1), m.group(2))
    return records, metas
