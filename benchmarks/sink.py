"""A minimal, fast SMTP sink for benchmarks (socket level; aiosmtpd would be the bottleneck).

Accepts everything, keeps nothing but counts. Run it as its own process:
    python benchmarks/sink.py PORT
"""

from __future__ import annotations

import asyncio
import sys

TERMINATOR = b"\r\n.\r\n"


async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 sink ESMTP\r\n")
    buffer = b""
    in_data = False
    try:
        while True:
            chunk = await reader.read(262144)
            if not chunk:
                break
            buffer += chunk
            while True:
                if in_data:
                    end = buffer.find(TERMINATOR)
                    if end < 0:
                        # keep only what could be the start of a split terminator
                        buffer = buffer[-4:]
                        break
                    buffer = buffer[end + len(TERMINATOR) :]
                    in_data = False
                    writer.write(b"250 2.0.0 Ok: queued\r\n")
                    continue
                line_end = buffer.find(b"\r\n")
                if line_end < 0:
                    break
                line, buffer = buffer[:line_end], buffer[line_end + 2 :]
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    writer.write(
                        b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n"
                    )
                elif verb == b"DATA":
                    in_data = True
                    writer.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    buffer = b"\r\n" + buffer  # a message may end right away
                elif verb == b"QUIT":
                    writer.write(b"221 Bye\r\n")
                    await writer.drain()
                    writer.close()
                    return
                else:  # MAIL, RCPT, RSET, NOOP
                    writer.write(b"250 OK\r\n")
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve(port: int) -> None:
    server = await asyncio.start_server(session, "127.0.0.1", port, backlog=64)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
