"""The PostgreSQL test fixture itself: it serves real databases, and when the server cannot
start, a test that needs it FAILS with the reason (it is never skipped)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pgserver import PgServer, PgServerError

from .conftest import _Unavailable

pytestmark = [pytest.mark.xdist_group("studies")]


def test_unavailable_server_fails_the_test_with_the_reason():
    with pytest.raises(
        pytest.fail.Exception, match="PostgreSQL test server unavailable: no initdb"
    ):
        _Unavailable("no initdb").new_database()


def test_a_failed_initdb_is_one_line_naming_the_tool(tmp_path, monkeypatch):
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool in ("initdb", "pg_ctl"):
        (fake / tool).write_text(
            "#!/bin/sh\necho 'initdb: error: cannot be run as root' >&2\nexit 1\n"
        )
        (fake / tool).chmod(0o755)
    monkeypatch.setattr("tests.pgserver.find_bindir", lambda: fake)
    monkeypatch.setattr("os.geteuid", lambda: 1000)  # run the fake tools directly
    with pytest.raises(PgServerError) as info:
        PgServer.start(timeout=10)
    assert str(info.value) == "initdb failed (exit 1): initdb: error: cannot be run as root"


@pytest.mark.postgres
def test_server_gives_fresh_databases_on_loopback(postgres):
    a, b = postgres.new_database("a"), postgres.new_database("a")
    assert a != b and a.startswith("postgresql://postgres@127.0.0.1:")
    db = a.rsplit("/", 1)[1]
    assert postgres.sql(db, "SELECT current_database()") == [(db,)]
    # Loopback only: the server was told to listen on 127.0.0.1 and nothing else.
    assert postgres.sql(db, "SHOW listen_addresses") == [("127.0.0.1",)]
    assert Path(postgres.datadir, "PG_VERSION").is_file()
