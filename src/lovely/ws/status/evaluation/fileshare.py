""":class:`FileShare`: each background handler runs in one process of the
host; the others read its result from a file (``svcstatus.share =
file:///DIRECTORY``).

Per handler the directory holds a lock file and a result file. The process
that gets the lock (``flock``) keeps it while it lives and runs the
handler; when it dies, the kernel drops the lock and the next process to
look (within one interval) takes over. Both files are the app user's own
(mode 0600) and are never opened through a symbolic link, so another user
of the host can neither hold a lock nor plant a result.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import stat
import tempfile
import threading
import weakref
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


def file_key(name: Any, app: str = "") -> str:
    """The start of the file names of handler ``name`` of ``app``: readable,
    and unique by a hash of both (names may hold any character)."""
    digest = hashlib.sha256(repr((app, name)).encode("utf-8", "backslashreplace"))
    # No leading dot: the temporary files are the hidden ones.
    readable = _UNSAFE.sub("_", str(name))[:64].lstrip(".")
    return f"{readable}-{digest.hexdigest()[:16]}"


def check_directory(path: str) -> None:
    """:class:`ValueError` unless ``path`` is a directory of this process's
    user that no other user may write (a lock file there could be held,
    and a result planted, by anybody who can)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ValueError(f"{path} cannot be used: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise ValueError(f"{path} is not a directory")
    if info.st_uid != os.geteuid():
        raise ValueError(f"{path} belongs to another user (uid {info.st_uid}); "
                         "make a directory of the app's own")
    if info.st_mode & 0o022:
        raise ValueError(f"{path} may be written by other users (mode "
                         f"{stat.S_IMODE(info.st_mode):o}); chmod go-w, or make a "
                         "directory of the app's own")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"this process cannot write in {path}")


class FileShare:
    """Shares background runs between the processes of one host.

    :param directory: an existing directory of the app's user that no other
        user may write (see :func:`check_directory`).
    :param app: what tells apart the files of apps that share the directory.
    """

    def __init__(self, directory: str, app: str = "") -> None:
        self.directory = directory
        self.app = app
        self._held: Dict[str, int] = {}  # file key -> descriptor holding its lock
        self._after_fork()
        if hasattr(os, "register_at_fork"):
            # At once, in the child: a forked child that never looks at the
            # share must not keep the parent's locks after the parent dies.
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: _in_child(ref))

    def _after_fork(self) -> None:
        # The child's copies of the parent's descriptors hold the parent's
        # locks: closing them leaves those locks to the parent.
        for fd in self._held.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._held = {}
        self._lock = threading.Lock()

    def _path(self, name: Any, suffix: str) -> str:
        return os.path.join(self.directory, file_key(name, self.app) + suffix)

    def claim(self, name: Any, handler: Any, interval: float, timeout: float) -> bool:
        if process_local(handler):
            return True
        key = file_key(name, self.app)
        with self._lock:
            if key in self._held:
                return True
            fd = os.open(self._path(name, ".lock"),
                         os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
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
        # Written aside (mode 0600) and renamed: a reader sees the old
        # result or the new one, never half of one.
        fd, temporary = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
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
            fd = os.open(self._path(name, ".json"),
                         os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise ValueError("the shared result is no regular file")
            data = file.read(MAX_RESULT_BYTES + 1)
        return decode_result(data)

    def release(self, name: Any) -> None:
        with self._lock:
            fd = self._held.pop(file_key(name, self.app), None)
        if fd is not None:
            os.close(fd)  # and with it the lock

    def close(self) -> None:
        """Give up every lock this process holds."""
        with self._lock:
            held, self._held = self._held, {}
        for fd in held.values():
            os.close(fd)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # at the interpreter's exit, say
            pass

    def __repr__(self) -> str:
        return f"<FileShare {self.directory!r}>"


def _in_child(ref: weakref.ReferenceType[FileShare]) -> None:
    share = ref()
    if share is not None:
        share._after_fork()
