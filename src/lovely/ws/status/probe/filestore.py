"""The probe text in a file, shared by every process on the host: :class:`FileStore`."""
from __future__ import annotations

import os
import tempfile
import time
from typing import List, Optional, Tuple

from .store import MAX_TEXT_LENGTH, OK, StoreUnavailable, checked_text

__all__: List[str] = ["FileStore"]


#: Coarsest modification-time granularity the file store allows for (FAT's
#: 2 s; HFS+, ext3 and some NFS and FUSE mounts have 1 s, Linux's own
#: clock a jiffy).
_RACY_NS = 2_000_000_000


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
        self._cache: Optional[Tuple[Tuple[int, int, int], str]] = None

    def _failed(self, action: str, exc: OSError) -> StoreUnavailable:
        return StoreUnavailable(f"cannot {action} the probe file {self.path}: {exc}")

    def get(self) -> str:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return OK
        except OSError as exc:
            raise self._failed("read", exc) from exc
        # The inode changes on every os.replace(), so two writes within one
        # tick of a coarse mtime clock are still told apart.
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        cached = self._cache
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            with open(self.path, "rb") as f:
                data = f.read(4 * MAX_TEXT_LENGTH + 2)
        except FileNotFoundError:
            return OK
        except OSError as exc:
            raise self._failed("read", exc) from exc
        # Operators may write the file by hand (echo OFF > file): forgive the
        # trailing newline.
        text = data.decode("utf-8", "replace").rstrip("\r\n")
        # A file changed within the last tick of a coarse clock can change
        # again in place (echo NO > file) keeping its inode, size and mtime:
        # trust the cache only once the mtime is safely in the past, so the
        # file is read again on each GET for at most _RACY_NS after a change.
        if time.time_ns() - st.st_mtime_ns > _RACY_NS:
            self._cache = (key, text)
        else:
            self._cache = None
        return text

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

    def __repr__(self) -> str:
        return f"<FileStore {self.path!r}>"
