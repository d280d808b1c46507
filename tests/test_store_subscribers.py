"""The subscribers repository (store/subscribers.py) and the rows a person is erased from
(store/erasure.py), on a private in-memory store: what goes in comes out, typed, by any spelling
of the address."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from sqlite_utils import Database

from newsletter import clock, store
from newsletter.people import preferences, privacy, signup
from newsletter.store import audit, erasure, items, reports
from newsletter.store import subscribers as rows
from newsletter.store.subscribers import Details

NOW = "2026-12-01T08:00:00+00:00"
ANNA = "anna@zeeland.example"


@pytest.fixture
def mem() -> Database:
    return store.connect(":memory:")


def add(
    db: Database,
    email: str,
    name: str = "Anna de Wit",
    province: str | None = "ZLD",
    status: str = "active",
    themes: tuple[str, ...] = (),
) -> int:
    first, _, last = name.partition(" ")
    details = Details(email, name, first, last, f"Beste {first}", province)
    return rows.add(
        db, details, status=status, themes=themes, source="test", created_at=NOW, updated_at=NOW
    )


def test_a_subscriber_is_found_by_any_spelling_of_the_address(mem) -> None:
    anna = add(mem, "  Anna@Zeeland.EXAMPLE ")
    found = rows.find_by_email(mem, "anna@zeeland.example")
    assert found is not None and found.id == anna
    assert found.email == "anna@zeeland.example"  # stored normalised
    assert rows.find_by_email(mem, "  ANNA@zeeland.example") == found
    assert rows.find_by_email(mem, "bert@zeeland.example") is None


def test_rows_come_back_typed_with_themes_as_a_tuple(mem) -> None:
    anna = add(mem, "anna@zeeland.example", themes=("energie", "water"))
    row = rows.get(mem, anna)
    assert row is not None
    assert (row.name, row.first_name, row.last_name) == ("Anna de Wit", "Anna", "de Wit")
    assert (row.province, row.status, row.themes) == ("ZLD", "active", ("energie", "water"))
    assert row.created_at == row.updated_at == NOW and row.consent_text is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.status = "erased"  # type: ignore[misc]
    assert rows.get(mem, anna + 1) is None


def test_subscriber_fields_are_the_table_columns_in_order(mem) -> None:
    columns = list(mem.table("subscribers").columns_dict)
    assert [f.name for f in dataclasses.fields(rows.Subscriber)] == columns


def test_details_say_which_fields_changed_and_updating_keeps_status_and_themes(mem) -> None:
    anna = add(mem, "anna@zeeland.example", status="paused", themes=("water",))
    before = rows.get(mem, anna)
    assert before is not None
    moved = Details("anna@zeeland.example", "Anna de Wit", "Anna", "de Wit", "Beste Anna", "UT")
    assert moved.changed_from(before) == ["province"]
    rows.update_details(mem, anna, moved, "2026-12-02T08:00:00+00:00")
    after = rows.get(mem, anna)
    assert after is not None
    assert (after.province, after.status, after.themes) == ("UT", "paused", ("water",))
    assert after.updated_at == "2026-12-02T08:00:00+00:00" and moved.changed_from(after) == []


def test_unsubscribe_and_confirm_change_a_row_once(mem) -> None:
    anna = add(mem, "anna@zeeland.example", status="pending")
    assert rows.confirm(mem, anna, "aanmelden-2026-12", NOW) is True
    assert rows.confirm(mem, anna, "aanmelden-2026-12", NOW) is False  # already active
    confirmed = rows.get(mem, anna)
    assert confirmed is not None
    assert (confirmed.status, confirmed.consent_text, confirmed.consent_at) == (
        "active",
        "aanmelden-2026-12",
        NOW,
    )
    assert rows.unsubscribe(mem, anna, NOW) is True
    assert rows.unsubscribe(mem, anna, NOW) is False  # a replay changes nothing
    bounced = add(mem, "bert@zeeland.example", status="bounced")
    assert rows.unsubscribe(mem, bounced, NOW) is False
    assert rows.confirm(mem, bounced, "aanmelden-2026-12", NOW) is False
    assert [r.status for r in rows.all_subscribers(mem)] == ["unsubscribed", "bounced"]


def test_set_choices_stores_themes_and_status(mem) -> None:
    anna = add(mem, "anna@zeeland.example")
    rows.set_choices(mem, anna, ["water", "energie"], "paused", NOW)
    row = rows.get(mem, anna)
    assert row is not None and (row.themes, row.status) == (("water", "energie"), "paused")


def test_active_selects_by_province_and_by_role_held_on_the_day(mem) -> None:
    anna = add(mem, "anna@zeeland.example", province="ZLD")
    bert = add(mem, "bert@gld.example", "Bert Smit", province="GLD")
    cor = add(mem, "cor@gld.example", "Cor Tol", province="GLD")
    gone = add(mem, "dirk@gld.example", "Dirk Vos", province="GLD", status="unsubscribed")
    rows.add_mandate(mem, anna, "av_lid", "ZLD", "2023-03-30", "test")
    rows.add_mandate(mem, bert, "av_lid", "GLD", "2023-03-30", "test", ends_on="2026-11-30")
    rows.add_mandate(mem, cor, "av_lid", "GLD", "2027-01-01", "test")  # not yet
    rows.add_mandate(mem, gone, "av_lid", "GLD", "2023-03-30", "test")
    day = "2026-12-01"
    assert [s.id for s in rows.active(mem, (), (), day)] == [anna, bert, cor]
    assert [s.id for s in rows.active(mem, ("GLD",), (), day)] == [bert, cor]
    assert [s.id for s in rows.active(mem, (), ("av_lid",), day)] == [anna]
    assert [s.id for s in rows.active(mem, (), ("av_lid",), "2026-11-30")] == [anna, bert]
    assert [s.id for s in rows.active(mem, ("GLD",), ("av_lid",), "2027-01-01")] == [cor]


def test_listing_shows_current_roles_once_each_sorted(mem) -> None:
    anna = add(mem, "anna@zeeland.example", province="ZLD")
    staff = add(mem, "eva@ipo.example", "Eva Mol", province=None)
    rows.add_mandate(mem, anna, "statenlid", "ZLD", "2023-03-30", "test")
    rows.add_mandate(mem, anna, "av_lid", "ZLD", "2023-03-30", "test")
    rows.add_mandate(mem, anna, "av_lid", "ZLD", "2019-03-28", "test", ends_on="2023-03-29")
    rows.add_mandate(mem, anna, "griffier", "ZLD", "2019-03-28", "test", ends_on="2023-03-29")
    rows.add_mandate(mem, staff, "ipo_staff", None, "2020-01-01", "test")
    listed = rows.listing(mem, "2026-12-01")
    assert [(p.email, p.roles) for p in listed] == [
        ("eva@ipo.example", ("ipo_staff",)),  # no province sorts first
        ("anna@zeeland.example", ("av_lid", "statenlid")),
    ]
    assert [p.id for p in rows.listing(mem, "2026-12-01", role="griffier")] == []
    assert [p.id for p in rows.listing(mem, "2026-12-01", province="ZLD")] == [anna]
    assert [p.id for p in rows.listing(mem, "2026-12-01", status="paused")] == []


def test_mandates_by_id_or_start_end_and_reopen(mem) -> None:
    anna = add(mem, "anna@zeeland.example")
    later = rows.add_mandate(mem, anna, "statenlid", "ZLD", "2023-03-30", "test")
    earlier = rows.add_mandate(mem, anna, "av_lid", "ZLD", "2019-03-28", "test")
    assert [m.id for m in rows.mandates_of(mem, anna)] == [later, earlier]
    assert [m.id for m in rows.mandates_of(mem, anna, "start")] == [earlier, later]
    rows.set_mandate_end(mem, later, "2026-11-30")
    assert [h.mandate.id for h in rows.open_mandates_in(mem, "ZLD", "2026-11-30")] == [earlier]
    assert rows.open_mandates_in(mem, "ZLD", "2026-11-29")[1].mandate.ends_on == "2026-11-30"
    rows.set_mandate_end(mem, later, None)
    held = rows.open_mandates_in(mem, "ZLD", "2026-11-30")
    assert [(h.name, h.email, h.mandate.role) for h in held] == [
        ("Anna de Wit", "anna@zeeland.example", "av_lid"),
        ("Anna de Wit", "anna@zeeland.example", "statenlid"),
    ]
    assert rows.all_mandates(mem) == rows.mandates_of(mem, anna, "start")


def test_current_holders_leaves_out_the_erased_and_the_ended(mem) -> None:
    anna = add(mem, "anna@zeeland.example", province="ZLD")
    bert = add(mem, "bert@gld.example", "Bert Smit", province="GLD")
    gone = add(mem, "cor@gld.example", "Cor Tol", province="GLD", status="erased")
    rows.add_mandate(mem, anna, "av_lid", "ZLD", "2023-03-30", "test")
    rows.add_mandate(mem, bert, "griffier", "GLD", "2023-03-30", "test")
    rows.add_mandate(mem, bert, "av_lid", "GLD", "2019-03-28", "test", ends_on="2023-03-29")
    rows.add_mandate(mem, gone, "av_lid", "GLD", "2023-03-30", "test")
    assert rows.current_holders(mem, ("av_lid", "griffier"), date(2026, 12, 1)) == [
        {"name": "Bert Smit", "email": "bert@gld.example", "role": "griffier", "province": "GLD"},
        {
            "name": "Anna de Wit",
            "email": "anna@zeeland.example",
            "role": "av_lid",
            "province": "ZLD",
        },
    ]


def test_a_suppression_is_found_by_any_spelling_and_under_an_older_key(mem, settings) -> None:
    keyless = dataclasses.replace(settings, secret_keys=())
    assert rows.find_suppression(mem, keyless, "anna@zeeland.example") is None  # nothing kept
    old = dataclasses.replace(settings, secret_keys=("old-key",))
    rows.suppress(mem, old, "anna@zeeland.example", "forgotten", NOW)
    rotated = dataclasses.replace(settings, secret_keys=("old-key", "new-key"))
    found = rows.find_suppression(mem, rotated, "  Anna@Zeeland.EXAMPLE ")
    assert found == rows.Suppression("forgotten", NOW)
    assert rows.find_suppression(mem, rotated, "bert@zeeland.example") is None
    rows.suppress(mem, rotated, "anna@zeeland.example", "forgotten", NOW)  # under the new key
    assert mem.table("suppressions").count == 1  # the old key's hash is gone
    new_only = dataclasses.replace(settings, secret_keys=("new-key",))
    assert rows.find_suppression(mem, new_only, "anna@zeeland.example") is not None
    assert rows.find_suppression(mem, old, "anna@zeeland.example") is None


def test_delete_removes_mandates_then_the_row(mem) -> None:
    anna = add(mem, "anna@zeeland.example")
    rows.add_mandate(mem, anna, "av_lid", "ZLD", "2023-03-30", "test")
    rows.add_mandate(mem, anna, "statenlid", "ZLD", "2023-03-30", "test")
    assert rows.delete_mandates(mem, anna) == 2
    assert rows.delete(mem, anna) == 1
    assert rows.delete(mem, anna) == 0 and rows.get(mem, anna) is None


def test_erasure_finds_and_erases_a_persons_deliveries_bounces_and_events(mem) -> None:
    anna = add(mem, "anna@zeeland.example")
    mem.table("mailings").insert({"id": "issue-2026-12", "kind": "issue", "subject": "December"})
    ids = [
        mem.table("deliveries").insert(row).last_pk
        for row in (
            {
                "mailing_id": "issue-2026-12",
                "subscriber_id": anna,
                "email": "anna@zeeland.example",
                "status": "sent",
                "message_id": "<1@ipo.example>",
            },
            {
                "mailing_id": "issue-2026-12",
                "subscriber_id": None,
                "email": "anna@zeeland.example",
                "status": "queued",
                "message_id": None,
            },
            {
                "mailing_id": "issue-2026-12",
                "subscriber_id": 99,
                "email": "bert@gld.example",
                "status": "sent",
                "message_id": "<2@ipo.example>",
            },
        )
    ]
    refs = erasure.deliveries_to(mem, " Anna@Zeeland.EXAMPLE", anna)
    assert refs == [
        erasure.DeliveryRef(ids[0], "<1@ipo.example>"),
        erasure.DeliveryRef(ids[1], None),
    ]
    mine = [r.id for r in refs]
    assert [d["subject"] for d in erasure.delivery_records(mem, mine)] == ["December"] * 2
    mem.table("bounces").insert({"subscriber_id": None, "delivery_id": ids[1], "kind": "hard"})
    mem.table("bounces").insert({"subscriber_id": 99, "delivery_id": ids[2], "kind": "hard"})
    assert [b["kind"] for b in erasure.bounce_records(mem, anna, mine)] == ["hard"]
    audit.record(mem, "web", "unsubscribe", f"subscriber:{anna}")
    audit.record(mem, "cli", "test-copy", "issue-2026-12", to="anna@zeeland.example")
    audit.record(mem, "cli", "test-copy", "issue-2026-12", to="bert@gld.example")
    assert [e["action"] for e in erasure.event_records(mem, anna)] == ["unsubscribe"]
    assert erasure.delete_events(mem, anna, "ANNA@zeeland.example") == 2
    assert erasure.delete_bounces(mem, anna, mine) == 1
    assert erasure.delete_deliveries(mem, mine) == 2
    assert [r["email"] for r in mem.table("deliveries").rows] == ["bert@gld.example"]
    assert mem.table("bounces").count == 1 and mem.table("events").count == 1
    assert erasure.delete_deliveries(mem, []) == 0


def test_the_archive_lists_sent_issues_newest_first(mem) -> None:
    for month, status in (
        ("2026-10", "sent"),
        ("2026-11", "sent-with-failures"),
        ("2026-12", "sending"),
    ):
        mem.table("mailings").insert(
            {
                "id": f"issue-{month}",
                "kind": "issue",
                "issue_month": month,
                "subject": month,
                "status": status,
                "started_at": NOW,
            }
        )
    mem.table("mailings").insert({"id": "onboarding-1", "kind": "onboarding", "status": "sent"})
    sent = reports.sent_issues(mem)
    assert [(s.issue_month, s.finished_at, s.started_at) for s in sent] == [
        ("2026-11", None, NOW),
        ("2026-10", None, NOW),
    ]


def test_only_announced_meetings_and_events_are_public(mem) -> None:
    base = {"title": "AV", "starts_at": "2027-01-20T14:00:00+01:00", "data": "{}"}
    mem.table("items").insert_all(
        [
            {**base, "id": "av-jan", "kind": "av_meeting", "published": "2026-11-01"},
            {**base, "id": "av-feb", "kind": "av_meeting", "published": "2027-01-01"},
            {**base, "id": "news", "kind": "news", "published": "2026-11-01"},
            {**base, "id": "open", "kind": "event", "published": "2026-11-01", "starts_at": None},
        ]
    )
    found = items.announced_calendar_item(mem, "av-jan", date(2026, 12, 1))
    assert found is not None and found.id == "av-jan"
    for item_id in ("av-feb", "news", "open", "missing"):
        assert items.announced_calendar_item(mem, item_id, date(2026, 12, 1)) is None


def test_preferences_privacy_and_signup_find_the_same_subscriber_by_any_spelling(
    mem, settings
) -> None:
    typed = "  Anna@Zeeland.EXAMPLE "
    anna = add(mem, ANNA)
    rows.add_mandate(mem, anna, "av_lid", "ZLD", "2023-03-30", "test")
    chosen = preferences.set_preferences_by_email(
        mem, settings, typed, "landelijk-gebied", True, "cli"
    )
    assert (chosen.id, chosen.status, chosen.themes) == (anna, "paused", ("landelijk-gebied",))
    assert privacy.subject_for(mem, typed).subscriber_id == anna
    record = privacy.person_record(mem, settings, typed)
    assert record is not None and record["subscriber"]["id"] == anna
    assert [m["role"] for m in record["mandates"]] == ["av_lid"]
    # Already subscribed (paused): the sign-up form sends nothing and adds nobody.
    assert signup.request_signup(mem, settings, "Anna", typed, "ZLD", "web") == signup.Signup(
        None, ANNA
    )
    assert rows.unsubscribe(mem, anna, NOW)
    # Unsubscribed earlier: the same row waits for the owner's confirmation.
    assert signup.request_signup(mem, settings, "Anna", typed, "ZLD", "web").subscriber_id == anna
    assert len(rows.all_subscribers(mem)) == 1
    assert privacy.forget(mem, settings, typed).erased["subscriber"] == 1
    suppressed = rows.find_suppression(mem, settings, ANNA)
    assert suppressed == rows.Suppression("forgotten", clock.utc_iso())
