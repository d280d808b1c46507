"""Audiences: an issue reaches exactly its segment; staff can set a reader's preferences."""

from __future__ import annotations

import pytest

from newsletter.errors import ContentError
from newsletter.issues.build import build_issue
from newsletter.outbound.issue_mail import deliver_issue
from newsletter.outbound.transports import MemoryTransport
from newsletter.people.segments import parse_segment, recipients


def emails(db, segment_text, settings, on="2026-12-01"):
    from datetime import date

    return {
        p.email
        for p in recipients(db, parse_segment(segment_text, settings), date.fromisoformat(on))
    }


def holders(db, role, province=None, on="2026-12-01"):
    sql = (
        "select s.email from subscribers s join mandates m on m.subscriber_id = s.id "
        "where m.role = ? and m.starts_on <= ? and (m.ends_on is null or m.ends_on >= ?)"
    )
    args = [role, on, on]
    if province:
        sql += " and s.province = ?"
        args.append(province)
    return {r["email"] for r in db.query(sql, args)}


def test_segments_select_by_role_province_and_date(settings, loaded) -> None:
    assert len(emails(loaded, "all", settings)) == 626
    assert emails(loaded, "role:griffier", settings) == holders(loaded, "griffier")
    assert len(emails(loaded, "role:griffier", settings)) == 12
    av = emails(loaded, "role:av_lid,plv_av_lid", settings)
    assert av == holders(loaded, "av_lid") | holders(loaded, "plv_av_lid") and len(av) == 36
    assert emails(loaded, "role:av_lid province:GLD", settings) == holders(loaded, "av_lid", "GLD")
    # The Utrecht AV member appointed on 20 October 2026 was not in office in September.
    assert len(emails(loaded, "role:av_lid on:2026-09-01", settings)) == 23


def test_theme_segment_keeps_those_who_chose_it_or_chose_nothing(settings, loaded) -> None:
    chosen = emails(loaded, "theme:landelijk-gebied", settings)
    rows = {r["email"]: r["themes"] for r in loaded.query("select email, themes from subscribers")}
    assert chosen == {e for e, t in rows.items() if t == "[]" or "landelijk-gebied" in t}


@pytest.mark.parametrize(
    "text, message",
    [
        ("rol:av_lid", "'rol' is not known; use role, province, theme or on"),
        ("role:burgemeester", "role burgemeester is not known"),
        ("province:XX", "province XX is not known"),
        ("on:gisteren", "on:gisteren is not a date; write on:2026-12-01"),
        ("av_lid", "'av_lid' is not a segment term"),
    ],
)
def test_a_bad_segment_names_the_term(settings, text, message) -> None:
    with pytest.raises(ContentError, match=message):
        parse_segment(text, settings)


def test_an_issue_goes_only_to_its_audience(settings, loaded, december) -> None:
    december.write_text(december.read_text().replace("audience: all", 'audience: "role:av_lid"'))
    outbox = MemoryTransport()
    report = deliver_issue(
        loaded, settings, build_issue(loaded, settings, "2026-12").rendered, lambda: outbox
    )
    assert {e.recipient for e, _ in outbox.sent} == holders(loaded, "av_lid")
    assert report.sent == 24


def test_a_bad_audience_in_the_issue_file_stops_the_build(settings, loaded, december, run):
    december.write_text(december.read_text().replace("audience: all", "audience: role:wethouder"))
    result = run("issue", "build", "2026-12")
    assert result.exit_code == 2
    assert result.output.startswith(
        "Error: content/issues/2026-12.md: field 'audience': role wethouder is not known"
    )


def test_staff_set_themes_and_pause_from_the_cli(settings, loaded, run) -> None:
    result = run(
        "subscribers",
        "set",
        "kees.sanders@gld.example",
        "--themes",
        "landelijk-gebied,digitalisering",
        "--pause",
    )
    assert result.exit_code == 0
    assert result.output == (
        "kees.sanders@gld.example: paused; themes digitalisering, landelijk-gebied\n"
    )
    assert "kees.sanders@gld.example" not in emails(loaded, "all", settings)
    result = run("subscribers", "set", "kees.sanders@gld.example", "--themes", "all", "--resume")
    assert result.output == "kees.sanders@gld.example: active; themes all\n"
    bad = run("subscribers", "set", "kees.sanders@gld.example", "--themes", "sport")
    assert bad.exit_code == 2 and "unknown theme sport" in bad.output
