"""The ``ofsted-tagger`` command line: one thin command per stage.

Each command parses its options, calls one function of its stage and prints the
result; problems are reported as one sentence on stderr with a non-zero exit code.

Each command imports its stage inside its body: that is for start-up time only
(``segment`` and ``data check`` should not pay for scikit-learn, MLflow, FastAPI or
pandas); none of these imports avoids a cycle.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import click

from pipeline.config import Params, load_params
from pipeline.errors import UserError, atomic_write, check_output_file, written_outputs
from pipeline.schema import SENTENCE_FIELDS


class Context:
    """The options every command shares: the params file, read once when first needed."""

    def __init__(self, params_path: str | None):
        self.params_path = params_path
        self._params: Params | None = None

    @property
    def params(self) -> Params:
        if self._params is None:
            self._params = load_params(self.params_path)
        return self._params


pass_ctx = click.make_pass_decorator(Context)


def fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def run_guarded(fn: Callable[[], int | None]) -> None:
    """Turn UserError into one clear line and a non-zero exit; an interrupt says what was written."""
    before = len(written_outputs())
    try:
        code = fn()
    except UserError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        done = written_outputs()[before:]
        if not done:
            fail("interrupted; nothing was written (existing outputs are untouched).", 130)
        shown = ", ".join(str(p) for p in done[:3]) + (f" and {len(done) - 3} more" if len(done) > 3 else "")
        fail(f"interrupted; written in full before the interrupt: {shown}; nothing else was written.", 130)
    if code:
        sys.exit(code)


def output_file(output: str | None) -> str | None:
    """``--output`` checked before any work: None and '-' mean standard output."""
    if output is not None and output != "-":
        check_output_file(output)
    return output


def report_errors(errors: list[str]) -> int:
    for e in errors:
        click.echo(f"error: {e}", err=True)
    return 1 if errors else 0


class OneLineErrors(click.Group):
    """The top command: click's usage errors (a bad option value, a missing argument) are one line
    ``error: ...`` with exit code 2, like every other error, instead of a usage block."""

    def main(self, *args, **kwargs):  # type: ignore[override]
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "ofsted-tagger"
            fail(f"{exc.format_message().rstrip('.')}; see '{where} --help'.", exc.exit_code)
        except click.ClickException as exc:
            fail(exc.format_message(), exc.exit_code)
        except click.Abort:
            fail("aborted.", 1)


# --------------------------------------------------------------------------- #
# Commands
# --------------------------------------------------------------------------- #
@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--params", "params_path", type=click.Path(dir_okay=False), default=None,
              help="Configuration file (default: params.yaml of the project).")
@click.version_option(package_name="ofsted-tagger")
@click.pass_context
def main(ctx: click.Context, params_path: str | None) -> None:
    """Tag Ofsted children's services inspection reports sentence by sentence."""
    ctx.obj = Context(params_path)


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--output", "-o", default=None, help="Output file (default: stdout).")
@pass_ctx
def segment(ctx: Context, paths: tuple[str, ...], fmt: str, output: str | None) -> None:
    """Cut reports into sentences with their section, grade and (PDFs) page.

    PATHS are PDF, text, HTML or DOCX files, directories (searched recursively)
    or '-' for standard input.
    """
    def run() -> int:
        from pipeline.inputs import segment_paths
        from pipeline.report import write_records

        output_file(output)
        errors: list[str] = []
        records = segment_paths(paths, ctx.params, errors)
        if not records and not errors:
            raise UserError("the input holds no text to segment; give a report file.")
        if records:
            write_records(records, fmt, output, SENTENCE_FIELDS)
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
        from pipeline.data import build_dataset

        out, weak = build_dataset(ctx.params)
        click.echo(f"wrote {out} and {weak}")

    run_guarded(run)


@data.command("split")
@click.option("--force", is_flag=True, help="Overwrite the committed split (changes every metric).")
@pass_ctx
def data_split(ctx: Context, force: bool) -> None:
    """Create data/split.csv: councils assigned to train/dev/test (fixed seed)."""
    def run() -> None:
        from pipeline.data import create_split

        path, n = create_split(ctx.params, force)
        click.echo(f"wrote {path} ({n} councils)")

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

        click.echo(f"wrote {write_data_card(ctx.params)}")

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
        from pipeline.annotate import open_session, run_terminal

        session = open_session(ctx.params, reports, uncertain, annotator, Path(label_file) if label_file else None, seed)
        run_terminal(session, ask=lambda q: click.prompt(q, default="", show_default=False), say=click.echo)

    run_guarded(run)


# --------------------------------------------------------------------------- #
# train / predict / evaluate
# --------------------------------------------------------------------------- #
@main.command()
@click.option("--register/--no-register", default=True, show_default=True,
              help="Register the model in the MLflow registry (alias moved only if it beats the champion on dev "
                   "type macro-F1, a tie broken by theme micro-F1).")
@click.option("--search", is_flag=True, help="Run the hyperparameter grid (nested MLflow runs) before training.")
@click.option("--write-params", is_flag=True, help="With --search: write the best parameters back to params.yaml.")
@click.option("--curve", is_flag=True,
              help="Only the learning curve: dev figures at evaluation.learning_curve shares of train "
                   "(one MLflow run; data/learning_curve.json for the data card).")
@pass_ctx
def train(ctx: Context, register: bool, search: bool, write_params: bool, curve: bool) -> None:
    """Train the type and theme classifiers, track the run in MLflow, export the champion to models/."""
    def run() -> None:
        from pipeline.evaluate import behaviour_table, summary_table
        from pipeline.tracking import run_learning_curve, train_command

        if write_params and not search:
            raise UserError("--write-params only makes sense with --search.")
        p = ctx.params
        if curve:
            run_learning_curve(p, log=click.echo)
            return
        result = train_command(p, register, search, write_params, log=click.echo)
        click.echo("\nDEV\n" + summary_table(result.dev) + "\n\nTEST\n" + summary_table(result.test))
        click.echo("\n" + behaviour_table(result.dev, result.test, result.behaviour))
        if register:
            state = "promoted to @" + p.tracking.alias if result.promoted else (
                f"not promoted (champion dev macro-F1 {result.previous_best:.3f}; a tie goes to the higher theme micro-F1)")
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

    One record per sentence: report, index, page (PDFs), section, text, type,
    confidence, type_scores, themes, theme_scores and evidence words. The HTML
    output links each sentence of a PDF to its page.
    """
    def run() -> int:
        from pipeline.inputs import pdf_sources
        from pipeline.predict import load_model, tag_paths
        from pipeline.report import write_output
        from pipeline.summary import summarise, summary_text

        p = ctx.params
        to_stdout = output_file(output) is None or output == "-"
        chosen = fmt or ("jsonl" if to_stdout else Path(output).suffix.lstrip(".").lower())
        if chosen not in PREDICT_FORMATS:
            raise UserError(f"{output}: unknown output format '{chosen}'; use --format {'|'.join(PREDICT_FORMATS)}.")
        if chosen in ("xlsx", "html") and to_stdout:
            raise UserError(f"--format {chosen} needs --output FILE.")
        errors: list[str] = []
        records = tag_paths(load_model(model_uri, p), paths, p, errors, sentences=sentences)
        if not records:
            errors.append("no sentences to tag in the input; give report files or non-empty text.")
            return report_errors(errors)
        summaries = summarise(records)
        write_output(records, summaries, chosen, output, pdf_sources(paths) if chosen == "html" else None)
        if summary:
            click.echo(summary_text(summaries), err=to_stdout)
        return report_errors(errors)

    run_guarded(run)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--model", "model_uri", default=None, help="As for predict (default: the exported champion).")
@click.option("--no-section", is_flag=True, help="Ignore the section column (score sentences on their own).")
@click.option("--reports", "reports", multiple=True, metavar="PATH",
              help="Tag these reports (files or directories, repeatable) as predict does, and score the labelled "
                   "sentences of FILE found in them (FILE's report column names each report's file, without extension).")
@pass_ctx
def evaluate(ctx: Context, file: str, model_uri: str | None, no_section: bool, reports: tuple[str, ...]) -> None:
    """Score a labelled CSV or JSONL (columns text, type, themes; optional section, report) and print the metrics.

    With --reports, the reports are read whole, as 'predict PATH' reads them (segmentation,
    sections, neighbours), and each labelled sentence is scored where it is found in them.
    """
    def run() -> int:
        from pipeline.evaluate import evaluate_file, score_records, summary_table
        from pipeline.label import read_eval_file
        from pipeline.predict import load_model, tag_paths

        if not reports:
            metrics = evaluate_file(Path(file), lambda: load_model(model_uri, ctx.params), no_section)
            click.echo(summary_table(metrics))
            return 0
        if no_section:
            raise UserError("--no-section and --reports do not go together: whole reports are read with their sections.")
        rows = read_eval_file(Path(file))
        errors: list[str] = []
        score = score_records(tag_paths(load_model(model_uri, ctx.params), reports, ctx.params, errors), rows)
        if not score.found:
            errors.append(f"{file}: none of its {len(rows)} labelled sentences is in the given reports; its 'report' "
                          "column must name the report files (without extension) and its text their sentences.")
            return report_errors(errors)
        click.echo(summary_table(score.metrics))
        rest = score.labelled - score.found
        click.echo(f"scored {score.found} of the {score.labelled} labelled sentences of the tagged reports "
                   f"({score.reports} report{'s' if score.reports != 1 else ''}"
                   + (f"; {rest} not found as one sentence there: segmented differently)" if rest else ")"))
        return report_errors(errors)

    run_guarded(run)


# --------------------------------------------------------------------------- #
# serve
# --------------------------------------------------------------------------- #
@main.command()
@click.option("--host", default=None, help="Interface to bind (default: serve.host, loopback).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port, 1-65535 (default: serve.port).")
@click.option("--model", "model_uri", default=None, help="As for predict (default: the exported champion).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes (each with serve.parse_workers parse workers).")
@pass_ctx
def serve(ctx: Context, host: str | None, port: int | None, model_uri: str | None, workers: int) -> None:
    """Serve the HTTP API and the web page (http://127.0.0.1:8000/ by default)."""
    def run() -> None:
        from pipeline.serve import run_server

        run_server(ctx.params, model_uri, host, port, workers)

    run_guarded(run)


# --------------------------------------------------------------------------- #
# plan
# --------------------------------------------------------------------------- #
@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--output", "-o", required=True,
              help="The plan file: .docx (Word), .xlsx (Excel), .html (web page) or .md (Markdown); .json for programs.")
@click.option("--format", "fmt", type=click.Choice(["docx", "xlsx", "html", "md", "json"]), default=None,
              help="Output format (default: from --output's suffix).")
@click.option("--model", "model_uri", default=None, help="As for predict (default: the exported champion).")
@pass_ctx
def plan(ctx: Context, paths: tuple[str, ...], output: str, fmt: str | None, model_uri: str | None) -> None:
    """An improvement plan per report: each recommendation an action with its evidence.

    PATHS are report files (PDF, text, HTML, DOCX), directories or '-'. Each
    recommendation becomes an action row: themes, the recommendation's words, a
    priority (from the grade of the judgement behind it and the number of weaknesses on
    its themes), the weaknesses behind it quoted with page and confidence, the strengths
    to build on, and empty owner / due date / RAG status columns. Weaknesses no
    recommendation addresses get "also found" rows; sentences the model is unsure of
    (plan.review_confidence in params.yaml) are marked CHECK.
    """
    def run() -> int:
        from pipeline.plan import plan_format, plan_paths, write_plans

        chosen = plan_format(output, fmt)
        output_file(output)  # checked before any tagging
        errors: list[str] = []
        plans = plan_paths(paths, ctx.params, model_uri, errors)
        if plans:
            write_plans(plans, output, chosen)
            n = sum(len(p.actions) for p in plans)
            m = sum(len(p.also_found) for p in plans)
            click.echo(f"{len(plans)} report{'s' if len(plans) != 1 else ''}: {n} actions, {m} also-found themes "
                       f"-> {output}", err=True)
        return report_errors(errors)

    run_guarded(run)


# --------------------------------------------------------------------------- #
# analyse / compare
# --------------------------------------------------------------------------- #
@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--output", "-o", "outdir", required=True,
              help="Output directory: a new one, or one a previous run wrote (replaced as a whole).")
@click.option("--metadata", type=click.Path(dir_okay=False), default=None,
              help="CSV like shared/corpus/reports.csv (report_id, local_authority, dates, grades).")
@click.option("--model", "model_uri", default=None, help="As for predict (default: the exported champion).")
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True)
@click.option("--spark-master", default="local[2]", show_default=True, help="Spark master URL for --engine spark.")
@click.option("--lookup", type=click.Path(dir_okay=False), default=None,
              help="Council lookup CSV like shared/corpus/la_lookup.csv: LA codes, region, LA type, statistical "
                   "neighbours (default: paths.la_lookup in params.yaml).")
@pass_ctx
def analyse(ctx: Context, paths: tuple[str, ...], outdir: str, metadata: str | None, model_uri: str | None,
            engine: str, spark_master: str, lookup: str | None) -> None:
    """Tag a whole archive and write sentences.parquet, reports.csv, summary.xlsx and an index.html dashboard.

    PATHS are report files/directories, or JSONL files written by 'predict'. Prints the
    Spearman correlation of net scores with Ofsted's grades where grades are known. The
    dashboard and workbook also show recurring weaknesses (as 'track') and each council
    against its statistical neighbours and region; councils not found in the lookup are
    listed on stderr.
    """
    def run() -> int:
        from pipeline.analyse import analyse_archive, correlation_text

        errors: list[str] = []
        result = analyse_archive(paths, Path(outdir), ctx.params, errors, Path(metadata) if metadata else None,
                                 model_uri, engine, spark_master, Path(lookup) if lookup else None)
        if result is not None:
            click.echo(f"{len(result.reports)} reports, {result.sentences} sentences -> {result.written['index'].parent}")
            click.echo(correlation_text(result.correlations))
            if result.unmatched:
                click.echo(f"note: {len(result.unmatched)} council(s) not found in {result.lookup} (no codes, region "
                           f"or neighbours): {', '.join(result.unmatched)}", err=True)
        return report_errors(errors)

    run_guarded(run)


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--council", default=None, help="Only this council (any of its names or LA codes in the lookup).")
@click.option("--output", "-o", default=None, type=click.Path(dir_okay=False),
              help="Also write the result: .html (a page), .xlsx (concerns and themes nationally) or .csv (concerns).")
@click.option("--metadata", type=click.Path(dir_okay=False), default=None,
              help="CSV like shared/corpus/reports.csv for councils and dates (default: read from each report).")
@click.option("--lookup", type=click.Path(dir_okay=False), default=None,
              help="Council lookup CSV to match council names (default: paths.la_lookup in params.yaml).")
@click.option("--model", "model_uri", default=None, help="As for predict (default: the exported champion).")
@pass_ctx
def track(ctx: Context, paths: tuple[str, ...], council: str | None, output: str | None, metadata: str | None,
          lookup: str | None, model_uri: str | None) -> None:
    """Recurring weaknesses: each council's reports in date order and, theme by theme, which concerns are new,
    recurring (raised again at the next report, both quotes side by side) or resolved.

    PATHS are report files/directories (inspections and visits of one or more councils),
    or JSONL files written by 'predict'. Prints each council's reports and the themes
    that recur most nationally.
    """
    def run() -> int:
        from pipeline.analyse import track_archive
        from pipeline.track import track_text

        errors: list[str] = []
        result = track_archive(paths, ctx.params, errors, council, Path(metadata) if metadata else None, model_uri,
                               Path(output) if output else None, Path(lookup) if lookup else None)
        if result is not None:
            click.echo(track_text(result))
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
        from pipeline.analyse import compare_html, compare_paths, compare_text

        output_file(output)
        errors: list[str] = []
        changes = compare_paths(report_a, report_b, ctx.params, model_uri, errors)
        if changes is None:
            return report_errors(errors)
        name_a, name_b = Path(report_a).stem, Path(report_b).stem
        click.echo(compare_text(name_a, name_b, changes))
        if output is not None:
            with atomic_write(output) as fh:
                fh.write(compare_html(name_a, name_b, changes))
        return 0

    run_guarded(run)
