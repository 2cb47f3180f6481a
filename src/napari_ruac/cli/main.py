"""``napari-ruac``: build the parser from one module per command and dispatch to its ``run``.

A command module has ``HELP``, ``add_arguments(parser)`` and ``run(args) -> exit status``.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from . import batch, demo, download, embed, evaluate, info, segment
from ..io.naming import command_line_names
from .common import CommandError

COMMANDS = {
    "segment": segment,
    "embed": embed,
    "download": download,
    "info": info,
    "evaluate": evaluate,
    "demo": demo,
    "batch": batch,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="napari-ruac", description="SAM2 segmentation with a per-pixel uncertainty you can trust (RUAC)."
    )
    parser.add_argument("--version", action="version", version=f"napari-ruac {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS.items():
        command = sub.add_parser(name, help=module.HELP)
        module.add_arguments(command)
        command.set_defaults(func=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with command_line_names():  # errors name --timepoint, --out … rather than Python keywords
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (CommandError, ValueError, RuntimeError, KeyError, OSError) as exc:
        message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        message = " ".join(message.split())  # one line, whatever the library below wrote
        print(f"napari-ruac {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
