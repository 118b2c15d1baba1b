"""The probe text in a Redis key, shared by every host: :class:`RedisStore`."""
from __future__ import annotations

from typing import Any, List

from ..redisclient import redis_client
from ..text import redact_url
from .store import MAX_STORED_BYTES, OK, StoreUnavailable, checked_text, stored_text

__all__: List[str] = ["RedisStore"]

#: The Redis key of the probe text when the URL names none (``?key=...``).
DEFAULT_REDIS_KEY = "lovely.ws.status:probe"
#: Seconds a Redis connect or command may take before the probe gives up.
DEFAULT_REDIS_TIMEOUT = 0.5


class RedisStore:
    """The probe text in one Redis key, shared by every host.

    Missing key means ``OK``; setting ``OK`` deletes the key. Connection
    problems raise :class:`StoreUnavailable` within the timeout (see
    :func:`~lovely.ws.status.redisclient.redis_client`), and so does a value
    that is no valid probe text (see :func:`~.store.stored_text`).

    :param url: a ``redis://``, ``rediss://`` or ``unix://`` URL as redis-py
        understands it, without this package's own parameters.
    :param key: the Redis key of the probe text.
    :param timeout: seconds for connecting and for each command, unless the
        URL sets ``socket_timeout`` or ``socket_connect_timeout``.
    """

    def __init__(
        self,
        url: str,
        key: str = DEFAULT_REDIS_KEY,
        timeout: float = DEFAULT_REDIS_TIMEOUT,
        client: Any = None,
    ) -> None:
        self.key = key
        self.url = url
        if client is None:
            client = redis_client(url, timeout)
        self._client = client

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        where = redact_url(self.url)
        return StoreUnavailable(f"Redis at {where} cannot be reached: {exc}")

    # Whatever the client raises means "cannot reach the store": besides
    # RedisError and OSError, a host name that IDNA cannot encode makes
    # socket.getaddrinfo() raise UnicodeError, for example.

    def get(self) -> str:
        # GETRANGE, not GET: a key of 64 MiB must not cost 64 MiB on every
        # probe. It answers b"" for a missing key too, which EXISTS tells
        # from the empty text, in the same round trip.
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.getrange(self.key, 0, MAX_STORED_BYTES)
            pipe.exists(self.key)
            value, exists = pipe.execute()
        except Exception as exc:
            raise self._unavailable(exc) from exc
        if not value and not exists:
            return OK
        if isinstance(value, str):  # a client made with decode_responses
            value = value.encode("utf-8")
        return stored_text(value, f"the Redis key {self.key!r}")

    def set(self, text: str) -> None:
        data = checked_text(text).encode("utf-8")
        try:
            if text == OK:
                self._client.delete(self.key)
            else:
                self._client.set(self.key, data)
        except Exception as exc:
            raise self._unavailable(exc) from exc

    def close(self) -> None:
        """Close the connections of the pool (the store stays usable)."""
        self._client.connection_pool.disconnect()

    def __repr__(self) -> str:
        return f"<RedisStore {redact_url(self.url)!r} key={self.key!r}>"
