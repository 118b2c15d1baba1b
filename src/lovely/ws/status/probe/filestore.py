"""The probe text in a file, shared by every process on the host: :class:`FileStore`."""
from __future__ import annotations

import errno
import os
import stat
import tempfile
import time
from typing import Dict, List, Optional, Tuple

from .store import MAX_STORED_BYTES, OK, StoreUnavailable, checked_text, stored_text

__all__: List[str] = ["FileStore"]


#: Coarsest modification-time granularity the file store allows for (FAT's
#: 2 s; HFS+, ext3 and some NFS and FUSE mounts have 1 s, Linux's own
#: clock a jiffy).
_RACY_NS = 2_000_000_000

# O_NONBLOCK: opening a FIFO does not wait for a writer; O_NOFOLLOW: a
# symbolic link at the path is refused (ELOOP) instead of followed.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)

_KINDS: Dict[int, str] = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # not every platform opens a directory (Windows)
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some file systems cannot sync a directory, and say so.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


class FileStore:
    """The probe text in a file, shared by every process on the host.

    :param path: absolute path of the file; its directory must exist.
    """

    def __init__(self, path: str) -> None:
        if not os.path.isabs(path):
            raise ValueError(f"the probe file must be an absolute path, not {path!r}")
        if "\x00" in path:
            raise ValueError(f"the path of the probe file contains a NUL byte: {path!r}")
        self.path = path
        self.url = "file://" + path
        # (stat key, text) of the last read: a GET costs one os.stat() while
        # the file does not change.
        self._cache: Optional[Tuple[Tuple[int, int, int, int], str]] = None

    def _failed(self, action: str, exc: OSError) -> StoreUnavailable:
        return StoreUnavailable(f"cannot {action} the probe file {self.path}: {exc}")

    def get(self) -> str:
        # lstat(): a symbolic link at the path is judged by itself (and
        # refused below), not by the file it points to.
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return OK
        except OSError as exc:
            raise self._failed("read", exc) from exc
        # The inode changes on every os.replace(), so two writes within one
        # tick of a coarse mtime clock are still told apart; the mode tells
        # a link or a FIFO that took over the inode number.
        cached = self._cache
        if cached is not None and cached[0] == (
            st.st_mtime_ns, st.st_size, st.st_ino, st.st_mode
        ):
            return cached[1]
        if not stat.S_ISREG(st.st_mode):
            raise self._not_a_file(st.st_mode)
        return self._read()

    def _read(self) -> str:
        # Anybody who can write to the directory can put a FIFO there
        # (open() would wait for a writer, for ever) or a link to a file
        # that only the app may read (its content would be served to
        # anybody). So: no wait, no link, and a regular file with no
        # other name, checked on the open descriptor, whatever took the
        # path's place since the lstat().
        try:
            fd = os.open(self.path, _READ_FLAGS)
        except FileNotFoundError:
            return OK
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK):  # EMLINK: FreeBSD
                raise self._not_a_file(stat.S_IFLNK) from None
            raise self._failed("read", exc) from exc
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise self._not_a_file(st.st_mode)
            if st.st_nlink > 1:
                raise StoreUnavailable(
                    f"cannot read the probe file {self.path}: it has {st.st_nlink} "
                    "names (hard links), and only a file with one is read (a "
                    "second name can make another file the probe text)"
                )
            # Never more than a probe text can be (a log file at the path
            # costs what a text does), and no read to find the end of what
            # fstat() saw.
            data = b""
            while len(data) <= MAX_STORED_BYTES:
                chunk = os.read(fd, MAX_STORED_BYTES + 1 - len(data))
                if not chunk:
                    break
                data += chunk
                if len(data) >= st.st_size:
                    break
        except OSError as exc:
            raise self._failed("read", exc) from exc
        finally:
            os.close(fd)
        text = stored_text(data, f"the probe file {self.path}")
        # A file changed within the last tick of a coarse clock can change
        # again in place (echo NO > file) keeping its inode, size and mtime:
        # trust the cache only once the mtime is safely in the past, so the
        # file is read again on each GET for at most _RACY_NS after a change.
        if time.time_ns() - st.st_mtime_ns > _RACY_NS:
            self._cache = ((st.st_mtime_ns, st.st_size, st.st_ino, st.st_mode), text)
        else:
            self._cache = None
        return text

    def _not_a_file(self, mode: int) -> StoreUnavailable:
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        return StoreUnavailable(
            f"cannot read the probe file {self.path}: it is {kind}, and only "
            "a regular file is read"
        )

    def set(self, text: str) -> None:
        data = checked_text(text).encode("utf-8")
        directory, name = os.path.split(self.path)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
        except OSError as exc:
            raise self._failed("write", exc) from exc
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            # mkstemp makes the file private; workers may run as another user
            # than the operator who switches the probe.
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise self._failed("write", exc) from exc
        self._cache = None
        # The rename is in the directory: without this, a crash soon after
        # could bring back the old text (or no file: OK) at the next boot.
        try:
            _fsync_directory(directory)
        except OSError as exc:
            raise StoreUnavailable(
                f"the probe file {self.path} was written, but its directory "
                f"could not be synced to disk, so a crash may undo it: {exc}"
            ) from exc

    def directory_warning(self) -> Optional[str]:
        """Why the directory of the file is unsafe, or ``None``.

        Whoever can create files there decides what the probe answers
        (links and FIFOs are refused, a text is not), and a file of theirs
        in a sticky directory cannot be replaced by the app.
        """
        directory = os.path.dirname(self.path)
        try:
            mode = os.stat(directory).st_mode
        except OSError:
            return None  # reported by every read and write
        if not mode & stat.S_IWOTH:
            return None
        why = (
            f"the directory {directory} of the probe file is writable by every "
            "user of the host, so any of them can put a probe file there: a "
            "text of theirs takes the instance out of rotation, or puts it back"
        )
        if mode & stat.S_ISVTX:
            why += (
                "; the sticky bit keeps them from replacing the app's file, not "
                "from creating it while it is missing (which means OK, the usual "
                "state), and the app cannot replace a file of theirs"
            )
        return why + ". Use a directory that only the app's users can write."

    def __repr__(self) -> str:
        return f"<FileStore {self.path!r}>"
