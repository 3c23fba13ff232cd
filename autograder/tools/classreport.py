"""`deepgrad report A1 OUT`: one self-contained HTML page on how the class did, part by part.

Per part: the distribution of scores (a bar per score reached, since partial credit comes in steps) and how
many students made each diagnosed mistake (``mistakes``), from the per-student records the grading run
wrote (``record``). What an instructor needs before the next lecture: which slip to talk about. The plots
are inline SVG, so the page is one file with nothing to fetch.
"""
from __future__ import annotations

import html
from collections import Counter
from pathlib import Path

from .. import mistakes
from ..records import record
from ..results import points_words

# Okabe-Ito, safe for colour-blind readers; every bar also carries its number as text
BLUE, ORANGE, GREY = "#0072B2", "#E69F00", "#555"
_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; line-height: 1.4; }
.part { border: 1px solid #ccc; border-radius: 6px; padding: .6rem 1rem; margin: 1rem 0; }
.plots { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
.muted { color: #555; }
"""


def summarise(records: list[dict], module) -> list[dict]:
    """Per part of ``module``: name, points, the scores (one per student) and Counter(mistake code -> students)."""
    parts = []
    for part in module.PARTS:
        scores, made = [], Counter()
        for rec in records:
            entry = next((p for p in rec.get("parts", []) if p.get("name") == part.name), None)
            if entry is None:
                continue
            scores.append(float(entry.get("score", 0.0)))
            made.update(set(entry.get("codes", [])))
        parts.append({"name": part.name, "points": float(part.points), "description": part.description,
                      "scores": scores, "mistakes": made})
    return parts


def _svg_bars(rows: list[tuple[str, int]], total: int, title: str, colour: str, label_w: int = 150) -> str:
    """A horizontal bar chart: one row per (label, count), bar length count / total, the count beside it."""
    e = html.escape
    bar_w, row_h, top = 260, 20, 26
    height = top + row_h * max(1, len(rows)) + 24
    width = label_w + bar_w + 70
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="{e(title)}" font-family="system-ui, sans-serif" font-size="12">',
           f'<text x="0" y="14" font-weight="bold">{e(title)}</text>']
    for i, (label, count) in enumerate(rows):
        y = top + i * row_h
        w = 0 if total == 0 else bar_w * count / total
        out.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{e(label)}</text>'
                   f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{colour}"/>'
                   f'<text x="{label_w + w + 4:.1f}" y="{y + 14}" fill="{GREY}">{count}</text>')
    axis_y = top + row_h * max(1, len(rows)) + 4
    out.append(f'<line x1="{label_w}" x2="{label_w + bar_w}" y1="{axis_y}" y2="{axis_y}" stroke="{GREY}"/>'
               f'<text x="{label_w + bar_w}" y="{axis_y + 14}" text-anchor="end" fill="{GREY}">students '
               f'(of {total})</text></svg>')
    return "".join(out)


def render(assignment: str, parts: list[dict], n_students: int) -> str:
    e = html.escape
    body = [f"<h1>{e(assignment)}: how the class did</h1>",
            f"<p>{n_students} students graded. Per part: the scores reached, and how many students made each "
            f"mistake the grader diagnosed (a student may make several; a part that did not run counts as "
            f"its reason: time, memory, an error, a missing function).</p>"]
    for part in parts:
        scores, points = part["scores"], part["points"]
        dist = Counter(scores)
        mean = sum(scores) / len(scores) if scores else 0.0
        full = sum(s >= points for s in scores)
        score_rows = [(f"{s:g} / {points:g}", dist[s]) for s in sorted(dist, reverse=True)]
        order = list(mistakes.MISTAKES)       # most common first; ties in the catalogue's order
        mistake_rows = [(mistakes.label(c), n) for c, n in sorted(
            part["mistakes"].items(), key=lambda kv: (-kv[1], order.index(kv[0]) if kv[0] in order else len(order)))]
        body.append(
            f"<div class='part'><h2>{e(part['name'])} <span class='muted'>({points_words(points)})</span></h2>"
            f"<div class='muted'>{e(part['description'])}</div>"
            f"<p>Mean {mean:.2f} / {points:g}; full marks: {full} of {len(scores)}.</p><div class='plots'>"
            + _svg_bars(score_rows, len(scores), "Scores", BLUE, 90)
            + (_svg_bars(mistake_rows, len(scores), "Diagnosed mistakes", ORANGE, 330) if mistake_rows
               else "<p>No mistake diagnosed.</p>")
            + "</div></div>")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(assignment)} class report</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>")


def write(assignment: str, module, output: Path) -> Path:
    """Write ``output/report.html`` from the records in ``output``; a ValueError if there are none."""
    records = record.load_all(output, assignment)
    if not records:
        raise ValueError(f"output {output} holds no record of {assignment}: grade into it first "
                         f"(`deepgrad grade {assignment} SUBMISSIONS --output {output}`)")
    target = Path(output) / "report.html"
    target.write_text(render(assignment, summarise(records, module), len(records)), encoding="utf-8")
    return target
