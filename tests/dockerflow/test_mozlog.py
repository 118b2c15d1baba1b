"""MozLog JSON formatting: :class:`JsonLogFormatter`, from code and from
logging configuration files."""
from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import socket
import subprocess
import sys
import time

import pytest

from lovely.ws.status.dockerflow import JsonLogFormatter, MozlogFormatter, MozlogHandler
from lovely.ws.status.dockerflow.mozlog import syslog_severity


class MyAppFormatter(JsonLogFormatter):
    """How an ``.ini`` file picks the ``Logger`` name: a one-line subclass."""

    logger_name = "myapp"


def strict_loads(text):
    """Parse JSON, refusing NaN and Infinity, which are not JSON."""

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def capture():
    """A logger whose records are formatted by a JsonLogFormatter into a list."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter(logger_name="myapp"))
    # A logger outside the hierarchy: nothing else (pytest's capture
    # included) sees its records, and level 1 lets everything through.
    logger = logging.Logger("dockerflow.test.app", level=1)
    logger.addHandler(handler)

    def lines():
        return [strict_loads(line) for line in stream.getvalue().splitlines()]

    yield logger, lines


# -------------------------------------------------------------- formatter


def test_record_field_by_field(capture):
    logger, lines = capture
    before = time.time_ns()
    logger.info("hello %s", "world", extra={"user": "u-1", "items": [1, 2]})
    after = time.time_ns()
    [entry] = lines()
    assert set(entry) == {
        "Timestamp",
        "Type",
        "Logger",
        "Hostname",
        "EnvVersion",
        "Severity",
        "Pid",
        "Fields",
    }
    assert isinstance(entry["Timestamp"], int)
    # record.created is a float: allow for its rounding.
    assert before - 1000 <= entry["Timestamp"] <= after + 1000
    assert entry["Type"] == "dockerflow.test.app"
    assert entry["Logger"] == "myapp"
    assert entry["Hostname"] == socket.gethostname()
    assert entry["EnvVersion"] == "2.0"
    assert entry["Severity"] == 6
    assert entry["Pid"] == os.getpid()
    assert entry["Fields"] == {"msg": "hello world", "user": "u-1", "items": [1, 2]}


def test_one_line_per_record(capture):
    logger, lines = capture
    logger.warning("first\nsecond")
    logger.warning("third")
    assert [e["Fields"]["msg"] for e in lines()] == ["first\nsecond", "third"]


@pytest.mark.parametrize(
    "level, severity",
    [
        (logging.CRITICAL, 2),
        (logging.ERROR, 3),
        (logging.WARNING, 4),
        (logging.INFO, 6),
        (logging.DEBUG, 7),
        (5, 7),
        # Levels between the standard ones are 7, as in python-dockerflow.
        (25, 7),
        (45, 7),
        (60, 7),
    ],
)
def test_severity_is_the_syslog_level(capture, level, severity):
    logger, lines = capture
    logger.log(level, "x")
    assert lines()[0]["Severity"] == severity
    assert syslog_severity(level) == severity


def test_exception_record(capture):
    logger, lines = capture
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("while working on %s", "job-7", extra={"job": 7})
    [entry] = lines()
    assert entry["Severity"] == 3
    fields = entry["Fields"]
    assert fields["msg"] == "while working on job-7"
    assert fields["job"] == 7
    assert fields["error"] == "ValueError('boom')"
    assert fields["traceback"].startswith("Traceback (most recent call last):")
    assert fields["traceback"].rstrip().endswith("ValueError: boom")
    assert "test_exception_record" in fields["traceback"]


def test_exception_outside_an_except_block(capture):
    logger, lines = capture
    logger.error("no exception here", exc_info=True)
    fields = lines()[0]["Fields"]
    assert fields["msg"] == "no exception here"
    assert "error" not in fields


def test_stack_info(capture):
    logger, lines = capture
    logger.info("where am I", stack_info=True)
    assert "test_stack_info" in lines()[0]["Fields"]["stack"]


class Unprintable:
    def __repr__(self):
        raise RuntimeError("no repr")

    __str__ = __repr__


def test_fields_are_always_json(capture):
    logger, lines = capture
    cycle = {}
    cycle["self"] = cycle
    logger.info(
        "odd values",
        extra={
            "obj": object(),
            "tags": {"a"},
            "raw": b"\xffbytes",
            "nan": float("nan"),
            "keys": {1: "one", (2, 3): "tuple"},
            "cycle": cycle,
            "unprintable": Unprintable(),
        },
    )
    [entry] = lines()
    fields = entry["Fields"]
    assert fields["obj"].startswith("<object object at")
    assert fields["tags"] == ["a"]
    assert fields["raw"].endswith("bytes")
    assert fields["nan"] == "nan"
    assert fields["keys"] == {"1": "one", "(2, 3)": "tuple"}
    assert fields["cycle"] == {"self": "<recursion>"}
    assert fields["unprintable"] == "<unprintable Unprintable>"


def test_extras_starting_with_an_underscore_are_kept(capture):
    logger, lines = capture
    logger.info("m", extra={"_private": 1, "__dunder": "x"})
    assert lines()[0]["Fields"] == {"msg": "m", "_private": 1, "__dunder": "x"}


@pytest.mark.parametrize("message", ["", '{"spam": "eggs"}', "{}"])
def test_an_empty_or_json_message_gives_no_msg(capture, message):
    logger, lines = capture
    logger.info(message, extra={"k": "v"})
    assert lines()[0]["Fields"] == {"k": "v"}


def test_a_message_that_only_starts_like_json_is_kept(capture):
    logger, lines = capture
    logger.info("{not closed")
    logger.info("not opened}")
    assert [e["Fields"]["msg"] for e in lines()] == ["{not closed", "not opened}"]


def test_logger_name_is_the_fourth_positional_argument():
    formatter = MozlogFormatter(None, None, "%", "shop")
    assert formatter.logger_name == "shop"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    assert strict_loads(formatter.format(record))["Logger"] == "shop"


def test_dict_config_validate_in_fourth_place_is_not_a_name(restore_logging):
    # dictConfig passes "validate: false" positionally after the style.
    stream = io.StringIO()
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"class": "lovely.ws.status.dockerflow.MozlogFormatter",
                                "validate": False}},
        "handlers": {"out": {"class": "logging.StreamHandler", "stream": stream,
                             "formatter": "json"}},
        "loggers": {"dockerflow.ini.app": {"handlers": ["out"], "level": "INFO",
                                           "propagate": False}},
    })
    logging.getLogger("dockerflow.ini.app").info("hi")
    assert strict_loads(stream.getvalue())["Logger"] == "Dockerflow"


def test_a_records_own_logger_name_wins():
    formatter = MozlogFormatter(logger_name="from-formatter")
    record = logging.makeLogRecord({"msg": "m", "logger_name": "from-record"})
    entry = strict_loads(formatter.format(record))
    assert entry["Logger"] == "from-record"
    assert "logger_name" not in entry["Fields"]


def test_convert_record_is_what_format_writes():
    formatter = MozlogFormatter(logger_name="shop")
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "m %s", ("a",), None)
    record.more = "stuff"
    converted = formatter.convert_record(record)
    assert converted == strict_loads(formatter.format(record))
    assert converted["EnvVersion"] == MozlogFormatter.LOGGING_FORMAT_VERSION == "2.0"
    assert converted["Fields"] == {"msg": "m a", "more": "stuff"}


def test_json_log_formatter_is_the_same_class():
    assert JsonLogFormatter is MozlogFormatter


def test_mozlog_handler_writes_to_stdout_by_default(capsys):
    handler = MozlogHandler(name="shop")
    logger = logging.Logger("dockerflow.test.handler", level=1)
    logger.addHandler(handler)
    logger.info("to stdout")
    entry = strict_loads(capsys.readouterr().out)
    assert entry["Logger"] == "shop"
    assert entry["Fields"] == {"msg": "to stdout"}
    assert isinstance(handler.formatter, MozlogFormatter)


def test_message_with_wrong_arguments_is_kept(capture):
    logger, lines = capture
    logger.info("needs two: %s %s", "only one")
    fields = lines()[0]["Fields"]
    assert fields["msg"] == "needs two: %s %s"
    assert fields["args"] == "('only one',)"


def test_records_made_by_hand_with_exc_info_true_or_an_exception():
    # logging.makeLogRecord() and LogRecord() keep exc_info as given (True,
    # or an exception instance), and a levelno of None unless one is given.
    formatter = JsonLogFormatter()
    plain = logging.makeLogRecord({"msg": "no exception here", "exc_info": True})
    line = strict_loads(formatter.format(plain))
    assert line["Fields"]["msg"] == "no exception here"
    assert "error" not in line["Fields"]
    assert line["Severity"] == 7  # no level: as python-dockerflow, the default 7

    try:
        raise KeyError("lost key")
    except KeyError as exc:
        caught = exc
    record = logging.makeLogRecord(
        {"msg": "failed", "exc_info": caught, "levelno": logging.ERROR, "levelname": "ERROR"}
    )
    line = strict_loads(formatter.format(record))
    assert line["Severity"] == 3
    fields = line["Fields"]
    assert fields["error"] == "KeyError('lost key')"
    assert "raise KeyError" in fields["traceback"]


def test_type_name_and_default_logger_name():
    formatter = JsonLogFormatter(type_name="app.log")
    record = logging.LogRecord("some.logger", logging.INFO, __file__, 1, "m", (), None)
    entry = strict_loads(formatter.format(record))
    assert entry["Type"] == "app.log"
    assert entry["Logger"] == "Dockerflow"
    assert strict_loads(MyAppFormatter().format(record))["Logger"] == "myapp"


INI = """\
[loggers]
keys = root, app

[handlers]
keys = file

[formatters]
keys = json

[logger_root]
level = WARNING
handlers =

[logger_app]
level = INFO
handlers = file
qualname = dockerflow.ini.app
propagate = 0

[handler_file]
class = FileHandler
args = ("%(logfile)s", "w")
formatter = json

[formatter_json]
class = {formatter}
format = %(message)s
"""


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        app = logging.getLogger("dockerflow.ini.app")
        for handler in app.handlers[:]:
            app.removeHandler(handler)
            handler.close()
        app.propagate = True
        app.setLevel(logging.NOTSET)
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.parametrize(
    "formatter, logger_name",
    [
        ("lovely.ws.status.dockerflow.JsonLogFormatter", "Dockerflow"),
        ("tests.dockerflow.test_mozlog.MyAppFormatter", "myapp"),
    ],
)
def test_usable_from_a_logging_ini_file(
    tmp_path, restore_logging, formatter, logger_name
):
    ini = tmp_path / "logging.ini"
    logfile = tmp_path / "app.log"
    ini.write_text(INI.format(formatter=formatter), encoding="utf-8")
    logging.config.fileConfig(
        str(ini), defaults={"logfile": str(logfile)}, disable_existing_loggers=False
    )
    logger = logging.getLogger("dockerflow.ini.app")
    logger.info("configured from %s", "ini", extra={"port": 6543})
    logger.debug("below the level")
    for handler in logger.handlers:
        handler.flush()
    [line] = logfile.read_text(encoding="utf-8").splitlines()
    entry = strict_loads(line)
    assert entry["Logger"] == logger_name
    assert entry["Type"] == "dockerflow.ini.app"
    assert entry["Fields"] == {"msg": "configured from ini", "port": 6543}


def test_usable_from_dict_config_with_a_logger_name(restore_logging):
    stream = io.StringIO()
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "json": {
                    "()": "lovely.ws.status.dockerflow.JsonLogFormatter",
                    "logger_name": "shop",
                }
            },
            "handlers": {
                "out": {
                    "class": "logging.StreamHandler",
                    "stream": stream,
                    "formatter": "json",
                }
            },
            "loggers": {
                "dockerflow.ini.app": {
                    "handlers": ["out"],
                    "level": "INFO",
                    "propagate": False,
                }
            },
        }
    )
    logging.getLogger("dockerflow.ini.app").info("hi")
    assert strict_loads(stream.getvalue())["Logger"] == "shop"


@pytest.mark.server
def test_the_module_imports_without_pyramid_configured():
    # A logging config may import the formatter long before any app exists.
    code = (
        "import logging, lovely.ws.status.dockerflow as d;"
        "print(d.JsonLogFormatter().format("
        "logging.LogRecord('x', 20, 'f', 1, 'm', (), None)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        timeout=120,
    ).stdout
    assert strict_loads(out)["Fields"] == {"msg": "m"}
