"""Upserts FILE into table `t` (key `id`) on the sheetport server at BASE, one of two ways, and prints
how long it took as `seconds <s>` (and for a review, the diff pages' times as `page <ms>` lines):

  plain   one POST /api/imports with mode=upsert, followed until it succeeded;
  review  the same with review=true, followed until it is in review, then three pages of its diff
          read (the first updates, updates half-way through, the first inserts; not in the time),
          then POST /api/imports/{id}/commit, followed until it succeeded.

The harness runs both on copies of the same table, alternating, so the ratio is what the review
costs (issue 28: review + commit within 1.3x the plain upsert; a diff page under 100 ms). The
client polls the import's state every 20 ms: a few requests a second, against an import of seconds."""

import json
import subprocess
import sys
import time
import urllib.request


def get(url: str) -> dict:
    with urllib.request.urlopen(url) as r:
        return json.load(r)


def post(url: str) -> dict:
    req = urllib.request.Request(url, method="POST", data=b"")
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def rest(base: str, id: str, want: str, waiting: tuple = ()) -> dict:
    while True:
        state = get(f"{base}/api/imports/{id}")
        if state["status"] in ("review", "succeeded", "failed", "cancelled") and state["status"] not in waiting:
            if state["status"] != want:
                sys.exit(f"import {id} ended {state['status']}, not {want}: {state.get('error')}")
            return state
        time.sleep(0.02)


def main() -> None:
    base, path, how = sys.argv[1], sys.argv[2], sys.argv[3]
    fields = ["-F", "mode=upsert", "-F", "key=id", "-F", "table=t"]
    if how == "review":
        fields += ["-F", "review=true"]
    began = time.monotonic()
    out = subprocess.run(["curl", "-sf", "-F", f"file=@{path}", *fields, f"{base}/api/imports"],
                         capture_output=True, text=True, check=True)
    id = json.loads(out.stdout)["id"]
    if how == "review":
        state = rest(base, id, "review")
        paused = time.monotonic()
        updates = state["review"]["updated"]
        pages = []
        for query in ("kind=update&offset=0", f"kind=update&offset={updates // 2}", "kind=insert&offset=0"):
            t0 = time.monotonic()
            page = get(f"{base}/api/imports/{id}/diff?{query}&limit=50")
            pages.append((time.monotonic() - t0) * 1000)
            assert len(page["rows"]) == 50, page
        began += time.monotonic() - paused
        post(f"{base}/api/imports/{id}/commit")
        for ms in pages:
            print(f"page {ms:.1f}")
    # A commit's first moment may still read as the review it was (the run that made it letting go).
    rest(base, id, "succeeded", waiting=("review",) if how == "review" else ())
    print(f"seconds {time.monotonic() - began:.3f}")


if __name__ == "__main__":
    main()
