"""``svc_status_last_change_timestamp_seconds{name}``: since when each
handler has been in its state, from a report's ``changed``."""
from __future__ import annotations

import pytest

from lovely.ws.status import OK, RED
from lovely.ws.status.render.prometheus import render_exposition

from ..helpers import make_app

HELP = ("# HELP svc_status_last_change_timestamp_seconds When the state of the status "
        "handler last changed, as this process saw it\n"
        "# TYPE svc_status_last_change_timestamp_seconds gauge\n")
NAMES = ["db", "cache"]
STATUSES = [{"state": RED}, {"state": OK}]


def test_the_family_byte_for_byte():
    text = render_exposition(NAMES, STATUSES, changed=[1700000000.5, 1600000000.0], sort=True)
    assert text == (
        "# HELP svc_status Status 0->OK, 1->YELLOW, 2->RED\n"
        "# TYPE svc_status untyped\n"
        'svc_status{name="cache"} 0\n'
        'svc_status{name="db"} 2\n'
        + HELP
        + 'svc_status_last_change_timestamp_seconds{name="cache"} 1600000000.0\n'
        'svc_status_last_change_timestamp_seconds{name="db"} 1700000000.5\n'
    )


def test_openmetrics_has_its_unit():
    text = render_exposition(NAMES, STATUSES, changed=[1.0, 2.0], openmetrics=True)
    assert ("# TYPE svc_status_last_change_timestamp_seconds gauge\n"
            "# UNIT svc_status_last_change_timestamp_seconds seconds\n"
            'svc_status_last_change_timestamp_seconds{name="db"} 1.0\n') in text


def test_none_is_left_out_and_without_changes_there_is_no_family():
    text = render_exposition(NAMES, STATUSES, changed=[None, 5.0])
    assert 'timestamp_seconds{name="db"}' not in text
    assert 'svc_status_last_change_timestamp_seconds{name="cache"} 5.0\n' in text
    assert "last_change" not in render_exposition(NAMES, STATUSES)


def test_names_with_one_text_give_one_sample_of_the_worst():
    text = render_exposition([1, "1"], [{"state": OK}, {"state": RED}], changed=[10.0, 20.0])
    assert text.count("svc_status_last_change_timestamp_seconds{") == 1
    assert 'svc_status_last_change_timestamp_seconds{name="1"} 20.0\n' in text


def test_the_text_is_kept_while_the_list_is_the_same():
    cache = {}
    changed = [1.0, 2.0]
    first = render_exposition(NAMES, STATUSES, changed=changed, sort=True, cache=cache)
    assert render_exposition(NAMES, STATUSES, changed=changed, sort=True, cache=cache) == first
    other = render_exposition(NAMES, STATUSES, changed=[3.0, 2.0], sort=True, cache=cache)
    assert 'svc_status_last_change_timestamp_seconds{name="db"} 3.0\n' in other


def test_served_and_parsed():
    parser = pytest.importorskip("prometheus_client.parser")
    testapp = make_app(setup=lambda config: config.add_status_handler("db", lambda: {
        "state": OK}))
    testapp.get("/svc_status.prometheus")
    text = testapp.get("/svc_status.prometheus").text
    families = {f.name: f for f in parser.text_string_to_metric_families(text)}
    family = families["svc_status_last_change_timestamp_seconds"]
    assert family.type == "gauge"
    [sample] = family.samples
    assert sample.labels == {"name": "db"} and sample.value > 1e9
