"""Uploads FILE to the sheetport server at BASE as table `t` (mode replace), then follows the
import's events with N streams at once; prints the import's own time (its `elapsed_ms`) once every
stream has read the final `done` event (exits non-zero if any saw another end). The harness times it
with N = 1 and N = 1,000 to price what many watchers of one import cost it.

The client shares the machine (two cores) with the import it watches, so it spends as little as it
can while the import runs: plain blocking sockets, connected one after another right after the
upload (about 40 ms for a thousand); the first stream is read as the events come and tells when the
import has ended; only then are the others read, their events having waited in the sockets'
buffers (a few KB each). The asyncio client this replaces spent 0.3-0.4 s more processor time with
a thousand streams than with one, most of it during the import, which counted against the server."""

import json
import resource
import socket
import subprocess
import sys
from http.client import HTTPConnection
from urllib.parse import urlparse

FINAL = (b"event: done", b"event: failed", b"event: cancelled")


def open_stream(host: str, port: int, path: str) -> socket.socket:
    s = socket.create_connection((host, port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
    return s


def read_to_end(s: socket.socket) -> None:
    """Reads one stream until its final event; raises unless that is `done`."""
    tail = b""
    try:
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                raise RuntimeError("a stream ended before the final event")
            tail = (tail + chunk)[-8192:]
            ends = [e for e in FINAL if e in tail]
            if ends:
                if ends != [b"event: done"]:
                    raise RuntimeError("the import did not succeed")
                return
    finally:
        s.close()


def main(base: str, file: str, streams: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, streams + 256)), hard))
    out = subprocess.run(["curl", "-sf", "-F", f"file=@{file}", "-F", "mode=replace", "-F", "table=t", f"{base}/api/imports"],
                         capture_output=True, check=True).stdout
    import_id = json.loads(out)["id"]
    url = urlparse(base)
    path = f"/api/imports/{import_id}/events"
    socks = [open_stream(url.hostname, url.port, path) for _ in range(streams)]
    for s in socks:
        read_to_end(s)
    status = HTTPConnection(url.hostname, url.port)
    status.request("GET", f"/api/imports/{import_id}")
    print(json.loads(status.getresponse().read())["elapsed_ms"] / 1000)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
