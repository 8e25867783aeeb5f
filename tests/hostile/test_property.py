"""Issue 13, item 1: hypothesis-generated pathological lines (runs of digits, years, blanks and
punctuation up to 100 kB, mixed with heading-like words) through ingest's cleaning and segment,
each call under a time budget, raising nothing but the project's UserError."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import UserError
from pipeline.ingest import clean_pages, clean_text, document_from_text, find_title
from pipeline.segment import parse_grade, segment, segment_text
from tests.hostile._helpers import within

WORDS = [
    "Inspection of", "Inspection of children's services", "children’s services", "Overview", "Overall effectiveness:",
    "The experiences and progress of care leavers:", "Section 1:", "Recommendations", "good", "requires improvement",
    "to be good", "June", "December", "to", "and", "page", "of", "Barnet", "A", "The council is good.", "e.g.",
    "Children who need help and protection", "©", "Reference no:", "•", "-", "1.", "(", ")",
]
RUNS = ["1", "9", "2019 ", "2024", " ", "  ", "\t", " 1", "1 ", ".", ",", "-", "–", "(", ")", ":", ";", "’", "'", "A", "a",
        "\n", "\n\n", "\u00a0", "\ufffe", "\u00ad", "10 to 14 June 2024 ", "x."]
MAX_CHARS = 100_000
BUDGET = 2.0

pieces = st.one_of(
    st.sampled_from(WORDS),
    st.builds(lambda r, n: r * n, st.sampled_from(RUNS), st.integers(1, 20_000)),
    st.text(alphabet="0123456789 .,:;()-–’'\tAa", max_size=200),
)
lines = st.lists(pieces, min_size=1, max_size=12).map(lambda ps: "".join(ps)[:MAX_CHARS])


@settings(max_examples=60, deadline=timedelta(seconds=BUDGET * 4), derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(line=lines, where=st.sampled_from(["alone", "top", "bottom", "middle"]))
def test_pathological_lines_are_linear_and_raise_only_user_errors(line, where):
    body = "The council is good.\nChildren are safe."
    page = {"alone": line, "top": line + "\n" + body, "bottom": body + "\n" + line, "middle": body + "\n" + line + "\n" + body}[where]
    for name, call in (
        ("clean_pages(layout=True)", lambda: segment_text(clean_pages([page], layout=True))),
        ("clean_text", lambda: segment_text(clean_text(page))),
        ("document_from_text", lambda: segment(document_from_text(page))),
        ("segment_text", lambda: segment_text(page)),
        ("find_title/parse_grade", lambda: (find_title(page), parse_grade(line))),
    ):
        try:
            with within(BUDGET, name):
                call()
        except UserError:
            pass
