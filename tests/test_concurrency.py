"""Handlers come and go from other threads while requests are served."""
from __future__ import annotations

import json
import random
import re
import threading
import time

import pytest
from pyramid.config import Configurator
from webtest import TestApp

from lovely.ws.status import (
    OK,
    RED,
    STATUS_HANDLERS,
    YELLOW,
    addStatusHandler,
    removeStatusHandler,
)

parser = pytest.importorskip("prometheus_client.parser")

RUN_SECONDS = 1.5
PATHS = ["/svc_status", "/svc_status.csv", "/svc_status.json",
         "/svc_status.prometheus", "/svc_status.html"]


def make_app():
    config = Configurator(settings={"svcstatus.timeout": "1"})
    config.include("lovely.ws.status.svcstatus")
    return TestApp(config.make_wsgi_app())


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
    """Registers and removes handlers of every kind until stopped."""

    def __init__(self, seed, stop):
        self.random = random.Random(seed)
        self.stop = stop
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

    def run(self):
        rand = self.random
        while not self.stop.is_set():
            name = self.prefix + str(rand.randrange(30))
            action = rand.randrange(10)
            try:
                if action < 5:
                    addStatusHandler(name, self.handler())
                elif action < 7:
                    addStatusHandler(name, self.handler(),
                                     timeout=rand.choice([None, 0.5, 1]),
                                     ttl=rand.choice([None, 0, 0.01]))
                elif action < 9:
                    removeStatusHandler(name)
                else:
                    STATUS_HANDLERS.pop(name, None)
            except KeyError:
                pass  # removed by the other churner meanwhile
            time.sleep(0)


def test_add_and_remove_while_serving_every_format():
    app = make_app()
    stop = threading.Event()
    errors = []
    counts = {path: 0 for path in PATHS}

    def client(path):
        try:
            while not stop.is_set():
                check_body(path, app.get(path))
                counts[path] += 1
        except BaseException as exc:  # pragma: no cover - the failure
            errors.append((path, repr(exc)))
            stop.set()

    def churner(seed):
        try:
            Churn(seed, stop).run()
        except BaseException as exc:  # pragma: no cover - the failure
            errors.append(("churn", repr(exc)))
            stop.set()

    threads = [threading.Thread(target=client, args=(p,)) for p in PATHS]
    threads += [threading.Thread(target=churner, args=(seed,)) for seed in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(RUN_SECONDS)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert all(count > 0 for count in counts.values()), counts


def test_clear_while_serving():
    app = make_app()
    stop = threading.Event()
    errors = []

    def client(path):
        try:
            while not stop.is_set():
                check_body(path, app.get(path))
        except BaseException as exc:  # pragma: no cover - the failure
            errors.append((path, repr(exc)))
            stop.set()

    def clearer():
        n = 0
        while not stop.is_set():
            for i in range(50):
                addStatusHandler(f"h{i}", lambda i=i: {"state": OK, "detail": str(i)})
            STATUS_HANDLERS.clear()
            n += 1
            time.sleep(0)

    threads = [threading.Thread(target=client, args=(p,)) for p in PATHS]
    threads.append(threading.Thread(target=clearer))
    for thread in threads:
        thread.start()
    time.sleep(RUN_SECONDS / 2)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert errors == []


def test_results_changed_by_another_thread_while_rendered():
    """A handler that hands out a dict another thread keeps changing."""
    app = make_app()
    shared = {"state": OK, "labels": {}}
    stop = threading.Event()
    errors = []

    def mutate():
        n = 0
        while not stop.is_set():
            n += 1
            shared[f"k{n % 50}"] = n
            shared.pop(f"k{(n + 25) % 50}", None)
            shared["labels"][f"l{n % 20}"] = n
            shared["labels"].pop(f"l{(n + 10) % 20}", None)

    def client(path):
        try:
            while not stop.is_set():
                check_body(path, app.get(path))
        except BaseException as exc:  # pragma: no cover - the failure
            errors.append((path, repr(exc)))
            stop.set()

    addStatusHandler("shared", lambda: shared)
    threads = [threading.Thread(target=mutate)]
    threads += [threading.Thread(target=client, args=(p,)) for p in PATHS]
    for thread in threads:
        thread.start()
    time.sleep(RUN_SECONDS / 2)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert errors == []
