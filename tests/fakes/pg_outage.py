"""A TCP proxy on loopback between bot processes and PostgreSQL, which can stage an outage.

`outage(seconds)` aborts every connection through it and, for `seconds`, aborts each
new one as soon as it is accepted; then connections pass again. For the bot this is
what a PostgreSQL restart or a fail-over to a standby looks like from the outside:

- connections open at that moment break (a restart sends "terminating connection due
  to administrator command" first; a fail-over or a network cut sends nothing; the
  abort here is the harder of the two, since the client learns of it only when it
  next reads or writes);
- for a while no new connection can be made (a restart refuses them or answers "the
  database system is starting up"; here the connection is reset at once);
- then the same address answers again, with everything that was committed (the
  database behind the proxy is never touched, so a commit that returned is durable,
  and a transaction that was open is rolled back by PostgreSQL when its socket dies).

The test owns it, so it needs neither root nor the cluster's service manager, and it
can cut the bot's connections without touching the connections of the test itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import time


class PostgresOutage:
    def __init__(self, upstream_host: str = "127.0.0.1", upstream_port: int = 5432):
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._down_until = 0.0
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.accepted = 0
        self.refused = 0  # connections reset during an outage
        self.cut = 0  # connections aborted when an outage began

    async def start(self) -> PostgresOutage:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self._abort_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> PostgresOutage:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def url(self, database_url: str) -> str:
        """`database_url` (host 127.0.0.1:5432) pointed at this proxy instead."""
        host = f"{self.upstream[0]}:{self.upstream[1]}"
        assert host in database_url, database_url
        return database_url.replace(host, f"127.0.0.1:{self.port}")

    @property
    def down(self) -> bool:
        return time.monotonic() < self._down_until

    def outage(self, seconds: float) -> None:
        """Break every connection now and refuse new ones for `seconds`."""
        self._down_until = time.monotonic() + seconds
        self.cut += len(self._links)
        self._abort_all()

    def _abort_all(self) -> None:
        for client, server in list(self._links):
            for writer in (client, server):
                writer.transport.abort()
        self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            self.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self.accepted += 1
        link = (writer, up_writer)
        self._links.add(link)
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self._links.discard(link)
            for side in link:
                side.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()  # one side closed: so is the other (PostgreSQL's own rule)
