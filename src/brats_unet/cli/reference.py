"""``docs/reference/cli.md``, generated from the argparse parser so the page cannot drift from the code.

Regenerate with ``python -m brats_unet.cli.reference > docs/reference/cli.md`` (``make docs``);
``tests/test_docs.py`` fails when the committed page differs from what this prints.
"""

from __future__ import annotations

import argparse

from . import build_parser

HEADER = """# Command line reference

Generated from the parser (`python -m brats_unet.cli.reference > docs/reference/cli.md`, or `make docs`); a test
fails when this page and the code differ. Every command prints one line on stderr and exits 2 on bad input
([reliability](../explanation/reliability.md)); `--set KEY=VALUE` takes any [configuration key](configuration.md).
"""


def _flags(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    names = ", ".join(f"`{s}`" for s in action.option_strings)
    if action.nargs == 0:
        return names
    metavar = action.metavar or (action.dest.upper() if action.choices is None else None)
    if isinstance(metavar, tuple):
        metavar = " ".join(metavar)
    return f"{names} {metavar}" if metavar else names


def _meaning(action: argparse.Action) -> str:
    text = " ".join((action.help or "").split())
    if action.choices is not None:
        text += ("; " if text else "") + "one of " + ", ".join(f"`{c}`" for c in action.choices)
    if action.default not in (None, False, [], argparse.SUPPRESS) and action.nargs != 0 and "default" not in text:
        text += f" (default `{action.default}`)"
    if action.required and action.option_strings:
        text += " (required)"
    return text.strip().replace("|", "\\|") or "—"


def cli_reference() -> str:
    """The markdown page: one section per command with its usage and a table of its arguments."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in sub._choices_actions}
    out = [HEADER, "| command | what it does |", "|---|---|"]
    out += [f"| [`{name}`](#{name}) | {helps.get(name, '')} |" for name in sub.choices]
    for name, p in sub.choices.items():
        usage = " ".join(p.format_usage().replace("usage: ", "").split())
        out += ["", f"## {name}", "", helps.get(name, "") or "", "", f"    {usage}", "",
                "| argument | meaning |", "|---|---|"]
        out += [f"| {_flags(a)} | {_meaning(a)} |" for a in p._actions if not isinstance(a, argparse._HelpAction)]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(cli_reference(), end="")
