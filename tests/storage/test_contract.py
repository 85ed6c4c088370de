"""The store contract: what every store does the same (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
import time

from bot.ports.backend import BackendSession
from bot.ports.chat import ChatKey
from bot.ports.store import ChatSettings, ClipRecord, Identity, NewRequest, RenderJob, Store

CHAT = ChatKey("telegram", "-100123")
OTHER = ChatKey("discord", "42")
THIRD = ChatKey("telegram", "77")


def new(chat: ChatKey, text: str, **payload: object) -> NewRequest:
    return NewRequest(chat, "u1", text, {"text": text, **payload})


async def test_chat_settings_none_then_upsert(any_store: Store) -> None:
    assert await any_store.get_chat_settings(CHAT) is None
    await any_store.set_chat_settings(CHAT, ChatSettings(language="en"))
    await any_store.set_chat_settings(CHAT, ChatSettings(language="zh"))
    assert await any_store.get_chat_settings(CHAT) == ChatSettings(language="zh")
    assert await any_store.get_chat_settings(OTHER) is None


async def test_sessions_per_chat_and_backend(any_store: Store) -> None:
    session = BackendSession("123456789012", {"task_id": "t1", "user_id": "anon_x"})
    await any_store.save_session(CHAT, "nemo", session)
    assert await any_store.get_session(CHAT, "nemo") == session
    assert await any_store.get_session(CHAT, "local") is None
    assert await any_store.get_session(OTHER, "nemo") is None
    await any_store.save_session(CHAT, "nemo", BackendSession("999"))
    assert await any_store.get_session(CHAT, "nemo") == BackendSession("999")
    assert await any_store.stale_sessions("nemo", time.time() + 1) == [
        (CHAT, BackendSession("999"))
    ]
    assert await any_store.stale_sessions("nemo", time.time() - 60) == []
    await any_store.delete_session(CHAT, "nemo")
    assert await any_store.get_session(CHAT, "nemo") is None


async def test_identity_upsert(any_store: Store) -> None:
    assert await any_store.get_identity("nemo") is None
    await any_store.save_identity("nemo", Identity("client", None))
    await any_store.save_identity("nemo", Identity("client", "nmv_usr_new"))
    assert await any_store.get_identity("nemo") == Identity("client", "nmv_usr_new")


async def test_a_request_is_stored_with_its_payload(any_store: Store) -> None:
    text = "title 'Robert'); DROP TABLE requests;--"
    first = await any_store.add_request(new(CHAT, text, attachments=[{"ref": "f1"}], n=3))
    second = await any_store.add_request(new(CHAT, "slower"))
    assert second > first
    stored = await any_store.get_request(first)
    assert stored is not None
    assert (stored.chat, stored.text, stored.state, stored.step) == (CHAT, text, "queued", "start")
    assert stored.payload == {"text": text, "attachments": [{"ref": "f1"}], "n": 3}
    assert stored.attempts == 0
    assert await any_store.unfinished_requests(CHAT) == 2
    assert await any_store.get_request(999_999) is None


async def test_claims_take_one_request_per_chat_oldest_first(any_store: Store) -> None:
    a1 = await any_store.add_request(new(CHAT, "a1"))
    a2 = await any_store.add_request(new(CHAT, "a2"))
    b1 = await any_store.add_request(new(OTHER, "b1"))
    c1 = await any_store.add_request(new(THIRD, "c1"))
    claimed = await any_store.claim_requests("w1", ["telegram", "discord"], 10, 30)
    assert [r.id for r in claimed] == [a1, b1, c1]
    assert all(r.state == "running" and r.attempts == 1 for r in claimed)
    # The chat's second waits for its first; nothing else is free.
    assert await any_store.claim_requests("w2", ["telegram", "discord"], 10, 30) == []
    assert await any_store.finish_request(a1, "w1", "done")
    [next_one] = await any_store.claim_requests("w2", ["telegram", "discord"], 10, 30)
    assert next_one.id == a2


async def test_claims_respect_the_platforms_and_the_limit(any_store: Store) -> None:
    await any_store.add_request(new(CHAT, "a1"))
    b1 = await any_store.add_request(new(OTHER, "b1"))
    c1 = await any_store.add_request(new(THIRD, "c1"))
    assert [r.id for r in await any_store.claim_requests("w", ["discord"], 10, 30)] == [b1]
    [one] = await any_store.claim_requests("w", ["telegram"], 1, 30)
    assert one.id != c1  # the oldest first
    assert [r.id for r in await any_store.claim_requests("w", ["telegram"], 1, 30)] == [c1]


async def test_an_expired_lease_is_claimed_again_and_the_old_owner_is_fenced(
    any_store: Store,
) -> None:
    a1 = await any_store.add_request(new(CHAT, "a1"))
    [_first] = await any_store.claim_requests("dead", ["telegram"], 10, 0.05)
    assert await any_store.checkpoint_request(a1, "dead", "instructing", {"before": {"m": 1}})
    assert await any_store.claim_requests("w2", ["telegram"], 10, 30) == []  # still leased
    await asyncio.sleep(0.1)
    [again] = await any_store.claim_requests("w2", ["telegram"], 10, 30)
    assert (again.id, again.attempts, again.step) == (a1, 2, "instructing")
    assert again.checkpoint == {"before": {"m": 1}}
    # The first owner, late, can neither record progress nor finish it.
    assert not await any_store.checkpoint_request(a1, "dead", "exporting", {})
    assert not await any_store.finish_request(a1, "dead", "done")
    assert await any_store.finish_request(a1, "w2", "done", None)
    finished = await any_store.get_request(a1)
    assert finished is not None
    assert (finished.state, finished.step) == ("done", "instructing")
    assert await any_store.unfinished_requests(CHAT) == 0


async def test_leases_are_renewed_only_for_their_owner(any_store: Store) -> None:
    a1 = await any_store.add_request(new(CHAT, "a1"))
    b1 = await any_store.add_request(new(OTHER, "b1"))
    await any_store.claim_requests("w1", ["telegram"], 10, 0.05)
    await any_store.claim_requests("w2", ["discord"], 10, 0.05)
    assert await any_store.renew_leases("w1", [a1, b1], 30) == {a1}
    await asyncio.sleep(0.1)
    # a1's lease was renewed; b1's ran out.
    assert [
        r.id for r in await any_store.claim_requests("w3", ["telegram", "discord"], 10, 30)
    ] == [b1]


async def test_released_requests_are_claimed_at_once_where_they_got_to(any_store: Store) -> None:
    a1 = await any_store.add_request(new(CHAT, "a1"))
    await any_store.claim_requests("w1", ["telegram"], 10, 300)
    assert await any_store.checkpoint_request(a1, "w1", "exporting", {"render": "r1"})
    assert await any_store.release_requests("w1") == 1
    [again] = await any_store.claim_requests("w2", ["telegram"], 10, 300)
    assert (again.step, again.checkpoint, again.attempts) == ("exporting", {"render": "r1"}, 2)


async def test_claims_count_again_from_each_new_step(any_store: Store) -> None:
    a1 = await any_store.add_request(new(CHAT, "a1"))
    for expected in (1, 2, 3):
        [claimed] = await any_store.claim_requests("w", ["telegram"], 10, 300)
        assert claimed.attempts == expected  # killed at its start each time
        assert await any_store.release_requests("w") == 1
    await any_store.claim_requests("w", ["telegram"], 10, 300)
    assert await any_store.checkpoint_request(a1, "w", "instructing", {})
    assert await any_store.checkpoint_request(a1, "w", "instructing", {"x": 1})  # same step
    assert await any_store.release_requests("w") == 1
    [claimed] = await any_store.claim_requests("w", ["telegram"], 10, 300)
    # Past its step: one claim since (it is a resume, not its first run of the step).
    assert (claimed.step, claimed.attempts) == ("instructing", 2)


async def test_claims_racing_never_take_a_request_twice(any_store: Store) -> None:
    for i in range(30):
        await any_store.add_request(new(ChatKey("telegram", str(i % 10)), f"r{i}"))
    batches = await asyncio.gather(
        *(any_store.claim_requests(f"w{i}", ["telegram"], 3, 30) for i in range(8))
    )
    claimed = [r.id for batch in batches for r in batch]
    assert len(claimed) == len(set(claimed)) == 10  # one per chat, each once


async def test_a_waiting_worker_wakes_on_new_work(any_store: Store) -> None:
    waiter = asyncio.create_task(any_store.wait_for_work(10))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await any_store.add_request(new(CHAT, "wake up"))
    await asyncio.wait_for(waiter, 2)


async def test_jobs_keep_their_url_once_known(any_store: Store) -> None:
    await any_store.save_job(RenderJob("render_1", CHAT, "nemo", "submitted"))
    await any_store.save_job(RenderJob("render_1", CHAT, "nemo", "completed", 100.0, "http://x"))
    await any_store.save_job(RenderJob("render_1", CHAT, "nemo", "completed", 100.0, None))
    assert await any_store.get_job("render_1") == RenderJob(
        "render_1", CHAT, "nemo", "completed", 100.0, "http://x"
    )
    assert await any_store.get_job("render_2") is None


async def test_mark_update_once_even_when_racing(any_store: Store) -> None:
    results = await asyncio.gather(*(any_store.mark_update("discord", "7") for _ in range(20)))
    assert sorted(results) == [False] * 19 + [True]
    assert await any_store.mark_update("telegram", "7")  # another platform's id space


async def test_the_inbox_keeps_an_update_until_it_is_handled(any_store: Store) -> None:
    assert await any_store.receive_update("telegram", "5", '{"update_id": 5}')
    assert not await any_store.receive_update("telegram", "5", '{"update_id": 5}')
    assert await any_store.receive_update("telegram", "6", '{"update_id": 6}')
    assert await any_store.unhandled_updates("telegram") == [
        ("5", '{"update_id": 5}'),
        ("6", '{"update_id": 6}'),
    ]
    await any_store.update_handled("telegram", "5")
    assert await any_store.unhandled_updates("telegram") == [("6", '{"update_id": 6}')]
    assert not await any_store.receive_update("telegram", "5", "{}")  # never again
    assert await any_store.unhandled_updates("discord") == []


async def test_prune_forgets_what_ended_long_ago(any_store: Store) -> None:
    old = await any_store.add_request(new(CHAT, "old"))
    await any_store.claim_requests("w", ["telegram"], 10, 30)
    await any_store.finish_request(old, "w", "done")
    await any_store.save_job(RenderJob("j", CHAT, "local", "completed"))
    await any_store.mark_update("telegram", "1")
    await any_store.receive_update("telegram", "2", "{}")
    await any_store.update_handled("telegram", "2")
    await asyncio.sleep(0.01)
    cutoff = time.time()
    fresh = await any_store.add_request(new(OTHER, "fresh"))
    counts = await any_store.prune(cutoff)
    assert counts == {"requests": 1, "jobs": 1, "updates": 1, "inbox": 1}
    assert await any_store.get_request(old) is None
    assert await any_store.get_request(fresh) is not None
    assert await any_store.get_job("j") is None
    assert await any_store.mark_update("telegram", "1")  # forgotten


async def test_a_lock_has_one_holder_until_it_expires_or_is_let_go(any_store: Store) -> None:
    assert await any_store.hold_lock("telegram-poller", "a", 0.2)
    assert not await any_store.hold_lock("telegram-poller", "b", 30)
    assert await any_store.hold_lock("telegram-poller", "a", 0.2)  # renewed
    assert await any_store.hold_lock("other", "b", 30)  # another name
    await asyncio.sleep(0.3)
    assert await any_store.hold_lock("telegram-poller", "b", 30)  # a died: b takes over
    assert not await any_store.hold_lock("telegram-poller", "a", 30)
    await any_store.release_lock("telegram-poller", "a")  # not a's: nothing happens
    assert not await any_store.hold_lock("telegram-poller", "c", 30)
    await any_store.release_lock("telegram-poller", "b")
    assert await any_store.hold_lock("telegram-poller", "c", 30)


async def test_a_project_and_its_files_are_kept_for_any_process(any_store: Store) -> None:
    assert await any_store.load_project("local", "p1") is None
    await any_store.save_project("local", "p1", '{"photos": []}')
    await any_store.save_project("local", "p1", '{"photos": ["a.jpg"]}')
    photo = bytes(range(256)) * 1000
    await any_store.save_project_file("local", "p1", "001-a.jpg", photo)
    await any_store.save_project_file("local", "p2", "001-a.jpg", b"other")
    assert await any_store.load_project("local", "p1") == '{"photos": ["a.jpg"]}'
    assert await any_store.load_project_file("local", "p1", "001-a.jpg") == photo
    assert await any_store.load_project_file("local", "p1", "nope") is None
    await any_store.delete_project("local", "p1")
    assert await any_store.load_project("local", "p1") is None
    assert await any_store.load_project_file("local", "p1", "001-a.jpg") is None
    assert await any_store.load_project_file("local", "p2", "001-a.jpg") == b"other"


async def test_a_request_with_a_known_key_is_the_one_queued(any_store: Store) -> None:
    first = await any_store.add_request(NewRequest(CHAT, "u", "a", key="telegram:1/5/0"))
    again = await any_store.add_request(NewRequest(CHAT, "u", "a", key="telegram:1/5/0"))
    other = await any_store.add_request(NewRequest(CHAT, "u", "a", key="telegram:1/6/0"))
    keyless = [await any_store.add_request(NewRequest(CHAT, "u", "a")) for _ in range(2)]
    assert again == first
    assert len({first, other, *keyless}) == 4
    assert await any_store.unfinished_requests(CHAT) == 4


async def test_screening_reads_what_the_single_reads_do(any_store: Store) -> None:
    user = "telegram:u1"
    now = time.time()
    mine = await any_store.add_request(new(CHAT, "zoom in"))  # the chat's, by u1
    await any_store.add_request(NewRequest(OTHER, "u1", "x", {}))  # u1 elsewhere: not theirs
    await any_store.add_request(NewRequest(THIRD, "u1", "y", {}))  # u1 on Telegram
    await any_store.add_request(NewRequest(THIRD, "u2", "z", {}))  # neither
    await any_store.block_user("telegram:u2", "admin")
    for at in (now - 7200, now - 10, now - 5):
        await any_store.add_clip(ClipRecord(user, CHAT, 1.0, 1.0, 10, "file", at))

    fresh = await any_store.screening(CHAT, ("telegram", "u1"), user, now - 60)
    assert fresh.settings is None
    assert fresh.blocked is False
    assert fresh.clips_since == 2
    assert fresh.open_requests == await any_store.open_requests(
        chat=CHAT, sender=("telegram", "u1")
    )
    assert [r.text for r in fresh.open_requests] == ["zoom in", "y"]

    await any_store.set_chat_settings(CHAT, ChatSettings(language="zh"))
    claimed = await any_store.claim_requests("w", ["telegram"], 10, 60)
    assert mine in [r.id for r in claimed]
    assert await any_store.finish_request(mine, "w", "done")
    seen = await any_store.screening(CHAT, ("telegram", "u2"), "telegram:u2", now)
    assert seen.settings == ChatSettings(language="zh")
    assert seen.blocked is True
    assert seen.clips_since == 0
    assert [r.text for r in seen.open_requests] == ["z"]
