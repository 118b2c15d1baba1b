"""DiskSpaceCheck and its thresholds."""

from __future__ import annotations

import shutil

import pytest
from pyramid.config import Configurator
from webtest import TestApp

from lovely.ws.status import OK, RED, YELLOW
from lovely.ws.status.checks import DiskSpaceCheck, parse_size, parse_threshold

HUGE = 10**18  # more bytes than any test machine has free


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.1, ("ratio", 0.1)),
        (0.0, ("ratio", 0.0)),
        (1.0, ("ratio", 1.0)),
        (0, ("bytes", 0)),
        (1, ("bytes", 1)),
        (5, ("bytes", 5)),
        ("10%", ("ratio", 0.1)),
        (" 2.5 % ", ("ratio", 0.025)),
        ("100%", ("ratio", 1.0)),
        ("10 percent", ("ratio", 0.1)),
        ("10percent", ("ratio", 0.1)),
        ("2.5 Percent", ("ratio", 0.025)),
        ("0.2", ("ratio", 0.2)),
        ("0.10", ("ratio", 0.1)),
        (".05", ("ratio", 0.05)),
        ("1.0", ("ratio", 1.0)),
        ("1", ("bytes", 1)),
        ("1048576", ("bytes", 1048576)),
        ("500MB", ("bytes", 500 * 10**6)),
        ("500 mb", ("bytes", 500 * 10**6)),
        ("2GiB", ("bytes", 2 * 2**30)),
        ("1.5 TB", ("bytes", 1_500_000_000_000)),
        ("64KiB", ("bytes", 65536)),
        ("3B", ("bytes", 3)),
    ],
)
def test_thresholds_are_fractions_or_bytes(value, expected):
    assert parse_threshold(value) == pytest.approx(expected)
    assert parse_threshold(value)[0] == expected[0]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "lots",
        "10 %%",
        "100.5%",
        "101 percent",
        "-1%",
        "ten percent",
        "1.5",
        "2.0",
        1.5,
        1e9,
        float("inf"),
        "5 GB free",
        "5M",
        -1,
        -0.5,
        2.5,
        float("nan"),
        True,
        None,
        "1e9",
    ],
)
def test_bad_thresholds_are_refused(value):
    with pytest.raises(ValueError):
        parse_threshold(value)


@pytest.mark.parametrize("value", [1.5, "1.5", "150 percent", 1e9])
def test_a_float_above_one_is_refused_as_a_fraction_not_read_as_bytes(value):
    with pytest.raises(ValueError, match=r"fraction of the disk is from 0 to 1 .*'500 MB'"):
        parse_threshold(value)


def test_a_float_of_one_is_all_of_the_disk_not_one_byte(tmp_path):
    check = DiskSpaceCheck(tmp_path, warn_below=1.0, fail_below=0)
    assert check.warn_below == ("ratio", 1.0)
    status = check()
    assert status["state"] == (YELLOW if status["labels"]["free_ratio"] < 1 else OK)
    assert repr(check).endswith("warn_below=100% fail_below=0 B>")


def test_the_error_names_the_forms_an_ini_file_accepts(tmp_path):
    with pytest.raises(ValueError) as info:
        DiskSpaceCheck(tmp_path, warn_below="lots")
    message = str(info.value)
    assert message.startswith("'warn_below': expected a fraction of the disk (0.1, ")
    assert "'10 percent'" in message and "'10%%'" in message and "'2 GiB'" in message


def test_parse_size():
    assert parse_size("1kB") == 1000
    assert parse_size("1 KiB") == 1024
    assert parse_size(7) == 7
    with pytest.raises(ValueError):
        parse_size("1 KB and more")


def test_disk_space_reports_free_bytes_and_ratio_as_labels(tmp_path):
    status = DiskSpaceCheck(tmp_path, warn_below=0, fail_below=0)()
    usage = shutil.disk_usage(tmp_path)
    assert status["state"] == OK
    assert set(status["labels"]) == {"free_bytes", "free_ratio"}
    free, ratio = status["labels"]["free_bytes"], status["labels"]["free_ratio"]
    assert isinstance(free, int) and isinstance(ratio, float)
    assert 0 < free <= usage.total
    assert 0 < ratio <= 1
    assert ratio == pytest.approx(free / usage.total, abs=1e-5)
    assert "free of" in status["detail"] and "below" not in status["detail"]


def test_disk_space_yellow_and_red_by_bytes(tmp_path):
    yellow = DiskSpaceCheck(str(tmp_path), warn_below=HUGE, fail_below=0)()
    assert yellow["state"] == YELLOW
    assert yellow["detail"].endswith(", below 888.2 PiB")
    red = DiskSpaceCheck(tmp_path, warn_below=HUGE, fail_below="1000000 TB")()
    assert red["state"] == RED
    assert "below" in red["detail"]


def test_disk_space_by_fraction(tmp_path):
    # A threshold just under 100%: YELLOW exactly when the disk is not empty.
    status = DiskSpaceCheck(tmp_path, warn_below=0.999999, fail_below="0%")()
    expected = YELLOW if status["labels"]["free_ratio"] < 0.999999 else OK
    assert status["state"] == expected
    red = DiskSpaceCheck(tmp_path, warn_below=0.999999, fail_below="99.9999%")()
    assert red["state"] == (RED if red["labels"]["free_ratio"] < 0.999999 else OK)


def test_disk_space_of_a_missing_path_is_red(tmp_path):
    status = DiskSpaceCheck(tmp_path / "gone")()
    assert status["state"] == RED
    assert status["detail"].startswith("FileNotFoundError: ")
    assert "labels" not in status


def test_disk_space_refuses_fail_above_warn(tmp_path):
    with pytest.raises(ValueError, match="'fail_below' \\(20%\\) is above 'warn_below'"):
        DiskSpaceCheck(tmp_path, warn_below="10%", fail_below=0.2)
    with pytest.raises(ValueError, match="'warn_below'"):
        DiskSpaceCheck(tmp_path, warn_below="much")
    # Different kinds cannot be compared, so both are kept.
    DiskSpaceCheck(tmp_path, warn_below="10%", fail_below="1GiB")


def test_disk_space_labels_in_prometheus_output(tmp_path):
    config = Configurator(settings={})
    config.include("lovely.ws.status.svcstatus")
    config.add_status_handler("disk", DiskSpaceCheck(tmp_path, warn_below=0, fail_below=0))
    app = TestApp(config.make_wsgi_app())
    lines = app.get("/svc_status.prometheus").text.splitlines()
    assert 'svc_status{name="disk"} 0' in lines
    label = 'svc_status_label{{name="disk",label="{}"}} '.format
    free = [line for line in lines if line.startswith(label("free_bytes"))]
    ratio = [line for line in lines if line.startswith(label("free_ratio"))]
    assert len(free) == 1 and len(ratio) == 1
    assert int(float(free[0].split()[-1])) > 0
    assert 0 < float(ratio[0].split()[-1]) <= 1


def ini_app(global_config, **settings):
    """The app of the .ini files below."""
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.svcstatus")
    return config.make_wsgi_app()


@pytest.mark.parametrize("warn, fail, shown", [
    ("10 percent", "0.05", "<DiskSpaceCheck {path!r} warn_below=10% fail_below=5%>"),
    ("10%%", "2 GiB", "<DiskSpaceCheck {path!r} warn_below=10% fail_below=2.0 GiB>"),
    ("0.10", "5 Percent", "<DiskSpaceCheck {path!r} warn_below=10% fail_below=5%>"),
])
def test_thresholds_from_an_ini_file(tmp_path, warn, fail, shown):
    from pyramid.paster import get_app

    from lovely.ws.status.appstatus import get_app_status

    ini = tmp_path / "app.ini"
    ini.write_text(
        "[app:main]\n"
        "use = call:tests.checks.test_disk:ini_app\n"
        "svcstatus.handlers = disk = lovely.ws.status.checks.DiskSpaceCheck\n"
        "svcstatus.handler.disk.path = %(here)s\n"
        f"svcstatus.handler.disk.warn_below = {warn}\n"
        f"svcstatus.handler.disk.fail_below = {fail}\n"
    )
    wsgi = get_app(str(ini))
    check = get_app_status(wsgi.registry).handlers["disk"]
    assert repr(check) == shown.format(path=str(tmp_path))
    assert TestApp(wsgi).get("/svc_status.json").json["disk"]["state"] in (OK, YELLOW, RED)
