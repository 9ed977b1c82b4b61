"""Fixtures of the reliability tests: a throwaway PostgreSQL server for the whole session.

The server starts on first use (only the tests that ask for ``postgres`` pay for it) and stops
at the end of the session. If it cannot start, every test that needs it FAILS with the reason
(``postgres.new_database()`` calls ``pytest.fail``): nothing is skipped silently.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pgserver import PgServer, PgServerError


class _Unavailable:
    """Stands in for a server that did not start; using it fails the test with the reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def new_database(self, prefix: str = "t") -> str:
        pytest.fail(f"PostgreSQL test server unavailable: {self.reason}", pytrace=False)

    def sql(self, database: str, query: str, params: tuple[object, ...] = ()) -> list[tuple]:
        pytest.fail(f"PostgreSQL test server unavailable: {self.reason}", pytrace=False)


def running_server() -> Iterator[PgServer | _Unavailable]:
    """A PostgreSQL server started here and stopped after (or a stand-in that fails the test
    that uses it): the body of every server fixture."""
    try:
        server = PgServer.start()
    except (PgServerError, OSError) as exc:
        yield _Unavailable(str(exc))
        return
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer | _Unavailable]:
    """A running PostgreSQL server shared by the session's tests."""
    yield from running_server()
