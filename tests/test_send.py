"""The one way to send (issue #12): the approved version, through the preflight gate, which
checks a version once and remembers that it passed; tick's retries go through it too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsletter import clock
from newsletter.editorial import gate
from newsletter.issues.build import build_issue
from newsletter.outbound.issue_mail import deliver_issue
from newsletter.outbound.send import send_issue
from newsletter.outbound.transports import MemoryTransport
from newsletter.preflight import runner, tools
from newsletter.tick import run_tick
from tests.conftest import approve_issue


@pytest.fixture
def no_tools(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No SpamAssassin, java or Chromium: the check runs its Python checks only (fast)."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "no-chromium"))


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The months the preflight really checked (the real check still runs)."""
    seen: list[str] = []
    real = runner.check_rendered

    def counted(settings, rendered, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(rendered.issue.month)
        return real(settings, rendered, **kwargs)

    monkeypatch.setattr(runner, "check_rendered", counted)
    return seen


def test_the_send_of_an_approved_version_does_not_check_it_again(
    settings, loaded, december, no_tools, checks
) -> None:
    approve_issue(loaded, settings)
    assert checks == ["2026-12"]  # approval checked exactly what it froze
    outbox = MemoryTransport()
    sent = send_issue(loaded, settings, "2026-12", lambda: outbox, by="Joris Bakker")
    assert checks == ["2026-12"]  # ... so the send did not run the check again
    assert sent.checked.remembered and sent.delivery.sent == 626 == len(outbox.sent)
    [passed] = loaded.table("preflight_passes").rows
    assert passed["month"] == "2026-12" and passed["key"] == sent.checked.key


def test_a_remembered_pass_still_says_its_warnings(
    settings, loaded, december, no_tools, run
) -> None:
    approve_issue(loaded, settings)
    sent = run("issue", "send", "2026-12")
    assert sent.exit_code == 0, sent.output
    # the missing tools were warnings of the approval's check: the send says them too
    assert "Warning: SpamAssassin not run: spamassassin is not installed" in sent.stderr
    assert "Warning: Preflight 2026-12: 0 errors" in sent.stderr
    assert "626 sent now" in sent.stdout


def test_another_tool_version_checks_the_same_version_again(
    settings, loaded, december, no_tools, checks, monkeypatch
) -> None:
    approve_issue(loaded, settings)
    monkeypatch.setattr(tools, "versions", lambda: "spamassassin 4.0.2 (upgraded)")
    sent = send_issue(loaded, settings, "2026-12", MemoryTransport, by="Joris Bakker")
    assert checks == ["2026-12", "2026-12"] and not sent.checked.remembered
    assert loaded.table("preflight_passes").count == 2


def test_a_changed_version_is_checked_again(settings, loaded, december, no_tools, checks) -> None:
    first = gate.check(loaded, settings, build_issue(loaded, settings, "2026-12").rendered)
    again = gate.check(loaded, settings, build_issue(loaded, settings, "2026-12").rendered)
    assert (first.remembered, again.remembered) == (False, True) and first.key == again.key
    december.write_text(
        december.read_text(encoding="utf-8") + "\nEen zin erbij.\n", encoding="utf-8"
    )
    changed = gate.check(loaded, settings, build_issue(loaded, settings, "2026-12").rendered)
    assert not changed.remembered and changed.key != first.key
    assert checks == ["2026-12", "2026-12"]  # the first and the changed version


def test_a_version_that_failed_is_not_remembered(settings, loaded, december, no_tools) -> None:
    december.write_text(
        december.read_text(encoding="utf-8")
        + "\nMeer over het OV: [klik hier](https://www.ipo.example/ov).\n",
        encoding="utf-8",
    )
    rendered = build_issue(loaded, settings, "2026-12").rendered
    for _ in range(2):  # refused each time: an error is never remembered as a pass
        with pytest.raises(runner.PreflightFailed, match="link-text"):
            gate.check(loaded, settings, rendered)
    assert loaded.table("preflight_passes").count == 0


def test_tick_retries_refuse_a_version_with_preflight_errors(
    settings, loaded, december, no_tools
) -> None:
    """A mailing begun without the check (an older version did that): tick's retry goes
    through the gate and sends nothing more while the version has errors."""
    december.write_text(
        december.read_text(encoding="utf-8")
        + "\nMeer over het OV: [klik hier](https://www.ipo.example/ov).\n",
        encoding="utf-8",
    )
    flaky = MemoryTransport(fail_for={"kees.sanders@gld.example": "451 4.3.0 Try again later"})
    rendered = build_issue(loaded, settings, "2026-12").rendered
    assert deliver_issue(loaded, settings, rendered, lambda: flaky).sent == 625
    clock.set_now("2026-12-01T08:40:00+01:00")  # the deferred message is due again
    report = run_tick(loaded, settings, clock.now())
    [retries] = [job for job in report.jobs if job.name == "deliveries"]
    assert retries.failed
    assert retries.line.startswith(
        "issue-2026-12: issue 2026-12 has 14 preflight errors (link-text); nothing was sent."
    )
    assert loaded.table("deliveries").count_where("status = 'deferred'") == 1


def test_issue_send_json_is_the_send_report(settings, loaded, december, no_tools, run) -> None:
    approve_issue(loaded, settings)
    sent = run("issue", "send", "2026-12", "--json")
    assert sent.exit_code == 0, sent.output
    report = json.loads(sent.stdout)  # the warnings stay on stderr
    assert report["mailing_id"] == "issue-2026-12"
    assert report["sent"] == report["total"] == 626
    assert report["failed"] == report["deferred"] == report["in_doubt"] == []
