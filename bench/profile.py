"""The profile of a whole flow run, worker processes included: py-spy samples, summed by function.

`python -m bench.profile CORPUS OUT_DIR` runs `bench.measure flow` under
`py-spy record --subprocesses` and writes OUT_DIR/profile.txt (collapsed stacks,
for flame graph tools) and OUT_DIR/profile.json (the top functions).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_REPO = str(Path(__file__).resolve().parents[1]) + "/"
RATE = 50  # samples per second: enough for a run of minutes, light on two cores


def parse_frame(frame: str) -> str:
    """'decode_new (tasks/decode.py:171)' -> 'tasks/decode.py:decode_new' (line numbers dropped)."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    if path.startswith(_REPO):
        path = path[len(_REPO) :]
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{path}:{name}"


def summarize(collapsed: Path, top: int = 15) -> dict[str, Any]:
    """Samples by function (py-spy keeps only threads that were running): self and inclusive."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    busy = 0
    for line in collapsed.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if " (" in f]  # the first entry names the process
        if not frames:
            continue
        busy += count
        own[parse_frame(frames[-1])] += count
        for name in {parse_frame(f) for f in frames}:
            inclusive[name] += count
    ours = {k: v for k, v in inclusive.items() if k.startswith(("tasks/", "flows/"))}
    return {
        "rate": RATE,
        "samples": busy,
        "self": [[name, n, n / busy] for name, n in own.most_common(top)] if busy else [],
        "ours_inclusive": [[name, n, n / busy] for name, n in Counter(ours).most_common(top)] if busy else [],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.profile", description=__doc__)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    collapsed = args.out / "profile.txt"
    spy = Path(sys.executable).with_name("py-spy")
    command = [
        str(spy), "record", "--subprocesses", "--rate", str(RATE), "--format", "raw", "-o", str(collapsed),
        "--", sys.executable, "-m", "bench.measure", "flow", str(args.corpus), str(args.out / "flow.json"),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    summary = summarize(collapsed)
    (args.out / "profile.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    print(json.dumps(summary["ours_inclusive"][:10], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
