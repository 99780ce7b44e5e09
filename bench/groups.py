"""The grouped summary of a review's rejected rows (issue 28: 1,000,000 rejected rows grouped in
under a second), on the sheetport server at BASE: makes table `g` from a small good file, then
appends ROWS rows whose every `qty` is bad (40 % "n/a", 10 % "12 pcs", 30 % distinct words, 20 %
"x") under review and "skip", and prints how long the reads a person waits for took:

  rejects <ms>   GET /api/imports/{id}/rejects/groups (the review's groups still to fix; 3 reads)
  errors <ms>    GET /api/imports/{id}/errors/groups (the import's error summary; 3 reads, from 3 s
                 after the review is recorded, when the server has counted and kept them)

Each read is checked against the counts the file was made with."""

import json
import random
import subprocess
import sys
import tempfile
import time
import urllib.request


def get(url: str):
    with urllib.request.urlopen(url) as r:
        return json.load(r)


def upload(base: str, path: str, fields: list[str]) -> str:
    args = [a for f in fields for a in ("-F", f)]
    out = subprocess.run(["curl", "-sf", "-F", f"file=@{path}", *args, f"{base}/api/imports"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["id"]


def rest(base: str, id: str, want: str) -> dict:
    while True:
        state = get(f"{base}/api/imports/{id}")
        if state["status"] in ("review", "succeeded", "failed", "cancelled"):
            if state["status"] != want:
                sys.exit(f"import {id} ended {state['status']}, not {want}: {state.get('error')}")
            return state
        time.sleep(0.05)


def timed(url: str) -> tuple[float, list]:
    t0 = time.monotonic()
    body = get(url)
    return (time.monotonic() - t0) * 1000, body


def main() -> None:
    base, rows = sys.argv[1], int(sys.argv[2])
    with tempfile.TemporaryDirectory() as work:
        good = f"{work}/g.csv"
        with open(good, "w") as f:
            f.write("id,name,qty\n1,Ana,10\n2,Bob,20\n")
        rest(base, upload(base, good, ["table=g", "mode=create"]), "succeeded")
        bad = f"{work}/bad.csv"
        rng = random.Random(28)
        want = {"n/a": 0, "12 pcs": 0, "x": 0}
        with open(bad, "w") as f:
            f.write("id,name,qty\n")
            for i in range(rows):
                r = rng.random()
                q = "n/a" if r < 0.4 else "12 pcs" if r < 0.5 else "x" if r < 0.7 else f"about {i}"
                if q in want:
                    want[q] += 1
                f.write(f"{i + 3},N{i},{q}\n")
        id = upload(base, bad, ["table=g", "mode=append", "review=true", "on_error=skip"])
        rest(base, id, "review")
    top = sorted(want.items(), key=lambda kv: -kv[1])

    def check(groups: list) -> None:
        assert len(groups) == 1 and groups[0]["rows"] == rows, groups[:1]
        got = [(c["value"], c["rows"]) for c in groups[0]["common"]]
        assert got == top, (got, top)

    for _ in range(3):
        ms, body = timed(f"{base}/api/imports/{id}/rejects/groups")
        check(body)
        print(f"rejects {ms:.1f}")
    time.sleep(3)
    for _ in range(3):
        ms, body = timed(f"{base}/api/imports/{id}/errors/groups")
        check(body)
        print(f"errors {ms:.1f}")


if __name__ == "__main__":
    main()
