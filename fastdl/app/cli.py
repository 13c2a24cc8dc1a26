"""The ``fastdl`` command (also ``python -m fastdl``): train, evaluate, compare, search.

Each command's options and code live in its own module (:mod:`.train`,
:mod:`.evaluate`, :mod:`.compare`, :mod:`.search`). Every argument is checked before any data
is loaded; a bad one ends the command with exit status 2 and a message naming it.
"""
import argparse
import sys

from ..datasets import DatasetError
from . import compare, evaluate, search, train

COMMANDS = (train, evaluate, compare, search)


def build_parser():
    parser = argparse.ArgumentParser(prog="fastdl", description="Deep Learning from Scratch, fast.")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv=None):
    """Run the command in ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (DatasetError, OSError) as exc:
        print(f"fastdl: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fastdl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
