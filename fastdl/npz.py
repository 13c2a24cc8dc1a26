"""Reading ``.npz`` archives with every read bounded by what the headers declare.

``np.load`` allocates whatever shape a member's ``.npy`` header states before
reading a byte of it, and a deflated member of a few megabytes can inflate to
gigabytes. :class:`BoundedNpz` reads the headers first, so the caller can
check every shape and dtype against what it expects (a dataset's fixed shapes,
a checkpoint's schema) before any array is allocated, and then reads each
array with no more bytes than its header and the zip directory declare.
"""
import math
import os
import zipfile

import numpy as np

HEADER_LIMIT = 1 << 16
"""Bytes of ``.npy`` header read at most; NumPy itself refuses longer ones by default."""


class NpzError(ValueError):
    """A member of an ``.npz`` cannot be read as declared (bad header, size mismatch, truncated)."""


class BoundedNpz:
    """An open ``.npz``: ``headers`` first, then :meth:`read` one member at a time.

    Parameters
    ----------
    path : str or Path of the archive
    max_inflated : int, optional
        Bytes that the compressed members may declare in all; uncompressed members are
        bounded by the file itself. None: no bound beyond the declared sizes.

    Attributes
    ----------
    headers : dict of str to (tuple, numpy dtype)
        Each member's name (without ``.npy``) with the shape and dtype its header declares.

    Raises
    ------
    OSError, zipfile.BadZipFile, NpzError
        The file cannot be opened, is not a zip archive, or a member is no ``.npy``
        (or holds Python objects, which are never unpickled).
    """

    def __init__(self, path, max_inflated=None):
        self.path = path
        self._zip = zipfile.ZipFile(path)
        self._members = {}
        self.headers = {}
        try:
            size = os.path.getsize(path)
            inflated = 0
            for info in self._zip.infolist():
                if info.header_offset + info.compress_size > size:
                    raise NpzError(f"{info.filename} is truncated: it claims {info.compress_size} bytes "
                                   f"at offset {info.header_offset} of a {size}-byte file")
                if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
                    raise NpzError(f"{info.filename} is stored uncompressed, yet declares {info.file_size} "
                                   f"bytes in {info.compress_size}")
                if info.compress_type != zipfile.ZIP_STORED:
                    inflated += info.file_size
                    if max_inflated is not None and inflated > max_inflated:
                        raise NpzError(f"{info.filename}: the compressed members would inflate to more than "
                                       f"{max_inflated} bytes")
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                with self._zip.open(info) as member:
                    shape, fortran, dtype = _read_header(member, name)
                    offset = member.tell()
                if dtype.hasobject:
                    raise NpzError(f"{name} holds Python objects; only plain arrays are read")
                nbytes = math.prod(shape) * dtype.itemsize
                if offset + nbytes != info.file_size:
                    raise NpzError(f"{name} declares {dtype} {shape} ({nbytes} bytes), but the archive "
                                   f"holds {info.file_size - offset} bytes for it")
                self._members[name] = (info, shape, fortran, dtype, offset)
                self.headers[name] = (shape, dtype)
        except BaseException:
            self._zip.close()
            raise

    def read(self, name):
        """The member ``name`` as a new array of its declared shape and dtype; NpzError if it is cut short."""
        info, shape, fortran, dtype, offset = self._members[name]
        buffer = bytearray(math.prod(shape) * dtype.itemsize)
        with self._zip.open(info) as member:
            member.read(offset)
            got = member.readinto(buffer) if buffer else 0
        if got != len(buffer):
            raise NpzError(f"{name} is truncated: {got} of {len(buffer)} bytes")
        array = np.frombuffer(buffer, dtype) if buffer else np.empty(0, dtype)
        return array.reshape(shape, order="F" if fortran else "C")

    def close(self):
        self._zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _read_header(member, name):
    """``(shape, fortran_order, dtype)`` from the start of a ``.npy`` stream."""
    try:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(member, max_header_size=HEADER_LIMIT)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(member, max_header_size=HEADER_LIMIT)
    except ValueError as exc:
        raise NpzError(f"{name} is not a readable .npy member ({exc})") from None
    raise NpzError(f"{name} has .npy format version {version}, which this NumPy cannot read")
