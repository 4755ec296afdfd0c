"""A bare aiosmtpd server that stores nothing: the ceiling for SMTP ingest here."""

import asyncio
import sys

from aiosmtpd.smtp import SMTP


class Discard:
    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        return "250 OK"


class LongLinesSMTP(SMTP):
    # The same long-line allowance as postdesk's listener, so both read the same mail.
    line_length_limit = 1 << 20


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: LongLinesSMTP(Discard(), loop=loop), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
