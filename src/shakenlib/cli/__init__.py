"""The ``shakenlib`` command line.

Each sub-command lives in its own module in this package and exposes
``add_parser(subparsers)``, which adds its parser and sets ``run`` (a function taking the
parsed ``argparse.Namespace`` and returning the exit status) with ``set_defaults(run=...)``.
:func:`main` turns every
:class:`~shakenlib.errors.ShakenError` and file error into a one-line message on stderr:
no Python traceback reaches the user.

Exit status: 0 success; 1 a negative answer (not a PASSporT, verification failed, lint
errors); 2 usage errors; 70 (``EX_SOFTWARE``) an unexpected exception, which is a
shakenlib defect: one line names it, still without a traceback (``SHAKENLIB_TRACEBACK=1``
prints it).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from typing import Any

from shakenlib import __version__
from shakenlib.errors import ShakenError, UsageError

__all__ = ["main"]

#: Exit status for an unexpected exception (sysexits.h EX_SOFTWARE).
EX_SOFTWARE = 70

#: Sub-command modules, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = ("decode", "verify", "verify_batch", "analyze", "lint_cert", "mirror")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError("usage", message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = _Parser(
        prog="shakenlib",
        description="STIR/SHAKEN attestation analysis: decode, verify and trace back calls.",
    )
    parser.add_argument("--version", action="version", version=f"shakenlib {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name in COMMANDS:
        if importlib.util.find_spec(f"shakenlib.cli.{name}") is None:
            continue  # a command not built yet
        module: Any = importlib.import_module(f"shakenlib.cli.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        run = args.run
        return int(run(args))
    except UsageError as exc:
        print(f"shakenlib: error: {exc.message}", file=sys.stderr)
        return 2
    except ShakenError as exc:
        print(f"shakenlib: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            return 1
        name = f" {exc.filename}" if exc.filename else ""
        print(f"shakenlib: error:{name}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("shakenlib: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("SHAKENLIB_TRACEBACK"):
            raise
        print(
            f"shakenlib: internal error: {type(exc).__name__}: {exc}"[:500]
            + " (a shakenlib defect; please report it with the input)",
            file=sys.stderr,
        )
        return EX_SOFTWARE
