"""Everything a command writes goes through here: checks before any work, a lock while it writes, atomic writes.

    check_file(path, what, inputs)   a file to write: not a folder, writable, not one of the inputs
    check_folder(path, what, inputs) a folder to write into (--draw, --output-dir): not an input, not inside an
                                     input folder
    lock(path)                       <path>.lock (beside a file or a run folder) holds the writer's process id
                                     for the run; a lock whose process is gone is taken over with a warning; a
                                     live one refuses the run
    atomic_write(path, write)        a temporary file beside `path`, fsync, rename: a kill leaves the old file or
                                     the new one, never half of one; a full disk is one error naming the file, and
                                     no temporary file is left

NumPy-free and TensorFlow-free (the runtime).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from pathlib import Path

from blazepose.errors import BlazePoseError


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def check_file(path: str | Path | None, what: str, inputs=()) -> None:
    """Before any work: `path` can be written (not a folder, its folder creatable and writable) and is none of
    `inputs` (files or folders a command reads)."""
    if not path:
        return
    p = Path(path)
    for source in map(Path, inputs):
        if _same(p, source) or (p.resolve() == source.resolve()):
            raise BlazePoseError(f"{what} {p} is one of the inputs; it would be overwritten: choose another file")
    if p.is_dir():
        raise BlazePoseError(f"{what} {p} is a folder; expected a file name")
    parent = p.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise BlazePoseError(f"{what} {p}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise BlazePoseError(f"{what} {p} cannot be written (no permission)")


def check_folder(path: str | Path | None, what: str, inputs=()) -> None:
    """Before any work: `path` is or can be made a writable folder, and is no input folder nor inside one."""
    if not path:
        return
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise BlazePoseError(f"{what} {p} is a file; expected a folder")
    for source in map(Path, inputs):
        folder = source if source.is_dir() else source.parent
        if source.is_dir() and _inside(p, folder):
            raise BlazePoseError(
                f"{what} {p} is inside the input folder {folder}; its files could overwrite the inputs: choose a "
                "folder elsewhere"
            )
    try:  # made now: a folder that cannot be made (no permission, /proc) is refused before any work
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BlazePoseError(f"{what} {p} cannot be created: {exc.strerror or exc}") from None
    if not os.access(p, os.W_OK):
        raise BlazePoseError(f"{what} {p} cannot be written (no permission)")


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    try:  # a process that has ended but was not yet waited for (a zombie, state Z) is gone too
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2 :].split()[0] != "Z"
    except (OSError, ValueError, IndexError):  # no /proc (macOS): it answered the signal
        return True


def _holder(lock: Path) -> int | None:
    try:
        return int(lock.read_text().strip() or "0")
    except (OSError, ValueError):
        return 0


@contextlib.contextmanager
def lock(path: str | Path | None, what: str = "writing"):
    """Hold `<path>.lock` (created exclusively, with this process id) for the block. A lock whose process is
    gone (killed, the machine restarted) is taken over with a ``warning:``; one whose process runs refuses the
    run, naming it. No lock beside /dev/null or a pipe."""
    if not path or (Path(path).exists() and not Path(path).is_file() and not Path(path).is_dir()):
        yield
        return
    path = Path(path)
    name = Path(f"{path}.lock")
    name.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            pid = _holder(name)
            if pid and _alive(pid) and pid != os.getpid():
                raise BlazePoseError(
                    f"another blazepose run (process {pid}) is {what} {path} ({name}); wait for it to end, or "
                    "choose another path"
                ) from None
            print(f"warning: {name} was left by process {pid or '?'}, which has ended; taking it over", file=sys.stderr)
            name.unlink(missing_ok=True)
    else:
        raise BlazePoseError(f"could not take the lock {name}")
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    try:
        yield
    finally:
        if _holder(name) == os.getpid():
            name.unlink(missing_ok=True)


def atomic_write(path: str | Path, write) -> Path:
    """Call write(file_object) on a temporary file beside `path`, then move it into place. An existing
    `path` that is not a regular file (/dev/null, /dev/stdout, a named pipe) is written to directly: replacing
    it would put a plain file where the device or pipe was. A full disk (or any other failure to write) is one
    ``BlazePoseError`` naming the file, and the temporary file is removed."""
    path = Path(path)
    if path.exists() and not path.is_file() and not path.is_dir():
        with open(path, "wb") as f:
            write(f)
        return path
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise BlazePoseError(f"no space left on the device while writing {path}; nothing was written") from None
        raise BlazePoseError(f"could not write {path}: {exc.strerror or exc}") from None
    return path
