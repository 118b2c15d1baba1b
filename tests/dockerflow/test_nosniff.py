"""Every Dockerflow answer is ``X-Content-Type-Options: nosniff``, and
``/__lbheartbeat__`` serves no more of the probe's store than the probe
does."""
from __future__ import annotations

import os

from ..helpers import make_app

DOCKERFLOW = "lovely.ws.status.dockerflow"
PROBE = "lovely.ws.status.probestatus"


def test_every_answer_is_nosniff(tmp_path, monkeypatch):
    monkeypatch.setenv("APP_DIR", str(tmp_path))
    app = make_app(DOCKERFLOW, PROBE)
    answers = [
        app.get("/__lbheartbeat__", status=200),
        app.get("/__heartbeat__", status=200),
        app.get("/__version__", status=404),
    ]
    (tmp_path / "version.json").write_text('{"source": "s", "version": "1", '
                                           '"commit": "c", "build": "b"}')
    answers.append(app.get("/__version__", status=200))
    (tmp_path / "version.json").write_text("not json")
    answers.append(app.get("/__version__", status=500))
    app.post("/probe_status?body=OFF")
    answers.append(app.get("/__lbheartbeat__", status=503))
    for response in answers:
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Type"] == "application/json"


def test_lbheartbeat_does_not_follow_a_symlink_at_the_probe_path(tmp_path):
    secret = "s3cr3t-token-4711"
    (tmp_path / "secret").write_text(f"TOKEN={secret}")
    path = tmp_path / "probe"
    os.symlink(tmp_path / "secret", path)
    app = make_app(DOCKERFLOW, PROBE, settings={"probestatus.store": f"file://{path}"})
    response = app.get("/__lbheartbeat__", status=503)
    assert secret not in response.text
    assert response.json == {"status": "error", "detail": "the probe store is unavailable"}
