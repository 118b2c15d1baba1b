""":class:`FileShare`: each background handler runs in one process of the
host; the others read its result from a file (``svcstatus.share =
file:///DIRECTORY``).

Per handler the directory holds a lock file and a result file. The process
that gets the lock (``flock``) keeps it while it lives and runs the
handler; when it dies, the kernel drops the lock and the next process to
look (within one interval) takes over.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import tempfile
import threading
from typing import Any, Dict, List, Optional

from .share import (
    MAX_RESULT_BYTES,
    Result,
    decode_result,
    encode_result,
    process_local,
    this_process,
)

__all__: List[str] = []

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def file_key(name: Any) -> str:
    """The start of the file names of handler ``name``: readable, and unique
    by a hash of the whole name (names may hold any character)."""
    digest = hashlib.sha256(repr(name).encode("utf-8", "backslashreplace")).hexdigest()[:16]
    # No leading dot: the temporary files are the hidden ones.
    readable = _UNSAFE.sub("_", str(name))[:64].lstrip(".")
    return f"{readable}-{digest}"


class FileShare:
    """Shares background runs between the processes of one host.

    :param directory: an existing directory that every worker may write,
        one per app (handler names are its file names).
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._held: Dict[str, int] = {}  # file key -> descriptor holding its lock
        self._pid = os.getpid()

    def _path(self, name: Any, suffix: str) -> str:
        return os.path.join(self.directory, file_key(name) + suffix)

    def _after_fork(self) -> None:
        # The child's copies of the parent's descriptors hold the parent's
        # locks: closing them leaves those locks to the parent.
        for fd in self._held.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._held = {}
        self._pid = os.getpid()

    def claim(self, name: Any, handler: Any, interval: float) -> bool:
        if process_local(handler):
            return True
        with self._lock:
            if self._pid != os.getpid():
                self._after_fork()
            key = file_key(name)
            if key in self._held:
                return True
            fd = os.open(self._path(name, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                         0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            except BaseException:
                os.close(fd)
                raise
            self._held[key] = fd
            return True

    def publish(self, name: Any, handler: Any, result: Result) -> None:
        if process_local(handler):
            return
        data = encode_result(result, this_process())
        # Written aside and renamed: a reader sees the old result or the
        # new one, never half of one.
        fd, temporary = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.chmod(temporary, 0o644)
            os.replace(temporary, self._path(name, ".json"))
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise

    def latest(self, name: Any, handler: Any) -> Optional[Result]:
        if process_local(handler):
            return None
        try:
            with open(self._path(name, ".json"), "rb") as file:
                data = file.read(MAX_RESULT_BYTES + 1)
        except FileNotFoundError:
            return None
        return decode_result(data)

    def release(self, name: Any) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._after_fork()
            fd = self._held.pop(file_key(name), None)
        if fd is not None:
            os.close(fd)  # and with it the lock

    def close(self) -> None:
        """Give up every lock this process holds."""
        with self._lock:
            held, self._held = self._held, {}
            mine = self._pid == os.getpid()
        if mine:
            for fd in held.values():
                os.close(fd)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # at the interpreter's exit, say
            pass

    def __repr__(self) -> str:
        return f"<FileShare {self.directory!r}>"
