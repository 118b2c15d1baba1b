"""A checker of MozLog records against the JSON schema that python-dockerflow
tests its formatter with (tests/core/test_logging.py, JSON_LOGGING_SCHEMA),
and its own tests. Other test modules import :func:`assert_mozlog`."""
from __future__ import annotations

import contextlib
import io
import json
import logging
import re
from typing import Any, Callable, Iterator

import pytest

_VERSION = re.compile(r"^\d+(?:\.\d+){0,2}$")


def strict_loads(text):
    """Parse JSON, refusing NaN and Infinity, which are not JSON."""

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_value(value):
    return isinstance(value, (str, bool)) or _is_number(value)


def _is_array(value):
    if not isinstance(value, list) or not value:
        return False
    # All strings, all numbers or all booleans (a bool is no number here).
    return any(all(kind(item) for item in value)
               for kind in (lambda v: isinstance(v, str), _is_number,
                            lambda v: isinstance(v, bool)))


def _is_object(value):
    if not isinstance(value, dict) or "value" not in value:
        return False
    if "representation" in value and not isinstance(value["representation"], str):
        return False
    inner = value["value"]
    return _is_value(inner) or _is_array(inner)


def mozlog_errors(entry):
    """What in ``entry`` (a parsed record) breaks the schema; empty if valid."""
    errors = []
    if not isinstance(entry, dict):
        return [f"a record is an object, not {type(entry).__name__}"]
    if "Timestamp" not in entry:
        errors.append("Timestamp is required")
    for key, valid in [
        ("Timestamp", lambda v: _is_integer(v) and v >= 0),
        ("Type", lambda v: isinstance(v, str)),
        ("Logger", lambda v: isinstance(v, str)),
        ("Hostname", lambda v: isinstance(v, str)),
        ("EnvVersion", lambda v: isinstance(v, str) and _VERSION.match(v)),
        ("Severity", lambda v: _is_integer(v) and 0 <= v <= 7),
        ("Pid", lambda v: _is_integer(v) and v >= 0),
    ]:
        if key in entry and not valid(entry[key]):
            errors.append(f"{key} is invalid: {entry[key]!r}")
    if "Fields" in entry:
        fields = entry["Fields"]
        if not isinstance(fields, dict) or not fields:
            errors.append(f"Fields must be an object with a property: {fields!r}")
        else:
            for name, value in fields.items():
                if not (_is_value(value) or _is_array(value) or _is_object(value)):
                    errors.append(f"Fields.{name} is no value, array or object: {value!r}")
    return errors


def assert_mozlog(line):
    """Parse one line of output and check it against the schema; returns it."""
    entry = strict_loads(line)
    errors = mozlog_errors(entry)
    assert not errors, f"{errors} in {line}"
    return entry


GOOD = {
    "Timestamp": 1,
    "Type": "t",
    "Logger": "l",
    "Hostname": "h",
    "EnvVersion": "2.0",
    "Severity": 6,
    "Pid": 1,
    "Fields": {
        "msg": "m",
        "n": 1.5,
        "flag": True,
        "names": ["a", "b"],
        "counts": [1, 2],
        "obj": {"value": [True], "representation": "flags"},
    },
}


def test_a_valid_record_passes():
    assert mozlog_errors(GOOD) == []
    assert mozlog_errors({"Timestamp": 0}) == []


@pytest.mark.parametrize(
    "change",
    [
        {"Timestamp": -1},
        {"Timestamp": 1.5},
        {"Timestamp": True},
        {"Severity": 8},
        {"Pid": "1"},
        {"EnvVersion": "2.0.0.1"},
        {"EnvVersion": "v2"},
        {"Logger": None},
        {"Fields": {}},
        {"Fields": {"rid": None}},
        {"Fields": {"empty": []}},
        {"Fields": {"mixed": [1, "a"]}},
        {"Fields": {"nested": [[1]]}},
        {"Fields": {"obj": {"representation": "x"}}},
        {"Fields": {"obj": {"value": {"deep": 1}}}},
    ],
)
def test_what_breaks_the_schema_is_found(change):
    assert mozlog_errors(dict(GOOD, **change))


def test_a_record_needs_a_timestamp():
    entry = dict(GOOD)
    del entry["Timestamp"]
    assert mozlog_errors(entry) == ["Timestamp is required"]


@contextlib.contextmanager
def mozlog_of(name: str, handler: logging.Handler, stream: io.StringIO,
              level: int) -> Iterator[Callable[[], Any]]:
    """The records of the logger ``name`` (and its children) at ``level``,
    written by ``handler`` to ``stream`` as MozLog JSON: a function that
    returns them checked against the schema; its ``records`` has the
    records themselves."""
    records: list = []
    handler.addFilter(lambda record: records.append(record) or True)
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False

    def entries() -> Any:
        return [assert_mozlog(line) for line in stream.getvalue().splitlines()]

    entries.records = records  # type: ignore[attr-defined]
    try:
        yield entries
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
