from datetime import date

from newsletter.people.segments import parse_segment, recipients


def test_demo_lists_hold_every_statenlid_and_the_other_roles(loaded, settings):
    people = list(recipients(loaded, parse_segment("all", settings), date(2026, 12, 1)))
    statenleden = loaded.table("mandates").count_where("role = 'statenlid'")
    assert statenleden == 572
    assert len(people) == 572 + 12 * 4 + 6
