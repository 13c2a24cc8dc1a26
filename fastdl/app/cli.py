"""The ``fastdl`` command (also ``python -m fastdl``): train, evaluate, compare, search.

Each command's options and code live in its own module (:mod:`.train`,
:mod:`.evaluate`, :mod:`.compare`, :mod:`.search`). Every argument is checked before any data
is loaded; a bad one ends the command with exit status 2 and a message naming it.
"""
import argparse
import sys

from .. import __version__
from ..datasets import DatasetError, MissingDataError
from . import compare, evaluate, search, train

COMMANDS = (train, evaluate, compare, search)


def build_parser():
    parser = argparse.ArgumentParser(prog="fastdl", description="Deep Learning from Scratch, fast.")
    parser.add_argument("--version", action="version", version=f"fastdl {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv=None):
    """Run the command in ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        parser.print_help()
        return 0
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # the subcommand's own parser reports it, so the message names `fastdl train` (or ...) and its usage
        getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return args.run(args)
    except MissingDataError as exc:
        print(f"fastdl: error: {exc}\nOn the command line: --data-dir DIR names the directory with the four "
              f".gz files (or set FASTDL_DATA=DIR).", file=sys.stderr)
        return 1
    except (DatasetError, OSError) as exc:
        print(f"fastdl: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fastdl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
