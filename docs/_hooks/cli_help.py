"""MkDocs hook: write the ``--help`` of every ``hopjax`` command into docs/cli.md.

The page holds the marker ``<!-- hopjax-cli-help -->``; at build time it becomes one section
per command (``hopjax``, then each subcommand in the parser's order) with the text argparse
prints for ``--help``, so the page follows hopjax/cli.py without being edited.
"""

from __future__ import annotations

import argparse
import os

MARKER = "<!-- hopjax-cli-help -->"
WIDTH = "82"  # argparse wraps to $COLUMNS - 2: 80 columns fit the page


class _Parsed(Exception):
    def __init__(self, parser):
        self.parser = parser


def _parser() -> argparse.ArgumentParser:
    """The parser that ``hopjax.cli.main`` builds (taken as it parses, so nothing runs)."""
    from hopjax import cli

    if hasattr(cli, "build_parser"):
        return cli.build_parser()

    def grab(self, *args, **kwargs):
        raise _Parsed(self)

    original = argparse.ArgumentParser.parse_args
    argparse.ArgumentParser.parse_args = grab
    try:
        cli.main([])
    except _Parsed as p:
        return p.parser
    finally:
        argparse.ArgumentParser.parse_args = original
    raise RuntimeError("hopjax.cli.main returned without parsing its arguments")


def _subcommands(parser):
    for action in parser._actions:  # noqa: SLF001 -- argparse keeps subparsers here
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            return list(action.choices.items())
    return []


def cli_markdown() -> str:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        parser = _parser()
        parts = [("hopjax", parser), *((f"hopjax {n}", p) for n, p in _subcommands(parser))]
        sections = [f"## `{name}`\n\n```text\n{p.format_help().rstrip()}\n```\n"
                    for name, p in parts]
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    return "\n".join(sections)


def on_page_markdown(markdown, page, config, files):
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, cli_markdown())
    return markdown
