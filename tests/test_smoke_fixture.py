from newsletter.subscribers import active_recipients


def test_demo_lists_hold_every_statenlid_and_the_other_roles(loaded):
    people = list(active_recipients(loaded))
    statenleden = loaded.table("mandates").count_where("role = 'statenlid'")
    assert statenleden == 572
    assert len(people) == 572 + 12 * 4 + 6
