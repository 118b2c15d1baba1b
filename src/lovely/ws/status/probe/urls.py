"""Probe store URLs: ``memory``, ``file:///path``, ``redis://host:port/db``."""
from __future__ import annotations

import os
from typing import Any, List, Optional, Union
from urllib.parse import unquote, urlsplit

from ..redisclient import parse_redis_url
from ..text import redact_url
from .filestore import FileStore
from .redisstore import DEFAULT_REDIS_KEY, DEFAULT_REDIS_TIMEOUT, RedisStore

__all__: List[str] = []


class _Spec:
    __slots__ = ("kind", "path", "url", "key", "timeout")

    def __init__(
        self,
        kind: str,
        path: str = "",
        url: str = "",
        key: str = DEFAULT_REDIS_KEY,
        timeout: float = DEFAULT_REDIS_TIMEOUT,
    ) -> None:
        self.kind = kind
        self.path = path
        self.url = url
        self.key = key
        self.timeout = timeout


def parse_store_url(value: Any) -> Any:
    """Check a store URL without touching the backend; :class:`ValueError` if bad.

    Accepted: ``memory`` (also ``memory://`` or empty), ``file:///absolute/path``
    (the directory must exist) and ``redis://host:port/db`` (also
    ``rediss://`` and ``unix:///path/to/socket``) with the optional query
    parameters ``key`` (the Redis key, default :data:`DEFAULT_REDIS_KEY`),
    ``timeout`` (seconds, default :data:`DEFAULT_REDIS_TIMEOUT`) and any
    connection parameter redis-py accepts in a URL.
    """
    if value is None:
        return _Spec("memory")
    if not isinstance(value, str):
        raise ValueError(f"expected a store URL, got {value!r}")
    text = value.strip()
    if text in ("", "memory", "memory:", "memory://"):
        return _Spec("memory")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return _parse_file(text, parts)
    if scheme in ("redis", "rediss", "unix"):
        return _parse_redis(text)
    hint = ""
    if text.startswith("/"):
        hint = f" (for a file, write file://{text})"
    raise ValueError(
        f"{redact_url(text)!r} is not a probe store: expected 'memory', "
        f"'file:///absolute/path' or 'redis://host:port/db'{hint}"
    )


def _parse_file(text: str, parts: Any) -> _Spec:
    if parts.netloc not in ("", "localhost"):
        raise ValueError(
            f"{text!r}: a file URL needs three slashes and an absolute path "
            f"(file:///var/run/app/probe), not the host {parts.netloc!r}"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{text!r}: a file URL takes no query or fragment")
    path = unquote(parts.path)
    if "\x00" in path:
        # The directory check below would pass, then every os.stat() of the
        # store would raise ValueError: a 500 on each request.
        raise ValueError(f"{text!r}: the path contains a NUL byte (%00)")
    if not path.startswith("/") or path.endswith("/"):
        raise ValueError(f"{text!r}: expected file:///absolute/path/of/the/file")
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise ValueError(f"{text!r}: the directory {directory} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"{text!r}: {path} is a directory, not a file")
    return _Spec("file", path=path)


def _parse_redis(text: str) -> _Spec:
    url, key, timeout = parse_redis_url(text, DEFAULT_REDIS_KEY, DEFAULT_REDIS_TIMEOUT)
    return _Spec("redis", url=url, key=key, timeout=timeout)


def open_store(url: Optional[str]) -> Optional[Union[FileStore, RedisStore]]:
    """The store for ``url`` (see :func:`parse_store_url`); ``None`` for
    ``memory``, which is 1.0's text in this process. :class:`ValueError` if bad."""
    spec = parse_store_url(url)
    if spec.kind == "file":
        return FileStore(spec.path)
    if spec.kind == "redis":
        return RedisStore(spec.url, key=spec.key, timeout=spec.timeout)
    return None
