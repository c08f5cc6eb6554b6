"""summary.md as an HTML page for `snakemake --report` (which shows images and HTML, and
offers other files only as downloads): the summary and pairwise tables as tables, the
sentences as paragraphs. It reads the Markdown that markdown.py writes (paragraphs,
pipe tables, bullet lists, **bold** and `code`), nothing more."""

from __future__ import annotations

import html
import re

STYLE = (
    "body{font-family:sans-serif;font-size:14px;margin:1em}"
    "table{border-collapse:collapse;margin:0.5em 0}"
    "th,td{border:1px solid #ccc;padding:2px 6px;text-align:left}"
    "th{background:#f0f0f0}"
)


def _inline(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table(lines: list[str]) -> str:
    head, rows = _cells(lines[0]), [_cells(line) for line in lines[2:]]  # lines[1]: |---|---|
    out = ["<table>", "<tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in rows]
    return "\n".join(out + ["</table>"])


def _block(lines: list[str]) -> str:
    if all(line.startswith("|") for line in lines):
        return _table(lines)
    if all(line.startswith("- ") for line in lines):
        return "<ul>\n" + "\n".join(f"<li>{_inline(line[2:])}</li>" for line in lines) + "\n</ul>"
    return "<p>" + "<br>\n".join(_inline(line) for line in lines) + "</p>"


def summary_page(markdown: str, title: str) -> str:
    """A standalone HTML page of the report's Markdown: blocks are separated by blank lines."""
    blocks = [block.splitlines() for block in re.split(r"\n\s*\n", markdown.strip()) if block.strip()]
    body = "\n".join(_block(lines) for lines in blocks)
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head>\n<body>\n<h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )
