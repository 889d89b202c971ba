"""apply.py --users: many users at once, bounded parallelism, retry alone, summary table."""

from __future__ import annotations

import io

import pytest
from support.apply_cli import FakeCli
from test_apply_cli import HAPPY, apply

from handbook.errors import UsageError
from handbook.many_users import MultiProgress, parse_users


def test_parse_users() -> None:
    assert parse_users("user1-user3") == ["user1", "user2", "user3"]
    assert parse_users("alice,bob") == ["alice", "bob"]
    assert parse_users("team-a9-team-a11,zed") == ["team-a9", "team-a10", "team-a11", "zed"]
    with pytest.raises(UsageError, match="backwards"):
        parse_users("user5-user2")
    with pytest.raises(UsageError, match="more than once"):
        parse_users("user1-user2,user2")


def test_each_user_gets_the_whole_stage(fake_cli: FakeCli) -> None:
    fake_cli.rules(HAPPY)
    result = apply(fake_cli, "stage-1", "--users", "u1-u5", "--parallel", "3")
    assert result.returncode == 0, result.stderr
    calls = [c["argv"] for c in fake_cli.calls()]
    for n in range(1, 6):
        assert ["oc", "new-project", f"u{n}-demo"] in calls
        assert ["oc", "rollout", "status", "deployment/web", "-n", f"u{n}-demo", "--timeout=120s"] in calls
    # Login, discovery and the API check happen once for everyone.
    assert sum(1 for c in calls if c[:2] == ["oc", "whoami"]) == 1
    assert sum(1 for c in calls if "api-resources" in c) == 1
    table = result.stdout[result.stdout.index("user  result"):]
    assert len([line for line in table.splitlines() if line.startswith("u") and " ok " in line]) == 5
    assert "5/5 users ready" in result.stdout


def test_a_failed_user_is_retried_alone(fake_cli: FakeCli) -> None:
    fake_cli.rules([*HAPPY[:3],
                    {"match": ["oc", "new-project", "u2-demo"], "times": 1, "exit": 1,
                     "stderr": "Error from server (InternalError): etcdserver: request timed out"},
                    HAPPY[3]])
    result = apply(fake_cli, "stage-1", "--users", "u1-u3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok after retry" in result.stdout
    news = [c["argv"] for c in fake_cli.calls() if c["argv"][1] == "new-project"]
    assert news.count(["oc", "new-project", "u2-demo"]) == 2
    assert news.count(["oc", "new-project", "u1-demo"]) == 1


def test_a_user_that_keeps_failing_does_not_stop_the_others(fake_cli: FakeCli) -> None:
    fake_cli.rules([*HAPPY[:3],
                    {"match": ["oc", "new-project", "u2-demo"], "exit": 1,
                     "stderr": 'Error from server (Forbidden): project "u2-demo" is forbidden'},
                    HAPPY[3]])
    result = apply(fake_cli, "stage-1", "--users", "u1-u3")
    assert result.returncode == 8
    assert "2/3 users ready" in result.stdout
    assert "u2: step stage-1/create-project failed" in result.stdout
    assert "python3 scripts/apply.py stage-1 --user u2" in result.stdout
    assert ["oc", "new-project", "u3-demo"] in [c["argv"] for c in fake_cli.calls()]


def test_bad_names_are_refused_before_any_call(fake_cli: FakeCli) -> None:
    fake_cli.rules(HAPPY)
    result = apply(fake_cli, "stage-1", "--users", "u1,Bad_Name")
    assert result.returncode == 2 and "LAB_USER='Bad_Name'" in result.stderr
    assert fake_cli.calls() == []
    result = apply(fake_cli, "stage-1", "--users", "u1", "--user", "u2")
    assert result.returncode == 2 and "exclude each other" in result.stderr


def test_progress_is_one_line_per_user_on_a_terminal() -> None:
    stream = io.StringIO()
    multi = MultiProgress(["a", "bb"], stream, tty=True)
    multi.for_user("a").begin(1, 3, "stage-1/x (run)")
    multi.update("bb", "ok", final=True)
    frames = stream.getvalue()
    assert "\033[2F" in frames, "the block of user lines is redrawn in place"
    last = frames.split("\033[2F")[-1]
    assert "a   [1/3] stage-1/x (run) ..." in last and "bb  ok" in last
