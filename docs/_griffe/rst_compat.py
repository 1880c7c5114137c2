"""Griffe extension for the documentation build: shows the reStructuredText left in
eventsnn's numpy-style docstrings as Markdown, without changing the sources.

* Sphinx roles (:class:`~eventsnn.OpCounts`, :func:`fit`, ...) become code spans
  (``~`` keeps only the last dotted component, as Sphinx does);
* a paragraph ending in ``::`` (a literal block follows) ends in ``:``;
* a reST "simple table" (rows between ``=====  =====`` borders) becomes a Markdown table.

Loaded by mkdocs.yml (plugins > mkdocstrings > handlers > python > options > extensions).
"""
from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`(~?)\.?([^`]+)`")
_LITERAL = re.compile(r"(\S)::[ \t]*\n([ \t]*\n)")
_BORDER = re.compile(r"^[ \t]*=+(?:[ \t]+=+)+[ \t]*$")


def _role(m: re.Match) -> str:
    target = m.group(2)
    if m.group(1):
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def _cells(line: str, starts: list[int]) -> list[str]:
    bounds = starts[1:] + [None]
    return [line[a:b].strip() if b is not None else line[a:].strip() for a, b in zip(starts, bounds)]


def _md_table(block: list[str], indent: str) -> list[str]:
    """A reST simple table (its lines, borders included) as a Markdown table."""
    border = block[0]
    starts = [m.start() for m in re.finditer(r"=+", border)]
    borders = [k for k, line in enumerate(block) if _BORDER.match(line)]
    header = []
    if len(borders) >= 3:
        header = [_cells(line, starts) for line in block[borders[0] + 1:borders[1]]]
        body = block[borders[1] + 1:borders[-1]]
    else:
        body = block[borders[0] + 1:borders[-1]]
    rows: list[list[str]] = []
    for line in body:
        if not line.strip():
            continue
        cells = _cells(line, starts)
        if rows and not cells[0]:          # a continuation line: extends the row above
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells)]
        else:
            rows.append(cells)
    head = [" ".join(c[k] for c in header).strip() for k in range(len(starts))] if header else \
        [" "] * len(starts)

    def fmt(cells):
        return indent + "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return ["", fmt(head), indent + "|" + "---|" * len(starts), *[fmt(r) for r in rows], ""]


def _tables(text: str) -> str:
    """Turn every reST simple table (rows between ``=====  =====`` borders, a header
    between the first two borders when there are three) into a Markdown table."""
    lines = text.split("\n")
    out, i = [], 0
    while i < len(lines):
        if _BORDER.match(lines[i]):
            j, last = i + 1, None
            while j < len(lines) and lines[j].strip():
                if _BORDER.match(lines[j]):
                    last = j
                j += 1
            if last is not None:
                indent = re.match(r"[ \t]*", lines[i]).group(0)
                out += _md_table(lines[i:last + 1], indent)
                out += lines[last + 1:j]
                i = j
                continue
        out.append(lines[i])
        i += 1
    return "\n".join(out)


def convert(text: str) -> str:
    if "==" in text:
        text = _tables(text)            # first: roles would shift the table's columns
    text = _ROLE.sub(_role, text)
    return _LITERAL.sub(r"\1:\n\2", text)


class RstCompat(griffe.Extension):
    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
