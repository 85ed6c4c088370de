"""Scale-out: several Clipbot processes on one PostgreSQL — one `clipbot run` and two
`clipbot worker`, a worker killed with SIGKILL midway; two `clipbot run`, the one that
long-polls killed and the other taking Telegram over."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import pytest

from bench._process import BotProcess, bot_env, jpeg
from fakes.telegram.api import Call, FakeBotApi
from fakes.telegram.updates import message, photo_sizes, private_chat, update, user

pytestmark = pytest.mark.slow

#: Each request of a chat asks for another length: that is how its clip is told apart.
FIRST = "1 seconds, 720p, 12 fps, square"
EDITS = ("make it 2 seconds", "make it 3 seconds")


def _by_chat(videos: list[Call]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for call in videos:
        found.setdefault(int(call.params["chat_id"]), []).append(int(call.params["duration"]))
    return found


async def _owned_by(database: str, pid: int) -> set[int]:
    conn = await asyncpg.connect(database)
    try:
        rows = await conn.fetch(
            "SELECT id FROM requests WHERE state = 'running' AND owner LIKE $1", f"%:{pid}:%"
        )
        return {int(r["id"]) for r in rows}
    finally:
        await conn.close()


async def _states(database: str, ids: set[int]) -> set[str]:
    conn = await asyncpg.connect(database)
    try:
        rows = await conn.fetch(
            "SELECT state FROM requests WHERE id = ANY($1::bigint[])", list(ids)
        )
        return {r["state"] for r in rows}
    finally:
        await conn.close()


async def test_a_run_and_two_workers_share_the_queue_and_survive_a_killed_worker(
    fake_api: FakeBotApi, database: str, tmp_path: Path
) -> None:
    env = bot_env(
        fake_api,
        tmp_path / "data",
        CLIPBOT_DATABASE_URL=database,
        CLIPBOT_LEASE_SECONDS="3",  # a dead worker's requests move on within seconds
        CLIPBOT_STATUS_EDIT_INTERVAL="1",
        CLIPBOT_LOG_LEVEL="INFO",
    )
    run = BotProcess(env, tmp_path / "run", tmp_path / "run.log")
    workers = [
        BotProcess(env, tmp_path / f"w{i}", tmp_path / f"worker{i}.log", command="worker")
        for i in range(2)
    ]
    people = [user(3000 + i, f"U{i}") for i in range(20)]
    try:
        for process in (run, *workers):
            await process.start()
        for i, person in enumerate(people):
            chat = private_chat(person)
            photo = fake_api.add_file(jpeg(i))
            fake_api.push_update(
                update(message(chat, person, caption=FIRST, photo=photo_sizes(photo)))
            )
            for edit in EDITS:  # queued behind the first, in this order
                fake_api.push_update(update(message(chat, person, text=edit)))
        await fake_api.wait_for(lambda: len(fake_api.calls_to("sendVideo")) >= 15, wait_s=240)
        killed = workers[0]
        async with asyncio.timeout(120):  # killed while it holds requests
            while not (held := await _owned_by(database, killed.pid)):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        await killed.kill()
        await fake_api.wait_for(
            lambda: all(
                set(_by_chat(fake_api.calls_to("sendVideo")).get(p["id"], [])) == {1, 2, 3}
                for p in people
            ),
            wait_s=300,
        )
    finally:
        for process in (run, *workers):
            await process.stop()
    videos = _by_chat(fake_api.calls_to("sendVideo"))
    logs = run.log() + workers[1].log()
    for person in people:
        got = videos[person["id"]]
        assert list(dict.fromkeys(got)) == [1, 2, 3], (person, got)  # in the order asked
    assert sum(len(v) for v in videos.values()) <= 60 + 1  # a clip twice at most per kill
    # What the killed worker held was finished by another process.
    assert held
    assert await _states(database, held) == {"done"}, logs[-5000:]
    for log in (run.log(), workers[1].log()):
        assert "Traceback" not in log


async def test_a_second_run_takes_telegram_polling_over_when_the_first_dies(
    fake_api: FakeBotApi, database: str, tmp_path: Path
) -> None:
    env = bot_env(fake_api, tmp_path / "data", CLIPBOT_DATABASE_URL=database)
    first = BotProcess(env, tmp_path / "a", tmp_path / "a.log")
    second = BotProcess(env, tmp_path / "b", tmp_path / "b.log")
    ann = user(4001, "Ann")
    try:
        await first.start()
        await fake_api.wait_for(lambda: fake_api.calls_to("getUpdates"), wait_s=60)
        await second.start()
        await asyncio.sleep(3)  # both up; one polls
        fake_api.push_update(update(message(private_chat(ann), ann, text="/help")))
        await fake_api.wait_for(lambda: len(fake_api.texts(ann["id"])) == 1, wait_s=30)
        polling_log = first if "long polling" in first.log() else second
        standby = second if polling_log is first else first
        assert "long polling" not in standby.log()
        await polling_log.kill()
        died = time.monotonic()
        # Sent while nobody polls: Telegram keeps them until someone asks.
        for text in ("/help", "/credits"):
            fake_api.push_update(update(message(private_chat(ann), ann, text=text)))
        await fake_api.wait_for(lambda: len(fake_api.texts(ann["id"])) == 3, wait_s=60)
        took_over = time.monotonic() - died
    finally:
        await first.stop()
        await second.stop()
    assert "long polling" in standby.log()
    assert took_over < 30, took_over
