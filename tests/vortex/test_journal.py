"""The action journal: once per id, across a reopen of its file."""

from __future__ import annotations

from peek.vortex.journal import ClaimState, MemoryActionJournal, SqliteActionJournal


async def test_an_answered_id_gets_its_stored_reply_after_a_reopen(tmp_path):
    journal = SqliteActionJournal(tmp_path / "j.sqlite3")
    await journal.open()
    assert (await journal.claim("a1", "fp")).state is ClaimState.NEW
    await journal.complete("a1", b"the reply")
    await journal.close()

    reopened = SqliteActionJournal(tmp_path / "j.sqlite3")
    await reopened.open()
    try:
        claim = await reopened.claim("a1", "fp")
        assert claim.state is ClaimState.DONE and claim.reply == b"the reply"
    finally:
        await reopened.close()


async def test_an_id_claimed_by_a_process_that_died_is_indeterminate(tmp_path):
    journal = SqliteActionJournal(tmp_path / "j.sqlite3")
    await journal.open()
    await journal.claim("a1", "fp")
    await journal.close()  # as a kill would: claimed, never completed

    reopened = SqliteActionJournal(tmp_path / "j.sqlite3")
    await reopened.open()
    try:
        assert (await reopened.claim("a1", "fp")).state is ClaimState.INDETERMINATE
    finally:
        await reopened.close()


async def test_an_id_used_for_another_action_is_a_conflict(tmp_path):
    journal = SqliteActionJournal(tmp_path / "j.sqlite3")
    await journal.open()
    try:
        await journal.claim("a1", "fp-one")
        await journal.complete("a1", b"r")
        assert (await journal.claim("a1", "fp-two")).state is ClaimState.CONFLICT
    finally:
        await journal.close()


async def test_answers_older_than_the_retention_are_forgotten_on_open(tmp_path):
    journal = SqliteActionJournal(tmp_path / "j.sqlite3")
    await journal.open()
    await journal.claim("old", "fp")
    await journal.complete("old", b"r")
    await journal.close()
    expired = SqliteActionJournal(tmp_path / "j.sqlite3", retention=-1)
    await expired.open()
    try:
        assert (await expired.claim("old", "fp")).state is ClaimState.NEW
    finally:
        await expired.close()


async def test_the_memory_journal_keeps_the_same_rules():
    journal = MemoryActionJournal()
    assert (await journal.claim("a", "f")).state is ClaimState.NEW
    assert (await journal.claim("a", "f")).state is ClaimState.INDETERMINATE
    await journal.complete("a", b"r")
    assert (await journal.claim("a", "f")).reply == b"r"
    assert (await journal.claim("a", "g")).state is ClaimState.CONFLICT
