"""Artifact fetching: http(s) and file sources into the task directory.

`fetch(artifact, task_dir, alloc_root)` downloads with retries (exponential backoff, only
for network errors and 5xx answers), checks `options.checksum` (`sha256:<hex>`,
`md5:<hex>`, also sha1/sha512), unpacks archives (zip, tar, tar.gz/tgz, tar.bz2, tar.xz)
unless `archive = false`, and writes only inside the allocation directory: a destination
or an archive member that would escape is refused, as is any write into the agent's
`.state/`. Archives are checked member by member before anything is written: links and
special files are refused, and downloads and unpacked sizes are capped (review finding M6).
A relative `file` source must lie inside the allocation directory. Errors carry the message
the task event shows, with credentials and query strings removed from URLs (review L6).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import BinaryIO

from reconciler.model.alloc_dir import (
    PathEscapeError,
    inside,
    inside_task_area,
    open_beneath,
    open_file_beneath,
)
from reconciler.model.job import Artifact

ARCHIVES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar", ".zip")
MAX_DOWNLOAD = 1 << 30  # bytes of one artifact as fetched
MAX_UNPACKED = 4 << 30  # bytes of an archive's members together
MAX_MEMBERS = 100_000
HASHES = {"sha256": hashlib.sha256, "md5": hashlib.md5, "sha1": hashlib.sha1, "sha512": hashlib.sha512}


class ArtifactError(Exception):
    pass


def archive_kind(name: str) -> str:
    low = name.lower()
    for ext in ARCHIVES:
        if low.endswith(ext):
            return ext
    return ""


def shown(url: str) -> str:
    """`url` as events may show it: no user:password, no query (signed URLs carry secrets)."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _copy_capped(src: BinaryIO, out: BinaryIO, what: str) -> None:
    total = 0
    for chunk in iter(lambda: src.read(1 << 20), b""):
        total += len(chunk)
        if total > MAX_DOWNLOAD:
            raise ArtifactError(f"artifact {what} is larger than {MAX_DOWNLOAD} bytes")
        out.write(chunk)


def _download(url: str, headers: dict[str, str], dest: Path, *, attempts: int, backoff: float) -> None:
    last = ""
    for i in range(attempts):
        try:
            req = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(req, timeout=30) as resp, open(dest, "wb") as out:
                _copy_capped(resp, out, shown(url))
            return
        except urllib.error.HTTPError as exc:
            last = f"bad response code: {exc.code}"
            if exc.code < 500:
                break
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            last = str(getattr(exc, "reason", exc))
        if i + 1 < attempts:
            time.sleep(backoff * (2**i))
    raise ArtifactError(f"failed to download artifact {shown(url)!r}: {last}")


def _verify(path: Path, checksum: str) -> None:
    algo, _, want = checksum.partition(":")
    if algo not in HASHES or not want:
        raise ArtifactError(f"invalid checksum {checksum!r}: use <sha256|md5|sha1|sha512>:<hex>")
    h = HASHES[algo]()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    got = h.hexdigest()
    if got.lower() != want.lower():
        raise ArtifactError(f"checksum mismatch: expected {algo}:{want} got {algo}:{got}")


def _check_members(entries: list[tuple[str, int, bool]], dest: Path) -> None:
    """(name, size, is a regular file or directory) of every member, checked before any is
    written: `tarfile`'s own filter has had bypasses (CVE-2025-4517 and others), so links
    and special files are refused outright rather than validated."""
    if len(entries) > MAX_MEMBERS:
        raise ArtifactError(f"archive has {len(entries)} members; the limit is {MAX_MEMBERS}")
    total = 0
    for name, size, plain in entries:
        if not plain:
            raise ArtifactError(f"archive member refused: {name!r} is a link or a special file")
        inside(dest, name)
        total += size
        if total > MAX_UNPACKED:
            raise ArtifactError(f"archive unpacks to more than {MAX_UNPACKED} bytes")


def _unpack(archive: Path, kind: str, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if kind == ".zip":
            with zipfile.ZipFile(archive) as zf:
                infos = zf.infolist()
                # a zip's unix mode can mark a member as a symlink; extractall would write it as a file
                _check_members(
                    [
                        (i.filename, i.file_size, (i.external_attr >> 16) & 0o170000 != 0o120000)
                        for i in infos
                    ],
                    dest,
                )
                zf.extractall(dest)
            return
        with tarfile.open(archive, "r:*") as tf:
            members = tf.getmembers()
            _check_members([(m.name, m.size, m.isfile() or m.isdir()) for m in members], dest)
            tf.extractall(dest, members=members, filter="data")
    except PathEscapeError as exc:
        raise ArtifactError(f"archive member refused: {exc}") from None
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        raise ArtifactError(f"failed to unpack {archive.name}: {exc}") from None


def fetch(
    art: Artifact,
    *,
    task_dir: Path,
    alloc_root: Path,
    attempts: int = 3,
    backoff: float = 0.2,
    file_roots: tuple[str, ...] = (),
) -> Path:
    """Fetch one artifact; returns where it landed. A `file` source outside the allocation
    directory must be under one of `file_roots` (the agent's `--artifact-file-roots`)."""
    task_rel = os.path.relpath(task_dir, alloc_root)
    dest_rel = art.destination or "local/"
    try:
        dest = inside_task_area(alloc_root, os.path.join(task_rel, dest_rel))
    except PathEscapeError as exc:
        raise ArtifactError(
            f"artifact destination {dest_rel!r} escapes the allocation directory: {exc}"
        ) from None
    parsed = urllib.parse.urlsplit(art.source)
    query = dict(urllib.parse.parse_qsl(parsed.query))
    options = {**query, **art.options}
    checksum = options.pop("checksum", "")
    archive = art.archive and options.pop("archive", "true").lower() not in ("false", "0", "no")
    name = os.path.basename(parsed.path) or "artifact"
    with tempfile.TemporaryDirectory(dir=alloc_root) as tmp:
        got = Path(tmp) / name
        if parsed.scheme in ("http", "https"):
            clean = {k: v for k, v in query.items() if k not in ("checksum", "archive")}
            url = urllib.parse.urlunsplit(parsed._replace(query=urllib.parse.urlencode(clean)))
            _download(url, art.headers, got, attempts=attempts, backoff=backoff)
        elif parsed.scheme in ("file", ""):
            raw = urllib.parse.unquote(parsed.path)
            _copy_local(art.source, _local_source(raw, alloc_root, task_rel, file_roots), got, alloc_root)
        else:
            raise ArtifactError(
                f"unsupported artifact source scheme {parsed.scheme!r} in {shown(art.source)!r}"
            )
        if checksum:
            _verify(got, checksum)
        try:
            return _land(got, archive_kind(name) if archive else "", art.mode, dest, alloc_root)
        except OSError as exc:  # a link in place of a directory (M5), a directory in place of a file
            raise ArtifactError(
                f"failed to place artifact {shown(art.source)!r} in {dest_rel!r}: {exc}"
            ) from None


def _local_source(raw: str, alloc_root: Path, task_rel: str, file_roots: tuple[str, ...]) -> Path:
    """Where a `file` source is read (review M6): relative to the task directory, or an
    absolute path, inside the allocation directory, unless it is under a root the operator
    allowed (`--artifact-file-roots`), as Nomad's artifact sandbox lets go-getter read only
    the task's own directory unless the client's `artifact` block opens more."""
    if os.path.isabs(raw):
        real = os.path.realpath(raw)
        for root in file_roots:
            if os.path.commonpath([real, os.path.realpath(root)]) == os.path.realpath(root):
                return Path(real)
        rel = os.path.relpath(real, os.path.realpath(alloc_root))
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            raise ArtifactError(
                f"artifact source {raw!r} is outside the allocation directory"
                " and not under the agent's --artifact-file-roots"
            )
        raw, task_rel = rel, ""
    try:
        return inside_task_area(alloc_root, os.path.join(task_rel, raw))
    except PathEscapeError as exc:
        raise ArtifactError(f"artifact source {raw!r} is outside the allocation directory: {exc}") from None


def _copy_local(source: str, src: Path, got: Path, alloc_root: Path) -> None:
    """Copy a `file` source (a regular file, at most the download cap)."""
    if not src.is_file():
        raise ArtifactError(f"failed to download artifact {shown(source)!r}: no such file {src}")
    try:  # inside the allocation: no link followed on the way (M5); an allowed root is the operator's
        fd = (
            open_file_beneath(alloc_root, src)
            if alloc_root.resolve() in src.parents
            else os.open(src, os.O_RDONLY)
        )
    except (OSError, PathEscapeError) as exc:
        raise ArtifactError(f"failed to read artifact {shown(source)!r}: {exc}") from None
    with os.fdopen(fd, "rb") as fin, open(got, "wb") as fout:
        _copy_capped(fin, fout, str(src))


def _land(got: Path, kind: str, mode: str, dest: Path, alloc_root: Path) -> Path:
    """Move the fetched file `got` to `dest` by the artifact's mode: as the file `dest`
    (mode "file"), unpacked into `dest` (an archive, `kind` its extension), or into `dest`
    under its own name; returns where it landed. Archives are unpacked in the agent's own
    temporary directory first, and everything is placed relative to a descriptor of its
    directory reached without following links (`open_beneath`, review M5), so a link a task
    swaps in after the destination was checked is refused, never followed."""
    name = got.name
    if mode == "file":
        if kind:
            raise ArtifactError(f"artifact mode is 'file' but {name} is an archive (set archive = false)")
        _place(got, dest.parent, dest.name, alloc_root)
        return dest
    if kind:
        unpacked = got.parent / (name + ".unpacked")
        _unpack(got, kind, unpacked)
        dfd = _open_dest(dest, alloc_root)
        try:
            _merge(unpacked, dfd)
        finally:
            os.close(dfd)
        return dest
    if mode == "dir":
        raise ArtifactError(f"artifact mode is 'dir' but {name} is not an archive")
    _place(got, dest, name, alloc_root)
    return dest / name


def _open_dest(directory: Path, alloc_root: Path) -> int:
    try:
        return open_beneath(alloc_root, directory, create=True)
    except (OSError, PathEscapeError) as exc:
        raise ArtifactError(f"artifact destination {directory} cannot be used: {exc}") from None


def _place(src: Path, directory: Path, name: str, alloc_root: Path) -> None:
    """`src` renamed to `directory/name` (a link planted at that name is replaced)."""
    dfd = _open_dest(directory, alloc_root)
    try:
        os.replace(src, name, dst_dir_fd=dfd)
    finally:
        os.close(dfd)


def _merge(src: Path, dfd: int) -> None:
    """Move the tree `src` (the agent's, just unpacked) into the directory `dfd`, merging
    into directories already there, entering each with O_NOFOLLOW."""
    for entry in os.scandir(src):
        if entry.is_dir(follow_symlinks=False):
            with contextlib.suppress(FileExistsError):
                os.mkdir(entry.name, dir_fd=dfd)
            sub = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dfd)
            try:
                _merge(Path(entry.path), sub)
            finally:
                os.close(sub)
        else:
            os.replace(entry.path, entry.name, dst_dir_fd=dfd)
