"""Uploads FILE to the sheetport server at BASE as table `t` (mode replace), then follows the
import's events with N streams at once; exits once every stream has read the final `done` event
(non-zero if any saw another end). The harness times it with N = 1 and N = 1,000 to price what many
watchers of one import cost it."""

import asyncio
import json
import resource
import subprocess
import sys
from urllib.parse import urlparse


async def follow(host: str, port: int, path: str, ended: asyncio.Event) -> None:
    """One stream: connected at once, read only once the import has ended, so this client's own
    work does not compete for the processors with the import it watches (on a 2-core machine it
    would); the events wait in the socket's buffer meanwhile (a few KB a second)."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    await ended.wait()
    tail = b""
    try:
        while True:
            chunk = await reader.read(1 << 20)
            if not chunk:
                raise RuntimeError("a stream ended before the final event")
            tail = (tail + chunk)[-8192:]
            if b"event: done" in tail:
                return
            if b"event: failed" in tail or b"event: cancelled" in tail:
                raise RuntimeError("the import did not succeed")
    finally:
        writer.close()


async def wait_end(base: str, import_id: str, ended: asyncio.Event) -> None:
    while True:
        out = await asyncio.to_thread(subprocess.run, ["curl", "-sf", f"{base}/api/imports/{import_id}"], capture_output=True, check=True)
        if json.loads(out.stdout)["status"] in ("succeeded", "failed", "cancelled"):
            ended.set()
            return
        await asyncio.sleep(0.2)


async def main(base: str, file: str, streams: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, streams + 256)), hard))
    out = subprocess.run(["curl", "-sf", "-F", f"file=@{file}", "-F", "mode=replace", "-F", "table=t", f"{base}/api/imports"],
                         capture_output=True, check=True).stdout
    import_id = json.loads(out)["id"]
    url = urlparse(base)
    path = f"/api/imports/{import_id}/events"
    ended = asyncio.Event()
    await asyncio.gather(wait_end(base, import_id, ended), *(follow(url.hostname, url.port, path, ended) for _ in range(streams)))
    status = subprocess.run(["curl", "-sf", f"{base}/api/imports/{import_id}"], capture_output=True, check=True).stdout
    print(json.loads(status)["elapsed_ms"] / 1000)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
