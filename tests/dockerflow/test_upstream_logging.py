"""python-dockerflow's own logging tests (tests/core/test_logging.py of
release 2026.3.4) against this package's formatter and handler, each named
after the test it comes from; every record is checked against the MozLog
schema those tests use. Where an assertion differs on purpose, the test
says so and docs/dockerflow-migration.rst gives the reason.
"""
from __future__ import annotations

import json
import logging
import logging.config
import os
import textwrap
import warnings

import pytest

from lovely.ws.status.dockerflow import JsonLogFormatter, MozlogFormatter, MozlogHandler

from .test_mozlog_schema import assert_mozlog

LOGGER_NAME = "tests"


@pytest.fixture
def formatter():
    return MozlogFormatter(logger_name=LOGGER_NAME)


@pytest.fixture
def test_logger():
    """The logger ``test`` of python-dockerflow's tests, emptied afterwards."""
    logger = logging.getLogger("test")
    yield logger
    for handler in logger.handlers[:]:
        logger.removeHandler(handler)


def only_record(formatter, records):
    assert len(records) == 1
    return assert_mozlog(formatter.format(records[0]))


def test_initialization_from_ini(tmp_path):
    """From test_initialization_from_ini."""
    ini = tmp_path / "logging.ini"
    ini.write_text(textwrap.dedent("""
        [loggers]
        keys = root

        [handlers]
        keys = console

        [formatters]
        keys =

        [logger_root]
        level = INFO
        handlers = console

        [handler_console]
        level = DEBUG
        class = lovely.ws.status.dockerflow.MozlogHandler
        args = (sys.stdout, 'tests')
        """), encoding="utf-8")
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        logging.config.fileConfig(str(ini), disable_existing_loggers=False)
        assert len(root.handlers) > 0
        assert root.handlers[0].logger_name == LOGGER_NAME
        assert isinstance(root.handlers[0].formatter, MozlogFormatter)
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.handlers[:] = handlers
        root.setLevel(level)


def test_set_logger_name_through_handler(caplog, test_logger):
    """From test_set_logger_name_through_handler."""
    handler = MozlogHandler(name="logger_name_handler")
    test_logger.addHandler(handler)
    test_logger.warning("hey")
    [record] = caplog.records
    assert record.logger_name == "logger_name_handler"
    assert assert_mozlog(handler.format(record))["Logger"] == "logger_name_handler"


def test_set_logger_name_through_formatter(caplog, test_logger):
    """From test_set_logger_name_through_formatter."""
    handler = logging.StreamHandler()
    handler.setFormatter(MozlogFormatter(logger_name="logger_name_formatter"))
    test_logger.addHandler(handler)
    test_logger.warning("hey")
    [record] = caplog.records
    assert not hasattr(record, "logger_name")
    assert assert_mozlog(handler.format(record))["Logger"] == "logger_name_formatter"


def test_handler_precedence_logger_name(caplog, test_logger):
    """From test_handler_precedence_logger_name."""
    handler = MozlogHandler(name="logger_name_handler")
    handler.setFormatter(MozlogFormatter(logger_name="logger_name_formatter"))
    test_logger.addHandler(handler)
    test_logger.warning("hey")
    [record] = caplog.records
    assert record.logger_name == "logger_name_handler"
    assert assert_mozlog(handler.format(record))["Logger"] == "logger_name_handler"


def test_basic_operation(caplog, formatter):
    """From test_basic_operation."""
    caplog.set_level(logging.DEBUG)
    logging.debug("simple test")
    details = only_record(formatter, caplog.records)
    assert details == formatter.convert_record(caplog.records[0])
    assert "Timestamp" in details
    assert "Hostname" in details
    assert details["Severity"] == 7
    assert details["Type"] == "root"
    assert details["Pid"] == os.getpid()
    assert details["Logger"] == LOGGER_NAME
    assert details["EnvVersion"] == formatter.LOGGING_FORMAT_VERSION
    assert details["Fields"]["msg"] == "simple test"


def test_custom_paramters(caplog, formatter):
    """From test_custom_paramters."""
    logging.getLogger("tests.test_logging").warning(
        "custom test %s", "one", extra={"more": "stuff"})
    details = only_record(formatter, caplog.records)
    assert details == formatter.convert_record(caplog.records[0])
    assert details["Type"] == "tests.test_logging"
    assert details["Severity"] == 4
    assert details["Fields"]["msg"] == "custom test one"
    assert details["Fields"]["more"] == "stuff"


def test_non_json_serializable_parameters_are_converted(caplog, formatter):
    """From test_non_json_serializable_parameters_are_converted."""
    foo = object()
    logging.getLogger("tests.test_logging").warning(
        "custom test %s", "hello", extra={"foo": foo})
    details = only_record(formatter, caplog.records)
    assert details["Type"] == "tests.test_logging"
    assert details["Severity"] == 4
    assert details["Fields"]["msg"] == "custom test hello"
    assert details["Fields"]["foo"] == repr(foo)


def test_logging_error_tracebacks(caplog, formatter):
    """From test_logging_error_tracebacks. On purpose, ``traceback`` is
    Python's own format ("Traceback (most recent call last):"), not
    python-dockerflow's "Uncaught exception:"."""
    try:
        raise ValueError("\n")
    except Exception:
        logging.exception("there was an error")
    details = only_record(formatter, caplog.records)
    assert details["Severity"] == 3
    assert details["Fields"]["msg"] == "there was an error"
    assert details["Fields"]["error"].startswith("ValueError('\\n'")
    assert details["Fields"]["traceback"].startswith("Traceback (most recent call last):")
    assert "ValueError" in details["Fields"]["traceback"]


def test_logging_exc_info_false(caplog, formatter):
    """From test_logging_exc_info_false."""
    try:
        raise ValueError("\n")
    except Exception:
        logging.exception("there was an error", exc_info=False)
    details = only_record(formatter, caplog.records)
    assert details["Severity"] == 3
    assert details["Fields"]["msg"] == "there was an error"
    assert "error" not in details["Fields"]
    assert "traceback" not in details["Fields"]


def test_ignore_json_message(caplog, formatter):
    """From test_ignore_json_message."""
    try:
        raise ValueError("\n")
    except Exception:
        logging.exception(json.dumps({"spam": "eggs"}))
    details = only_record(formatter, caplog.records)
    assert "msg" not in details["Fields"]
    assert formatter.is_value_jsonlike('{"spam": "eggs"}')
    assert not formatter.is_value_jsonlike('{"spam": "eggs"')
    assert not formatter.is_value_jsonlike('"spam": "eggs"}')


def test_JsonLogFormatter_emits_warning():  # noqa: N802 - the upstream test's name
    """From test_JsonLogFormatter_emits_warning. On purpose, the name is the
    same class and warns of nothing: it is this package's 2.0 name too."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        formatter = JsonLogFormatter(logger_name="deprecated")
    assert type(formatter) is MozlogFormatter


# ------------------------------------- side by side with python-dockerflow


def _records():
    plain = logging.LogRecord("app.orders", logging.WARNING, __file__, 1,
                              "order %s late", ("A-17",), None)
    plain.customer = "c-42"
    plain._private = 1
    empty = logging.LogRecord("request.summary", logging.INFO, __file__, 1, "", (), None)
    empty.__dict__.update(errno=0, agent="curl", path="/x", t=3, code=200, uid="")
    jsonlike = logging.LogRecord("app", logging.ERROR, __file__, 1, '{"k": 1}', (), None)
    custom = logging.LogRecord("app", 25, __file__, 1, "level 25", (), None)
    named = logging.LogRecord("app", logging.CRITICAL, __file__, 1, "m", (), None)
    named.logger_name = "from-record"
    return [plain, empty, jsonlike, custom, named]


@pytest.mark.parametrize("index", range(len(_records())))
def test_records_are_converted_as_python_dockerflow_does(index):
    upstream = pytest.importorskip("dockerflow.logging")
    record = _records()[index]
    ours = MozlogFormatter(logger_name="shop")
    theirs = upstream.MozlogFormatter(logger_name="shop")
    assert ours.convert_record(record) == theirs.convert_record(record)
    entry = json.loads(ours.format(record))
    assert entry == json.loads(theirs.format(record))
    if entry["Fields"]:
        assert_mozlog(ours.format(record))
    else:
        # A JSON message without extras leaves Fields empty, which the
        # schema does not allow, in both.
        assert record.getMessage() == '{"k": 1}'


def test_an_exception_record_differs_only_in_the_traceback():
    upstream = pytest.importorskip("dockerflow.logging")
    try:
        raise KeyError("lost")
    except KeyError:
        record = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed", (),
                                   __import__("sys").exc_info())
    ours = MozlogFormatter().convert_record(record)
    theirs = upstream.MozlogFormatter().convert_record(record)
    ours_traceback = ours["Fields"].pop("traceback")
    theirs_traceback = theirs["Fields"].pop("traceback")
    assert ours == theirs
    assert ours_traceback.startswith("Traceback (most recent call last):")
    assert theirs_traceback.startswith("Uncaught exception:")


def test_nan_stays_strict_json_where_python_dockerflow_writes_nan():
    upstream = pytest.importorskip("dockerflow.logging")
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "m", (), None)
    record.ratio = float("nan")
    assert "NaN" in upstream.MozlogFormatter().format(record)
    assert assert_mozlog(MozlogFormatter().format(record))["Fields"]["ratio"] == "nan"
