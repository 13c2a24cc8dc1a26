"""MNIST and Fashion-MNIST with the book's ``load_mnist`` contract (``dataset/mnist.py``).

Where the files come from, first match wins:

1. the ``data_dir`` argument, else
2. the ``FASTDL_DATA`` environment variable, else
3. a known system location (Fashion-MNIST: the Debian package ``dataset-fashion-mnist``), else
4. the user cache directory ``$XDG_CACHE_HOME/fastdl/<dataset>`` (``~/.cache/fastdl/<dataset>``),
   where missing files are downloaded.

A directory named by ``data_dir`` or ``FASTDL_DATA`` must exist; files missing there are downloaded
into it, and downloads are the only files ever written into a data directory. Unlike the book's
``mnist.pkl`` beside the module, the parsed arrays are cached in ``<user cache>/<dataset>/<dataset>.npz``
(one per dataset), stamped with the source files' paths, sizes and modification times; loading from
another directory or from changed files rebuilds it. Every file and every cache load is checked
against the published md5 of the decompressed IDX content, so a corrupt, stale or foreign file is
reported (or, for the cache, rebuilt) instead of being trained on.
"""
import contextlib
import gzip
import hashlib
import json
import os
import struct
import urllib.request
import uuid
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .npz import BoundedNpz

FILES = {
    "train_img": "train-images-idx3-ubyte.gz",
    "train_label": "train-labels-idx1-ubyte.gz",
    "test_img": "t10k-images-idx3-ubyte.gz",
    "test_label": "t10k-labels-idx1-ubyte.gz",
}
TITLES = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}
# md5 of the decompressed files: the official releases' content, whatever the gzip wrapper.
CONTENT_MD5 = {
    "mnist": {
        "train_img": "6bbc9ace898e44ae57da46a324031adb",
        "train_label": "a25bea736e30d166cdddb491f175f624",
        "test_img": "2646ac647ad5339dbf082846283269ea",
        "test_label": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion": {
        "train_img": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train_label": "9018921c3c673c538a1fc5bad174d6f9",
        "test_img": "8181f5470baa50b63fa0f6fddb340f0a",
        "test_label": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}
MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}
KNOWN_DIRS = {
    "mnist": [],
    "fashion": [(Path("/usr/share/datasets/fashion-mnist"), "Debian package dataset-fashion-mnist")],
}
DOWNLOAD_TIMEOUT = 10  # seconds per connect/read; offline, DNS or the connection fails at once
# Some mirrors answer Python's default User-Agent with HTTP 403/503 (the book added one in 2021).
USER_AGENT = "Mozilla/5.0 (compatible; fastdl dataset loader)"
NUM_SAMPLES = {"train": 60000, "test": 10000}
IMG_DIM = (1, 28, 28)
IMG_SIZE = 784
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049


class DatasetError(ValueError):
    """A data file or directory is missing, unreadable or not the expected dataset."""


def load_mnist(normalize=True, flatten=True, one_hot_label=False, data_dir=None, dataset="mnist"):
    """Load MNIST (or Fashion-MNIST) as the book does.

    Parameters
    ----------
    normalize : bool
        Images as float32 in [0, 1] (cast, then divided by 255.0), else uint8 in [0, 255].
    flatten : bool
        Images as (N, 784), else (N, 1, 28, 28).
    one_hot_label : bool
        Labels as float64 one-hot rows (N, 10), else uint8 class indices (N,).
    data_dir : str or os.PathLike, optional
        Directory holding the four IDX ``.gz`` files; overrides ``FASTDL_DATA``.
    dataset : {"mnist", "fashion"}
        Which dataset to load.

    Returns
    -------
    ((x_train, t_train), (x_test, t_test))
        60,000 training and 10,000 test samples; all arrays are fresh and writable.

    Raises
    ------
    DatasetError
        A directory is missing, a file is truncated, corrupt or not this dataset, or files are
        missing and could not be downloaded; the message names the path and the problem.
    """
    if dataset not in TITLES:
        raise DatasetError(f"unknown dataset {dataset!r}; choose one of {sorted(TITLES)}")
    data = _load_arrays(dataset, data_dir)
    # The book's order: normalize, then one-hot, then reshape.
    if normalize:
        for key in ("train_img", "test_img"):
            data[key] = normalize_images(data[key])
    if one_hot_label:
        for key in ("train_label", "test_label"):
            data[key] = _change_one_hot_label(data[key])
    if not flatten:
        for key in ("train_img", "test_img"):
            data[key] = data[key].reshape(-1, *IMG_DIM)
    return (data["train_img"], data["train_label"]), (data["test_img"], data["test_label"])


def normalize_images(images):
    """uint8 images -> float32 in [0, 1] as ``load_mnist(normalize=True)`` gives them: cast, then divided by 255.0."""
    images = images.astype(np.float32)
    images /= 255.0
    return images


def _change_one_hot_label(labels):
    """labels : (N,) class indices -> (N, 10) float64 one-hot rows."""
    one_hot = np.zeros((labels.size, 10))
    one_hot[np.arange(labels.size), labels] = 1.0
    return one_hot


def _load_arrays(dataset, data_dir):
    """Dict of the four uint8 arrays, from the verified cache or parsed from the ``.gz`` files."""
    source = _find_source(dataset, data_dir)
    stamp = json.dumps([_file_stamp(source / name) for name in FILES.values()])
    cache = _user_cache_dir(dataset) / f"{dataset}.npz"
    data = _read_cache(cache, stamp, dataset)
    if data is None:
        data = {key: _read_idx(source / name, key, dataset) for key, name in FILES.items()}
        _write_cache(cache, data, stamp)
    return data


def _user_cache_dir(dataset):
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return root / "fastdl" / dataset


class MissingDataError(DatasetError):
    """The dataset's files are not where fastdl looked and could not be downloaded."""


def find_dataset(dataset="mnist", data_dir=None):
    """The directory that holds the dataset's four ``.gz`` files, downloading them if it has to.

    What :func:`load_mnist` does first, without parsing anything: commands call it
    before they print a plan or create an output directory. Raises DatasetError
    (MissingDataError when the files are nowhere) naming the places looked in.
    """
    if dataset not in TITLES:
        raise DatasetError(f"unknown dataset {dataset!r}; choose one of {sorted(TITLES)}")
    return _find_source(dataset, data_dir)


def _find_source(dataset, data_dir):
    """The directory holding all four files, downloading the missing ones if it has to."""
    if data_dir is not None:
        places, explicit = [(Path(data_dir).expanduser(), "data_dir argument")], True
    elif os.environ.get("FASTDL_DATA"):
        places, explicit = [(Path(os.environ["FASTDL_DATA"]).expanduser(), "FASTDL_DATA")], True
    else:
        places = KNOWN_DIRS[dataset] + [(_user_cache_dir(dataset), "user cache directory")]
        explicit = False
    for directory, origin in places:
        if explicit and not directory.is_dir():
            raise MissingDataError(
                f"{TITLES[dataset]} data directory {directory} (from the {origin}) does not exist "
                f"or is not a directory; it must be the directory that holds {', '.join(FILES.values())}"
            )
        if all((directory / name).is_file() for name in FILES.values()):
            return directory
    target = places[-1][0]
    target.mkdir(parents=True, exist_ok=True)
    _download(dataset, target, places)
    return target


def _download(dataset, target, places):
    """Fetch each file missing from ``target``, trying the mirrors in order; fail on the first miss."""
    for key, name in FILES.items():
        if (target / name).is_file():
            continue
        failures = []
        for base in MIRRORS[dataset]:
            try:
                _fetch(base + name, target / name, key, dataset)
                break
            except (OSError, DatasetError) as exc:
                failures.append(f"  {base + name}: {exc}")
        else:
            raise MissingDataError(_missing_message(dataset, places, failures))


def _missing_message(dataset, places, failures):
    looked = [
        f"  {directory / name}  ({origin})"
        for directory, origin in places
        for name in FILES.values()
        if not (directory / name).is_file()
    ]
    return "\n".join(
        [f"{TITLES[dataset]} files are missing and could not be downloaded. Looked for:"]
        + looked
        + ["Download attempts:"]
        + failures
        + [
            "If you have the files, point fastdl at the directory that holds them: "
            "load_mnist(data_dir='/path/to/dir') or FASTDL_DATA=/path/to/dir."
        ]
        + [f"Or install the {origin}." for _, origin in KNOWN_DIRS[dataset]]
    )


def _fetch(url, path, key, dataset):
    """Download ``url`` into a temp file beside ``path``, verify it, then move it into place."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with _temp_beside(path) as tmp:
        with open(tmp, "wb") as out, urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response:
            size = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=size, unit="B", unit_scale=True, desc=path.name) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
        _read_idx(tmp, key, dataset, shown_as="downloaded file")


@contextlib.contextmanager
def _temp_beside(path):
    """Yield a temp path beside ``path`` that replaces it on success and is deleted on failure."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.part")
    tmp.touch(exist_ok=False)  # unlike mkstemp's 0600, follows the umask, as the final file should
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _idx_header(key):
    """The IDX header of one of the dataset's files: big-endian uint32 magic, count[, rows, cols]."""
    count = NUM_SAMPLES[key.split("_")[0]]
    if key.endswith("img"):
        return struct.pack(">4I", IMAGE_MAGIC, count, *IMG_DIM[1:])
    return struct.pack(">2I", LABEL_MAGIC, count)


def _shape(key):
    count = NUM_SAMPLES[key.split("_")[0]]
    return (count, IMG_SIZE) if key.endswith("img") else (count,)


def _read_idx(path, key, dataset, shown_as=None):
    """Decompress and check one IDX file; uint8 images (N, 784) or labels (N,).

    Checks the gzip stream, the header (magic, count, 28x28), the length and the content md5.
    """
    shown_as = shown_as or str(path)
    header = _idx_header(key)
    # Never inflate more than the file can hold: the header, the items it must declare, and one byte
    # more to tell "has extra bytes" apart. A small gzip can inflate to gigabytes (a "zip bomb").
    limit = len(header) + int(np.prod(_shape(key))) + 1
    try:
        with gzip.open(path) as stream:
            raw = stream.read(limit)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{shown_as}: not a readable gzip file, corrupt or truncated ({exc})") from exc
    if len(raw) < len(header):
        raise DatasetError(f"{shown_as}: {len(raw)} bytes, too short for an IDX header")
    layout = f">{len(header) // 4}I"
    found, expected = struct.unpack(layout, raw[: len(header)]), struct.unpack(layout, header)
    if found[0] != expected[0]:
        kind = {IMAGE_MAGIC: "an image file", LABEL_MAGIC: "a label file"}.get(found[0], "not an IDX file")
        raise DatasetError(
            f"{shown_as}: magic number {found[0]}, expected {expected[0]}; it looks like {kind}"
        )
    if found[1] != expected[1]:
        raise DatasetError(f"{shown_as}: header says {found[1]} items, expected {expected[1]}")
    if found[2:] != expected[2:]:
        raise DatasetError(f"{shown_as}: header says {found[2]}x{found[3]} images, expected 28x28")
    expected_size = len(header) + int(np.prod(_shape(key)))
    if len(raw) != expected_size:
        problem = (f"truncated: {len(raw)} bytes decompressed" if len(raw) < expected_size
                   else "has extra bytes (or is corrupt): it inflates past the items the header declares")
        raise DatasetError(f"{shown_as}: {problem}, the header implies {expected_size}")
    digest = hashlib.md5(raw).hexdigest()
    if digest != CONTENT_MD5[dataset][key]:
        raise DatasetError(f"{shown_as}: {_checksum_problem(digest, key, dataset)}")
    return np.frombuffer(raw, np.uint8, offset=len(header)).reshape(_shape(key)).copy()


def _checksum_problem(digest, key, dataset):
    for other, sums in CONTENT_MD5.items():
        for other_key, other_digest in sums.items():
            if digest == other_digest:
                return f"this is {TITLES[other]}'s {FILES[other_key]}, not {TITLES[dataset]}'s {FILES[key]}"
    expected = CONTENT_MD5[dataset][key]
    return f"content md5 {digest} is not {TITLES[dataset]}'s ({expected}); the file is corrupt"


def _file_stamp(path):
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def _read_cache(cache, stamp, dataset):
    """The cached arrays if they come from these source files and match the content md5s, else None."""
    try:
        with BoundedNpz(cache) as archive:
            # Every shape is checked before anything is read, so a tampered cache cannot make us allocate.
            if any(archive.headers.get(key) != (_shape(key), np.dtype(np.uint8)) for key in FILES):
                return None
            source_shape, source_dtype = archive.headers.get("source", (None, None))
            if source_shape != () or source_dtype.kind != "U" or source_dtype.itemsize > len(stamp) * 4:
                return None
            if str(archive.read("source")) != stamp:
                return None
            data = {key: archive.read(key) for key in FILES}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error):
        return None
    for key, values in data.items():
        digest = hashlib.md5(_idx_header(key))
        digest.update(np.ascontiguousarray(values))
        if digest.hexdigest() != CONTENT_MD5[dataset][key]:
            return None
    return data


def _write_cache(cache, data, stamp):
    """Write the parsed arrays atomically; an unwritable cache only costs speed, so it warns."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with _temp_beside(cache) as tmp, open(tmp, "wb") as out:
            np.savez(out, source=np.array(stamp), **data)
    except OSError as exc:
        warnings.warn(
            f"cannot write the dataset cache {cache} ({exc}); each load will parse the .gz files",
            stacklevel=4,
        )
