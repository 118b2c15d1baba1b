""":class:`RedisShare`: each background handler runs in one process of the
fleet per interval; the others read its result from Redis
(``svcstatus.share = redis://HOST:PORT/DB``).

Per handler there are two keys under a prefix: a lease, which names the
process that runs the handler and lasts one interval (or the handler's
timeout, if longer), and the latest result. The process holding the lease
renews it when the handler is due again; when it dies, or is late, the
lease runs out and the next process to look takes the next run.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from ..redisclient import redis_client
from ..text import redact_url
from .share import (
    MAX_RESULT_BYTES,
    Result,
    decode_result,
    encode_result,
    process_local,
    this_process,
)

__all__: List[str] = []

#: The key prefix when the URL names none (``?key=...``).
DEFAULT_SHARE_KEY = "lovely.ws.status:share"
#: Seconds a Redis connect or command may take.
DEFAULT_SHARE_TIMEOUT = 0.5
#: How long a result is kept after its run, at least: readers judge its age
#: themselves; this only clears the keys of handlers that are gone.
KEEP_SECONDS = 3600.0

# Take the lease if it is free, renew it if it is ours: one round trip, and
# no moment at which two processes both think they hold it.
_CLAIM = """
local owner = redis.call('GET', KEYS[1])
if owner == false or owner == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

# Give the lease up only if it is still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisShare:
    """Shares background runs between every process that uses one Redis.

    :param url: a ``redis://``, ``rediss://`` or ``unix://`` URL as redis-py
        understands it, without this package's own parameters.
    :param prefix: what the keys start with: one per app.
    :param timeout: seconds for connecting and for each command.
    """

    def __init__(self, url: str, prefix: str = DEFAULT_SHARE_KEY,
                 timeout: float = DEFAULT_SHARE_TIMEOUT, client: Any = None) -> None:
        self.url = url
        self.prefix = prefix
        self.timeout = timeout
        self._client = redis_client(url, timeout) if client is None else client
        self._claim = self._client.register_script(_CLAIM)
        self._release = self._client.register_script(_RELEASE)
        self._leases: Dict[str, float] = {}  # (names of) handlers this process holds

    def _key(self, name: Any, kind: str) -> str:
        return f"{self.prefix}:{kind}:{name}"

    def claim(self, name: Any, handler: Any, interval: float, timeout: float) -> bool:
        if process_local(handler):
            return True
        # Until the handler is due again, and at least until the run's
        # deadline: never two runs at once, and a dead runner's lease is
        # gone before its last result is stale (interval + timeout).
        lease = max(interval, timeout)
        mine = bool(self._claim(keys=[self._key(name, "runner")],
                                args=[this_process(), max(int(lease * 1000), 1)]))
        if mine:
            self._leases[str(name)] = lease
        else:
            self._leases.pop(str(name), None)
        return mine

    def publish(self, name: Any, handler: Any, result: Result) -> None:
        if process_local(handler):
            return
        keep = max(KEEP_SECONDS, 10 * self._leases.get(str(name), 0.0))
        self._client.set(self._key(name, "result"), encode_result(result, this_process()),
                         px=int(keep * 1000))

    def latest(self, name: Any, handler: Any) -> Optional[Result]:
        if process_local(handler):
            return None
        # GETRANGE, not GET: a key made huge by accident is not read whole.
        data = self._client.getrange(self._key(name, "result"), 0, MAX_RESULT_BYTES)
        if not data:
            return None
        if isinstance(data, str):  # a client made with decode_responses
            data = data.encode("utf-8")
        return decode_result(data)

    def release(self, name: Any) -> None:
        if self._leases.pop(str(name), None) is not None:
            self._release(keys=[self._key(name, "runner")], args=[this_process()])

    def close(self) -> None:
        """Close the connections of the pool (the share stays usable)."""
        self._client.connection_pool.disconnect()

    def __repr__(self) -> str:
        return f"<RedisShare {redact_url(self.url)!r} prefix={self.prefix!r}>"
