"""Handlers come and go from other threads while requests are served:
every response stays whole and well-formed."""
from __future__ import annotations

import json
import random
import re
import threading
import time

import pytest

from lovely.ws.status import (
    OK,
    RED,
    STATUS_HANDLERS,
    YELLOW,
    addStatusHandler,
    removeStatusHandler,
)
from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.handlers import HandlerOptions

from ..helpers import PATIENCE, make_app, wait_until

parser = pytest.importorskip("prometheus_client.parser")

#: How long the clients and churners run at least.
RUN_SECONDS = 1.5
PATHS = ["/svc_status", "/svc_status.csv", "/svc_status.json",
         "/svc_status.prometheus", "/svc_status.html"]


def serving_app():
    return make_app(settings={"svcstatus.timeout": "1"})


def check_body(path, response):
    """The body is whole and well-formed for its format."""
    assert response.status_code == 200, response.status
    text = response.text
    if path.endswith(".json"):
        data = json.loads(text)
        assert isinstance(data, dict)
        for status in data.values():
            assert status["state"] in (OK, YELLOW, RED)
    elif path.endswith(".prometheus"):
        families = {f.name: f for f in parser.text_string_to_metric_families(text)}
        names = [s.labels["name"] for s in families["svc_status"].samples]
        assert len(names) == len(set(names))
    elif path.endswith(".html"):
        assert text.rstrip().endswith("</html>")
        rows = text.count('<td class="name">')
        assert re.search(rf"<footer>{rows} handlers?;", text)
    else:
        for line in text.splitlines():
            assert line.count("\t") == 2
            assert line.split("\t")[1] in (OK, YELLOW, RED)


class Churn:
    """Registers and removes handlers of every kind until stopped: global
    ones, or with ``app`` that app's own."""

    def __init__(self, seed, stop, app=None):
        self.random = random.Random(seed)
        self.stop = stop
        self.app = app
        self.prefix = f"t{seed}-"

    def handler(self):
        kind = self.random.randrange(7)
        if kind == 0:
            return lambda: {"state": OK}
        if kind == 1:
            return lambda: {"state": YELLOW, "detail": "tab\tnew\nline",
                            "labels": {"a": 1, "b": "x"}}
        if kind == 2:
            return lambda: 1 / 0
        if kind == 3:
            return lambda: "not a dict"
        if kind == 4:
            return lambda: time.sleep(0.002) or {"state": RED}
        if kind == 5:
            return lambda: {"state": "nonsense", "when": time}
        return lambda: {"state": OK, "detail": {1, 2}}

    def options(self):
        rand = self.random
        return {"timeout": rand.choice([None, 0.5, 1]), "ttl": rand.choice([None, 0, 0.01])}

    def run(self):
        rand = self.random
        while not self.stop.is_set():
            name = self.prefix + str(rand.randrange(30))
            action = rand.randrange(10)
            if self.app is not None:
                self.change_app(name, action)
            else:
                self.change_global(name, action)
            time.sleep(0)

    def change_global(self, name, action):
        try:
            if action < 5:
                addStatusHandler(name, self.handler())
            elif action < 7:
                addStatusHandler(name, self.handler(), **self.options())
            elif action < 9:
                removeStatusHandler(name)
            else:
                STATUS_HANDLERS.pop(name, None)
        except KeyError:
            pass  # removed by another churner meanwhile

    def change_app(self, name, action):
        if action < 5:
            self.app.add_handler(name, self.handler())
        elif action < 8:
            self.app.add_handler(name, self.handler(), HandlerOptions(**self.options()))
        else:
            self.app.handlers.pop(name, None)
            self.app.options.pop(name, None)


def serve_while(change, threads=3):
    """Every format served by concurrent clients while ``threads`` threads
    call ``change(stop)``; the responses each client got, by path."""
    testapp = serving_app()
    stop = threading.Event()
    errors = []
    counts = {path: 0 for path in PATHS}

    def client(path):
        try:
            while not stop.is_set():
                check_body(path, testapp.get(path))
                counts[path] += 1
        except BaseException as exc:  # pragma: no cover - the failure
            errors.append((path, repr(exc)))
            stop.set()

    def changer(n):
        try:
            change(n, stop, testapp)
        except BaseException as exc:  # pragma: no cover - the failure
            errors.append(("change", repr(exc)))
            stop.set()

    workers = [threading.Thread(target=client, args=(p,)) for p in PATHS]
    workers += [threading.Thread(target=changer, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    try:
        time.sleep(RUN_SECONDS)
        # A busy machine may have served little yet: every format at least once.
        wait_until(lambda: errors or all(counts.values()), "a response in every format")
    finally:
        stop.set()
        for thread in workers:
            thread.join(PATIENCE)
    assert not any(thread.is_alive() for thread in workers)
    assert errors == []
    return counts


def test_add_and_remove_global_handlers_while_serving_every_format():
    serve_while(lambda seed, stop, testapp: Churn(seed, stop).run())


def test_add_and_remove_an_apps_own_handlers_while_serving_every_format():
    def change(seed, stop, testapp):
        app = get_app_status(testapp.app.registry)
        (Churn(seed, stop, app) if seed else Churn(seed, stop)).run()

    serve_while(change)


def test_clear_while_serving():
    def clearer(n, stop, testapp):
        while not stop.is_set():
            for i in range(50):
                addStatusHandler(f"h{n}-{i}", lambda i=i: {"state": OK, "detail": str(i)})
            STATUS_HANDLERS.clear()
            time.sleep(0)

    serve_while(clearer, threads=1)


def test_results_changed_by_another_thread_while_rendered():
    """A handler that hands out a dict another thread keeps changing."""
    shared = {"state": OK, "labels": {}}

    def mutate(n, stop, testapp):
        n = 0
        while not stop.is_set():
            n += 1
            shared[f"k{n % 50}"] = n
            shared.pop(f"k{(n + 25) % 50}", None)
            shared["labels"][f"l{n % 20}"] = n
            shared["labels"].pop(f"l{(n + 10) % 20}", None)

    addStatusHandler("shared", lambda: shared)
    serve_while(mutate, threads=1)
