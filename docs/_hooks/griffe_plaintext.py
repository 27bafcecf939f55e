"""Griffe extension (mkdocstrings): read hopjax's plain-text docstrings as Markdown.

hopjax's docstrings are written for ``help()`` and doctest: examples are bare ``>>>`` lines, a
few literal blocks follow an RST ``::``, and a few names carry Sphinx roles
(``:class:`ResultStore```). In Markdown a ``>>>`` line is a nested block quote, so each run of
``>>>`` / ``...`` lines and the expected output after them becomes a fenced ``pycon`` block; a
trailing ``::`` becomes ``:`` (the indented block after it is already a Markdown code block);
a role is dropped, leaving the name as code; a citation ``docs/conventions.md §N`` becomes a
link to that section of the Conventions page (an autorefs link: strict mode fails if
the section does not exist). The docstrings themselves are not changed.
"""

from __future__ import annotations

import re
from pathlib import Path

import griffe
from markdown.extensions.toc import slugify

SCIENCE = Path(__file__).resolve().parents[1] / "conventions.md"

_PROMPT = re.compile(r"^(\s*)>>> ?")
_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|data|exc|obj|const):`~?([^`]+)`")
_CITE = re.compile(r"(?:``)?docs/conventions\.md(?:``)?\s+§(\d+)")


def _sections() -> dict[str, str]:
    """Section number -> heading anchor of docs/conventions.md ("## 4. Observables")."""
    heads = re.findall(r"^##\s+((\d+)\..*?)\s*$", SCIENCE.read_text(encoding="utf-8"), re.M)
    return {n: slugify(title, "-") for title, n in heads}


def _link(m, sections={}):  # noqa: B006 -- filled once
    sections = sections or sections.update(_sections()) or sections
    n = m.group(1)
    # an unknown section keeps an anchor that cannot resolve, so strict mode reports it
    return f"[docs/conventions.md §{n}][{sections.get(n, f'conventions-md-has-no-section-{n}')}]"


def fence_doctests(text: str) -> str:
    text = _CITE.sub(_link, _ROLE.sub(r"`\1`", text))
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        m = _PROMPT.match(lines[i])
        if not m:
            line = lines[i]
            if line.rstrip().endswith("::") and not line.lstrip().startswith(("::", ">>>")):
                line = line.rstrip()[:-1]
            out.append(line)
            i += 1
            continue
        indent = m.group(1)
        block = []
        while i < len(lines) and lines[i].strip() and lines[i].startswith(indent):
            block.append(lines[i][len(indent):])
            i += 1
        if out and out[-1].strip():
            out.append("")
        out += [f"{indent}```pycon", *(indent + b for b in block), f"{indent}```"]
        if i < len(lines) and lines[i].strip():
            out.append("")
    return "\n".join(out)


_MARKS = (">>>", "::", ":`", "conventions.md")


class PlainTextDocstrings(griffe.Extension):
    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None and any(m in obj.docstring.value for m in _MARKS):
            obj.docstring.value = fence_doctests(obj.docstring.value)
