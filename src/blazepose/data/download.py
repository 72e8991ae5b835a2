"""Downloading the public LSP / LSPet archives, with sha256 checks.

The archive is streamed to a ``.part`` file, hashed on the way, checked against the expected sha256 (when one
is known) and only then renamed and unpacked; after unpacking, ``joints.mat`` is checked against the sha256 of
the person-centric annotations this project's readers and metric expect. Nothing half-downloaded is ever left
where a reader would pick it up.
"""

from __future__ import annotations

import hashlib
import shutil
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from blazepose.errors import BlazePoseError


@dataclass(frozen=True)
class Archive:
    url: str
    folder: str  # unpacked into <dest>/<folder>
    archive_sha256: str | None  # None: not published; the joints.mat check below still applies
    joints_sha256: str  # sha256 of the person-centric joints.mat inside


ARCHIVES = {
    "lsp": Archive(
        url="http://sam.johnson.io/research/lsp_dataset.zip",
        folder="lsp",
        archive_sha256=None,
        joints_sha256="ddcfcbe904106bfbf26561c8d11720ca62a11c7a861548064b3bae84cb396b2a",
    ),
    "lspet": Archive(
        url="http://sam.johnson.io/research/lspet_dataset.zip",
        folder="lspet",
        archive_sha256=None,
        joints_sha256="cc66465117888d9f43aac78c15c4548e37df5022640a193f2002fd084cba13ef",
    ),
}


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def fetch(url: str, target: Path, expected_sha256: str | None, progress: bool = True) -> Path:
    """Stream `url` to `target` via `target.part`, checking the sha256; the .part file never survives."""
    part = target.with_name(target.name + ".part")
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name, disable=not progress) as bar:
                while block := response.read(1 << 20):
                    out.write(block)
                    h.update(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        part.unlink(missing_ok=True)
        raise BlazePoseError(f"could not download {url}: {exc}") from None
    digest = h.hexdigest()
    if expected_sha256 and digest != expected_sha256.lower():
        part.unlink(missing_ok=True)
        raise BlazePoseError(f"{url}: sha256 {digest} does not match the expected {expected_sha256}")
    part.replace(target)
    return target


# Bounds on an archive's contents (LSPet: about 10 000 images, under 1 GB unpacked): a zip bomb or the wrong
# file is refused before anything is written.
MAX_MEMBERS = 50_000
MAX_UNPACKED_BYTES = 8 << 30


def _unpack(archive: Path, staging: Path) -> Path:
    """Unzip into the fresh folder `staging`; returns the dataset's folder inside it (a single top-level
    directory is the dataset). Refuses paths leaving the folder, more than MAX_MEMBERS members or
    MAX_UNPACKED_BYTES unpacked."""
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise BlazePoseError(
                    f"{archive} holds {len(infos)} files; more than {MAX_MEMBERS} is not a dataset here"
                )
            total = sum(i.file_size for i in infos)
            if total > MAX_UNPACKED_BYTES:
                raise BlazePoseError(
                    f"{archive} would unpack to {total / 1e9:.1f} GB; more than {MAX_UNPACKED_BYTES / 1e9:.1f} GB is "
                    "refused"
                )
            for member in zf.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise BlazePoseError(f"{archive}: unsafe path {member!r} in the archive")
            zf.extractall(staging)
    except zipfile.BadZipFile as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise BlazePoseError(f"{archive} is not a valid zip archive: {exc}") from None
    except BlazePoseError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    entries = [p for p in staging.iterdir() if not p.name.startswith("__MACOSX")]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else staging


def download_dataset(
    name: str,
    dest: str | Path,
    url: str | None = None,
    sha256: str | None = None,
    joints_sha256: str | None = None,
    progress: bool = True,
) -> Path:
    """Download and unpack dataset `name` into ``<dest>/<folder>``; returns that folder. The archive is checked
    (sha256 where known), unpacked into a temporary folder beside, its joints.mat checked, and only then swapped
    in for the old folder: on any failure the old data is untouched and nothing of the new is left."""
    if name not in ARCHIVES:
        raise BlazePoseError(f"no download known for {name!r}; known: {', '.join(ARCHIVES)}")
    spec = ARCHIVES[name]
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    archive = fetch(url or spec.url, dest / f".{name}.zip", sha256 or spec.archive_sha256, progress)
    folder = dest / spec.folder
    staging = dest / f".{spec.folder}.unpacking"
    try:
        unpacked = _unpack(archive, staging)
        joints = unpacked / "joints.mat"
        expected = joints_sha256 or spec.joints_sha256
        if not joints.is_file():
            raise BlazePoseError(f"the archive from {url or spec.url} held no joints.mat at its top level")
        digest = sha256_file(joints)
        if digest != expected:
            raise BlazePoseError(
                f"the archive's joints.mat has sha256 {digest}, not that of the person-centric annotations this "
                f"project expects ({expected}); check its left/right convention before training on it (nothing "
                "was changed)"
            )
        old = dest / f".{spec.folder}.old"
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.replace(old)
        unpacked.replace(folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        archive.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    return folder
