"""DatabaseCheck and MigrationsCheck against real databases: SQLite files and
a throw-away PostgreSQL cluster (the ``postgres`` fixture), with a tiny
Alembic environment written by the test."""

from __future__ import annotations

import json
import textwrap
import threading

import pytest
import sqlalchemy
from alembic import command
from alembic.config import Config
from pyramid.config import Configurator
from webtest import TestApp

from lovely.ws.status import OK, RED, YELLOW
from lovely.ws.status.checks import DatabaseCheck, MigrationsCheck, create_check_engine

FIRST, SECOND = "aaa111aaa111", "bbb222bbb222"

ENV_PY = """
from alembic import context
from sqlalchemy import create_engine, pool

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
"""

REVISION = """
import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    op.create_table({table!r}, sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table({table!r})
"""


class AlembicEnv:
    """A migration script directory with two revisions, and its alembic.ini."""

    def __init__(self, root):
        self.scripts = root / "migrations"
        (self.scripts / "versions").mkdir(parents=True)
        (self.scripts / "env.py").write_text(ENV_PY)
        for revision, down, table in (
            (FIRST, None, "first"),
            (SECOND, FIRST, "second"),
        ):
            (self.scripts / "versions" / f"{revision}_{table}.py").write_text(
                REVISION.format(revision=revision, down=down, table=table)
            )
        self.ini = root / "alembic.ini"

    def write_ini(self, url):
        self.ini.write_text(
            textwrap.dedent(
                f"""\
                [alembic]
                script_location = %(here)s/migrations
                sqlalchemy.url = {url.replace("%", "%%")}
                """
            )
        )
        return str(self.ini)

    def config(self, url):
        return Config(self.write_ini(url))

    def upgrade(self, url, revision):
        command.upgrade(self.config(url), revision)

    def downgrade(self, url, revision):
        command.downgrade(self.config(url), revision)


@pytest.fixture
def alembic_env(tmp_path):
    return AlembicEnv(tmp_path)


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'app.db'}"


@pytest.fixture
def closing():
    """Checks made by a test, closed (their engines disposed) at its end."""
    checks = []
    yield checks.append
    for check in checks:
        check.close()


def _no_password(password, *outputs):
    for output in outputs:
        text = output if isinstance(output, str) else json.dumps(output)
        assert password not in text


def _status_app():
    config = Configurator(settings={})
    config.include("lovely.ws.status.svcstatus")
    return TestApp(config.make_wsgi_app())


# ----------------------------------------------------------- DatabaseCheck


def test_database_sqlite_file(sqlite_url, closing):
    check = DatabaseCheck(sqlite_url)
    closing(check)
    status = check()
    assert status["state"] == OK
    assert status["detail"].startswith("SELECT 1: round trip ")
    assert status["detail"].endswith(" ms")
    assert check.owns_engine


def test_database_with_the_apps_engine(sqlite_url):
    engine = sqlalchemy.create_engine(sqlite_url)
    try:
        check = DatabaseCheck(engine)
        assert check.engine is engine and not check.owns_engine
        assert check()["state"] == OK
        check.close()  # not ours: the engine still works
        with engine.connect() as connection:
            assert connection.execute(sqlalchemy.text("SELECT 2")).scalar() == 2
    finally:
        engine.dispose()


def test_database_sqlite_unreachable(tmp_path, closing):
    check = DatabaseCheck(f"sqlite:///{tmp_path / 'no-such-dir' / 'app.db'}")
    closing(check)
    assert check() == {
        "state": RED,
        "detail": "OperationalError: unable to open database file",
    }


def test_database_failing_query_is_red(sqlite_url, closing):
    check = DatabaseCheck(sqlite_url, query="SELECT count(*) FROM missing_table")
    closing(check)
    assert check() == {
        "state": RED,
        "detail": "OperationalError: no such table: missing_table",
    }


def test_database_postgres_up_down_and_up_again(postgres, closing):
    check = DatabaseCheck(postgres.url, connect_timeout=2)
    closing(check)
    assert check()["state"] == OK
    assert "***" in repr(check) and postgres.password not in repr(check)
    postgres.stop()
    down = check()
    assert down["state"] == RED
    assert down["detail"].startswith("OperationalError: ")
    assert "Connection refused" in down["detail"]
    _no_password(postgres.password, down)
    postgres.start()
    # The pooled connection died with the server; pre-ping replaces it.
    assert check()["state"] == OK


def test_database_postgres_password_never_shown(postgres, closing):
    # A database named like the password: the server's own error message
    # then contains the password, and the check must hide it.
    url = postgres.url.rsplit("/", 1)[0] + "/" + postgres.password
    check = DatabaseCheck(url, connect_timeout=2)
    closing(check)
    status = check()
    assert status["state"] == RED
    assert 'database "***" does not exist' in status["detail"]
    _no_password(postgres.password, status, repr(check))


def test_database_postgres_wrong_password(postgres, closing):
    url = postgres.url.replace(postgres.password, "not-the-pw-42")
    check = DatabaseCheck(url, connect_timeout=2)
    closing(check)
    status = check()
    assert status["state"] == RED
    assert "password authentication failed" in status["detail"]
    _no_password("not-the-pw-42", status)


def test_database_postgres_password_in_the_query_never_shown(postgres, closing):
    # libpq also takes the password as ?password=, which SQLAlchemy's
    # hide_password leaves alone; the server quotes it when the database is
    # named like it.
    base = f"postgresql+psycopg://{postgres.user}@127.0.0.1:{postgres.port}"
    good = DatabaseCheck(
        f"{base}/{postgres.database}?password={postgres.password}", connect_timeout=2
    )
    bad = DatabaseCheck(f"{base}/{postgres.password}?password={postgres.password}")
    closing(good)
    closing(bad)
    assert good()["state"] == OK
    status = bad()
    assert status["state"] == RED
    assert 'database "***" does not exist' in status["detail"]
    assert "password=***" in repr(good)
    _no_password(postgres.password, status, repr(good), repr(bad))


def test_status_outputs_never_show_the_password(postgres, alembic_env, closing):
    alembic_env.upgrade(postgres.url, "head")
    db = DatabaseCheck(postgres.url, connect_timeout=2)
    migrations = MigrationsCheck(postgres.url, alembic_env.write_ini(postgres.url))
    closing(db)
    closing(migrations)
    config = Configurator(settings={})
    config.include("lovely.ws.status.svcstatus")
    config.add_status_handler("db", db)
    config.add_status_handler("migrations", migrations)
    app = TestApp(config.make_wsgi_app())
    up = app.get("/svc_status.json").json
    assert up["db"]["state"] == OK
    assert up["migrations"] == {"state": OK, "detail": f"at head {SECOND}"}
    postgres.stop()
    outputs = [
        app.get("/svc_status.json").text,
        app.get("/svc_status").text,
        app.get("/svc_status.prometheus").text,
    ]
    down = json.loads(outputs[0])
    assert down["db"]["state"] == RED and down["migrations"]["state"] == RED
    assert len(outputs[1].split("\n")) == 2  # one line per handler
    _no_password(postgres.password, *outputs)


@pytest.mark.filterwarnings("ignore:Query string argument")  # pysqlite ignores it
def test_database_password_in_the_query_hidden_in_detail_and_repr(tmp_path, closing):
    # An error quoting the password (here: a column named like it), and the
    # repr, which SQLAlchemy's hide_password leaves the query of.
    url = f"sqlite:///{tmp_path / 'app.db'}?password=pw9secret"
    check = DatabaseCheck(url, query="SELECT pw9secret")
    closing(check)
    assert check() == {"state": RED, "detail": "OperationalError: no such column: ***"}
    assert "?password=***" in repr(check)
    _no_password("pw9secret", repr(check))


@pytest.mark.parametrize("timeout", [1e300, float("inf"), float("nan"), 0, -3])
def test_database_timeout_out_of_range_is_refused_at_once(sqlite_url, alembic_env, timeout):
    with pytest.raises(ValueError, match="connect_timeout must be a positive"):
        DatabaseCheck(sqlite_url, connect_timeout=timeout)
    with pytest.raises(ValueError, match="connect_timeout must be a positive"):
        MigrationsCheck(sqlite_url, alembic_env.scripts, connect_timeout=timeout)
    with pytest.raises(ValueError, match="connect_timeout must be a positive"):
        create_check_engine(sqlite_url, timeout)


def test_database_longest_timeout_works(sqlite_url, closing):
    check = DatabaseCheck(sqlite_url, connect_timeout=threading.TIMEOUT_MAX)
    closing(check)
    assert check()["state"] == OK


# --------------------------------------------------------- MigrationsCheck


def test_migrations_no_version_table_then_behind_then_head(sqlite_url, alembic_env, closing):
    check = MigrationsCheck(sqlite_url, alembic_env.write_ini(sqlite_url))
    closing(check)
    assert check.heads() == (SECOND,)
    assert check() == {
        "state": YELLOW,
        "detail": f"not migrated (no table alembic_version); head {SECOND}",
    }
    alembic_env.upgrade(sqlite_url, FIRST)
    assert check() == {"state": YELLOW, "detail": f"current {FIRST}; head {SECOND}"}
    alembic_env.upgrade(sqlite_url, "head")
    assert check() == {"state": OK, "detail": f"at head {SECOND}"}
    alembic_env.downgrade(sqlite_url, "base")
    assert check() == {
        "state": YELLOW,
        "detail": f"not migrated (alembic_version is empty); head {SECOND}",
    }


@pytest.mark.parametrize("form", ["ini path", "Config", "script directory"])
def test_migrations_config_forms(sqlite_url, alembic_env, closing, form):
    alembic_env.upgrade(sqlite_url, FIRST)
    config = {
        "ini path": alembic_env.write_ini(sqlite_url),
        "Config": alembic_env.config(sqlite_url),
        "script directory": alembic_env.scripts,
    }[form]
    check = MigrationsCheck(sqlite_url, config)
    closing(check)
    assert check() == {"state": YELLOW, "detail": f"current {FIRST}; head {SECOND}"}


def test_migrations_unknown_revision(sqlite_url, alembic_env, closing):
    alembic_env.upgrade(sqlite_url, "head")
    engine = sqlalchemy.create_engine(sqlite_url)
    try:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text("UPDATE alembic_version SET version_num='ccc333'"))
    finally:
        engine.dispose()
    check = MigrationsCheck(sqlite_url, alembic_env.scripts)
    closing(check)
    assert check() == {
        "state": YELLOW,
        "detail": f"current ccc333 (not in the migration scripts); head {SECOND}",
    }


def test_migrations_other_version_table(sqlite_url, alembic_env, closing):
    alembic_env.upgrade(sqlite_url, "head")
    check = MigrationsCheck(sqlite_url, alembic_env.scripts, version_table="versions")
    closing(check)
    assert check()["detail"] == f"not migrated (no table versions); head {SECOND}"


def test_migrations_red_when_the_database_is_unreachable(tmp_path, alembic_env, closing):
    check = MigrationsCheck(f"sqlite:///{tmp_path / 'gone' / 'x.db'}", alembic_env.scripts)
    closing(check)
    assert check() == {
        "state": RED,
        "detail": "OperationalError: unable to open database file",
    }


def test_migrations_red_when_a_revision_file_is_broken(sqlite_url, alembic_env, closing):
    (alembic_env.scripts / "versions" / "ddd444_broken.py").write_text("revision = (\n")
    check = MigrationsCheck(sqlite_url, alembic_env.scripts)
    closing(check)
    status = check()
    assert status["state"] == RED
    assert status["detail"].startswith("SyntaxError: ")


def test_migrations_missing_script_directory(tmp_path, sqlite_url):
    with pytest.raises(ValueError, match="neither an alembic.ini file nor a directory"):
        MigrationsCheck(sqlite_url, tmp_path / "nowhere")


def test_migrations_postgres(postgres, alembic_env, closing):
    engine = sqlalchemy.create_engine(postgres.url, pool_pre_ping=True)
    try:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text("DROP TABLE IF EXISTS alembic_version"))
            connection.execute(sqlalchemy.text("DROP TABLE IF EXISTS second"))
            connection.execute(sqlalchemy.text("DROP TABLE IF EXISTS first"))
        check = MigrationsCheck(engine, alembic_env.scripts)
        closing(check)
        assert check()["state"] == YELLOW
        alembic_env.upgrade(postgres.url, FIRST)
        assert check() == {"state": YELLOW, "detail": f"current {FIRST}; head {SECOND}"}
        alembic_env.upgrade(postgres.url, "head")
        assert check() == {"state": OK, "detail": f"at head {SECOND}"}
        postgres.stop()
        down = check()
        assert down["state"] == RED
        _no_password(postgres.password, down)
    finally:
        engine.dispose()


# ------------------------------------------------------ from the settings


def test_database_and_migrations_from_settings(sqlite_url, alembic_env, tmp_path, registered):
    alembic_env.upgrade(sqlite_url, FIRST)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    settings = {
        "sqlalchemy.url": sqlite_url,
        "svcstatus.handlers": """
            db = lovely.ws.status.checks.DatabaseCheck
            migrations = lovely.ws.status.checks.MigrationsCheck
            migrations_ini = lovely.ws.status.checks.MigrationsCheck
            migrations_other = lovely.ws.status.checks.MigrationsCheck
        """,
        "svcstatus.handler.db.query": "SELECT count(*) FROM first",
        "svcstatus.handler.migrations.script_location": str(alembic_env.scripts),
        # The URL comes from the alembic.ini when the settings have none.
        "svcstatus.handler.migrations_ini.alembic_ini": alembic_env.write_ini(other),
        "svcstatus.handler.migrations_ini.engine_prefix": "nothing.",
        "svcstatus.handler.migrations_other.url": other,
        "svcstatus.handler.migrations_other.script_location": str(alembic_env.scripts),
        "svcstatus.handler.migrations_other.version_table": "alembic_version",
    }
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.svcstatus")
    app = TestApp(config.make_wsgi_app())
    try:
        body = app.get("/svc_status.json").json
        assert body["db"]["state"] == OK
        assert body["db"]["detail"].startswith("SELECT count(*) FROM first: round trip")
        assert body["migrations"] == {
            "state": YELLOW,
            "detail": f"current {FIRST}; head {SECOND}",
        }
        not_migrated = f"not migrated (no table alembic_version); head {SECOND}"
        assert body["migrations_ini"] == {"state": YELLOW, "detail": not_migrated}
        assert body["migrations_other"] == {"state": YELLOW, "detail": not_migrated}
        alembic_env.upgrade(sqlite_url, "head")
        assert app.get("/svc_status.json").json["migrations"]["state"] == OK
    finally:
        for check in registered(app).values():
            check.close()


def test_migrations_from_settings_needs_a_url(alembic_env):
    from pyramid.exceptions import ConfigurationError

    config = Configurator(
        settings={
            "svcstatus.handlers": "m = lovely.ws.status.checks.MigrationsCheck",
            "svcstatus.handler.m.script_location": str(alembic_env.scripts),
        }
    )
    config.include("lovely.ws.status.svcstatus")
    with pytest.raises(ConfigurationError, match="no database URL: set the option 'url'"):
        config.commit()


def test_migrations_paths_as_asset_specs(tmp_path, monkeypatch, sqlite_url, closing):
    package = tmp_path / "lws_checks_asset_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    env = AlembicEnv(package)
    env.write_ini(sqlite_url)
    env.upgrade(sqlite_url, FIRST)
    monkeypatch.syspath_prepend(str(tmp_path))
    by_dir = MigrationsCheck(sqlite_url, "lws_checks_asset_pkg:migrations")
    by_ini = MigrationsCheck(sqlite_url, "lws_checks_asset_pkg:alembic.ini")
    from_settings = MigrationsCheck.from_settings(
        {"sqlalchemy.url": sqlite_url},
        {"script_location": "lws_checks_asset_pkg:migrations"},
    )
    behind = {"state": YELLOW, "detail": f"current {FIRST}; head {SECOND}"}
    for check in (by_dir, by_ini, from_settings):
        closing(check)
        assert check() == behind
