"""``python -m fastdl``: the ``fastdl`` command (see :mod:`fastdl.app.cli`)."""
import sys

from fastdl.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
