"""MozLog JSON logging: :class:`JsonLogFormatter` and the request summary tween.

Dockerflow services write one JSON object per line to stdout in the MozLog
schema, so the log pipeline needs no parsing rules of its own.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from typing import Any, Callable, Dict, Optional
from urllib.parse import quote

from ..render.json import render_json
from ..text import to_text

__all__ = [
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

# Attributes every LogRecord has; whatever else a record carries came from
# ``extra=`` (or a filter) and goes into ``Fields``.
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__
) | {"message", "asctime", "taskName"}


def syslog_severity(levelno: int) -> int:
    """The syslog severity of a :mod:`logging` level (CRITICAL 2 ... DEBUG 7)."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


class JsonLogFormatter(logging.Formatter):
    """Format records as MozLog JSON, one object per line.

    The keys are ``Timestamp`` (nanoseconds since the epoch), ``Type`` (the
    record's logger name, or ``type_name``), ``Logger`` (the application,
    ``logger_name``), ``Hostname``, ``EnvVersion`` (``"2.0"``), ``Severity``
    (the syslog level), ``Pid`` and ``Fields``. ``Fields`` holds the message
    as ``msg``, every attribute given with ``extra=``, and for exceptions
    ``error`` (the exception's repr) and ``traceback``. Values JSON cannot
    encode are written as text, so formatting never fails on odd ``extra``.

    The positional arguments are those :func:`logging.config.fileConfig`
    passes; ``fmt`` and ``style`` are ignored because the layout is fixed.

    :param logger_name: the ``Logger`` value; defaults to :attr:`logger_name`
        (a subclass may set it, which is how an ``.ini`` file chooses it).
    :param type_name: a fixed ``Type`` for every record instead of the
        record's logger name.
    """

    #: ``Logger`` of every record unless the constructor is given one.
    logger_name = "Dockerflow"
    #: The MozLog schema version.
    env_version = "2.0"

    def __init__(
        self,
        fmt: Optional[str] = None,
        datefmt: Optional[str] = None,
        style: str = "%",
        validate: bool = True,
        *,
        defaults: Optional[Dict[str, Any]] = None,
        logger_name: Optional[str] = None,
        type_name: Optional[str] = None,
    ) -> None:
        # The base class only supplies formatException/formatStack here, so
        # give it nothing a fileConfig format line could make it reject.
        super().__init__(None, datefmt)
        if logger_name is not None:
            self.logger_name = logger_name
        self.type_name = type_name
        self.hostname = socket.gethostname()

    def _fields(self, record: logging.LogRecord) -> Dict[str, Any]:
        fields = {
            key: value
            for key, value in record.__dict__.items()
            if key not in _RECORD_ATTRIBUTES and key[:1] != "_"
        }
        try:
            fields["msg"] = record.getMessage()
        except Exception:
            # Wrong arguments for the message: keep both rather than lose the record.
            fields["msg"] = to_text(record.msg)
            fields["args"] = to_text(record.args)
        exc_info = _exc_info_tuple(record.exc_info)
        if exc_info is not None:
            fields["error"] = _safe_repr(exc_info[1])
            if not record.exc_text:
                record.exc_text = self.formatException(exc_info)
        if record.exc_text:
            fields["traceback"] = record.exc_text
        if record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        return fields

    def format(self, record: logging.LogRecord) -> str:
        return render_json(
            {
                "Timestamp": int(record.created * 1_000_000_000),
                "Type": self.type_name or record.name,
                "Logger": self.logger_name,
                "Hostname": self.hostname,
                "EnvVersion": self.env_version,
                "Severity": _severity(record),
                "Pid": record.process or os.getpid(),
                "Fields": self._fields(record),
            }
        )


def _severity(record: logging.LogRecord) -> int:
    levelno = record.levelno
    if isinstance(levelno, int):
        return syslog_severity(levelno)
    # logging.makeLogRecord() without a levelno leaves None.
    level = logging.getLevelName(str(record.levelname))
    return syslog_severity(level) if isinstance(level, int) else 6


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


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"


# What webob's ``request.path`` leaves unquoted.
_PATH_SAFE = "/~!$&'()*+,;=:@"


def _quoted_path(environ: Dict[str, Any]) -> str:
    # request.path, for a fraction of its cost: WSGI paths are bytes in
    # latin-1 clothing, so quoting those bytes gives the same text.
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    try:
        raw = path.encode("latin-1")
    except UnicodeEncodeError:  # a server that does not follow PEP 3333
        raw = path.encode("utf-8", "surrogateescape")
    return quote(raw, _PATH_SAFE)


def _request_id(environ: Dict[str, Any]) -> str:
    rid = environ.get("HTTP_X_REQUEST_ID")
    # Take the caller's id only when it is short, printable text, so it can
    # go into a response header and a log line as it is.
    if isinstance(rid, str) and len(rid) <= 255 and rid.isprintable() and rid.isascii():
        return rid
    return uuid.uuid4().hex


def request_summary_tween_factory(
    handler: Callable[[Any], Any], registry: Any
) -> Callable[[Any], Any]:
    """A tween that logs one ``request.summary`` record per request.

    The record (INFO, logger ``request.summary``) has the fields ``method``,
    ``path``, ``code``, ``t`` (milliseconds), ``agent``, ``lang``, ``rid``
    and ``errno`` (0, or 500 when the request raised; the exception is
    re-raised). ``rid`` is the request's ``X-Request-ID`` or a new UUID; it
    is set on the response and left in the WSGI environ under
    :data:`REQUEST_ID_ENVIRON_KEY`.
    """
    logger = logging.getLogger(SUMMARY_LOGGER_NAME)
    clock = time.perf_counter
    info = logging.INFO

    def log(
        environ: Dict[str, Any],
        code: int,
        started: float,
        rid: str,
        errno: int,
        error: Optional[BaseException] = None,
    ) -> None:
        elapsed = int((clock() - started) * 1000)
        method = environ.get("REQUEST_METHOD", "")
        path = _quoted_path(environ)
        extra = {
            "method": method,
            "path": path,
            "code": code,
            "t": elapsed,
            "agent": environ.get("HTTP_USER_AGENT", ""),
            "lang": environ.get("HTTP_ACCEPT_LANGUAGE", ""),
            "rid": rid,
            "errno": errno,
        }
        if error is not None:
            extra["error"] = _safe_repr(error)
        # makeRecord + handle instead of logger.info(): skips the walk up the
        # stack for the caller, which would only ever find this function.
        logger.handle(
            logger.makeRecord(
                SUMMARY_LOGGER_NAME,
                info,
                __file__,
                0,
                "%s %s %s %sms",
                (method, path, code, elapsed),
                None,
                "request_summary_tween",
                extra,
            )
        )

    def request_summary_tween(request: Any) -> Any:
        started = clock()
        environ = request.environ
        rid = environ[REQUEST_ID_ENVIRON_KEY] = _request_id(environ)
        try:
            response = handler(request)
        except BaseException as exc:
            if logger.isEnabledFor(info):
                log(environ, 500, started, rid, 500, exc)
            raise
        response.headers["X-Request-ID"] = rid
        if logger.isEnabledFor(info):
            log(environ, response.status_code, started, rid, 0)
        return response

    return request_summary_tween
