"""The action journal: once per id, across a reopen of its log and a kill -9 of its process."""

from __future__ import annotations

import asyncio
import logging
import sys
import textwrap
import tracemalloc

from peek.vortex.journal import ClaimState, FileActionJournal, MemoryActionJournal

from .conftest import wait_for

# Fingerprints are 64-bit digests: these use every bit, the top one included.
FP = 0xFEDC_BA98_7654_3210
OTHER_FP = 0x8000_0000_0000_0001


async def opened(directory, **options) -> FileActionJournal:
    journal = FileActionJournal(directory, **options)
    await journal.open()
    return journal


async def test_an_answered_id_gets_its_stored_reply_after_a_reopen(tmp_path):
    journal = await opened(tmp_path / "j")
    assert (await journal.claim("a1", FP)).state is ClaimState.NEW
    await journal.complete("a1", b"the reply")
    await journal.close()

    reopened = await opened(tmp_path / "j")
    try:
        claim = await reopened.claim("a1", FP)
        assert claim.state is ClaimState.DONE and claim.reply == b"the reply"
    finally:
        await reopened.close()


async def test_another_action_under_an_answered_id_is_a_conflict_after_a_reopen(tmp_path):
    journal = await opened(tmp_path / "j")
    await journal.claim("a1", FP)
    await journal.complete("a1", b"r")
    await journal.close()

    reopened = await opened(tmp_path / "j")
    try:
        assert (await reopened.claim("a1", OTHER_FP)).state is ClaimState.CONFLICT
    finally:
        await reopened.close()


async def test_the_index_keeps_under_200_bytes_per_answered_id_with_the_id(tmp_path):
    # A week of ids stays in memory; the answers stay on disk. 2000 ids of
    # 32 characters (as browsers make them), each claimed and answered.
    journal = await opened(tmp_path / "j", sync_interval=0)
    count = 2000
    try:
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for i in range(count):
                action_id = f"{i:032x}"
                await journal.claim(action_id, FP - i)
                await journal.complete(action_id, b"a reply frame " * 20)
            per_id = (tracemalloc.get_traced_memory()[0] - before) / count
        finally:
            tracemalloc.stop()
        assert per_id < 200
        answer = await journal.claim(f"{count - 1:032x}", FP - (count - 1))
        assert answer.reply == b"a reply frame " * 20
    finally:
        await journal.close()


async def test_an_id_claimed_by_a_process_that_died_is_indeterminate(tmp_path):
    journal = await opened(tmp_path / "j")
    await journal.claim("a1", 1)
    await journal.close()  # as a kill would: claimed, never completed

    reopened = await opened(tmp_path / "j")
    try:
        assert (await reopened.claim("a1", 1)).state is ClaimState.INDETERMINATE
    finally:
        await reopened.close()


async def test_an_id_used_for_another_action_is_a_conflict(tmp_path):
    journal = await opened(tmp_path / "j")
    try:
        await journal.claim("a1", FP)
        await journal.complete("a1", b"r")
        assert (await journal.claim("a1", OTHER_FP)).state is ClaimState.CONFLICT
    finally:
        await journal.close()


async def test_answers_older_than_the_retention_are_forgotten_on_open(tmp_path):
    journal = await opened(tmp_path / "j")
    await journal.claim("old", 1)
    await journal.complete("old", b"r")
    await journal.close()
    expired = await opened(tmp_path / "j", retention=-1)
    try:
        assert (await expired.claim("old", 1)).state is ClaimState.NEW
    finally:
        await expired.close()


async def test_records_written_before_a_kill_9_survive_it_without_any_fsync(tmp_path, caplog):
    # The child claims and answers, then SIGKILLs itself at once: no close,
    # no fsync (sync_interval=0). The page cache holds the records.
    child = textwrap.dedent(
        f"""
        import asyncio, os, signal
        from pathlib import Path
        from peek.vortex.journal import FileActionJournal

        async def main():
            journal = FileActionJournal(Path({str(tmp_path / "j")!r}), sync_interval=0)
            await journal.open()
            await journal.claim("answered", 1)
            await journal.complete("answered", b"stored reply")
            await journal.claim("cut-off", 1)
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", child)
    assert await proc.wait() == -9

    # The killed process's segment still has its reserved, unused room: not a torn record.
    caplog.set_level(logging.WARNING, logger="peek.vortex.journal")
    journal = await opened(tmp_path / "j")
    assert "torn" not in caplog.text
    try:
        answered = await journal.claim("answered", 1)
        assert answered.state is ClaimState.DONE and answered.reply == b"stored reply"
        assert (await journal.claim("cut-off", 1)).state is ClaimState.INDETERMINATE
    finally:
        await journal.close()


async def test_a_closed_segment_keeps_only_the_room_its_records_use(tmp_path):
    # Room for records is reserved when a segment is made, and given back on close.
    journal = await opened(tmp_path / "j", segment_bytes=1 << 20)
    await journal.claim("a1", FP)
    await journal.complete("a1", b"r")
    (segment,) = journal.segments
    await journal.close()
    size = (tmp_path / "j" / f"{segment:08d}.log").stat().st_size
    assert 0 < size < 200


async def test_a_record_torn_at_the_end_of_a_segment_is_ignored_and_earlier_ones_kept(tmp_path):
    journal = await opened(tmp_path / "j", sync_interval=0)
    await journal.claim("kept", 1)
    await journal.complete("kept", b"r")
    await journal.claim("torn", 1)
    (segment,) = journal.segments
    await journal.close()
    path = tmp_path / "j" / f"{segment:08d}.log"
    data = await asyncio.to_thread(path.read_bytes)
    await asyncio.to_thread(path.write_bytes, data[:-3])  # a crash in the middle of a write

    reopened = await opened(tmp_path / "j")
    try:
        kept = await reopened.claim("kept", 1)
        assert kept.state is ClaimState.DONE and kept.reply == b"r"
        assert (await reopened.claim("torn", 1)).state is ClaimState.NEW
    finally:
        await reopened.close()


async def test_a_full_segment_is_followed_by_a_new_one_and_its_answers_stay_readable(tmp_path):
    journal = await opened(tmp_path / "j", segment_bytes=200, sync_interval=0)
    try:
        await journal.claim("first", 1)
        await journal.complete("first", b"x" * 300)
        await wait_for(lambda: len(journal.segments) == 2)  # rotated in the background
        first = await journal.claim("first", 1)
        assert first.state is ClaimState.DONE and first.reply == b"x" * 300
    finally:
        await journal.close()


async def test_segments_whose_records_all_expired_are_deleted(tmp_path):
    now = [1000.0]
    journal = await opened(tmp_path / "j", retention=10, clock=lambda: now[0])
    await journal.claim("old", 1)
    await journal.complete("old", b"r")
    (old_segment,) = journal.segments
    await journal.close()
    now[0] += 60
    reopened = await opened(tmp_path / "j", retention=10, clock=lambda: now[0])
    try:
        assert old_segment not in reopened.segments
        assert not (tmp_path / "j" / f"{old_segment:08d}.log").exists()
    finally:
        await reopened.close()


async def test_the_memory_journal_keeps_the_same_rules():
    journal = MemoryActionJournal()
    assert (await journal.claim("a", 1)).state is ClaimState.NEW
    assert (await journal.claim("a", 1)).state is ClaimState.INDETERMINATE
    await journal.complete("a", b"r")
    assert (await journal.claim("a", 1)).reply == b"r"
    assert (await journal.claim("a", 2)).state is ClaimState.CONFLICT
