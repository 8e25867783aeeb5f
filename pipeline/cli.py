"""The ``ofsted-tagger`` command line: one thin command per stage.

Each command parses options, calls its stage's public functions and reports
errors as one sentence on stderr with a non-zero exit code.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator

import click

from pipeline.config import Params, load_params
from pipeline.errors import InputError, UserError, atomic_write


class Context:
    def __init__(self, params_path: str | None):
        self._path = params_path
        self._params: Params | None = None

    @property
    def params(self) -> Params:
        if self._params is None:
            self._params = load_params(self._path)
        return self._params

    def reload(self) -> Params:
        """Read the params file again (after --search --write-params changed it)."""
        self._params = None
        return self.params


pass_ctx = click.make_pass_decorator(Context)


def fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def run_guarded(fn: Callable[[], int | None]) -> None:
    """Turn UserError into one clear line and a non-zero exit."""
    try:
        code = fn()
    except UserError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted; nothing was written.", 130)
    if code:
        sys.exit(code)


# --------------------------------------------------------------------------- #
# Reading many inputs, tolerating bad ones
# --------------------------------------------------------------------------- #
def iter_documents(paths: Iterable[str], params: Params, errors: list[str], progress: bool = True) -> Iterator:
    """Yield a Document per readable input; record one message per bad input."""
    from tqdm import tqdm

    from pipeline.ingest import document_from_text, ingest_limits, iter_input_files, read_document

    files: list[Path | str] = []
    for p in paths:
        if p == "-":
            files.append("-")
        elif not Path(p).exists():
            errors.append(f"{p}: no such file or directory; check the path.")
        else:
            files.extend(iter_input_files([p]))
    bar = tqdm(files, desc="reading", unit="file", disable=not progress or len(files) < 3, file=sys.stderr)
    for f in bar:
        try:
            if f == "-":
                yield document_from_text(sys.stdin.read(), "stdin", max_text_mb=params.ingest.max_text_mb)
            else:
                yield read_document(f, params.ingest.max_file_mb, **ingest_limits(params.ingest))
        except InputError as exc:
            errors.append(str(exc))
        except Exception as exc:  # a library failing on a malformed file
            errors.append(f"{f}: could not be read ({exc.__class__.__name__}: {exc}); check the file.")


def write_records(records: list[dict], fmt: str, output: str | None, fields: list[str]) -> None:
    """Write records as jsonl or csv to a file (atomically) or stdout."""
    def dump(fh) -> None:
        if fmt == "jsonl":
            for r in records:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        else:
            w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
            w.writeheader()
            for r in records:
                w.writerow({k: (";".join(v) if isinstance(v, list) else v) for k, v in r.items()})

    if output and output != "-":
        with atomic_write(output) as fh:
            dump(fh)
    else:
        buf = io.StringIO()
        dump(buf)
        click.echo(buf.getvalue(), nl=False)


def report_errors(errors: list[str]) -> int:
    for e in errors:
        click.echo(f"error: {e}", err=True)
    return 1 if errors else 0


# --------------------------------------------------------------------------- #
# Commands
# --------------------------------------------------------------------------- #
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--params", "params_path", type=click.Path(dir_okay=False), default=None,
              help="Configuration file (default: params.yaml of the project).")
@click.version_option(package_name="ofsted-tagger")
@click.pass_context
def main(ctx: click.Context, params_path: str | None) -> None:
    """Tag Ofsted children's services inspection reports sentence by sentence."""
    ctx.obj = Context(params_path)


SEGMENT_FIELDS = ["report", "index", "start", "end", "section", "grade", "kind", "text"]


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--output", "-o", default=None, help="Output file (default: stdout).")
@pass_ctx
def segment(ctx: Context, paths: tuple[str, ...], fmt: str, output: str | None) -> None:
    """Cut reports into sentences with their section and grade.

    PATHS are PDF, text, HTML or DOCX files, directories (searched recursively)
    or '-' for standard input.
    """
    def run() -> int:
        from pipeline.segment import segment as cut

        p = ctx.params
        errors: list[str] = []
        records = []
        for doc in iter_documents(paths, p, errors):
            records.extend(s.to_dict() for s in cut(doc, p.segment.max_sentence_chars, p.segment.heading_max_words))
        if not records and not errors:
            raise UserError("the input holds no text to segment; give a report file.")
        if records:
            write_records(records, fmt, output, SEGMENT_FIELDS)
        return report_errors(errors)

    run_guarded(run)


# --------------------------------------------------------------------------- #
# data: corpus, split, labels, checks, data card, weak labels
# --------------------------------------------------------------------------- #
@main.group()
def data() -> None:
    """Build and check the dataset (sentences, split, hand and weak labels)."""


@data.command("build")
@pass_ctx
def data_build(ctx: Context) -> None:
    """Segment the corpus and seeds into data/build/sentences.jsonl and weak-label them."""
    def run() -> None:
        from pipeline.data import build_sentences, build_weak_labels

        out = build_sentences(ctx.params)
        weak = build_weak_labels(ctx.params)
        click.echo(f"wrote {out} and {weak}")

    run_guarded(run)


@data.command("split")
@click.option("--force", is_flag=True, help="Overwrite the committed split (changes every metric).")
@pass_ctx
def data_split(ctx: Context, force: bool) -> None:
    """Create data/split.csv: councils assigned to train/dev/test (fixed seed)."""
    def run() -> None:
        from pipeline.data import SEED_COUNCIL, council_of, make_split, read_metadata, split_path, write_split

        p = ctx.params
        path = split_path(p)
        if path.exists() and not force:
            raise UserError(f"{path}: the split exists and is committed; pass --force to replace it.")
        meta = read_metadata(p.paths.corpus_metadata)
        split = make_split([council_of(r, meta) for r in meta] + [SEED_COUNCIL], p.split.seed,
                           p.split.dev_fraction, p.split.test_fraction)
        write_split(path, split)
        click.echo(f"wrote {path} ({len(split)} councils)")

    run_guarded(run)


@data.command("merge")
@pass_ctx
def data_merge(ctx: Context) -> None:
    """Merge helper label batches and adjudications into data/labels/hand.csv."""
    def run() -> None:
        from pipeline.data import labels_path, merge_batches

        n = merge_batches(ctx.params)
        click.echo(f"wrote {labels_path(ctx.params)} ({n} rows)")

    run_guarded(run)


@data.command("check")
@pass_ctx
def data_check(ctx: Context) -> None:
    """Verify schema, labels, duplicates, empty text and split leakage; print counts."""
    def run() -> int:
        from pipeline.data import check_data

        result = check_data(ctx.params)
        for line in result.report:
            click.echo(line)
        for w in result.warnings:
            click.echo(f"warning: {w}", err=True)
        for e in result.errors:
            click.echo(f"error: {e}", err=True)
        if result.errors:
            click.echo(f"data check failed: {len(result.errors)} problem(s).", err=True)
            return 1
        click.echo("data check passed")
        return 0

    run_guarded(run)


@data.command("card")
@pass_ctx
def data_card(ctx: Context) -> None:
    """Recompute counts, agreement and weak-label figures into data/README.md."""
    def run() -> None:
        from pipeline.data import write_data_card

        path = write_data_card(ctx.params)
        click.echo(f"wrote {path}")

    run_guarded(run)


@data.command("weak")
@pass_ctx
def data_weak(ctx: Context) -> None:
    """Print each labelling function's coverage and accuracy against the hand labels."""
    def run() -> None:
        from pipeline.data import weak_label_report

        for line in weak_label_report(ctx.params):
            click.echo(line)

    run_guarded(run)


# --------------------------------------------------------------------------- #
# label: the annotation tool
# --------------------------------------------------------------------------- #
@main.command("label")
@click.option("--report", "reports", multiple=True, help="Only sentences of this report id (repeatable).")
@click.option("--uncertain", is_flag=True, help="Serve the sentences the current model is least sure of first.")
@click.option("--annotator", default="annotator", show_default=True, help="Your name, stored with each label.")
@click.option("--label-file", type=click.Path(dir_okay=False), default=None,
              help="Where labels go (default: data/labels/hand.csv).")
@click.option("--seed", default=0, show_default=True, help="Shuffle seed for the queue.")
@pass_ctx
def label_cmd(ctx: Context, reports: tuple[str, ...], uncertain: bool, annotator: str,
              label_file: str | None, seed: int) -> None:
    """Label sentences by hand in the terminal; resumes where you stopped.

    Shows each sentence with its neighbours and section. Keys: s/w/r/n for the
    type, then theme numbers; u undoes, k skips, q quits. Every label is
    written to the label file at once.
    """
    def run() -> None:
        from pipeline.annotate import Session, items_from_sentences, run_terminal
        from pipeline.data import labels_path, load_sentences

        p = ctx.params
        rows = load_sentences(p)
        order = None
        if uncertain:
            from pipeline.predict import load_model

            model = load_model(None, p)
            candidates = [r for r in rows if not reports or r["report"] in reports]
            order = model.uncertainty_order([r["text"] for r in candidates], [r["id"] for r in candidates],
                                            [r.get("section", "") for r in candidates])
        items = items_from_sentences(rows, reports, seed, order)
        session = Session.open(Path(label_file) if label_file else labels_path(p), items, annotator)
        run_terminal(session, ask=lambda q: click.prompt(q, default="", show_default=False), say=click.echo)

    run_guarded(run)


# --------------------------------------------------------------------------- #
# train / predict / evaluate
# --------------------------------------------------------------------------- #
@main.command()
@click.option("--register/--no-register", default=True, show_default=True,
              help="Register the model in the MLflow registry (alias moved only if it beats the champion on dev).")
@click.option("--search", is_flag=True, help="Run the hyperparameter grid (nested MLflow runs) before training.")
@click.option("--write-params", is_flag=True, help="With --search: write the best parameters back to params.yaml.")
@pass_ctx
def train(ctx: Context, register: bool, search: bool, write_params: bool) -> None:
    """Train the type and theme classifiers, track the run in MLflow, export the champion to models/."""
    def run() -> None:
        from pipeline.evaluate import summary_table
        from pipeline.train import configure_tracking, run_search, run_training

        p = ctx.params
        if write_params and not search:
            raise UserError("--write-params only makes sense with --search.")
        click.echo(f"MLflow tracking: {configure_tracking(p)}")
        if search:
            best, rows = run_search(p, write_params=write_params, log=click.echo)
            click.echo(f"best on dev: {best}" + (" (written to params.yaml)" if write_params else ""))
            p = ctx.reload() if write_params else p
        result = run_training(p, register=register, log=click.echo)
        click.echo("\nDEV\n" + summary_table(result.dev) + "\n\nTEST\n" + summary_table(result.test))
        if register:
            state = "promoted to @" + p.tracking.alias if result.promoted else (
                f"not promoted (champion dev macro-F1 {result.previous_best:.3f})")
            click.echo(f"\nregistered {p.tracking.registered_model} version {result.version}: {state}")
        if result.exported:
            click.echo(f"exported champion to {result.exported}")

    run_guarded(run)


PREDICT_FORMATS = ["jsonl", "csv", "xlsx", "html"]


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(PREDICT_FORMATS), default=None,
              help="Output format (default: from --output's suffix, else jsonl).")
@click.option("--output", "-o", default=None, help="Output file (default: stdout; xlsx/html need a file).")
@click.option("--model", "model_uri", default=None,
              help="A models/ directory, a .joblib file or an MLflow URI such as models:/ofsted-tagger@champion "
                   "(default: the exported champion).")
@click.option("--sentences", is_flag=True, help="Each non-empty input line is one sentence; no segmentation.")
@click.option("--summary/--no-summary", default=True, show_default=True, help="Print the per-report summary table.")
@pass_ctx
def predict(ctx: Context, paths: tuple[str, ...], fmt: str | None, output: str | None, model_uri: str | None,
            sentences: bool, summary: bool) -> None:
    """Tag every sentence of reports (PDF, text, HTML, DOCX, directories or '-').

    One record per sentence: report, index, section, text, type, confidence,
    type_scores, themes, theme_scores and evidence words.
    """
    def run() -> int:
        from pipeline.predict import flat_record, load_model, summarise, summary_text, tag_document, tag_sentences

        p = ctx.params
        chosen = fmt or (Path(output).suffix.lstrip(".").lower() if output and output != "-" else "jsonl")
        if chosen not in PREDICT_FORMATS:
            raise UserError(f"{output}: unknown output format '{chosen}'; use --format {'|'.join(PREDICT_FORMATS)}.")
        if chosen in ("xlsx", "html") and (not output or output == "-"):
            raise UserError(f"--format {chosen} needs --output FILE.")
        model = load_model(model_uri, p)
        errors: list[str] = []
        records: list[dict] = []
        if sentences:
            for path in paths:
                try:
                    raw = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    errors.append(f"{path}: cannot read sentences ({exc.__class__.__name__}); give a UTF-8 text file.")
                    continue
                lines = [ln.strip() for ln in raw.splitlines() if ln.strip()]
                records.extend(tag_sentences(model, lines, "stdin" if path == "-" else Path(path).stem))
        else:
            for doc in iter_documents(paths, p, errors):
                records.extend(tag_document(model, doc, p))
        if not records:
            errors.append("no sentences to tag in the input; give report files or non-empty text.")
            return report_errors(errors)
        summaries = summarise(records)
        if chosen == "xlsx":
            from pipeline.report import write_xlsx

            write_xlsx(records, summaries, Path(output))
        elif chosen == "html":
            from pipeline.report import write_html

            write_html(records, summaries, Path(output))
        elif chosen == "csv":
            write_records([flat_record(r) for r in records], "csv", output, list(flat_record(records[0])))
        else:
            write_records(records, "jsonl", output, [])
        if summary:
            click.echo(summary_text(summaries), err=bool(not output or output == "-"))
        return report_errors(errors)

    run_guarded(run)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--model", "model_uri", default=None, help="As for predict (default: the exported champion).")
@click.option("--no-section", is_flag=True, help="Ignore the section column (score sentences on their own).")
@pass_ctx
def evaluate(ctx: Context, file: str, model_uri: str | None, no_section: bool) -> None:
    """Score a labelled CSV or JSONL (columns text, type, themes; optional section) and print the metrics."""
    def run() -> None:
        from pipeline.evaluate import summary_table
        from pipeline.predict import load_model
        from pipeline.train import evaluate_rows

        from pipeline.label import read_eval_file

        rows = read_eval_file(Path(file))
        if no_section:
            import dataclasses

            rows = [dataclasses.replace(r, section="") for r in rows]
        model = load_model(model_uri, ctx.params)
        metrics, _ = evaluate_rows(model, rows)
        click.echo(summary_table(metrics))

    run_guarded(run)


# --------------------------------------------------------------------------- #
# serve
# --------------------------------------------------------------------------- #
@main.command()
@click.option("--host", default=None, help="Interface to bind (default: serve.host, loopback).")
@click.option("--port", type=int, default=None, help="Port (default: serve.port).")
@click.option("--model", "model_uri", default=None, help="As for predict (default: the exported champion).")
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
@click.pass_context
def serve(cctx: click.Context, host: str | None, port: int | None, model_uri: str | None, workers: int) -> None:
    """Serve the HTTP API and the web page (http://127.0.0.1:8000/ by default)."""
    ctx: Context = cctx.obj

    def run() -> None:
        from pipeline.serve import run_server

        p = ctx.params
        run_server(ctx._path, model_uri, host or p.serve.host, port or p.serve.port, workers)

    run_guarded(run)


# --------------------------------------------------------------------------- #
# analyse / compare
# --------------------------------------------------------------------------- #
def _tagged_inputs(paths: Iterable[str], p: Params, model_uri: str | None, errors: list[str]):
    """Records and text-derived metadata for report files, or records from predict's JSONL."""
    from pipeline.analyse import is_tagged_jsonl, read_tagged_jsonl, report_metadata_from_text
    from pipeline.predict import group_by_report, load_model, tag_document

    records: list[dict] = []
    metas: dict = {}
    files = []
    for raw in paths:
        if is_tagged_jsonl(Path(raw)):
            recs = read_tagged_jsonl(Path(raw))
            records.extend(recs)
            for rep, rr in group_by_report(recs).items():
                metas[rep] = report_metadata_from_text(rep, "", rr)
        else:
            files.append(raw)
    if files:
        model = load_model(model_uri, p)
        for doc in iter_documents(files, p, errors):
            recs = tag_document(model, doc, p)
            records.extend(recs)
            metas[doc.report_id] = report_metadata_from_text(doc.report_id, doc.title, recs)
    return records, metas


def _held_out_reports(p: Params, reports: Iterable[str]) -> set[str] | None:
    """Reports whose council is outside the model's training split (dev, test, or unknown to it)."""
    from pipeline.data import council_of, read_metadata, read_split, split_path

    try:
        split = read_split(split_path(p))
        meta = read_metadata(p.paths.corpus_metadata)
    except UserError:
        return None
    return {r for r in reports if split.get(council_of(r, meta)) != "train"}


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--output", "-o", "outdir", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--metadata", type=click.Path(dir_okay=False), default=None,
              help="CSV like shared/corpus/reports.csv (report_id, local_authority, dates, grades).")
@click.option("--model", "model_uri", default=None, help="As for predict (default: the exported champion).")
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True)
@click.option("--spark-master", default="local[2]", show_default=True, help="Spark master URL for --engine spark.")
@pass_ctx
def analyse(ctx: Context, paths: tuple[str, ...], outdir: str, metadata: str | None, model_uri: str | None,
            engine: str, spark_master: str) -> None:
    """Tag a whole archive and write sentences.parquet, reports.csv, summary.xlsx and an index.html dashboard.

    PATHS are report files/directories, or JSONL files written by 'predict'. Prints the
    Spearman correlation of net scores with Ofsted's grades where grades are known.
    """
    def run() -> int:
        from pipeline.analyse import correlation_text, grade_correlations, read_metadata_csv, report_table, write_outputs

        p = ctx.params
        errors: list[str] = []
        if engine == "spark":
            from pipeline.spark import tag_with_spark

            records, metas = tag_with_spark(paths, p, model_uri, spark_master, errors)
        else:
            records, metas = _tagged_inputs(paths, p, model_uri, errors)
        if not records:
            errors.append("nothing to analyse: no readable reports or tagged sentences in the input.")
            return report_errors(errors)
        if metadata:
            given = read_metadata_csv(Path(metadata))
            metas.update({k: v for k, v in given.items() if k in metas})
        rows = report_table(records, metas)
        corrs = grade_correlations(rows, _held_out_reports(p, [r["report"] for r in rows]))
        written = write_outputs(records, metas, Path(outdir), corrs)
        click.echo(f"{len(rows)} reports, {len(records)} sentences -> {written['index'].parent}")
        click.echo(correlation_text(corrs))
        return report_errors(errors)

    run_guarded(run)


@main.command()
@click.argument("report_a")
@click.argument("report_b")
@click.option("--output", "-o", default=None, help="Also write the comparison as HTML to this file.")
@click.option("--model", "model_uri", default=None, help="As for predict (default: the exported champion).")
@pass_ctx
def compare(ctx: Context, report_a: str, report_b: str, output: str | None, model_uri: str | None) -> None:
    """What changed between two reports of a council, theme by theme (A earlier, B later)."""
    def run() -> int:
        from pipeline.analyse import compare_html, compare_reports, compare_text

        p = ctx.params
        errors: list[str] = []
        ra, _ = _tagged_inputs([report_a], p, model_uri, errors)
        rb, _ = _tagged_inputs([report_b], p, model_uri, errors)
        if errors:
            return report_errors(errors)
        changes = compare_reports(ra, rb)
        name_a, name_b = Path(report_a).stem, Path(report_b).stem
        click.echo(compare_text(name_a, name_b, changes))
        if output:
            with atomic_write(output) as fh:
                fh.write(compare_html(name_a, name_b, changes))
        return 0

    run_guarded(run)
