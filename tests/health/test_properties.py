"""A property test: for any handler states, groups, criticality, excludes
and probe text, every status code of the group endpoints (and of
``/svc_status`` and ``/__heartbeat__`` per group) is what the rules say.

The rules, written out once more here: a handler without ``groups`` is in
``readiness`` and ``startup``; a member fails when it is ``RED`` and
critical; ``?exclude`` leaves members out; ``/readyz`` and ``/startupz``
also fail while the probe is not ``OK`` (unless ``probe_status`` is
excluded), ``/livez`` never does; ``/GROUP/NAME`` is 404 for a name that
is not a member.
"""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lovely.ws.status import OK, RED, YELLOW
from lovely.ws.status.handlers import DEFAULT_GROUPS

from ..helpers import fixed, make_app

NAMES = ["a", "b", "c", "d", "e"]
GROUPS = ["liveness", "readiness", "startup", "extra"]
ENDPOINTS = {"livez": "liveness", "readyz": "readiness", "startupz": "startup"}
ASK = {"Accept": "application/health+json"}

handler = st.fixed_dictionaries({
    "state": st.sampled_from([OK, YELLOW, RED]),
    "groups": st.none() | st.sets(st.sampled_from(GROUPS)),
    "critical": st.booleans(),
})
handlers = st.dictionaries(st.sampled_from(NAMES), handler, max_size=len(NAMES))
excludes = st.lists(st.sampled_from(NAMES + ["probe_status", "nope"]), max_size=4)
probe = st.sampled_from(["OK", "deploying"])


def members(found, group):
    return [n for n, h in found.items()
            if group in (DEFAULT_GROUPS if h["groups"] is None else h["groups"])]


def fails(h):
    return h["state"] == RED and h["critical"]


def build(found, probe_text):
    def setup(config):
        for name, h in found.items():
            config.add_status_handler(name, fixed(state=h["state"]),
                                      groups=h["groups"], critical=h["critical"])

    app = make_app("lovely.ws.status.health", "lovely.ws.status.probestatus",
                   "lovely.ws.status.svcstatus", "lovely.ws.status.dockerflow",
                   setup=setup)
    # The memory store is 1.0's one text per process: set it each time.
    app.post("/probe_status" if probe_text == "OK" else f"/probe_status?body={probe_text}")
    return app


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(handlers, excludes, probe)
def test_status_codes_follow_the_rules(found, excluded, probe_text):
    app = build(found, probe_text)
    query = "&".join(f"exclude={n}" for n in excluded)
    for endpoint, group in ENDPOINTS.items():
        wanted = [n for n in members(found, group) if n not in excluded]
        failing = any(fails(found[n]) for n in wanted)
        if endpoint != "livez" and probe_text != "OK" and "probe_status" not in excluded:
            failing = True
        code = 503 if failing else 200
        assert app.get(f"/{endpoint}?{query}", status="*").status_int == code
        assert app.get(f"/{endpoint}?{query}", headers=ASK, status="*").status_int == code
        for name in NAMES:
            if name in members(found, group):
                expected = 503 if fails(found[name]) else 200
            else:
                expected = 404
            assert app.get(f"/{endpoint}/{name}", status="*").status_int == expected
        expected = 404 if endpoint == "livez" else 200 if probe_text == "OK" else 503
        assert app.get(f"/{endpoint}/probe_status", status="*").status_int == expected


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(handlers, st.sampled_from(GROUPS + [None]))
def test_svc_status_and_heartbeat_per_group(found, group):
    app = build(found, "OK")
    query = "" if group is None else f"?group={group}"
    chosen = list(found) if group is None else members(found, group)
    failing = any(fails(found[n]) for n in chosen)
    exists = group is None or group != "extra" or any(
        h["groups"] and "extra" in h["groups"] for h in found.values())
    if not exists:
        assert app.get(f"/svc_status{query}", status="*").status_int == 404
        assert app.get(f"/__heartbeat__{query}", status="*").status_int == 404
        return
    assert app.get(f"/svc_status{query}").status_int == 200  # 1.0's formats: always
    response = app.get(f"/svc_status{query}", headers=ASK, status="*")
    assert response.status_int == (503 if failing else 200)
    assert set(response.json["checks"]) == set(chosen)
    heartbeat = app.get(f"/__heartbeat__{query}", status="*")
    assert heartbeat.status_int == (500 if failing else 200)
    assert set(heartbeat.json["checks"]) == set(chosen)
