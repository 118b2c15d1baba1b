"""MozLog JSON logging (:class:`MozlogFormatter`, :class:`MozlogHandler`)
and the tween that gives each request its id and its summary record.

Dockerflow services write one JSON object per line to stdout in the MozLog
schema, so the log pipeline needs no parsing rules of its own.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from typing import Any, Callable, ClassVar, Dict, Optional, TextIO
from urllib.parse import quote, unquote_to_bytes

from ..appstatus import get_app_status
from ..render.json import render_json
from ..text import redact_url, safe_repr, to_text
from .requestid import new_request_id, request_id_context, usable_request_id

__all__ = [
    "MozlogFormatter",
    "MozlogHandler",
    "JsonLogFormatter",
    "request_summary_tween_factory",
    "syslog_severity",
    "REQUEST_ID_ENVIRON_KEY",
    "SUMMARY_LOGGER_NAME",
]

#: Name of the logger the request summary tween writes to.
SUMMARY_LOGGER_NAME = "request.summary"
#: The WSGI environ key under which the tween leaves the request id for the app.
REQUEST_ID_ENVIRON_KEY = "lovely.ws.status.request_id"

#: Python's levels and their syslog severity; any other level is 7, as in
#: python-dockerflow (a custom level 25 is not "between" INFO and WARNING).
SYSLOG_LEVEL_MAP: Dict[int, int] = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}
DEFAULT_SYSLOG_LEVEL = 7

# Attributes every LogRecord has, and ``logger_name`` (which goes into
# ``Logger``); whatever else a record carries came from ``extra=`` or a
# filter and goes into ``Fields``.
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__
) | {"message", "asctime", "taskName", "logger_name"}


def syslog_severity(levelno: Any) -> int:
    """The syslog severity of a :mod:`logging` level: CRITICAL 2, ERROR 3,
    WARNING 4, INFO 6, DEBUG and any other level 7."""
    return SYSLOG_LEVEL_MAP.get(levelno, DEFAULT_SYSLOG_LEVEL)


class MozlogFormatter(logging.Formatter):
    """Format records as MozLog JSON, one object per line.

    The keys are ``Timestamp`` (nanoseconds since the epoch), ``Type`` (the
    record's logger name, or ``type_name``), ``Logger`` (the application:
    the record's ``logger_name`` attribute, else :attr:`logger_name`),
    ``Hostname``, ``EnvVersion`` (:attr:`LOGGING_FORMAT_VERSION`),
    ``Severity`` (the syslog level), ``Pid`` and ``Fields``. ``Fields``
    holds the message as ``msg`` (left out when it is empty or already
    JSON, see :meth:`is_value_jsonlike`), every attribute given with
    ``extra=`` or set by a filter, the request id as ``rid`` inside a
    request, for exceptions ``error`` (the exception's repr) and
    ``traceback``, and ``stack`` for ``stack_info``. Values JSON cannot
    encode are written as text, NaN too, so the output is strict JSON and
    formatting never fails on odd ``extra``.

    The first three arguments are those of :class:`logging.Formatter`,
    which :func:`logging.config.fileConfig` passes; ``fmt`` and ``style``
    are ignored because the layout is fixed.

    :param logger_name: the ``Logger`` value; defaults to :attr:`logger_name`
        (a subclass may set it, which is how an ``.ini`` file chooses it).
    :param type_name: a fixed ``Type`` for every record instead of the
        record's logger name.
    """

    #: ``Logger`` of every record unless the constructor or the record has one.
    logger_name = "Dockerflow"
    #: The MozLog schema version, ``EnvVersion``.
    LOGGING_FORMAT_VERSION = "2.0"
    #: Python level -> syslog severity (``Severity``); others are 7.
    SYSLOG_LEVEL_MAP: ClassVar[Dict[int, int]] = SYSLOG_LEVEL_MAP
    DEFAULT_SYSLOG_LEVEL = DEFAULT_SYSLOG_LEVEL

    def __init__(
        self,
        fmt: Optional[str] = None,
        datefmt: Optional[str] = None,
        style: str = "%",
        logger_name: Optional[str] = None,
        *,
        validate: bool = True,
        defaults: Optional[Dict[str, Any]] = None,
        type_name: Optional[str] = None,
    ) -> None:
        # The base class only supplies formatException/formatStack here, so
        # give it nothing a configured format line could make it reject.
        super().__init__(None, datefmt)
        # dictConfig passes its ``validate`` option in fourth place.
        if logger_name is not None and not isinstance(logger_name, bool):
            self.logger_name = logger_name
        self.type_name = type_name
        self.hostname = socket.gethostname()

    def is_value_jsonlike(self, value: str) -> bool:
        """Whether ``value`` looks like a JSON object (``{...}``); such a
        message is left out of ``Fields``, as python-dockerflow does."""
        return value.startswith("{") and value.endswith("}")

    def _fields(self, record: logging.LogRecord) -> Dict[str, Any]:
        excluded = _RECORD_ATTRIBUTES
        fields = {key: value for key, value in record.__dict__.items() if key not in excluded}
        if "rid" not in fields:
            rid = request_id_context.get()
            if rid is not None:
                fields["rid"] = rid
        elif fields["rid"] is None:  # RequestIdLogFilter outside a request
            del fields["rid"]
        try:
            message = record.getMessage()
        except Exception:
            # Wrong arguments for the message: keep both rather than lose the record.
            fields["msg"] = to_text(record.msg)
            fields["args"] = to_text(record.args)
        else:
            if message and not self.is_value_jsonlike(message):
                fields["msg"] = message
        exc_info = _exc_info_tuple(record.exc_info)
        if exc_info is not None:
            fields["error"] = safe_repr(exc_info[1])
            if not record.exc_text:
                record.exc_text = self.formatException(exc_info)
        if record.exc_text:
            fields["traceback"] = record.exc_text
        if record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        return fields

    def convert_record(self, record: logging.LogRecord) -> Dict[str, Any]:
        """The MozLog object of ``record``, as a dict (before JSON encoding)."""
        return {
            "Timestamp": int(record.created * 1_000_000_000),
            "Type": self.type_name or record.name,
            "Logger": getattr(record, "logger_name", self.logger_name),
            "Hostname": self.hostname,
            "EnvVersion": self.LOGGING_FORMAT_VERSION,
            "Severity": self._severity(record),
            "Pid": record.process or os.getpid(),
            "Fields": self._fields(record),
        }

    def _severity(self, record: logging.LogRecord) -> int:
        levelno: Any = record.levelno
        if levelno is None:  # logging.makeLogRecord() without a levelno
            levelno = logging.getLevelName(str(record.levelname))
        return self.SYSLOG_LEVEL_MAP.get(levelno, self.DEFAULT_SYSLOG_LEVEL)

    def format(self, record: logging.LogRecord) -> str:
        return render_json(self.convert_record(record))


#: The same class as :class:`MozlogFormatter`, under its earlier name.
JsonLogFormatter = MozlogFormatter


class MozlogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler (stdout by default) with a :class:`MozlogFormatter`.

    It sets ``logger_name`` on every record it handles, which the formatter
    writes as ``Logger`` (and which wins over a formatter's own name). Both
    arguments can be given in a logging ``.ini`` file:
    ``args = (sys.stdout, 'shop')``.

    :param stream: where to write; ``None`` is :data:`sys.stdout`.
    :param name: the ``Logger`` value of every record.
    """

    def __init__(self, stream: Optional[TextIO] = None, name: str = "Dockerflow") -> None:
        super().__init__(sys.stdout if stream is None else stream)
        self.logger_name = name
        self.setFormatter(MozlogFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        setattr(record, "logger_name", self.logger_name)  # noqa: B010 - not a LogRecord attribute
        super().emit(record)


def _exc_info_tuple(exc_info: Any) -> Any:
    """``(type, value, traceback)`` of a record's ``exc_info``, or ``None``.

    ``Logger`` turns ``exc_info=True`` and an exception into that tuple, but
    a record made by :func:`logging.makeLogRecord` or ``LogRecord()`` keeps
    what it was given.
    """
    if isinstance(exc_info, BaseException):
        return (type(exc_info), exc_info, exc_info.__traceback__)
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and exc_info[0] is not None:
        return exc_info
    return None  # None, True (there is no "current" exception here), junk


# ---------------------------------------------------------------- the tween


def _text(raw: bytes) -> str:
    """UTF-8 ``raw`` as text; bytes that are not UTF-8 stay percent-encoded."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    parts = []
    while raw:
        try:
            parts.append(raw.decode("utf-8"))
            break
        except UnicodeDecodeError as exc:
            parts.append(raw[: exc.start].decode("utf-8"))
            parts.append(quote(raw[exc.start: exc.end], safe=""))
            raw = raw[exc.end:]
    return "".join(parts)


def _wsgi_bytes(text: str) -> bytes:
    try:
        return text.encode("latin-1")  # PEP 3333: bytes in latin-1 clothing
    except UnicodeEncodeError:  # a server that does not follow PEP 3333
        return text.encode("utf-8", "surrogateescape")


def _path(environ: Dict[str, Any]) -> str:
    """The request's path, percent-decoded (as ``request.path_info`` would
    be, with ``SCRIPT_NAME`` before it), without raising on odd bytes."""
    return _text(_wsgi_bytes(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")))


def _querystring(environ: Dict[str, Any]) -> str:
    """The query string, percent-decoded, with password parameters hidden."""
    query = environ.get("QUERY_STRING", "")
    if not query:
        return ""
    text = _text(unquote_to_bytes(_wsgi_bytes(query)))
    return redact_url("?" + text)[1:]


def _user_id(request: Any) -> Any:
    """The authenticated user id, or ``""``; a failing policy gives ``""``."""
    try:
        userid = request.authenticated_userid
    except Exception:
        return ""
    return "" if userid is None else userid


def _reset(token: Any) -> Callable[[Any], None]:
    def reset(request: Any) -> None:
        try:
            request_id_context.reset(token)
        except (ValueError, RuntimeError):  # not in the context that set it
            request_id_context.set(None)

    return reset


def request_summary_tween_factory(
    handler: Callable[[Any], Any], registry: Any
) -> Callable[[Any], Any]:
    """The tween that gives each request its id and, if enabled, logs its summary.

    The id is the request's ``X-Request-ID`` (or the header named by
    ``dockerflow.request_id_header_name``) when it is 1 to 255 printable
    ASCII characters, else a new UUID 4. It is kept in
    :data:`~lovely.ws.status.dockerflow.request_id_context` until the
    request is finished, sent back in the same header, and left in the
    WSGI environ under :data:`REQUEST_ID_ENVIRON_KEY`.

    With ``dockerflow.request_summary``, one record per request goes to the
    logger ``request.summary``: INFO with an empty message, or, when an
    exception escapes, ERROR with the exception's text. Its attributes are
    ``errno`` (0, or 500 when the request raised; the exception is
    re-raised), ``agent``, ``lang``, ``method``, ``path`` (decoded),
    ``querystring`` (with ``dockerflow.summary_log_querystring``),
    ``code``, ``uid`` (the authenticated user id, or ``""``), ``rid``,
    ``t`` (milliseconds) and, after an exception, ``error`` (its repr).
    """
    settings = get_app_status(registry).settings
    summary = settings.get("dockerflow.request_summary", False)
    header = settings.get("dockerflow.request_id_header_name", "X-Request-ID")
    environ_key = "HTTP_" + header.upper().replace("-", "_")
    with_querystring = settings.get("dockerflow.summary_log_querystring", False)
    logger = logging.getLogger(SUMMARY_LOGGER_NAME)
    variable = request_id_context
    clock = time.perf_counter
    info, error = logging.INFO, logging.ERROR

    def log(request: Any, level: int, started: float, rid: str, code: int,
            exc: Optional[BaseException] = None) -> None:
        environ = request.environ
        extra: Dict[str, Any] = {
            "errno": 0 if exc is None else 500,
            "agent": environ.get("HTTP_USER_AGENT", ""),
            "lang": environ.get("HTTP_ACCEPT_LANGUAGE", ""),
            "method": environ.get("REQUEST_METHOD", ""),
            "path": _path(environ),
        }
        if with_querystring:
            extra["querystring"] = _querystring(environ)
        extra["code"] = code
        extra["uid"] = _user_id(request)
        extra["rid"] = rid
        extra["t"] = int((clock() - started) * 1000)
        message = ""
        if exc is not None:
            extra["error"] = safe_repr(exc)
            message = to_text(exc)
        # makeRecord + handle instead of logger.info(): skips the walk up the
        # stack for the caller, which would only ever find this function.
        logger.handle(logger.makeRecord(
            SUMMARY_LOGGER_NAME, level, __file__, 0, message, (), None,
            "request_summary_tween", extra,
        ))

    def request_summary_tween(request: Any) -> Any:
        started = clock()
        environ = request.environ
        rid = usable_request_id(environ.get(environ_key)) or variable.get() or new_request_id()
        environ[REQUEST_ID_ENVIRON_KEY] = rid
        token = variable.set(rid)
        try:
            response = handler(request)
        except BaseException as exc:
            if summary and logger.isEnabledFor(error):
                log(request, error, started, rid, 500, exc)
            raise
        finally:
            # Reset when the request is finished, so that response callbacks,
            # NewResponse subscribers and finished callbacks still see the id.
            request.add_finished_callback(_reset(token))
        response.headers[header] = rid
        if summary and logger.isEnabledFor(info):
            log(request, info, started, rid, response.status_code)
        return response

    return request_summary_tween
