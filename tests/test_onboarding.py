"""The onboarding programme: sequences, the dated plan, enrolment, and a replayed year of ticks."""

from __future__ import annotations

import email
import json
import shutil
from datetime import date, datetime, timedelta
from email import policy
from pathlib import Path

import pytest
from sqlite_utils import Database

from newsletter import clock, store
from newsletter.config import load_settings
from newsletter.dates import is_working_day
from newsletter.onboarding import programme as onboarding
from newsletter.onboarding.sequences import SequenceError, load_sequence
from newsletter.outbound.transports import transport_factory
from newsletter.outbound.transports.memory import MemoryTransport
from newsletter.people import privacy
from newsletter.people.preferences import unsubscribe
from newsletter.people.subscribers import import_subscribers
from newsletter.sources.catalog import sync_content

AV_TEMPLATE = """\
---
kind: av_meeting
title: Algemene Vergadering
date: {day}
start_time: "14.00"
end_time: "16.30"
place: Provinciehuis, Den Haag
published: 2026-01-05
summary: De formele AV van {day}.
agenda:
  - Opening
question_deadline: {deadline} 12.00
registration: https://www.ipo.example/av/{day}/aanmelden
---
"""

# Who joins when (DOMAIN.md's cases): the AV calendar below, the term ending 31 March 2027.
JOINERS = {
    "ulla.afmelder@ut.example": ("UT", "2026-05-04", "av_lid"),  # unsubscribes after step 3
    "tom.tiendagen@fr.example": ("FR", "2026-06-13", "plv_av_lid"),  # 10 days before the AV
    "anna.avdag@dr.example": ("DR", "2026-11-03", "av_lid"),  # on an AV day
    "kees.kerst@ov.example": ("OV", "2026-12-18", "av_lid"),  # the week before Christmas
    "lisa.laat@fl.example": ("FL", "2027-02-15", "av_lid"),  # the last weeks of the term
    "eva.vroeg@gr.example": ("GR", "2027-04-06", "av_lid"),  # early in the next term; AV moves
}
MEETINGS = ["2026-06-23", "2026-11-03", "2027-02-10", "2027-06-22", "2027-11-02"]


def _world(instance: Path) -> None:
    """The demo instance with a calendar of its own and a list of its own."""
    for folder in ("av", "events"):
        shutil.rmtree(instance / "content" / folder)
        (instance / "content" / folder).mkdir()
    for day in MEETINGS:
        deadline = (date.fromisoformat(day) - timedelta(days=8)).isoformat()
        (instance / "content" / "av" / f"{day}-av.md").write_text(
            AV_TEMPLATE.format(day=day, deadline=deadline), encoding="utf-8"
        )
    lines = ["Voornaam;Achternaam;Aanhef;E-mail;Provincie;Rol;Ingangsdatum"]
    for address, (province, start, role) in JOINERS.items():
        first, last = address.split("@")[0].split(".")
        lines.append(
            f"{first.title()};{last.title()};mevrouw;{address};{province};statenlid, {role};{start}"
        )
    for first, province in (("Bert", "NH"), ("Carla", "ZH"), ("Dirk", "NB"), ("Fenna", "LI")):
        lines.append(
            f"{first};Ervaren;heer;{first.lower()}.ervaren@{province.lower()}.example;{province};"
            "statenlid, av_lid;2023-03-30"
        )
    lines.append("Gea;Griffie;mevrouw;gea.griffie@dr.example;DR;griffiecontactpersoon;2023-03-30")
    (instance / "lijst.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def world(instance: Path) -> tuple[Path, Database]:
    _world(instance)
    settings = load_settings(instance)
    db = store.open_store(settings)
    assert not sync_content(db, settings).errors
    report = import_subscribers(db, settings, instance / "lijst.csv")
    assert not report.rejected, report.rejected
    return instance, db


def sent_steps(db: Database) -> dict[str, dict[str, str]]:
    """Per person: step -> the Amsterdam day its message went (merged steps: with the host)."""
    rows = db.query(
        """
        select s.email, o.step_key, o.status, d.status delivery, d.sent_at
        from onboarding_steps o join subscribers s on s.id = o.subscriber_id
        left join deliveries d on d.mailing_id = o.mailing_id and d.subscriber_id = o.subscriber_id
        where o.status in ('queued', 'merged') order by o.id
        """
    )
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        assert row["delivery"] == "sent", row
        day = clock.parse_instant(row["sent_at"]).astimezone(clock.AMSTERDAM).date()
        label = row["step_key"].removesuffix("-av")  # opfrissing@2026-11-03-av: the AV's day
        merged = "+" if row["status"] == "merged" else ""
        out.setdefault(row["email"], {})[label] = day.isoformat() + merged
    return out


def test_a_replayed_year_sends_each_step_once_on_its_day_and_nothing_stale(world) -> None:
    """Every day from April 2026 to October 2027, at night, early, at 8, 9, 10, 13, 17 and 20
    o'clock, the onboarding job of tick runs (the other jobs are left out to keep the replay
    fast; `tick` runs the same function). The AV of 22 June 2027 moves to 29 June on 27 May
    2027; Ulla unsubscribes on 12 May 2026, after her third step."""
    instance, db = world
    settings = load_settings(instance)
    relay = MemoryTransport()
    day, end = date(2026, 4, 1), date(2027, 10, 31)
    planned: dict[str, dict[str, str]] = {}  # each member's plan as it stood when enrolled

    def plans() -> dict[str, dict[str, str]]:
        calendar = onboarding.load_calendar(db)
        sequence = load_sequence(settings, "av-lid")
        out = {}
        for enrolment in onboarding.enrolments(db, "active"):
            email_ = db.execute(
                "select email from subscribers where id = ?", [enrolment.subscriber_id]
            ).fetchone()[0]
            items = onboarding.member_plan(db, settings, enrolment, sequence, calendar, day)
            out[email_] = {
                p.key.removesuffix("-av"): p.at.date().isoformat()
                for p in items
                if p.at and not p.skip and not p.merged_into
            }
        return out

    while day <= end:
        for hour in (0, 6, 8, 9, 10, 13, 17, 20):
            now = datetime(day.year, day.month, day.day, hour, tzinfo=clock.AMSTERDAM)
            clock.set_now(now)
            if now == datetime(2026, 5, 12, 13, tzinfo=clock.AMSTERDAM):
                person = db.execute(
                    "select id from subscribers where email = 'ulla.afmelder@ut.example'"
                ).fetchone()
                assert unsubscribe(db, person[0], "web", "page")
            if now == datetime(2027, 5, 27, 13, tzinfo=clock.AMSTERDAM):
                moved = instance / "content" / "av" / "2027-06-22-av.md"
                moved.write_text(
                    moved.read_text().replace("date: 2027-06-22", "date: 2027-06-29"),
                    encoding="utf-8",
                )
                assert sync_content(db, settings).updated == 1
                planned["eva.vroeg@gr.example (after the move)"] = plans()["eva.vroeg@gr.example"]
            report = onboarding.run_due(db, settings, now, lambda: relay)
            assert not report.failed, report.summary()
            if report.enrolled:
                planned = plans() | planned
        day += timedelta(days=1)

    sent = sent_steps(db)
    assert sent["ulla.afmelder@ut.example"] == {
        "welkom": "2026-05-04",
        "werkwijze": "2026-05-07",
        "kennismaking": "2026-05-11",
    }
    assert sent["tom.tiendagen@fr.example"] == {
        "welkom": "2026-06-15",  # joined on a Saturday: the Monday
        "vergaderstukken": "2026-06-16",  # less than 21 days before the AV: at once,
        "voorbereiding": "2026-06-16+",  # ... with the preparation in the same message
        "werkwijze": "2026-06-17",
        "kennismaking": "2026-06-22",  # Saturday 20 June: the Monday, the day before the AV
        "terugblik": "2026-06-25",
        "pc-cyclus": "2026-06-30",  # after the AV
        "verdieping": "2026-09-14",
        "opfrissing@2026-11-03": "2026-10-06",
        "opfrissing@2027-02-10": "2027-01-13",
    }
    assert sent["anna.avdag@dr.example"] == {
        "welkom": "2026-11-03",  # joined on an AV day: the programme aims at the next AV
        "werkwijze": "2026-11-06",
        "kennismaking": "2026-11-10",
        "pc-cyclus": "2027-01-13",
        "vergaderstukken": "2027-01-20",
        "voorbereiding": "2027-02-03",
        "verdieping": "2027-02-04",  # 3 February has a step already: one message a day
        "terugblik": "2027-02-12",
    }
    assert sent["kees.kerst@ov.example"] == {
        "welkom": "2026-12-18",
        "werkwijze": "2026-12-23",
        "kennismaking": "2026-12-28",  # 25 December + the weekend: the Monday after
        "pc-cyclus": "2027-01-13",
        "vergaderstukken": "2027-01-20",
        "voorbereiding": "2027-02-03",
        "terugblik": "2027-02-12",
        "verdieping": "2027-03-18",
    }
    assert sent["lisa.laat@fl.example"] == {  # no AV left in her term: a short programme
        "welkom": "2027-02-15",
        "werkwijze": "2027-02-18",
        "kennismaking": "2027-02-22",
    }
    assert sent["eva.vroeg@gr.example"] == {
        "welkom": "2027-04-06",
        "werkwijze": "2027-04-09",
        "kennismaking": "2027-04-13",
        "pc-cyclus": "2027-05-25",  # sent before the AV moved, and not again after
        "vergaderstukken": "2027-06-08",  # the AV moved to 29 June: these moved with it
        "voorbereiding": "2027-06-22",
        "terugblik": "2027-07-01",
        "verdieping": "2027-07-06",
        "opfrissing@2027-11-02": "2027-10-05",
    }
    # The experienced members were never enrolled (their mandates started in 2023).
    assert set(sent) == set(JOINERS)

    # Nothing twice: the relay got one message per decision, each with its own Message-ID,
    # and nothing at night or at the weekend: every message went at 09.00 on a working day.
    messages = [email.message_from_bytes(data, policy=policy.default) for _, data in relay.sent]
    ids = [m["Message-ID"] for m in messages]
    assert (
        len(ids)
        == len(set(ids))
        == sum(1 for steps in sent.values() for v in steps.values() if not v.endswith("+"))
    )
    assert all(m["Auto-Submitted"] == "auto-generated" for m in messages)
    for m in messages:
        moment = m["Date"].datetime.astimezone(clock.AMSTERDAM)
        assert is_working_day(moment.date()) and (moment.hour, moment.minute) == (9, 0), moment
    # What went is what the plan said when they were enrolled (for Eva: after her AV moved).
    for person, steps in sent.items():
        for key, when in steps.items():
            plan_ = planned[person]
            if person == "eva.vroeg@gr.example" and when > "2027-05-27":
                plan_ = planned["eva.vroeg@gr.example (after the move)"]
            if not when.endswith("+"):
                assert plan_[key] == when, (person, key)
    ulla = next(
        r
        for r in onboarding.status_rows(db, settings, clock.now())
        if r["email"] == "ulla.afmelder@ut.example"
    )
    assert (ulla["status"], ulla["stopped_reason"]) == ("stopped", "unsubscribed")
    # After 31 March 2027 the 2023-2027 members' programmes are over: tick leaves them alone.
    ended = {
        r["email"]
        for r in onboarding.status_rows(db, settings, clock.now())
        if r["stopped_reason"] == "term ended on 2027-03-31"
    }
    assert ended == set(JOINERS) - {"ulla.afmelder@ut.example", "eva.vroeg@gr.example"}


def test_the_merged_message_carries_both_steps_and_the_personal_facts(world) -> None:
    instance, db = world
    settings = load_settings(instance)
    factory = transport_factory(settings.transport, settings.project)
    for day in (15, 16):  # Monday: the welcome; Tuesday: the papers with the preparation
        now = datetime(2026, 6, day, 9, 0, tzinfo=clock.AMSTERDAM)
        clock.set_now(now)
        onboarding.run_due(db, settings, now, factory)
    mails = [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in (instance / "outbox").glob("*.eml")
    ]
    [message] = [m for m in mails if "tom.tiendagen" in m["To"] and "stukken" in m["Subject"]]
    text = message.get_body(("plain",)).get_content()
    assert message["Subject"] == "De stukken voor de AV van dinsdag 23 juni 2026 staan klaar"
    assert "== De vergaderstukken ==" in text and "== Voorbereiden in uw eigen Staten ==" in text
    assert "Provinciehuis, Den Haag" in text
    assert "/agenda/2026-06-23-av.ics" in text
    # The question deadline of that AV (Monday 15 June, 12.00) has passed: not offered.
    assert "15 juni" not in text and "Dat kan tot" not in text
    assert "Uw mentor in de AV: " in text and "Ervaren" in text  # from another province
    assert "Uw griffiecontactpersoon" not in text  # Fryslân has none in this list
    html = message.get_body(("html",)).get_content()
    assert '<html lang="nl"' in html


def test_plan_prints_the_dates_and_the_reasons(run, loaded) -> None:
    result = run("onboarding", "plan", "--joined", "2026-10-20")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Inwerkprogramma voor nieuwe AV-leden: joined dinsdag 20 oktober 2026"
    assert any(
        line.startswith("woensdag 21 oktober 2026 9.00 uur") and "5. De vergaderstukken" in line
        for line in lines
    )
    assert "appointed less than 21 days before the AV" in result.output
    data = json.loads(run("onboarding", "plan", "--joined", "2026-12-18", "--json").output)
    by_step = {row["step"]: row for row in data}
    assert by_step["kennismaking"]["at"] == "2026-12-28T09:00:00+01:00"
    assert "25 december 2026 is Eerste kerstdag" in by_step["kennismaking"]["reason"]
    assert by_step["verdieping"]["date_nl"] == "donderdag 18 maart 2027"


def test_a_late_import_skips_what_passed_and_merges_what_fell_behind(loaded, settings) -> None:
    """The demo: Hans de Boer (Utrecht, appointed 20 October) is imported on 1 December: the
    welcome and the two introductions still matter and go as one message; his steps about
    the AV of 3 November are out of date and skipped, never sent."""
    now = datetime(2026, 12, 1, 9, 5, tzinfo=clock.AMSTERDAM)
    clock.set_now(now)
    relay = MemoryTransport()
    report = onboarding.run_due(loaded, settings, now, lambda: relay)
    assert report.enrolled == 2 and not report.failed
    rows = {r["email"]: r for r in onboarding.status_rows(loaded, settings, now)}
    hans = rows["hans.deboer@ut.example"]
    assert (hans["done"], hans["next_step"]) == (3, "verdieping")
    skipped = {
        r["step_key"]
        for r in loaded.query(
            "select step_key from onboarding_steps o join subscribers s on s.id = o.subscriber_id "
            "where s.email = 'hans.deboer@ut.example' and o.status = 'skipped'"
        )
    }
    assert skipped == {"vergaderstukken", "voorbereiding", "terugblik", "pc-cyclus"}
    [mail] = [
        email.message_from_bytes(data, policy=policy.default)
        for envelope, data in relay.sent
        if envelope.recipient == "hans.deboer@ut.example"
    ]
    text = mail.get_body(("plain",)).get_content()
    assert mail["Subject"] == "Welkom in de Algemene Vergadering van het IPO"
    assert "== Zo werkt het IPO ==" in text and "== Kennismaking en uw mentor ==" in text
    assert "3 november 2026" not in text  # the meeting that has been is not offered
    assert "De volgende AV: Algemene Vergadering, woensdag 10 februari 2027" in text
    zoe = rows["zoe.mulder@nb.example"]  # appointed 26 November: the welcome goes now
    assert zoe["done"] == 1 and zoe["next_step"] == "werkwijze"


def test_enrol_by_hand_and_again_changes_nothing(run, loaded) -> None:
    first = run("onboarding", "enroll", "kees.sanders@gld.example", "--start", "2026-11-30")
    assert first.exit_code == 0, first.output
    assert first.output.startswith("Enrolled kees.sanders@gld.example in av-lid from 30 november")
    again = run("onboarding", "enroll", "kees.sanders@gld.example", "--start", "2026-11-30")
    assert again.output.startswith("Already enrolled:")
    status = run("onboarding", "status")
    assert "kees.sanders@gld.example" in status.output
    unknown = run("onboarding", "enroll", "niemand@gld.example")
    assert unknown.exit_code == 2
    assert "niemand@gld.example: not a subscriber" in unknown.output


def test_preview_renders_one_step_for_one_member(run, loaded, instance) -> None:
    result = run("onboarding", "preview", "kennismaking", "--for", "hans.deboer@ut.example")
    assert result.exit_code == 0, result.output
    assert "Subject: " in result.output
    html = (instance / "build" / "onboarding" / "preview-kennismaking.html").read_text()
    assert "Marieke Verhoef" in html  # [onboarding] secretary
    bad = run("onboarding", "preview", "nope", "--for", "hans.deboer@ut.example")
    assert bad.exit_code == 2 and "there is no step 'nope'" in bad.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("at: start + 3 working days", "at: begin + 3 working days"), "unknown anchor 'begin'"),
        (("at: start + 7 days", "at: start + 7"), "an offset needs a unit"),
        (
            ("at: start + 7 days", "at: pc-cyclus + 2 days"),
            "step 3 (kennismaking): its moment depends on itself",
        ),
        (("every: av_meeting", "every: month"), "every: 'month' is not known"),
    ],
)
def test_a_broken_sequence_is_refused_naming_file_and_step(
    run, loaded, instance, change, message
) -> None:
    path = instance / "content" / "onboarding" / "av-lid.yaml"
    text = path.read_text()
    if "pc-cyclus + 2 days" in change[1]:  # a cycle: pc-cyclus waits for kennismaking
        text = text.replace("at: max(start + 14 days, av - 28 days)", "at: kennismaking + 1 day")
    path.write_text(text.replace(*change, 1))
    before = loaded.table("onboarding_enrolments").count
    result = run("onboarding", "enroll", "kees.sanders@gld.example")
    assert result.exit_code == 2
    assert result.output.startswith("Error: content/onboarding/av-lid.yaml: ")
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert loaded.table("onboarding_enrolments").count == before  # nothing half-updated


def test_a_step_file_without_subject_is_refused(settings, instance) -> None:
    step = instance / "content" / "onboarding" / "av-lid" / "03-kennismaking.md"
    step.write_text(step.read_text().replace("subject:", "onderwerp:", 1))
    with pytest.raises(SequenceError) as caught:
        load_sequence(settings, "av-lid")
    assert "step 3 (kennismaking)" in str(caught.value)
    assert "'subject' is missing" in str(caught.value)


def test_a_mandate_that_ends_stops_the_programme_and_reappointment_continues(
    world,
) -> None:
    instance, db = world
    settings = load_settings(instance)
    factory = transport_factory("memory:", settings.project)
    eva = "eva.vroeg@gr.example"
    monday = datetime(2027, 4, 6, 9, tzinfo=clock.AMSTERDAM)
    clock.set_now(monday)
    onboarding.run_due(db, settings, monday, factory)
    person_id = db.execute("select id from subscribers where email = ?", [eva]).fetchone()[0]
    db.execute(
        "update mandates set ends_on = '2027-04-07' where subscriber_id = ? and role = 'av_lid'",
        [person_id],
    )
    later = datetime(2027, 4, 9, 9, tzinfo=clock.AMSTERDAM)
    clock.set_now(later)
    report = onboarding.run_due(db, settings, later, factory)
    assert report.stopped == ["mandate ended on 2027-04-07"]
    # Re-appointed a month later: the programme continues; the welcome does not come again.
    db.table("mandates").insert(
        {
            "subscriber_id": person_id,
            "role": "av_lid",
            "province": "GR",
            "starts_on": "2027-05-10",
            "source": "test",
        }
    )
    for day in (10, 13):  # the new T0, and three working days later
        back = datetime(2027, 5, day, 9, tzinfo=clock.AMSTERDAM)
        clock.set_now(back)
        onboarding.run_due(db, settings, back, factory)
    keys = [
        r["step_key"]
        for r in db.query(
            "select step_key from onboarding_steps where subscriber_id = ? and status = 'queued'",
            [person_id],
        )
    ]
    assert keys.count("welkom") == 1 and "werkwijze" in keys


def test_a_relay_outage_never_sends_a_step_late_or_in_a_burst(world) -> None:
    """Tom joins ten days before the AV of 23 June; the relay refuses (451) from 16 to 23
    June, and retries go on for ten days. The papers for the meeting are never sent after
    it began; when the relay is back he gets one message a day, what fell behind together."""
    instance, db = world
    config = instance / "newsletter.toml"
    config.write_text(
        config.read_text().replace("[delivery]\n", "[delivery]\nretry_window_hours = 240\n")
    )
    settings = load_settings(instance)
    tom = "tom.tiendagen@fr.example"
    down = MemoryTransport(fail_for={tom: "451 4.3.0 Try again later"})
    up = MemoryTransport()
    day = date(2026, 6, 13)
    while day <= date(2026, 7, 3):
        for hour in (9, 13, 17):
            now = datetime(day.year, day.month, day.day, hour, tzinfo=clock.AMSTERDAM)
            clock.set_now(now)
            relay = down if date(2026, 6, 16) <= day <= date(2026, 6, 23) else up
            onboarding.run_due(db, settings, now, lambda relay=relay: relay)
        day += timedelta(days=1)
    got = [
        (m["Date"].datetime.astimezone(clock.AMSTERDAM).date().isoformat(), m["Subject"])
        for m in (email.message_from_bytes(d, policy=policy.default) for e, d in up.sent)
        if tom in m["To"]
    ]
    assert got == [
        ("2026-06-15", "Welkom in de Algemene Vergadering van het IPO"),
        ("2026-06-24", "Zo werkt het IPO: bestuur, BAC's, BIJ12 en de AV"),  # + kennismaking
        ("2026-06-25", "Hoe was uw eerste AV? Drie korte vragen"),
        ("2026-06-30", "De P&C-cyclus: hoe het IPO begroot en verantwoordt"),
    ]
    decisions = {
        r["step_key"]: (r["status"], r["reason"])
        for r in db.query(
            "select step_key, o.status, o.reason from onboarding_steps o join subscribers s on "
            "s.id = o.subscriber_id where s.email = ?",
            [tom],
        )
    }
    assert decisions["vergaderstukken"] == (
        "skipped",
        "not sent: out of date before it could be delivered",
    )
    assert decisions["voorbereiding"][0] == "skipped"  # it was to go inside the papers' message
    assert decisions["kennismaking"][0] == "merged"


def test_a_paused_reader_gets_the_steps_when_back_unless_they_are_stale(world) -> None:
    instance, db = world
    settings = load_settings(instance)
    relay = MemoryTransport()
    anna = db.execute("select id from subscribers where email = 'anna.avdag@dr.example'").fetchone()
    db.execute("update subscribers set status = 'paused' where id = ?", [anna[0]])
    for day in (3, 6, 10, 11):  # the days of her first three steps, November 2026
        now = datetime(2026, 11, day, 9, tzinfo=clock.AMSTERDAM)
        clock.set_now(now)
        if day == 10:  # back from a pause
            db.execute("update subscribers set status = 'active' where id = ?", [anna[0]])
        onboarding.run_due(db, settings, now, lambda: relay)
    subjects = [
        email.message_from_bytes(d, policy=policy.default)["Subject"] for _, d in relay.sent
    ]
    # The 10th: the welcome with werkwijze (both fell behind); the 11th: kennismaking.
    assert subjects == [
        "Welkom in de Algemene Vergadering van het IPO",
        "Graag maken wij kennis: een gesprek en een vaste mentor",
    ]
    rows = {r["email"]: r for r in onboarding.status_rows(db, settings, clock.now())}
    assert rows["anna.avdag@dr.example"]["done"] == 3


def test_a_placeholder_that_cannot_be_filled_is_refused_when_the_sequence_loads(
    settings, instance
) -> None:
    step = instance / "content" / "onboarding" / "av-lid" / "03-kennismaking.md"
    step.write_text(step.read_text() + "\nTot {{ av.datumm }}!\n")
    with pytest.raises(SequenceError) as caught:
        load_sequence(settings, "av-lid")
    assert "step 3 (kennismaking)" in str(caught.value)
    assert "datumm" in str(caught.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("after: verdieping", "after: [verdieping]"), "after: '['verdieping']' is not the id"),
        (("at: start + 3 months", "at: start + 9999 months"), "more than a term"),
        (
            ("file: av-lid/01-welkom.md", "file: ../../newsletter.toml"),
            "outside content/onboarding",
        ),
        (
            ("voorbereiding: { merge_into: vergaderstukken }", "voorbereiding: { skip: ja }"),
            "skip: write true or false",
        ),
    ],
)
def test_more_broken_sequences_are_one_clear_line(settings, instance, change, message) -> None:
    path = instance / "content" / "onboarding" / "av-lid.yaml"
    text = path.read_text()
    assert change[0] in text
    path.write_text(text.replace(*change, 1))
    with pytest.raises(SequenceError) as caught:
        load_sequence(settings, "av-lid")
    assert message in str(caught.value)


def test_the_readme_shows_the_plan_as_it_is(run, loaded) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    shown = readme.split("$ newsletter onboarding plan --joined 2026-10-20\n", 1)[1]
    shown = shown.split("```", 1)[0]
    assert run("onboarding", "plan", "--joined", "2026-10-20").output == shown


def test_dates_outside_any_term_are_refused(run, loaded) -> None:
    far = run("onboarding", "enroll", "zoe.mulder@nb.example", "--start", "9999-12-31")
    assert far.exit_code == 2 and "is not a day of a Statenperiode" in far.output
    assert loaded.table("onboarding_enrolments").count == 0
    backwards = run("onboarding", "plan", "--joined", "2026-10-20", "--until", "2026-01-01")
    assert backwards.exit_code == 2 and "--until is before --joined" in backwards.output


def test_show_lists_the_programme_and_forget_erases_it_and_the_person_as_buddy(
    run, loaded, settings
) -> None:
    now = datetime(2026, 12, 1, 9, 5, tzinfo=clock.AMSTERDAM)
    clock.set_now(now)
    onboarding.run_due(loaded, settings, now, lambda: MemoryTransport())
    hans = "hans.deboer@ut.example"
    [row] = loaded.query(
        "select e.subscriber_id, e.buddy_id, b.email buddy from onboarding_enrolments e "
        "join subscribers s on s.id = e.subscriber_id join subscribers b on b.id = e.buddy_id "
        "where s.email = ?",
        [hans],
    )
    held = privacy.person_record(loaded, settings, hans)
    assert held is not None
    by_step = {r["step_key"]: r for r in held["onboarding"]}
    assert by_step["welkom"]["step_status"] == "queued"
    assert by_step["vergaderstukken"]["step_status"] == "skipped"
    assert {(r["sequence"], r["starts_on"]) for r in held["onboarding"]} == {
        ("av-lid", "2026-10-20")
    }

    assert run("subscribers", "forget", row["buddy"], "--yes").exit_code == 0
    buddy = loaded.execute(
        "select buddy_id from onboarding_enrolments where subscriber_id = ?",
        [row["subscriber_id"]],
    ).fetchone()
    assert buddy == (None,)  # Hans keeps his programme, without the forgotten buddy

    result = run("subscribers", "forget", hans, "--yes")
    assert result.exit_code == 0, result.output
    assert f"onboarding {len(held['onboarding']) + 1}" in result.stdout  # steps + enrolment
    for table in ("onboarding_enrolments", "onboarding_steps"):
        assert loaded.table(table).count_where("subscriber_id = ?", [row["subscriber_id"]]) == 0
