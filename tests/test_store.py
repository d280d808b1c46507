"""The store: migrations, WAL, and durability as configured."""

from __future__ import annotations

from dataclasses import replace

from newsletter import store


def test_a_new_store_is_migrated_wal_and_fsyncs_every_commit(settings) -> None:
    db = store.open_store(settings)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    applied = [m.name for m in store.migrations.applied(db)]
    assert applied == [m.name for m in store.migrations._migrations]
    assert {"items", "subscribers", "mandates", "deliveries", "mailings", "bounces"} <= set(
        db.table_names()
    )


def test_opening_again_applies_nothing_twice(settings) -> None:
    store.open_store(settings)
    db = store.open_store(settings)
    assert db.table("_sqlite_migrations").count == len(store.migrations._migrations)


def test_durability_crash_trades_power_loss_safety_for_speed(settings) -> None:
    fast = replace(settings, delivery=replace(settings.delivery, durability="crash"))
    assert store.open_store(fast).execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
