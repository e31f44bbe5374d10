"""Download, verify and extract dataset archives.

A failed download stops with one message saying where to put the archive by
hand; a file whose checksum does not match is renamed aside and never used.
"""

from __future__ import annotations

import hashlib
import http.client
import shutil
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from retrieval_bench.core.errors import UserError
from retrieval_bench.core.io import atomic_path


class ArchiveError(UserError, RuntimeError):
    """An archive could not be obtained or failed verification."""


@dataclass(frozen=True)
class Archive:
    filename: str
    urls: tuple[str, ...]
    md5: str


def file_digest(path: Path, algorithm: str, chunk: int = 1 << 20) -> str:
    """Hex digest of a file, read in chunks (archives are gigabytes)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def md5sum(path: Path) -> str:
    return file_digest(path, "md5")


def _manual_hint(archive: Archive, dest: Path) -> str:
    return (f"place {archive.filename} by hand at {dest} (md5 {archive.md5}); "
            f"it was published at {' or '.join(archive.urls) or 'no public URL any more'}")


def fetch(archive: Archive, folder: Path, timeout: float = 60.0) -> Path:
    """Return the verified archive in `folder`, downloading it if absent."""
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / archive.filename
    if dest.exists():
        _verify(archive, dest)
        return dest
    failures = []
    for url in archive.urls:
        try:
            with atomic_path(dest) as tmp:
                with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                    shutil.copyfileobj(response, out)
                got = md5sum(tmp)
                if got != archive.md5:
                    raise ArchiveError(f"{url} served a file with md5 {got}, expected {archive.md5}")
            return dest
        except (urllib.error.URLError, OSError, http.client.HTTPException, ArchiveError) as e:
            failures.append(f"{url}: {e}")
    raise ArchiveError(f"could not download {archive.filename} ({'; '.join(failures)}); "
                       + _manual_hint(archive, dest))


def _verify(archive: Archive, path: Path) -> None:
    got = md5sum(path)
    if got != archive.md5:
        aside = path.with_name(path.name + ".corrupt")
        path.replace(aside)
        raise ArchiveError(f"{path} has md5 {got}, expected {archive.md5}: the file is corrupt or not the "
                           f"expected release; moved it to {aside}. " + _manual_hint(archive, path))


def extract(path: Path, into: Path, md5: str | None = None) -> Path:
    """Extract a tar archive once; a marker file records a completed extraction
    and the archive's md5.  Given the archive's (verified) `md5`, a marker of
    another archive of that name (say, a re-packed one replacing the official
    release) does not count: that archive is extracted again."""
    marker = into / f".{path.name}.extracted"
    if marker.exists() and (md5 is None or marker.read_text().strip() == md5):
        return into
    into.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(path) as tar:
            tar.extractall(into, filter="data")  # refuses absolute paths and links out of `into`
    except tarfile.TarError as e:
        raise ArchiveError(f"{path} is not a readable tar archive ({e}); delete it and fetch it again") from e
    marker.write_text((md5 or md5sum(path)) + "\n")
    return into
