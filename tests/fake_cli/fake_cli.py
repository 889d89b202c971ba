#!/usr/bin/env python3
"""A stand-in for `oc`/`kubectl`/`curl`/`helm`/`kind` that records each call and answers from a rules file.

Installed under several names in a temporary bin directory that tests put first on PATH.
FAKE_CLI_LOG:   a JSON-lines file; each call appends {"name", "argv", "stdin"}.
FAKE_CLI_RULES: a JSON list of rules; the first rule whose "match" words all appear in order in
                the call's argv (name included), or whose "argv" equals it exactly, answers with its
                stdout, stderr and exit code.
                A rule may set "times": N to answer only its first N matches (a shared counter
                lives beside the log). No rule: exit 0 with empty output.
"""

import fcntl
import json
import os
import sys
from pathlib import Path


def matches(pattern: list[str], argv: list[str]) -> bool:
    position = 0
    for word in pattern:
        try:
            position = argv.index(word, position) + 1
        except ValueError:
            return False
    return True


def main() -> int:
    name = Path(sys.argv[0]).name
    argv = [name, *sys.argv[1:]]
    reads_stdin = "-" in argv or any(a.startswith("--patch-file=/dev/stdin") for a in argv)
    stdin = sys.stdin.read() if reads_stdin else None
    log = Path(os.environ["FAKE_CLI_LOG"])
    rules_path = os.environ.get("FAKE_CLI_RULES")
    rules = json.loads(Path(rules_path).read_text(encoding="utf-8")) if rules_path else []
    counts_path = log.with_suffix(".counts.json")
    # apply.py --users runs several of these at once: one lock around the log and the shared counters.
    with open(log.with_suffix(".lock"), "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with log.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"name": name, "argv": argv, "stdin": stdin}) + "\n")
        counts = json.loads(counts_path.read_text()) if counts_path.exists() else {}
        answer = None
        for index, rule in enumerate(rules):
            if "argv" in rule and rule["argv"] != argv:
                continue
            if "match" in rule and not matches(rule["match"], argv):
                continue
            used = counts.get(str(index), 0)
            if "times" in rule and used >= rule["times"]:
                continue
            counts[str(index)] = used + 1
            counts_path.write_text(json.dumps(counts))
            answer = rule
            break
    if answer is None:
        return 0
    sys.stdout.write(answer.get("stdout", ""))
    sys.stderr.write(answer.get("stderr", ""))
    return int(answer.get("exit", 0))


if __name__ == "__main__":
    sys.exit(main())
