"""Issue files: what `issue new` proposes, and what staff edits do to the build."""

from __future__ import annotations

import frontmatter

from newsletter.issues.build import build_issue
from newsletter.issues.files import create_issue, read_issue_file


def proposed(path) -> dict[str, list[str]]:
    return frontmatter.loads(path.read_text(encoding="utf-8")).metadata["sections"]


def test_new_issue_proposes_items_published_since_the_previous_issue_and_not_yet_used(
    settings, loaded
) -> None:
    path, _ = create_issue(loaded, settings, "2026-12")
    sections = proposed(path)
    ids = [i for items in sections.values() for i in items]
    november = read_issue_file(settings, "2026-11")
    # Used in November: not proposed again.
    assert not set(ids) & set(november.item_ids)
    # Published before the November issue (2 november) but never used: not proposed either.
    assert "2026-10-15-energie" not in ids
    # Every BAC decided something in November, and each decision is proposed under "bac".
    assert sorted(sections["bac"]) == sorted(
        r["id"]
        for r in loaded.query(
            "select id from items where kind = 'bac_decision' and published > '2026-11-02'"
        )
    )
    # A featured item leads; the feed's November news is in; its October news is not.
    assert sections["uitgelicht"] == ["2026-11-20-regionaal-ov"]
    feed_items = [i for i in ids if i.startswith("feed-")]
    assert len(feed_items) == 2


def test_agenda_is_in_date_order_and_leaves_out_what_is_past(settings, loaded) -> None:
    path, _ = create_issue(loaded, settings, "2026-12")
    agenda = proposed(path)["agenda"]
    assert agenda == [
        "2026-12-09-kennissessie-stikstof",
        "2027-01-14-kennissessie-digitaal",
        "2027-01-19-technische-briefing",
        "2027-01-26-technische-briefing",
    ]
    assert "2026-10-27-technische-briefing" not in path.read_text()


def test_new_issue_leaves_the_intro_for_staff_and_build_insists_on_it(
    settings, loaded, run
) -> None:
    path, _ = create_issue(loaded, settings, "2026-12")
    result = run("issue", "build", "2026-12")
    assert result.exit_code == 2
    assert result.output == (
        "Error: content/issues/2026-12.md: the intro is empty; write two or three sentences "
        "below the front matter\n"
    )
    assert "subject:" in path.read_text()


def test_staff_can_reorder_and_drop_items_by_editing_the_file(settings, loaded, december) -> None:
    text = december.read_text(encoding="utf-8")
    text = text.replace(
        "    - 2026-11-26-europa  # Provincies en het Europese cohesiebeleid na 2027\n", ""
    )
    agenda = (
        "    - 2026-12-09-kennissessie-stikstof  # Kennissessie: stikstof en vergunningverlening\n"
    )
    text = text.replace(agenda, "").replace(
        "    - 2027-01-26-technische-briefing", agenda + "    - 2027-01-26-technische-briefing"
    )
    december.write_text(text, encoding="utf-8")
    rendered = build_issue(loaded, settings, "2026-12").rendered
    issue = rendered.issue
    assert "lobby" not in issue.sections
    assert [i.id for i in issue.sections["agenda"]][-2:] == [
        "2026-12-09-kennissessie-stikstof",
        "2027-01-26-technische-briefing",
    ]
    assert "cohesiebeleid" not in rendered.variants["GLD"].html
    assert "Belangenbehartiging en standpunten" not in rendered.variants["GLD"].html


def test_an_item_added_by_hand_from_an_earlier_month_is_rendered(
    settings, loaded, december
) -> None:
    text = december.read_text(encoding="utf-8").replace(
        "  pc:\n", "  pc:\n    - 2026-10-13-fob-begroting\n", 1
    )
    december.write_text(text, encoding="utf-8")
    rendered = build_issue(loaded, settings, "2026-12").rendered
    assert "Ontwerpbegroting 2027 IPO en BIJ12" in rendered.variants["GLD"].text
