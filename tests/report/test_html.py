"""Markdown tables as HTML pages for the Snakemake report."""

from linid.report.html import markdown_to_html


def test_tables_headings_and_text_become_html():
    md = "# Title\n\nShared: **a** = 1.\n\n| cell | R² |\n|---|---|\n| x \\| y | 0.98 ± 0.01 |\n| <z> | – |\n"
    page = markdown_to_html(md, "t & u")
    assert page.startswith("<!DOCTYPE html>") and "<title>t &amp; u</title>" in page
    assert "<h1>Title</h1>" in page and "<p>Shared: <b>a</b> = 1.</p>" in page
    assert "<thead><tr><th>cell</th><th>R²</th></tr></thead>" in page
    assert "<td>x | y</td><td>0.98 ± 0.01</td>" in page  # escaped pipe stays in its cell
    assert "<td>&lt;z&gt;</td>" in page  # cell text is escaped
    assert "---" not in page  # the rule line is dropped
    assert page.count("<table>") == 1 and page.count("<tr>") == 3


def test_two_tables_separated_by_text_stay_two():
    md = "| a |\n|---|\n| 1 |\n\nbetween\n\n| b |\n|---|\n| 2 |\n"
    page = markdown_to_html(md, "t")
    assert page.count("<table>") == 2 and "<p>between</p>" in page


def test_a_csv_is_shown_as_a_whole_escaped_table_page():
    """Issue 28: the report offers a CSV only as a download; its page twin shows every row."""
    import numpy as np
    import pandas as pd

    from linid.report.html import csv_page

    frame = pd.DataFrame({"name": ["a</script>", "b"], "r2": [0.123456789, np.nan], "n": [3, 4]})
    page = csv_page(frame, "T", "results/tables/t.csv")
    assert page.count("<tr>") == 3 and "2 rows × 3 columns of results/tables/t.csv" in page
    assert "a&lt;/script&gt;" in page and "</script>" not in page
    assert "<td>0.1235</td>" in page and "<td>–</td>" in page and "<td>4</td>" in page


#: what the Snakemake report opens in place; any other entry (.csv, .md, …) is only a download
SHOWN = (".html", ".png", ".pdf", ".svg")


def report_entries(text: str) -> list[str]:
    """The files of every ``report(...)`` output in a rule file's text: the path, or for a
    ``directory(...)`` entry each of its ``patterns``."""
    import re

    out = []
    for m in re.finditer(r"\breport\(\s*(directory\()?\s*\"([^\"]+)\"", text):
        if m.group(1):
            pats = re.search(r"patterns=\[([^\]]*)\]", text[m.end():])
            assert pats, f"report(directory({m.group(2)!r})) without patterns"
            out += [f"{m.group(2)}/{p}" for p in re.findall(r"\"([^\"]+)\"", pats.group(1))]
        else:
            out.append(m.group(2))
    return out


def test_every_report_entry_opens_in_place():
    """Issue 28: every table in the report is a page (its .csv/.md stay plain outputs)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    files = [root / "Snakefile", *sorted((root / "workflow" / "rules").glob("*.smk"))]
    entries = {f.name: report_entries(f.read_text()) for f in files}
    found = [e for es in entries.values() for e in es]
    calls = sum(f.read_text().count("report(") for f in files)
    assert len(found) == calls and "results/figures/axes/{name}.png" in found, entries  # parsed all
    for stem in ("text_summary", "text_summary_table", "byo_layers", "byo_probes", "image_probes",
                 "image_probes_table", "image_paper_comparison", "probes", "pairs"):
        assert f"results/tables/{stem}.html" in found
    assert [e for e in found if not e.endswith(SHOWN)] == []
