"""The Dockerflow views and the sources of ``/__version__``."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Mapping
from typing import AbstractSet, Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..appstatus import get_app_status
from ..details import ALWAYS, details_allowed
from ..evaluation.isolation import isolated
from ..headers import NO_STORE, add_headers
from ..probe.store import OK as PROBE_OK
from ..probe.store import StoreUnavailable
from ..probestatus import read_probe
from ..render.json import JSON_CONTENT_TYPE, render_json
from ..states import OK, RED, YELLOW
from ..text import to_text
from .checks import Messages, level_to_text
from .events import (
    LEVEL_ERROR,
    LEVEL_OK,
    LEVEL_WARNING,
    HeartbeatFailed,
    HeartbeatPassed,
)

__all__ = [
    "VersionCallback",
    "VersionError",
    "VersionFile",
    "VersionNotFoundError",
    "default_version_path",
    "error_view",
    "heartbeat_view",
    "lbheartbeat_view",
    "method_not_allowed_view",
    "version_view",
]

log = logging.getLogger("lovely.ws.status.dockerflow")
#: Where the heartbeat logs the messages of check functions.
checks_log = logging.getLogger("lovely.ws.status.dockerflow.checks")

#: The largest version file read; a Dockerflow one is a few hundred bytes.
MAX_VERSION_FILE_BYTES = 1024 * 1024

#: The keys a Dockerflow version file is expected to have.
VERSION_KEYS = ("source", "version", "commit", "build")

# state -> (text, level) as Dockerflow reports checks
_LEVELS: Dict[str, Tuple[str, int]] = {
    OK: ("ok", LEVEL_OK),
    YELLOW: ("warning", LEVEL_WARNING),
    RED: ("error", LEVEL_ERROR),
}
_ERROR = ("error", LEVEL_ERROR)

_LB_OK_BODY = render_json({"status": "ok"}).encode("ascii")
_LB_UNAVAILABLE_BODY = render_json(
    {"status": "error", "detail": "the probe store is unavailable"}
).encode("ascii")
_NOT_FOUND_BODY = render_json({"error": "no version information"}).encode("ascii")
_BROKEN_BODY = render_json(
    {"error": "the version information cannot be read; see the server log"}
).encode("ascii")
_NOT_ALLOWED_BODY = render_json({"error": "method not allowed"}).encode("ascii")

MISSING_CHECK_DETAIL = "no status handler is registered under this name"


class VersionNotFoundError(Exception):
    """There is no version information (``/__version__`` answers 404)."""


class VersionError(Exception):
    """The version information is there but unusable (500, logged)."""


def default_version_path() -> str:
    """``$APP_DIR/version.json``, or ``/app/version.json`` without ``APP_DIR``."""
    return os.path.join(os.environ.get("APP_DIR") or "/app", "version.json")


def _encode(data: Any) -> bytes:
    return render_json(data).encode("utf-8")


class VersionFile:
    """The JSON object of a version file, re-read only when the file changes.

    Each request costs one ``stat()``; the file is parsed again when its
    modification time, size or inode differ from the last read.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._cached: Optional[Tuple[Tuple[int, ...], bytes]] = None

    def __repr__(self) -> str:
        return f"<VersionFile {self.path!r}>"

    def __call__(self, request: Any = None) -> bytes:
        """The JSON body for ``/__version__``."""
        path = self.path
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            raise VersionNotFoundError(f"no version file at {path}") from None
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            raise VersionError(f"cannot read the version file {path!r}: {exc}") from None
        key = (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)
        cached = self._cached
        if cached is not None and cached[0] == key:
            return cached[1]
        # open() of a FIFO waits for a writer, and a device or a mistaken
        # path (a log, a dump) would be read whole into memory.
        if not stat.S_ISREG(st.st_mode):
            raise VersionError(f"cannot read the version file {path}: not a regular file")
        if st.st_size > MAX_VERSION_FILE_BYTES:
            raise VersionError(
                f"the version file {path} is too large: {st.st_size} bytes, "
                f"at most {MAX_VERSION_FILE_BYTES} are read"
            )
        try:
            # O_NONBLOCK: if a FIFO took the file's place since the stat(),
            # opening it still does not wait.
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    raise VersionError(f"cannot read the version file {path}: not a regular file")
                raw = f.read(MAX_VERSION_FILE_BYTES + 1)
        except FileNotFoundError:  # removed since the stat()
            raise VersionNotFoundError(f"no version file at {path}") from None
        except OSError as exc:
            raise VersionError(f"cannot read the version file {path}: {exc}") from None
        if len(raw) > MAX_VERSION_FILE_BYTES:  # grew since the stat()
            raise VersionError(
                f"the version file {path} is too large: more than "
                f"{MAX_VERSION_FILE_BYTES} bytes"
            )
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise VersionError(
                f"the version file {path} is not valid JSON: {exc}"
            ) from None
        if not isinstance(data, dict):
            raise VersionError(
                f"the version file {path} holds a JSON {type(data).__name__}, "
                "not an object"
            )
        missing = [k for k in VERSION_KEYS if k not in data]
        if missing:
            # Served anyway (it is still useful), but said once per change.
            log.warning(
                "the version file %s lacks the Dockerflow keys: %s",
                path,
                ", ".join(missing),
            )
        body = _encode(data)
        self._cached = (key, body)
        return body


class VersionCallback:
    """Version information from an application callable that gets the request.

    The callable returns a dict, or ``None`` when there is no information.
    """

    def __init__(self, func: Callable[[Any], Any], name: str = "") -> None:
        self.func = func
        self.name = name or getattr(func, "__qualname__", repr(func))

    def __repr__(self) -> str:
        return f"<VersionCallback {self.name}>"

    def __call__(self, request: Any) -> bytes:
        try:
            data = self.func(request)
        except Exception as exc:
            raise VersionError(
                f"the version callback {self.name} raised {exc!r}"
            ) from exc
        if data is None:
            raise VersionNotFoundError(
                f"the version callback {self.name} returned None"
            )
        if not isinstance(data, Mapping):
            raise VersionError(
                f"the version callback {self.name} returned a "
                f"{type(data).__name__}, not a dict"
            )
        return _encode(data)


def _json_response(request: Any, body: bytes, status: int = 200) -> Any:
    response = request.response
    response.status = status
    response.headers["Content-Type"] = JSON_CONTENT_TYPE
    add_headers(response, NO_STORE)
    response.body = body
    return response


def version_view(request: Any) -> Any:
    """``/__version__``: the version file's object, 404 without one, 500 if broken."""
    source = get_app_status(getattr(request, "registry", None)).version
    if source is None:
        source = VersionFile(default_version_path())
    try:
        body = source(request)
    except VersionNotFoundError:
        return _json_response(request, _NOT_FOUND_BODY, 404)
    except VersionError as exc:
        log.error("/__version__: %s", exc, exc_info=exc.__cause__)
        return _json_response(request, _BROKEN_BODY, 500)
    return _json_response(request, body)


def _function_check(
    messages: Messages, silenced: AbstractSet[Any]
) -> Tuple[int, Dict[str, Any]]:
    """Level and details of a check function's status; logs its messages."""
    level = LEVEL_OK
    shown: Dict[Any, str] = {}
    for message in messages:
        ident, message_level = message["id"], message["level"]
        checks_log.log(message_level, "%s: %s", ident, message["msg"])
        if ident in silenced:
            continue
        shown[ident] = message["msg"]
        if message_level > level:
            level = message_level
    return level, {"status": level_to_text(level), "level": level, "messages": shown}


def heartbeat_report(
    registry: Any, checks: Sequence[str] = (), silenced: AbstractSet[Any] = frozenset(),
    group: Optional[str] = None, show_details: bool = True,
) -> Tuple[int, Dict[Any, str], Dict[Any, Dict[str, Any]]]:
    """Evaluate the handlers: ``(level, {name: text}, {name: details})``.

    A status handler's level is 0 (``OK``), 30 (``YELLOW``) or 40
    (``RED``), its details ``status``, ``level`` and ``detail``. A check
    function's (:class:`~lovely.ws.status.dockerflow.checks.CheckHandler`)
    level is that of its worst message whose id is not in ``silenced``, its
    details ``status``, ``level`` and ``messages`` (id -> text); each of its
    messages is logged at its own level. Details are given for checks
    above 0; without ``show_details`` only their ``status`` and ``level``.
    A non-critical handler's details say ``critical: false``, and its
    error counts as a warning in the overall level. ``checks`` limits the
    evaluation to those names, ``group`` to the handlers of that group; a
    name of ``checks`` without a registered handler is an error.
    """
    app = get_app_status(registry)
    report = app.evaluate(checks or None, group=group)
    non_critical = report.non_critical
    level = LEVEL_OK
    texts: Dict[Any, str] = {}
    details: Dict[Any, Dict[str, Any]] = {}
    for name, status in report.sorted_items():
        messages = status.get("messages")
        if type(messages) is Messages:
            check_level, detail = _function_check(messages, silenced)
            text = detail["status"]
            if not show_details:
                del detail["messages"]
        else:
            text, check_level = _LEVELS.get(status["state"], _ERROR)
            detail = {"status": text, "level": check_level}
            if show_details:
                detail["detail"] = status.get("detail")
        texts[name] = text
        if check_level > LEVEL_OK:
            counted = check_level
            if non_critical and name in non_critical:
                detail["critical"] = False
                counted = min(check_level, LEVEL_WARNING)
            details[name] = detail
            if counted > level:
                level = counted
    if checks and len(report.names) < len(checks):
        registered = app.all_handlers()
        missing: List[str] = [n for n in checks if n not in registered]
        for name in missing:
            texts[name] = "error"
            details[name] = {
                "status": "error",
                "level": LEVEL_ERROR,
                "detail": MISSING_CHECK_DETAIL,
            }
        if missing:
            level = max(level, LEVEL_ERROR)
    return level, texts, details


def heartbeat_view(request: Any) -> Any:
    """``/__heartbeat__``: every status handler as a Dockerflow check.

    200 while no check is an error (level 40) or worse, else
    ``dockerflow.heartbeat_failed_status``; messages whose id is in
    ``dockerflow.silenced_checks`` do not count, nor does the error of a
    non-critical handler (it counts as a warning). ``?group=NAME`` (404
    for a group that does not exist), else ``dockerflow.heartbeat_group``,
    limits the checks to a group. Details follow ``svcstatus.show_details``.
    Notifies :class:`HeartbeatPassed` or :class:`HeartbeatFailed` afterwards.
    """
    registry = getattr(request, "registry", None)
    app = get_app_status(registry)
    settings = app.settings
    try:
        group = request.GET.get("group") or None
    except UnicodeDecodeError:
        group = None
    if group is None:
        group = settings.get("dockerflow.heartbeat_group")
    elif group not in app.groups():
        body = _encode({"error": f"no status handler group {to_text(group)!r}"})
        return _json_response(request, body, 404)
    show = settings.get("svcstatus.show_details", ALWAYS)
    if show != ALWAYS:
        show = details_allowed(request, show, settings.get("svcstatus.details_permission"))
    level, checks, details = heartbeat_report(
        registry,
        settings.get("dockerflow.checks", ()),
        settings.get("dockerflow.silenced_checks", frozenset()),
        group,
        bool(show),
    )
    failed = level >= LEVEL_ERROR
    code = settings.get("dockerflow.heartbeat_failed_status", 500) if failed else 200
    data = {"status": level_to_text(level), "checks": checks, "details": details}
    body = isolated(lambda: _encode(data), get_app_status(registry).evaluator)
    response = _json_response(request, body, code)
    notify = getattr(registry, "notify", None)
    if notify is not None:
        event_class = HeartbeatFailed if failed else HeartbeatPassed
        notify(event_class(request, level, checks, details, code))
    return response


def lbheartbeat_view(request: Any) -> Any:
    """``/__lbheartbeat__``: 200 unless the probe is decommissioned (then 503).

    It reads only the probe text of :mod:`lovely.ws.status.probestatus`, so
    ``POST /probe_status?body=...`` (or ``pprobe --off``) drains both probes.
    """
    try:
        text = read_probe(get_app_status(getattr(request, "registry", None)))
    except StoreUnavailable:
        return _json_response(request, _LB_UNAVAILABLE_BODY, 503)
    if text == PROBE_OK:
        return _json_response(request, _LB_OK_BODY)
    return _json_response(request, _encode({"status": "error", "detail": text}), 503)


class ErrorEndpointError(Exception):
    """What ``/__error__`` raises."""


def error_view(request: Any) -> Any:
    """``/__error__``: logs an error and raises, to test error reporting."""
    log.error("The __error__ endpoint was called")
    raise ErrorEndpointError("This is a test exception from the /__error__ endpoint.")


def method_not_allowed_view(request: Any) -> Any:
    """405 with ``Allow: GET, HEAD``, for the other methods on an endpoint."""
    response = _json_response(request, _NOT_ALLOWED_BODY, 405)
    response.headers["Allow"] = "GET, HEAD"
    return response
