"""Annotate: label sentences by hand in the terminal, straight into the label file.

:class:`Session` holds the queue and the history and is driven either by the
terminal loop (:func:`run_terminal`) or programmatically (tests).  Every
decision is appended and flushed to ``data/labels/hand.csv`` at once, so a
stopped session loses nothing; starting again resumes with the first sentence
not yet labelled; undo removes the last decision from the file.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from pipeline.config import Params
from pipeline.data import labels_path, load_sentences, with_context
from pipeline.errors import UserError
from pipeline.label import LabelRow, append_label, read_labels, rewrite_labels
from pipeline.predict import load_model
from pipeline.schema import MAX_THEMES, THEMES, TYPES

TYPE_KEYS = {"s": "strength", "w": "weakness", "r": "recommendation", "n": "neutral"}


@dataclass(frozen=True)
class Item:
    id: str
    report: str
    section: str
    text: str
    prev: str = ""
    next: str = ""


@dataclass
class Session:
    label_file: Path
    items: list[Item]
    annotator: str = "annotator"
    done: set[str] = field(default_factory=set)
    history: list[str] = field(default_factory=list)
    pos: int = 0

    @classmethod
    def open(cls, label_file: Path, items: Iterable[Item], annotator: str = "annotator") -> "Session":
        """Start or resume: sentences already in the label file are skipped."""
        done = {r.id for r in read_labels(label_file)} if label_file.is_file() else set()
        queue = [it for it in items if it.id not in done]
        return cls(label_file, queue, annotator, done)

    def current(self) -> Item | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def label(self, type_: str, themes: Iterable[str] = ()) -> LabelRow:
        item = self.current()
        if item is None:
            raise UserError("nothing left to label.")
        themes = tuple(themes)
        if type_ not in TYPES:
            raise UserError(f"type '{type_}' is not one of {', '.join(TYPES)}.")
        if len(themes) > MAX_THEMES or any(t not in THEMES for t in themes):
            raise UserError(f"themes must be at most {MAX_THEMES} of the codebook's {len(THEMES)}.")
        row = LabelRow(item.id, item.report, item.section, item.text, type_, themes, f"annotator:{self.annotator}")
        append_label(self.label_file, row)
        self.done.add(item.id)
        self.history.append(item.id)
        self.pos += 1
        return row

    def skip(self) -> None:
        if self.current() is not None:
            self.history.append("")
            self.pos += 1

    def undo(self) -> str | None:
        """Take back the last decision (a label is removed from the file); returns its id."""
        if not self.history:
            return None
        last = self.history.pop()
        self.pos -= 1
        if last:
            rows = [r for r in read_labels(self.label_file) if r.id != last]
            rewrite_labels(self.label_file, rows)
            self.done.discard(last)
        return last or None


def items_from_sentences(
    rows: list[dict], reports: Iterable[str] = (), seed: int = 0, order: list[str] | None = None
) -> list[Item]:
    """Queue of sentences to label, with neighbours; by report, by a given id order, or shuffled."""
    wanted = set(reports)
    items = [
        Item(r["id"], r["report"], r.get("section", ""), r["text"], r["prev"], r["next"])
        for r in with_context(rows)
        if (not wanted or r["report"] in wanted) and r["text"].strip()
    ]
    if order is not None:
        rank = {sid: i for i, sid in enumerate(order)}
        return sorted((it for it in items if it.id in rank), key=lambda it: rank[it.id])
    if not wanted:
        random.Random(seed).shuffle(items)
    return items


def open_session(params: Params, reports: Iterable[str] = (), uncertain: bool = False, annotator: str = "annotator",
                 label_file: Path | None = None, seed: int = 0) -> Session:
    """The ``label`` command's session over the sentence corpus: by report, shuffled, or with
    ``uncertain`` the sentences the exported champion is least sure of first."""
    rows = load_sentences(params)
    order = None
    if uncertain:
        model = load_model(None, params)
        candidates = [r for r in rows if not reports or r["report"] in reports]
        order = model.uncertainty_order([r["text"] for r in candidates], [r["id"] for r in candidates],
                                        [r.get("section", "") for r in candidates])
    items = items_from_sentences(rows, reports, seed, order)
    return Session.open(label_file or labels_path(params), items, annotator)


HELP = (
    "keys: s strength, w weakness, r recommendation, n neutral | then theme numbers "
    "(up to 3, space-separated, Enter for none) | u undo, k skip, q quit, ? help"
)


def _theme_menu() -> str:
    return "  ".join(f"{i + 1}:{t}" for i, t in enumerate(THEMES))


def run_terminal(session: Session, ask: Callable[[str], str], say: Callable[[str], None]) -> int:
    """The interactive loop; ``ask`` reads a line, ``say`` prints. Returns the number labelled."""
    labelled = 0
    say(HELP)
    while (item := session.current()) is not None:
        say("")
        say(f"[{session.pos + 1}/{len(session.items)}] {item.report} — {item.section}")
        if item.prev:
            say(f"    before: {item.prev}")
        say(f">>> {item.text}")
        if item.next:
            say(f"    after:  {item.next}")
        key = ask("type [s/w/r/n, u, k, q, ?]").strip().lower()
        if key == "q":
            break
        if key == "?":
            say(HELP)
            continue
        if key == "k":
            session.skip()
            continue
        if key == "u":
            undone = session.undo()
            say("undone" if undone else "nothing to undo")
            labelled -= 1 if undone else 0
            continue
        if key not in TYPE_KEYS:
            say(f"unknown key '{key}'. {HELP}")
            continue
        say(_theme_menu())
        raw = ask("themes").strip()
        try:
            picks = [THEMES[int(x) - 1] for x in raw.replace(",", " ").split()]
            if any(int(x) < 1 for x in raw.replace(",", " ").split()):
                raise IndexError
        except (ValueError, IndexError):
            say(f"themes are numbers 1-{len(THEMES)}; try again.")
            continue
        if len(picks) > MAX_THEMES:
            say(f"at most {MAX_THEMES} themes; try again.")
            continue
        row = session.label(TYPE_KEYS[key], picks)
        labelled += 1
        say(f"saved: {row.type} {';'.join(row.themes)}")
    say(f"{labelled} labelled this session; {len(session.done)} in {session.label_file}.")
    return labelled
