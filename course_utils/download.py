"""Downloads a student can trust: by name, from a registry with checksums (introduced in lesson 01).

    path = cu.fetch("pairs.txt")                 # LFW's pairs file, checked against its sha256
    cu.safe_extract(cu.fetch("lfw.tgz"), folder)  # unpack, refusing paths that leave ``folder``

Every downloadable file has one line in ``course_utils/registry.txt``::

    name  sha256  url  [mirror-url ...]

pooch does the download: :func:`pooch.create` with the entry's hash (``"md5:..."`` names another
algorithm, as in pooch), ``retry_if_failed`` and its :class:`pooch.HTTPDownloader` (requests streaming,
a tqdm progress bar).  pooch writes into a temporary file in the cache folder and moves it into place
only after the checksum matched; on a mismatch or an error (``KeyboardInterrupt`` included) it deletes
that file, so a half file is never taken as complete.  Around it this module adds what a course needs:

* mirrors: the URLs of an entry are tried in turn (each with pooch's retries, except after an
  HTTP 4xx: the file is not there);
* when every URL failed, :class:`DownloadError` names the file, each URL with what went
  wrong, and the manual route (where to get the file by hand and where to put it);
* :func:`safe_extract` refuses archive members that would land outside the target folder
  (``..``, absolute paths, links pointing outside, device files).

The cache folder is ``cu.env.choose_data_dir(...)``: ``$COURSE_DATA_DIR`` if set, else
``/kaggle/working/data`` on Kaggle, else ``data/cache`` in the repository.
"""
from __future__ import annotations

import os
import shutil
import stat
import tarfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Mapping

from .text import clip

#: The course's registry of downloadable files (``name sha256 url [mirror ...]``).
REGISTRY_FILE = Path(__file__).with_name("registry.txt")
#: Seconds to wait for the server to answer (connect and each read).
DEFAULT_TIMEOUT = 30.0
#: Written in place of a hash in the registry when none is known (a warning is printed).
UNKNOWN_HASH = "-"


class DownloadError(RuntimeError):
    """A file could not be downloaded from any of its URLs (the message says what to do)."""


class UnsafeArchiveError(ValueError):
    """An archive member would be written outside the target folder (or is a device file)."""


@dataclass(frozen=True)
class RegistryEntry:
    """One downloadable file: its name in the cache, its checksum and where to get it.

    ``known_hash`` follows pooch's convention: a bare hex string is SHA-256, ``"md5:..."``
    names another algorithm, ``None`` means unknown (the download is not verified).
    """

    name: str
    known_hash: str | None
    urls: tuple[str, ...]
    manual: str = ""


def parse_registry(text: str, source: str = "registry") -> dict[str, RegistryEntry]:
    """Parse registry lines ``name sha256 url [mirror ...]``; lines starting with ``#`` are comments.

    Raises:
        ValueError: a line with fewer than three fields, a bad hash or a duplicate name.
    """
    entries: dict[str, RegistryEntry] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) < 3:
            raise ValueError(f"{source}, line {lineno}: expected 'name sha256 url [mirror ...]', got {raw!r}")
        name, known_hash, urls = fields[0], fields[1], tuple(fields[2:])
        if known_hash in (UNKNOWN_HASH, "None", "none"):
            known_hash = None
        else:
            _check_hash_format(known_hash, f"{source}, line {lineno}")
        if name in entries:
            raise ValueError(f"{source}, line {lineno}: {name!r} is listed twice")
        entries[name] = RegistryEntry(name, known_hash, urls)
    return entries


def _check_hash_format(known_hash: str, where: str) -> None:
    alg, _, digest = known_hash.rpartition(":")
    alg = alg or "sha256"
    sizes = {"sha256": 64, "sha1": 40, "md5": 32}
    if alg not in sizes:
        raise ValueError(f"{where}: unknown hash algorithm {alg!r}; use one of {', '.join(sizes)}")
    if len(digest) != sizes[alg] or any(c not in "0123456789abcdefABCDEF" for c in digest):
        raise ValueError(f"{where}: {known_hash!r} is not a {alg} hex digest ({sizes[alg]} hex digits)")


def load_registry(path: str | Path | None = None) -> dict[str, RegistryEntry]:
    """Read a registry file (default: the course's ``course_utils/registry.txt``)."""
    path = REGISTRY_FILE if path is None else Path(path)
    return parse_registry(path.read_text(encoding="utf-8"), source=str(path))


def file_hash(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file (pooch's :func:`pooch.file_hash`)."""
    import pooch

    return pooch.file_hash(str(path), alg=algorithm)


def hash_matches(path: str | Path, known_hash: str | None) -> bool:
    """Whether ``path`` has ``known_hash`` (pooch's convention; ``None`` always matches)."""
    if known_hash is None:
        return True
    alg, _, digest = known_hash.rpartition(":")
    return file_hash(path, alg or "sha256") == digest.lower()


def default_data_dir() -> Path:
    """The writable cache folder (``$COURSE_DATA_DIR``, Kaggle's working dir or ``data/cache``)."""
    from .env import choose_data_dir, detect_platform

    return choose_data_dir(detect_platform())


class _NotThere(Exception):
    """An HTTP 4xx answer: the file is not at this URL, so pooch must not retry it.

    Deliberately neither a ``ValueError`` nor a ``requests.RequestException``: those two are
    what pooch's ``stream_download`` retries.
    """

    def __init__(self, error):
        super().__init__(str(error))
        self.response = error.response


def _downloader(progressbar: bool, timeout: float):
    """pooch's HTTPDownloader (tqdm bar on stderr), with a 4xx answer turned into :class:`_NotThere`."""
    import pooch
    import requests

    http = pooch.HTTPDownloader(progressbar=progressbar, timeout=timeout)

    def download(url: str, output_file, pup) -> None:
        try:
            http(url, output_file, pup)
        except requests.HTTPError as exc:
            if exc.response is not None and 400 <= exc.response.status_code < 500:
                raise _NotThere(exc) from exc
            raise

    return download


def _describe(exc: BaseException, timeout: float) -> str:
    import requests

    if isinstance(exc, (requests.HTTPError, _NotThere)) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason}"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"connection dropped mid-transfer ({clip(exc, 160)})"
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g} s (timeout)"
    if isinstance(exc, requests.ConnectionError):
        return f"no connection: the server is unreachable or this machine is offline ({clip(exc, 160)})"
    if isinstance(exc, ValueError):  # pooch's checksum mismatch: expected and got, in full
        return str(exc)
    return f"{type(exc).__name__}: {clip(exc, 160)}"


def _entry(name: str, registry) -> RegistryEntry:
    if not isinstance(registry, Mapping):
        registry = load_registry(registry)
    if name not in registry:
        raise ValueError(f"{name!r} is not in the registry; choose one of {', '.join(sorted(registry))}")
    return registry[name]


def _is_cached(dest: Path, known_hash: str | None) -> bool:
    """Whether ``dest`` is there with its checksum; warns when it is there but differs."""
    if not dest.is_file():
        return False
    if hash_matches(dest, known_hash):
        return True
    warnings.warn(f"{dest} does not match its registry checksum; downloading it again", stacklevel=3)
    return False


def _fetch_from(url: str, entry: RegistryEntry, folder: Path, retries: int, download) -> None:
    """One mirror: pooch checks the hash, retries ``retries`` times and moves the file into place."""
    import pooch

    pup = pooch.create(path=folder, base_url=url.rsplit("/", 1)[0], registry={entry.name: entry.known_hash},
                       urls={entry.name: url}, retry_if_failed=retries)
    pup.fetch(entry.name, downloader=download)


def _manual_route(entry: RegistryEntry, dest: Path, manual: str | None) -> str:
    how = manual or entry.manual or (
        f"download {entry.urls[0]} in a browser (or from any mirror you trust)")
    check = ""
    if entry.known_hash:
        alg, _, digest = entry.known_hash.rpartition(":")
        check = f" Its {alg or 'sha256'} must be {digest}."
    return (f"Manual route: {how}; save it as {dest} (or put it in a folder and set COURSE_DATA_DIR "
            f"to that folder), then run this again.{check}")


def _failure_message(entry: RegistryEntry, dest: Path, failures: list[str], manual: str | None) -> str:
    offline = any("no connection" in f for f in failures)
    return (f"could not download {entry.name!r} into {dest.parent}.\nTried:\n" + "\n".join(failures) + "\n"
            + ("Are you offline? On Kaggle, switch on Settings > Internet, or attach the dataset instead.\n"
               if offline else "")
            + _manual_route(entry, dest, manual))


def fetch(name: str, *, registry: Mapping[str, RegistryEntry] | str | Path | None = None,
          data_dir: str | Path | None = None, progressbar: bool = True, retries: int = 1,
          timeout: float = DEFAULT_TIMEOUT, manual: str | None = None) -> Path:
    """Return the local path of registry file ``name``, downloading it first if needed.

    A cached file whose checksum matches is used as is (no network).  Otherwise each URL
    of the entry is handed to pooch in turn, until one gives the file with its checksum.

    Args:
        name: a file name from the registry (e.g. ``"pairs.txt"``).
        registry: a dict of :class:`RegistryEntry`, or a registry file; default the course's.
        data_dir: the cache folder; default :func:`default_data_dir`.
        progressbar: show pooch's tqdm progress bar during the transfer.
        retries: pooch's ``retry_if_failed`` for each URL: extra tries after a dropped
            connection, a timeout, an HTTP 5xx or a checksum mismatch, waiting 1 s, 2 s, ...
            in between (an HTTP 4xx answer is not retried).
        timeout: seconds to wait for the server (connect and each read).
        manual: how to get the file by hand, for the error message (default: the URL).

    Returns:
        The path ``data_dir / name``, complete and verified.

    Raises:
        ValueError: ``name`` is not in the registry (the message lists the names).
        DownloadError: every URL failed; the message names the file, each URL with what
            went wrong on its last try, and the manual route.
    """
    entry = _entry(name, registry)
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    folder = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    dest = folder / name
    if _is_cached(dest, entry.known_hash):
        return dest
    download = _downloader(progressbar, timeout)
    failures: list[str] = []
    for url in entry.urls:
        try:
            _fetch_from(url, entry, folder, retries, download)
        except Exception as exc:  # noqa: BLE001 - every failure is reported in the DownloadError
            tries = 1 if isinstance(exc, _NotThere) else retries + 1
            failures.append(f"  {url} ({tries} {'try' if tries == 1 else 'tries'}): {_describe(exc, timeout)}")
            continue
        if entry.known_hash is None:
            warnings.warn(f"{name} has no checksum in the registry, so this download is NOT "
                          f"verified; its sha256 is {file_hash(dest)}", stacklevel=2)
        return dest
    raise DownloadError(_failure_message(entry, dest, failures, manual))


# --------------------------------------------------------------------------------------------
# archives

def _inside(base: Path, target: Path) -> bool:
    try:
        target.relative_to(base)
        return True
    except ValueError:
        return False


def _check_name(archive: Path, name: str, root: Path) -> Path:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} has an absolute path; refusing to extract")
    target = Path(os.path.normpath(root / pure))
    if not _inside(root, target):
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} would be written outside the target "
                                 f"folder ({root}); refusing to extract")
    return target


def _check_link(archive: Path, name: str, link: str, root: Path, hard: bool) -> None:
    link_path = PurePosixPath(link.replace("\\", "/"))
    kind = "hard link" if hard else "symlink"
    if link_path.is_absolute():
        raise UnsafeArchiveError(f"{archive.name}: {kind} {name!r} points to the absolute path {link!r}; "
                                 "refusing to extract")
    base = root if hard else Path(os.path.normpath(root / PurePosixPath(name))).parent
    target = Path(os.path.normpath(base / link_path))
    if not _inside(root, target):
        raise UnsafeArchiveError(f"{archive.name}: {kind} {name!r} -> {link!r} points outside the target "
                                 f"folder; refusing to extract")


def check_archive(archive: str | Path, dest: str | Path) -> list[str]:
    """Member names of a ``.tar[.gz|.bz2|.xz]``/``.tgz`` or ``.zip`` archive, after checking
    that each would land inside ``dest``.

    Raises:
        UnsafeArchiveError: an absolute path, a ``..`` escape, a symlink or hard link whose
            target is outside ``dest``, or a device/FIFO member.
        ValueError: not a tar or zip archive.
    """
    archive = Path(archive)
    root = Path(os.path.abspath(dest))
    names = []
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _check_name(archive, info.filename, root)
                if stat.S_ISLNK(info.external_attr >> 16):
                    _check_link(archive, info.filename, zf.read(info).decode("utf-8", "replace"), root, False)
                names.append(info.filename)
        return names
    if not tarfile.is_tarfile(archive):
        raise ValueError(f"{archive} is neither a tar nor a zip archive (is the download complete?)")
    with tarfile.open(archive) as tf:
        for m in tf.getmembers():
            _check_name(archive, m.name, root)
            if m.issym() or m.islnk():
                _check_link(archive, m.name, m.linkname, root, hard=m.islnk())
            elif not (m.isfile() or m.isdir()):
                raise UnsafeArchiveError(f"{archive.name}: member {m.name!r} is a device or FIFO; refusing to extract")
            names.append(m.name)
    return names


def safe_extract(archive: str | Path, dest: str | Path) -> Path:
    """Extract a tar or zip archive into the folder ``dest`` and return ``dest``.

    Every member is checked first (:func:`check_archive`); nothing is written if one is
    unsafe.  The archive is unpacked into a hidden ``dest/.<archive>.partial`` folder and its
    top-level entries are then moved into ``dest``; the marker file ``dest/.<archive>.extracted``
    is written last.  A second call with the marker present does nothing, and a call after an
    interrupted one starts again from a clean partial folder.

    Raises:
        UnsafeArchiveError: see :func:`check_archive`.
        FileExistsError: a top-level entry of the archive already exists in ``dest`` (without
            the marker); the message says which one to remove.
    """
    archive, dest = Path(archive), Path(dest)
    marker = dest / f".{archive.name}.extracted"
    if marker.exists():
        return dest
    check_archive(archive, dest)
    partial = dest / f".{archive.name}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(partial)
        else:
            with tarfile.open(archive) as tf:
                if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: a second line of defence
                    tf.extractall(partial, filter="data")
                else:  # pragma: no cover - older Pythons; members were checked above
                    tf.extractall(partial)
        tops = sorted(partial.iterdir())
        for top in tops:
            if (dest / top.name).exists() or (dest / top.name).is_symlink():
                raise FileExistsError(f"{dest / top.name} already exists, so {archive.name} cannot be "
                                      "extracted there; remove it (it may be left from an interrupted run) "
                                      "or choose another folder")
        for top in tops:
            os.replace(top, dest / top.name)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    marker.write_text(f"{archive.name} sha256 {file_hash(archive)}\n", encoding="utf-8")
    return dest

