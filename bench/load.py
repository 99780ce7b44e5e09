#!/usr/bin/env python3
"""The fair-share load test (issue 27): an honest person imports and browses, first on a quiet
server, then while an attacker with an ordinary account of the same server does everything that was
found to stall everyone; reports the honest person's latencies and import times side by side, as
ratios, and writes them into BENCHMARKS.md (its section between the `load.py` markers; run.py keeps
it when it rewrites the rest).

    python3 bench/load.py                # the release build, 30 s of attack
    python3 bench/load.py --seconds 10 --smoke   # shorter; prints, writes nothing

Bounded and on loopback only: the server listens on 127.0.0.1, the honest person connects from
127.0.0.1 and the attacker from 127.0.0.2 (another address, as on a real network: the per-address
limits apply to each). The attacker's mix, each part in threads of its own for the whole attack:

- pages of its million-row table sorted by a column without an index and searched (each a second
  or more of work), 8 at once, each abandoned after 0.3 s;
- 8 uploads that send a byte a second; 3 exports of its table that it never reads;
- 300 connections that send nothing; 20 wrong passwords a second in the honest person's name;
- the re-run of its million-row replace, asked for again and again (the queue takes 10).

The honest person, meanwhile: signs in, imports 1,000,000 rows (a replace) three times and reads a
page of a small table, the import's status and the home page every 100 ms. Passes when that person's
p99 is at most 1 s for pages and status, the imports' own run (from start to end, median) is within
1.5 times the quiet one, and their wait in the queue at most one of the attacker's imports (the queue
takes people in turn) and a second."""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("SHEETPORT_CACHE", Path.home() / ".cache" / "sheetport"))
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", CACHE / "target"))
HONEST, ATTACKER = "127.0.0.1", "127.0.0.2"
PASSWORD = "correct horse battery staple"
BEGIN, END = "<!-- load.py: begin -->", "<!-- load.py: end -->"
# The honest person's imports per phase (the medians are reported), and their rows.
IMPORTS, ROWS = 3, 1_000_000


def say(msg: str) -> None:
    print(f"\033[1m==> {msg}\033[0m", file=sys.stderr, flush=True)


class Server:
    def __init__(self, binary: Path, work: Path):
        self.port = free_port()
        self.db = f"sqlite://{work}/sheetport.db"
        for name in ("honest", "attacker"):
            subprocess.run([str(binary), "user", "add", name, "--database", self.db], input=PASSWORD + "\n",
                           text=True, check=True, capture_output=True)
        self.proc = subprocess.Popen(
            [str(binary), "serve", "--addr", f"127.0.0.1:{self.port}", "--database", self.db, "--data-dir", str(work)],
            stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"),
        )
        for _ in range(200):
            try:
                if request("GET", "/healthz", self.port)[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(method: str, path: str, port: int, *, source: str = HONEST, cookie: str | None = None,
            body: bytes | None = None, headers: dict | None = None, timeout: float = 30) -> tuple[int, bytes]:
    conn = HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    try:
        h = dict(headers or {})
        if cookie:
            h["Cookie"] = cookie
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def sign_in(port: int, name: str, source: str) -> str:
    """Signs `name` in from `source`; the session cookie's `name=value`."""
    conn = HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    try:
        conn.request("POST", "/api/session", body=json.dumps({"name": name, "password": PASSWORD}),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{name} could not sign in: {resp.status} {body[:200]!r}")
        return resp.getheader("Set-Cookie").split(";")[0]
    finally:
        conn.close()


def multipart(file: Path | bytes, fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = "sheetportload" + str(random.random())[2:]
    data = file.read_bytes() if isinstance(file, Path) else file
    out = []
    for k, v in fields.items():
        out.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode())
    out.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.csv\"\r\n"
               "Content-Type: text/csv\r\n\r\n".encode() + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def start_import(port: int, cookie: str, file: Path, table: str, mode: str, source: str) -> str:
    body, ctype = multipart(file, {"table": table, "mode": mode})
    status, out = request("POST", "/api/imports", port, source=source, cookie=cookie, body=body,
                          headers={"Content-Type": ctype})
    if status != 202:
        raise RuntimeError(f"import refused: {status} {out[:300]!r}")
    return json.loads(out)["id"]


def wait_final(port: int, cookie: str, import_id: str, source: str = HONEST) -> dict:
    while True:
        status, out = request("GET", f"/api/imports/{import_id}", port, source=source, cookie=cookie)
        body = json.loads(out)
        if body["status"] in ("succeeded", "failed", "cancelled"):
            return body
        time.sleep(0.05)


def write_csv(path: Path, rows: int, wide: bool) -> None:
    rng = random.Random(rows)
    with path.open("w") as f:
        f.write("id,name,amount,note\n")
        for i in range(rows):
            note = "%040x" % rng.getrandbits(160) if wide else "n"
            f.write(f"{i},name {i % 977},{i % 10000 / 100:.2f},{note}\n")


# ---------------------------------------------------------------------------------------------
# The honest person


def honest(port: int, file: Path, imports: int, stop_after: float) -> dict:
    """Signs in, imports `file` (replace into `orders`) `imports` times one after another and browses
    every 100 ms until they have ended and `stop_after` seconds have passed; the latencies and the
    imports' times (medians)."""
    t = time.monotonic()
    cookie = sign_in(port, "honest", HONEST)
    signin = time.monotonic() - t
    latencies: dict[str, list[float]] = {"page": [], "status": [], "home": []}
    state = {"id": None, "done": False}
    errors: list[str] = []

    def browse() -> None:
        begun = time.monotonic()
        while not state["done"] or time.monotonic() - begun < stop_after:
            for kind, path in (("page", f"/api/tables/mine/rows?offset={random.randrange(900)}&limit=50"),
                               ("status", f"/api/imports/{state['id']}" if state["id"] else "/api/imports"),
                               ("home", "/")):
                t = time.monotonic()
                try:
                    status, _ = request("GET", path, port, cookie=cookie, timeout=10)
                    if status != 200:
                        errors.append(f"{path}: {status}")
                except OSError as e:
                    errors.append(f"{path}: {e}")
                latencies[kind].append(time.monotonic() - t)
            time.sleep(0.1)

    browser = threading.Thread(target=browse)
    browser.start()
    runs: list[dict] = []
    for _ in range(imports):
        t = time.monotonic()
        state["id"] = start_import(port, cookie, file, "orders", "replace", HONEST)
        sent = time.monotonic() - t
        final = wait_final(port, cookie, state["id"])
        if final["status"] != "succeeded":
            state["done"] = True
            browser.join()
            raise RuntimeError(f"the honest import ended {final['status']}: {final.get('error')}")
        runs.append({"sent": sent, "total": time.monotonic() - t,
                     "run": (final["finished_at"] - final["started_at"]) / 1000,
                     "waited": (final["started_at"] - final["created_at"]) / 1000})
    state["done"] = True
    browser.join()
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    return {"signin": signin, **median, "worst_wait": max(r["waited"] for r in runs), "latencies": latencies,
            "errors": errors}


# ---------------------------------------------------------------------------------------------
# The attacker


class Attack:
    def __init__(self, port: int, cookie: str, rerun_id: str):
        self.port, self.cookie, self.rerun_id = port, cookie, rerun_id
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def spawn(self, n: int, target) -> None:
        for _ in range(n):
            th = threading.Thread(target=self.guard(target), daemon=True)
            th.start()
            self.threads.append(th)

    def guard(self, target):
        def run():
            while not self.stop.is_set():
                try:
                    target()
                except OSError:
                    self.count("connection refused or cut")
                    time.sleep(0.05)
        return run

    def raw(self, text: bytes) -> socket.socket:
        s = socket.socket()
        s.bind((ATTACKER, 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", self.port))
        if text:
            s.sendall(text)
        return s

    def head(self, method: str, path: str, extra: str = "") -> bytes:
        return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nCookie: {self.cookie}\r\n{extra}\r\n").encode()

    def deep_sort(self) -> None:
        s = self.raw(self.head("GET", "/api/tables/loot/rows?sort=note&offset=9000&q=a"))
        s.settimeout(0.3)
        try:
            self.count("slow page: " + s.recv(64).split(b" ")[1].decode())
        except (socket.timeout, IndexError):
            self.count("slow page: abandoned")
        finally:
            s.close()

    def trickle_upload(self) -> None:
        s = self.raw(self.head("POST", "/api/uploads", "Content-Type: multipart/form-data; boundary=x\r\n"
                               "Content-Length: 100000000\r\n")
                     + b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.csv\"\r\n\r\n")
        self.count("trickling upload")
        try:
            while not self.stop.is_set():
                s.sendall(b"a")
                time.sleep(1)
        finally:
            s.close()

    def unread_export(self) -> None:
        s = self.raw(self.head("GET", "/api/tables/loot/export.csv"))
        s.settimeout(5)
        self.count("unread export: " + s.recv(64).split(b" ")[1].decode())
        try:
            self.stop.wait(20)
        finally:
            s.close()

    def idle(self) -> None:
        socks = []
        try:
            for _ in range(30):
                socks.append(self.raw(b""))
            self.count("30 idle connections")
            self.stop.wait(6)
        finally:
            for s in socks:
                s.close()

    def wrong_passwords(self) -> None:
        status, _ = request("POST", "/api/session", self.port, source=ATTACKER, body=json.dumps(
            {"name": "honest", "password": "guess"}).encode(), headers={"Content-Type": "application/json"})
        self.count(f"wrong password: {status}")
        self.stop.wait(0.05)

    def reruns(self) -> None:
        status, _ = request("POST", f"/api/imports/{self.rerun_id}/rerun", self.port, source=ATTACKER,
                            cookie=self.cookie)
        self.count(f"re-run: {status}")
        self.stop.wait(0.1)

    def start(self) -> None:
        self.spawn(8, self.deep_sort)
        self.spawn(8, self.trickle_upload)
        self.spawn(3, self.unread_export)
        self.spawn(10, self.idle)
        self.spawn(1, self.wrong_passwords)
        self.spawn(1, self.reruns)

    def end(self) -> None:
        self.stop.set()
        for th in self.threads:
            th.join(timeout=30)


# ---------------------------------------------------------------------------------------------
# The run


def p99(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=100)[98] if len(xs) >= 2 else (xs[0] if xs else 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30, help="how long the honest person browses under attack")
    ap.add_argument("--binary", default=str(TARGET / "release" / "sheetport"))
    ap.add_argument("--smoke", action="store_true", help="print the table, write nothing")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args()
    binary = Path(args.binary)
    if not binary.exists():
        say("building the release server")
        subprocess.run(["cargo", "build-server", "--release", "--quiet"], cwd=ROOT, check=True,
                       env=dict(os.environ, CARGO_TARGET_DIR=str(TARGET)))
    with tempfile.TemporaryDirectory(prefix="sheetport-load-") as tmp:
        work = Path(tmp)
        say(f"writing the files ({ROWS:,} rows for the honest person, 1,000,000 wide ones for the attacker)")
        write_csv(work / "orders.csv", ROWS, wide=False)
        write_csv(work / "mine.csv", 1_000, wide=False)
        write_csv(work / "loot.csv", 1_000_000, wide=True)
        server = Server(binary, work)
        try:
            port = server.port
            cookie = sign_in(port, "honest", HONEST)
            wait_final(port, cookie, start_import(port, cookie, work / "mine.csv", "mine", "create", HONEST))
            evil = sign_in(port, "attacker", ATTACKER)
            loot = start_import(port, evil, work / "loot.csv", "loot", "replace", ATTACKER)
            loot_run = wait_final(port, evil, loot, ATTACKER)
            say("the honest person on a quiet server")
            honest(port, work / "orders.csv", 1, 1)  # warm: the first replace creates the table
            quiet = honest(port, work / "orders.csv", IMPORTS, args.seconds / 3)
            say(f"the same while the attacker does everything at once ({args.seconds:.0f} s)")
            attack = Attack(port, evil, loot)
            attack.start()
            time.sleep(2)
            loud = honest(port, work / "orders.csv", IMPORTS, args.seconds)
            attack.end()
            alive = request("GET", "/healthz", port)[0]
        finally:
            server.stop()
            # The server's log, for a look afterwards (the work folder goes).
            log = CACHE / "load-server.log"
            log.write_bytes((work / "server.log").read_bytes())
            say(f"the server's log: {log}")
    attacker_run = (loot_run["finished_at"] - loot_run["started_at"]) / 1000
    text = render(quiet, loud, attack.counts, attacker_run, alive)
    print(text)
    if not args.smoke:
        write_section(Path(args.out), text)
        say(f"wrote its section of {args.out}")
    if not verdicts(quiet, loud, attacker_run)[0]:
        sys.exit(1)


def verdicts(quiet: dict, loud: dict, attacker_run: float) -> tuple[bool, list[tuple[str, str, bool]]]:
    rows = []
    for kind, label in (("page", "a page of a small table"), ("status", "the import's status"), ("home", "the home page")):
        v = p99(loud["latencies"][kind])
        rows.append((f"honest p99, {label}, under attack ≤ 1 s", f"{v * 1000:.0f} ms", v <= 1.0))
    ratio = loud["run"] / quiet["run"]
    rows.append(("honest import's run under attack ≤ 1.5× quiet", f"{ratio:.2f}×", ratio <= 1.5))
    rows.append(("honest import's longest wait in the queue ≤ one of the attacker's imports + 1 s",
                 f"{loud['worst_wait']:.2f} s", loud["worst_wait"] <= attacker_run + 1))
    rows.append(("honest requests that failed under attack", str(len(loud["errors"])), not loud["errors"]))
    rows.append(("honest sign-in under attack ≤ 1 s", f"{loud['signin'] * 1000:.0f} ms", loud["signin"] <= 1.0))
    return all(ok for _, _, ok in rows), rows


def render(quiet: dict, loud: dict, counts: dict[str, int], attacker_run: float, alive: int) -> str:
    ok, rows = verdicts(quiet, loud, attacker_run)
    ms = lambda x: f"{x * 1000:.0f} ms"
    lines = [
        "### A fair share under attack (`bench/load.py`)",
        "",
        f"Written by `python3 bench/load.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: an honest",
        f"person imports {ROWS:,} rows and browses on a quiet server, then while another account does all that was",
        "found to stall everyone (see the script); SQLite, the release build, defaults. The attacker's own",
        f"million-row replace runs {attacker_run:.1f} s; the queue takes people in turn, so the honest import",
        "waits for at most one of them (its wait is reported apart from its run).",
        "",
        "| honest person | quiet | under attack | ratio |",
        "|---|---|---|---|",
    ]
    for kind, label in (("page", "a page of a small table, p99"), ("status", "the import's status, p99"),
                        ("home", "the home page, p99")):
        q, l = p99(quiet["latencies"][kind]), p99(loud["latencies"][kind])
        lines.append(f"| {label} ({len(loud['latencies'][kind])} requests) | {ms(q)} | {ms(l)} | {l / q:.1f}× |")
    lines.append(f"| sign-in | {ms(quiet['signin'])} | {ms(loud['signin'])} | {loud['signin'] / quiet['signin']:.1f}× |")
    lines.append(f"| import of {ROWS:,} rows: its run (median of {IMPORTS}) | {quiet['run']:.2f} s | {loud['run']:.2f} s | "
                 f"{loud['run'] / quiet['run']:.2f}× |")
    lines.append(f"| import: sending the file | {quiet['sent']:.2f} s | {loud['sent']:.2f} s | "
                 f"{loud['sent'] / quiet['sent']:.1f}× |")
    lines.append(f"| import: its wait in the queue (median; the longest) | {quiet['waited']:.2f} s | "
                 f"{loud['waited']:.2f} s; {loud['worst_wait']:.2f} s | — |")
    lines.append(f"| import: from sending to its end | {quiet['total']:.2f} s | {loud['total']:.2f} s | "
                 f"{loud['total'] / quiet['total']:.1f}× |")
    lines += ["", "| check | measured | met |", "|---|---|---|"]
    lines += [f"| {c} | {m} | {'yes' if good else '**no**'} |" for c, m, good in rows]
    lines += ["", "What the attacker's requests got: " + ", ".join(f"{k} ×{v}" for k, v in sorted(counts.items()))
              + f"; `/healthz` after it all: {alive}."]
    return "\n".join(lines)


def write_section(out: Path, text: str) -> None:
    old = out.read_text() if out.exists() else ""
    block = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + block + old[old.index(END) + len(END):]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    out.write_text(new)


if __name__ == "__main__":
    main()
