"""``svcstatus.share``: a background handler runs in one process of the host
(a directory) or of the fleet (Redis); the others serve its result, naming
the process that produced it."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import pytest
from pyramid.exceptions import ConfigurationError

from lovely.ws.status import OK, RED, StateHandlerMixin
from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.evaluation.fileshare import FileShare, file_key
from lovely.ws.status.evaluation.redisshare import RedisShare
from lovely.ws.status.evaluation.share import Result, decode_result, encode_result
from lovely.ws.status.handlers import HandlerOptions

from ..helpers import PATIENCE, Counting, app_status, make_config, wait_until
from ..servers import python

ME = f"{socket.gethostname()}:{os.getpid()}"


def result(state=OK, when=None, **status):
    return Result({"state": state, **status}, 0.25, time.time() if when is None else when)


class Mixin(StateHandlerMixin):
    def __init__(self):
        self.setState(OK)


# --- the file share, in this process ------------------------------------------


def test_one_share_of_a_directory_runs_a_handler(tmp_path):
    first, second = FileShare(str(tmp_path)), FileShare(str(tmp_path))
    handler = Counting()
    assert first.claim("db", handler, 1.0, 1.0)
    assert first.claim("db", handler, 1.0, 1.0)  # it keeps running it
    assert not second.claim("db", handler, 1.0, 1.0)
    assert second.latest("db", handler) is None  # nothing published yet
    first.publish("db", handler, result(detail="fine"))
    found = second.latest("db", handler)
    assert found.status == {"state": OK, "detail": "fine"}
    assert (found.duration, found.source) == (0.25, ME)
    first.release("db")
    assert second.claim("db", handler, 1.0, 1.0)


def test_each_handler_has_its_own_lock(tmp_path):
    first, second = FileShare(str(tmp_path)), FileShare(str(tmp_path))
    assert first.claim("db", Counting(), 1.0, 1.0)
    assert second.claim("cache", Counting(), 1.0, 1.0)


def test_a_share_that_is_gone_leaves_its_locks(tmp_path):
    first = FileShare(str(tmp_path))
    assert first.claim("db", Counting(), 1.0, 1.0)
    del first
    assert FileShare(str(tmp_path)).claim("db", Counting(), 1.0, 1.0)


def test_file_names_are_safe_and_unique():
    names = ["db", "a/b", "../x", "é", "x" * 300, 1, "1", ".hidden"]
    keys = [file_key(name) for name in names]
    assert len(set(keys)) == len(keys)
    for key in keys:
        assert "/" not in key and not key.startswith(".") and len(key) < 100


def test_the_result_is_replaced_whole(tmp_path):
    share = FileShare(str(tmp_path))
    handler = Counting()
    share.claim("db", handler, 1.0, 1.0)
    for n in range(20):
        share.publish("db", handler, result(detail=str(n)))
    assert share.latest("db", handler).status["detail"] == "19"
    # No temporary file is left behind.
    assert sorted(os.listdir(tmp_path)) == sorted(
        [file_key("db") + ".lock", file_key("db") + ".json"])


def test_a_detail_json_cannot_hold_is_shared_as_text(tmp_path):
    share = FileShare(str(tmp_path))
    handler = Counting()
    share.claim("db", handler, 1.0, 1.0)
    share.publish("db", handler, result(detail=ValueError("boom"), labels={"n": float("nan")}))
    assert share.latest("db", handler).status == {
        "state": OK, "detail": "ValueError: boom", "labels": {"n": "nan"}}


@pytest.mark.parametrize("content", [
    b"", b"{", b"[]", b'{"status": {"state": "BLUE"}, "time": 1, "source": "x"}',
    b'{"status": {"state": "OK"}, "time": "now", "source": "x"}',
    b'{"status": {"state": "OK"}, "time": 1, "duration": -1, "source": "x"}',
    b'{"status": {"state": "OK"}, "time": 1}', b"\xff\xfe",
    b'{"status": {"state": "OK"}, "time": 1, "source": "x", "pad": "' + b"x" * (2 << 20)
    + b'"}',
])
def test_a_result_that_is_not_one_is_refused(content):
    with pytest.raises(ValueError, match="shared result"):
        decode_result(content)


def test_results_round_trip():
    original = result(RED, detail="down", labels={"ms": 3})
    assert decode_result(encode_result(original, "host:1")) == original._replace(source="host:1")


def test_handlers_with_their_state_in_the_process_are_never_shared(tmp_path):
    first, second = FileShare(str(tmp_path)), FileShare(str(tmp_path))
    handler = Mixin()
    for share in (first, second):
        assert share.claim("mixin", handler, 1.0, 1.0)
        share.publish("mixin", handler, result())
        assert share.latest("mixin", handler) is None
    assert os.listdir(tmp_path) == []


_CHILD = """
import sys, time
from lovely.ws.status.evaluation.fileshare import FileShare
share = FileShare(sys.argv[1])
print(share.claim("db", print, 1.0, 1.0), flush=True)
sys.stdin.read()
"""


def test_when_the_runner_dies_another_process_takes_over(tmp_path):
    child = subprocess.Popen([python(), "-c", _CHILD, str(tmp_path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "True"
        share = FileShare(str(tmp_path))
        assert not share.claim("db", print, 1.0, 1.0)
    finally:
        child.kill()
        child.wait()
    assert share.claim("db", print, 1.0, 1.0)


def test_a_forked_child_does_not_inherit_the_parents_locks(tmp_path):
    from ..servers import run_in_child

    share = FileShare(str(tmp_path))
    assert share.claim("db", print, 1.0, 1.0)
    # The child may not run it while the parent does, and the child's exit
    # does not take the parent's lock with it.
    assert run_in_child(lambda: str(share.claim("db", print, 1.0, 1.0))) == "False"
    assert not FileShare(str(tmp_path)).claim("db", print, 1.0, 1.0)


# --- the share behind the refresher -------------------------------------------


def two_apps(tmp_path, interval=PATIENCE, timeout=PATIENCE):
    apps = []
    for _ in range(2):
        app = app_status(timeout=timeout)
        app.evaluator.refresher.share = FileShare(str(tmp_path))
        apps.append(app)
    return apps


def shared_file(tmp_path, name="db"):
    return tmp_path / (file_key(name) + ".json")


def test_the_process_that_does_not_run_it_serves_the_shared_result(tmp_path):
    runner, reader = two_apps(tmp_path)
    ran, not_run = Counting(), Counting()
    runner.add_handler("db", ran, HandlerOptions(interval=0.1))
    runner.evaluate()  # the request runs it; then the refresher claims it
    wait_until(shared_file(tmp_path).exists, "the shared result")
    reader.add_handler("db", not_run, HandlerOptions(interval=0.1))
    # A process's first request runs the handler itself: requests never
    # wait on the share.
    assert reader.evaluate().as_dict()["db"]["detail"] == "call 1"
    wait_until(lambda: (reader.evaluate().origins or {}).get("db", ("",))[0] == "shared",
               "the reader serving the shared result")
    report = reader.evaluate()
    assert report.origins["db"].source == ME
    assert report.as_dict()["db"]["detail"].startswith("call ")
    assert not_run.calls == 1 and ran.calls >= 2


def test_readers_follow_the_runners_results(tmp_path):
    runner, reader = two_apps(tmp_path, timeout=0.5)
    ran = Counting()
    runner.add_handler("db", ran, HandlerOptions(interval=0.05))
    reader.add_handler("db", Counting(), HandlerOptions(interval=0.05))
    runner.evaluate()
    wait_until(shared_file(tmp_path).exists, "the shared result")
    reader.evaluate()
    seen = set()
    wait_until(lambda: seen.add(reader.evaluate().as_dict()["db"]["detail"]) or len(seen) > 3,
               "newer results in the reader")


def test_a_share_that_fails_leaves_the_run_to_each_process(tmp_path, caplog):
    class Broken:
        def claim(self, name, handler, interval, timeout):
            raise OSError("disk gone")

        def publish(self, name, handler, result):
            raise OSError("disk gone")

        def latest(self, name, handler):
            raise OSError("disk gone")

        def release(self, name):
            raise OSError("disk gone")

    app = app_status(timeout=PATIENCE)
    app.evaluator.refresher.share = Broken()
    handler = Counting()
    app.add_handler("db", handler, HandlerOptions(interval=0.05))
    assert app.evaluate().as_dict()["db"]["state"] == OK
    wait_until(lambda: handler.calls > 2, "background runs")
    assert "cannot ask the share about status handler 'db': disk gone" in caplog.text


def test_a_runner_whose_handler_goes_releases_it(tmp_path):
    runner, reader = two_apps(tmp_path)
    runner.add_handler("db", Counting(), HandlerOptions(interval=0.1))
    runner.evaluate()
    wait_until(shared_file(tmp_path).exists, "the runner's claim")
    assert not FileShare(str(tmp_path)).claim("db", print, 1.0, 1.0)
    del runner.handlers["db"]
    runner.evaluate()
    assert FileShare(str(tmp_path)).claim("db", print, 1.0, 1.0)


# --- the setting -------------------------------------------------------------


def test_a_directory_shares_the_runs_of_an_app(tmp_path):
    config = make_config(settings={"svcstatus.share": f"file://{tmp_path}"})
    config.commit()
    share = get_app_status(config.registry).evaluator.refresher.share
    assert isinstance(share, FileShare) and share.directory == str(tmp_path)


@pytest.mark.parametrize("settings, options, warned", [
    ({}, HandlerOptions(), True),
    ({"svcstatus.concurrent": "false"}, HandlerOptions(interval=60), True),
    ({}, HandlerOptions(interval=60), False),
    ({"svcstatus.interval": "60"}, HandlerOptions(), False),
])
def test_a_share_no_handler_uses_says_so_once(tmp_path, caplog, settings, options, warned):
    config = make_config(settings={"svcstatus.share": f"file://{tmp_path}", **settings})
    config.add_status_handler("db", Counting(), **options._asdict())
    config.commit()
    app = get_app_status(config.registry)
    app.evaluate()
    app.evaluate()
    said = [r for r in caplog.records if "nothing is shared" in r.getMessage()]
    assert len(said) == (1 if warned else 0)


def test_without_a_share_nothing_is_said(caplog):
    config = make_config()
    config.add_status_handler("db", Counting())
    config.commit()
    get_app_status(config.registry).evaluate()
    assert not [r for r in caplog.records if "nothing is shared" in r.getMessage()]


def test_no_share_by_default():
    config = make_config()
    config.commit()
    assert type(get_app_status(config.registry).evaluator.refresher.share).__name__ == \
        "LocalShare"


@pytest.mark.parametrize("value, message", [
    ("file:///no/such/directory", "No such file or directory"),
    ("file://host/tmp", "expected file:///absolute/path"),
    ("file:///tmp?x=1", "expected file:///absolute/path"),
    ("/tmp", "expected file:///directory or redis://"),
    ("ftp://x/y", "expected file:///directory or redis://"),
    ("redis://127.0.0.1:6379/0?bogus=1", "unknown parameter"),
    ("redis://:secret@127.0.0.1:0/0", "the port must be"),
])
def test_a_bad_share_fails_at_commit(value, message):
    config = make_config(settings={"svcstatus.share": value})
    with pytest.raises(ConfigurationError, match=message) as info:
        config.commit()
    assert "secret" not in str(info.value)


def test_a_file_in_place_of_the_directory_fails_at_commit(tmp_path):
    path = tmp_path / "file"
    path.write_text("")
    config = make_config(settings={"svcstatus.share": f"file://{path}"})
    with pytest.raises(ConfigurationError, match="is not a directory"):
        config.commit()


def test_redis_keys_are_named_after_the_app_unless_the_url_says(redis_server):
    config = make_config(settings={"svcstatus.share": redis_server.url})
    config.commit()
    share = get_app_status(config.registry).evaluator.refresher.share
    assert isinstance(share, RedisShare)
    assert share.prefix == f"lovely.ws.status:share:{config.registry.__name__}"
    config = make_config(settings={"svcstatus.share": redis_server.url + "?key=mine"})
    config.commit()
    assert get_app_status(config.registry).evaluator.refresher.share.prefix == "mine"


# --- the Redis share ----------------------------------------------------------


class Other(RedisShare):
    """A share that speaks for another process."""

    pid = 0

    def claim(self, name, handler, interval, timeout):
        from lovely.ws.status.evaluation import redisshare

        real = redisshare.this_process
        redisshare.this_process = lambda: f"elsewhere:{self.pid}"
        try:
            return super().claim(name, handler, interval, timeout)
        finally:
            redisshare.this_process = real


def test_one_process_of_the_fleet_holds_the_lease(redis_server):
    import redis

    mine = RedisShare(redis_server.url, "t", 0.5)
    other = Other(redis_server.url, "t", 0.5)
    handler = Counting()
    assert mine.claim("db", handler, 1.0, 1.0)
    assert not other.claim("db", handler, 1.0, 1.0)
    mine.publish("db", handler, result(detail="fine"))
    found = other.latest("db", handler)
    assert (found.status, found.source) == ({"state": OK, "detail": "fine"}, ME)
    client = redis.Redis.from_url(redis_server.url)
    assert client.get("t:runner:db") == ME.encode()
    assert 0 < client.pttl("t:runner:db") <= 2500  # two intervals and the timeout
    mine.release("db")
    assert client.get("t:runner:db") is None
    assert other.claim("db", handler, 1.0, 1.0)
    mine.release("db")  # not its lease any more: nothing happens
    assert client.get("t:runner:db") == b"elsewhere:0"


def test_a_lease_that_runs_out_is_taken_over(redis_server):
    mine = RedisShare(redis_server.url, "t", 0.01)
    other = Other(redis_server.url, "t", 0.01)
    assert mine.claim("db", print, 0.05, 0.05)
    # The runner stops renewing its lease (it died): it runs out.
    wait_until(lambda: other.claim("db", print, 0.05, 0.05), "the lease to run out")


def test_a_huge_or_foreign_key_is_refused(redis_server):
    import redis

    share = RedisShare(redis_server.url, "t", 0.5)
    client = redis.Redis.from_url(redis_server.url)
    client.set("t:result:db", b"x" * (3 << 20))
    with pytest.raises(ValueError, match="more than"):
        share.latest("db", print)
    client.set("t:result:db", json.dumps({"state": OK}))
    with pytest.raises(ValueError, match="shared result"):
        share.latest("db", print)


def test_a_redis_that_is_down_fails_within_its_timeout(redis_server):
    import redis

    share = RedisShare(redis_server.url, "t", 0.5)
    redis_server.stop()
    with pytest.raises(redis.exceptions.ConnectionError):
        share.claim("db", print, 1.0, 1.0)



def test_a_directory_others_may_write_is_refused(tmp_path):
    tmp_path.chmod(0o777)
    config = make_config(settings={"svcstatus.share": f"file://{tmp_path}"})
    with pytest.raises(ConfigurationError, match="may be written by other users"):
        config.commit()


def test_a_directory_of_another_user_is_refused(tmp_path):
    if os.geteuid() == 0:
        os.chown(tmp_path, 12345, -1)
        path = str(tmp_path)
    else:
        path = "/"  # root's
    config = make_config(settings={"svcstatus.share": f"file://{path}"})
    with pytest.raises(ConfigurationError, match="belongs to another user"):
        config.commit()


def test_the_files_are_the_users_own_and_never_followed(tmp_path):
    share = FileShare(str(tmp_path))
    handler = Counting()
    share.claim("db", handler, 1.0, 1.0)
    share.publish("db", handler, result())
    for name in os.listdir(tmp_path):
        assert (tmp_path / name).stat().st_mode & 0o077 == 0, name
    # A result planted as a link to another file is not read.
    target = tmp_path / "elsewhere.json"
    target.write_bytes(encode_result(result(RED), "planted:1"))
    shared_file(tmp_path).unlink()
    shared_file(tmp_path).symlink_to(target)
    with pytest.raises(OSError):
        share.latest("db", handler)


# --- fork ---------------------------------------------------------------------


def test_a_forked_child_lets_go_of_the_locks_at_once(tmp_path):
    share = FileShare(str(tmp_path))
    assert share.claim("db", print, 1.0, 1.0)
    read, write = os.pipe()
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never looks at the share
        os.close(write)
        os.write(ready_write, b"!")  # (after the fork's hooks ran)
        os.read(read, 1)  # until the parent closes its end
        os._exit(0)
    os.close(read)
    os.close(ready_write)
    assert os.read(ready_read, 1) == b"!"
    os.close(ready_read)
    try:
        share.release("db")
        # The child still lives: its inherited copy must not hold the lock.
        assert FileShare(str(tmp_path)).claim("db", print, 1.0, 1.0)
    finally:
        os.close(write)
        os.waitpid(pid, 0)


def test_a_fork_while_a_thread_holds_the_shares_lock(tmp_path):
    from ..servers import run_in_child

    share = FileShare(str(tmp_path))
    with share._lock:  # as the refresher's thread in claim() at the fork
        answer = run_in_child(lambda: str(share.claim("db", print, 1.0, 1.0)))
    assert answer == "True"


# --- what other processes wrote -------------------------------------------------


def test_a_result_from_the_future_does_not_hide_the_next_ones(tmp_path):
    app = app_status(timeout=0.5)
    app.evaluator.refresher.share = FileShare(str(tmp_path))
    app.add_handler("db", Counting(), HandlerOptions(interval=0.05))
    holder = FileShare(str(tmp_path))
    assert holder.claim("db", print, 1.0, 1.0)  # another process runs it
    holder.publish("db", print, result(OK, when=time.time() + 3600, detail="future"))
    app.evaluate()
    wait_until(lambda: app.evaluate().as_dict()["db"].get("detail") == "future", "the future")
    origin = app.evaluate().origins["db"]
    assert origin.time <= time.time()  # judged by this clock
    holder.publish("db", print, result(RED, detail="now"))
    wait_until(lambda: app.evaluate().as_dict()["db"].get("detail") == "now",
               "the next result, though older than the one from the future")


def test_a_shared_status_is_checked_as_a_local_one(tmp_path):
    found = decode_result(b'{"status": {"state": "OK", "detail": "x"}, "time": 1, '
                          b'"source": "a:1"}')
    assert found.status == {"state": OK, "detail": "x"}


def test_a_detail_whose_text_blocks_does_not_hold_the_refresher(tmp_path):
    import threading

    release = threading.Event()

    class Stalling:
        def __str__(self):
            release.wait(PATIENCE)
            return "late"

    app = app_status(timeout=0.2)
    app.evaluator.refresher.share = FileShare(str(tmp_path))
    other = Counting()
    app.add_handler("odd", lambda: {"state": OK, "detail": Stalling()},
                    HandlerOptions(interval=0.05))
    app.add_handler("other", other, HandlerOptions(interval=0.05))
    try:
        app.evaluate()
        wait_until(lambda: shared_file(tmp_path, "odd").exists(), "the odd result shared")
        calls = other.calls
        wait_until(lambda: other.calls > calls + 5, "the other handler refreshed meanwhile")
        detail = json.loads(shared_file(tmp_path, "odd").read_bytes())["status"]["detail"]
        assert detail == "<Stalling: not rendered, its code did not return in time>"
        assert app.evaluate().as_dict()["other"]["state"] == OK
    finally:
        release.set()
