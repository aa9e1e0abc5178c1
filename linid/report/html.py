"""Markdown tables as HTML pages, so that the Snakemake report shows a table's numbers in place.

The Markdown file stays the one rendering of a table (what the README and a terminal show); its HTML
twin is derived from it here, line by line: ``| a | b |`` rows become a table (the first row its
header, the ``|---|`` rule dropped), ``# `` lines headings, other lines paragraphs.
"""

from __future__ import annotations

import html
import string

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; font-size: 13px;
       margin: 12px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: #f2f2f2; position: sticky; top: 0; }
td:first-child, th:first-child { text-align: left; }
tr:nth-child(even) td { background: #fafafa; }
p { max-width: 60em; line-height: 1.4; }
"""


def _cells(line: str) -> list[str]:
    """The cells of one Markdown row, CommonMark's backslash escapes read back: an escaped ``\\|``
    stays inside its cell, ``\\<`` is the character (escaped again, as text, by :func:`_inline`)."""
    inner = line.strip()[1:-1] if line.strip().endswith("|") else line.strip()[1:]
    cells, cur, i = [], "", 0
    while i < len(inner):
        if inner[i] == "\\" and i + 1 < len(inner) and inner[i + 1] in string.punctuation:
            cur, i = cur + inner[i + 1], i + 2
            continue
        if inner[i] == "|":
            cells.append(cur.strip())
            cur = ""
        else:
            cur += inner[i]
        i += 1
    cells.append(cur.strip())
    return cells


def _inline(text: str) -> str:
    """Escape, then render ``**bold**`` and ``code`` spans."""
    out = html.escape(text)
    for mark, tag in (("**", "b"), ("`", "code")):
        parts = out.split(mark)
        if len(parts) >= 3 and len(parts) % 2 == 1:
            out = "".join(p if k % 2 == 0 else f"<{tag}>{p}</{tag}>" for k, p in enumerate(parts))
    return out


def markdown_to_html(markdown: str, title: str) -> str:
    """A standalone HTML page holding ``markdown``'s tables and text."""
    body: list[str] = []
    rows: list[list[str]] = []

    def flush() -> None:
        if rows:
            head, *rest = rows
            body.append("<table><thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head)
                        + "</tr></thead><tbody>")
            body.extend("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in rest)
            body.append("</tbody></table>")
            rows.clear()

    for line in markdown.splitlines():
        s = line.strip()
        if s.startswith("|"):
            cells = _cells(s)
            if not all(set(c) <= set("-: ") and c for c in cells):  # skip the |---| rule
                rows.append(cells)
            continue
        flush()
        if s.startswith("#"):
            level = min(len(s) - len(s.lstrip("#")), 4)
            body.append(f"<h{level}>{_inline(s.lstrip('#').strip())}</h{level}>")
        elif s:
            body.append(f"<p>{_inline(s)}</p>")
    flush()
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _shown(value: object) -> str:
    """A table value as shown on a page: floats to 4 significant digits, missing as '–'."""
    if isinstance(value, float):
        return "–" if value != value else f"{value:.4g}"
    return str(value)


def table_page(header: list[str], rows: list[list[object]], title: str, note: str = "") -> str:
    """A standalone HTML page showing a whole table (a CSV's columns and rows, every value escaped):
    the Snakemake report shows HTML in place but offers a CSV only as a download."""
    head = "<tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in header) + "</tr>"
    body = "\n".join("<tr>" + "".join(f"<td>{html.escape(_shown(v))}</td>" for v in r) + "</tr>" for r in rows)
    intro = f"<p>{html.escape(note)}</p>\n" if note else ""
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n<h1>{html.escape(title)}</h1>\n{intro}"
            f"<table><thead>{head}</thead><tbody>\n{body}\n</tbody></table>\n</body></html>\n")


def csv_page(frame, title: str, csv_name: str) -> str:
    """:func:`table_page` of a DataFrame written as ``csv_name``, saying where the full-precision CSV is."""
    note = (f"{len(frame)} rows × {len(frame.columns)} columns of {csv_name} (values to 4 significant "
            "digits here; the CSV holds them in full).")
    rows = frame.astype(object).where(frame.notna(), float("nan")).values.tolist()
    return table_page([str(c) for c in frame.columns], rows, title, note)
