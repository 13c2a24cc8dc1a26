"""Files the commands write, each whole or not at all (temporary file + ``os.replace``); what was written."""
import contextlib
import csv
import fcntl
import json
import os
import re
import tempfile
import time
from pathlib import Path

FILE_MODE = 0o644
LOCK_FILE = ".fastdl.lock"
TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]{8}(?P<suffix>(\.[^.]+)?)$")
"""The names :func:`atomic_path` gives its temporaries: ``.<file>.<8 random characters><file's suffix>``."""


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; when the block succeeds it replaces ``path``.

    The content reaches the disk (fsync) before the rename, so a crash or a
    power loss leaves the old file or the new one, never a mix. On any
    exception (KeyboardInterrupt included) the temporary file is removed and
    ``path`` keeps its previous content; a process killed outright (SIGKILL)
    can leave the hidden temporary file, never a damaged ``path``.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)  # mkstemp creates 0600: outputs are ordinary readable files
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_csv(path, rows, fieldnames):
    """Write ``rows`` (dicts) as CSV with a header line."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)


def write_json(path, data):
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def new_figure(nrows=1, ncols=1, figsize=(6.4, 4.8), layout="constrained"):
    """A figure and its axes, independent of pyplot (no display or backend needed); ``layout`` is
    matplotlib's layout engine (None: the default subplot grid)."""
    # Imported here, not at the top: the Dask workers of ``fastdl search`` import this module (with
    # the search's), and matplotlib would add ~0.25 s of CPU to each worker's start.
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def save_figure(fig, path):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def prepare_out_dir(path):
    """Create the output directory (and parents); a clear error when it is a file or not writable."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"--out {path} exists and is not a directory")
    path.mkdir(parents=True, exist_ok=True)
    if not os.access(path, os.W_OK):
        raise PermissionError(f"--out {path} is not writable")
    return path


def finish(out, stem, fig, tables, start):
    """Write ``<stem>.png`` and each table, then say what was saved and how long the command took.

    Parameters
    ----------
    out : Path, the output directory.
    stem : str, the experiment's file name stem.
    fig : Figure, saved as ``out/<stem>.png``.
    tables : dict ``{suffix: (rows, fieldnames)}``, each written as ``out/<stem><suffix>.csv``.
    start : float, the command's ``time.perf_counter()`` at its start.
    """
    names = [f"{stem}.png"] + [f"{stem}{suffix}.csv" for suffix in tables]
    save_figure(fig, out / names[0])
    for name, (rows, fieldnames) in zip(names[1:], tables.values()):
        write_csv(out / name, rows, fieldnames)
    print(f"saved: {', '.join(str(out / name) for name in names)}")
    print(f"took {time.perf_counter() - start:.1f} s")


def is_temporary(name):
    """True for a name :func:`atomic_path` gives a temporary file (``.model.npz.k3j_a9x2.npz``)."""
    match = TEMPORARY.match(name)
    return bool(match) and match["name"].endswith(match["suffix"])


@contextlib.contextmanager
def claim_out_dir(path, may_hold_files=False, hint="give --overwrite to replace it"):
    """The output directory, created if needed and locked against other fastdl commands while the block runs.

    Parameters
    ----------
    path : the directory (``--out``)
    may_hold_files : bool
        False: a directory that already holds files (a previous run) is refused with a
        FileExistsError ending in ``hint``, so nothing in it is replaced unasked. True: the
        command continues or replaces what is there (``--resume``, ``--overwrite``).

    The lock (``fcntl.flock`` on ``path/.fastdl.lock``) goes with the process, so a killed run
    never leaves a stale one. Under it, temporaries that killed writes left behind (the hidden
    ``.model.npz.*`` of :func:`atomic_path`) are removed: no other writer can own them.
    """
    path = prepare_out_dir(path)
    with open(path / LOCK_FILE, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FileExistsError(f"--out {path}: another fastdl command is writing into it "
                                  f"(it holds {path / LOCK_FILE}); wait for it or choose another --out") from None
        for entry in path.iterdir():
            if is_temporary(entry.name):
                entry.unlink(missing_ok=True)
        existing = sorted(entry.name for entry in path.iterdir() if entry.name != LOCK_FILE)
        if existing and not may_hold_files:
            shown = ", ".join(existing[:5]) + (", ..." if len(existing) > 5 else "")
            raise FileExistsError(f"--out {path} already holds a previous run ({shown}); {hint}")
        yield path
