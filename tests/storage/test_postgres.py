"""PostgreSQL: what only several processes on one database show (each `PostgresStore`
here stands for a process: its own pool and its own LISTEN connection)."""

from __future__ import annotations

import asyncio

from bot.ports.chat import ChatKey
from bot.ports.store import NewRequest
from storage.postgres import MIGRATIONS, PostgresStore
from tests.pg import fresh_database


async def test_processes_starting_together_migrate_once() -> None:
    async with fresh_database() as url:
        stores = await asyncio.gather(*(PostgresStore.open(url) for _ in range(4)))
        try:
            assert {await s.schema_version() for s in stores} == {len(MIGRATIONS)}
        finally:
            await asyncio.gather(*(s.close() for s in stores))


async def test_new_work_wakes_the_workers_of_another_process() -> None:
    async with fresh_database() as url:
        intake, worker = await PostgresStore.open(url), await PostgresStore.open(url)
        try:
            waiting = asyncio.create_task(worker.wait_for_work(30))
            await asyncio.sleep(0.2)
            assert not waiting.done()
            await intake.add_request(NewRequest(ChatKey("telegram", "1"), "u", "clip"))
            await asyncio.wait_for(waiting, 5)  # LISTEN/NOTIFY, not a poll
            [claimed] = await worker.claim_requests("w", ["telegram"], 5, 30)
            waiting = asyncio.create_task(intake.wait_for_work(30))
            await asyncio.sleep(0.2)
            await worker.finish_request(claimed.id, "w", "done")
            await asyncio.wait_for(waiting, 5)  # the chat's next may run: everyone hears it
        finally:
            await intake.close()
            await worker.close()


async def test_workers_in_several_processes_never_share_a_request_or_a_chat() -> None:
    async with fresh_database() as url:
        stores = [await PostgresStore.open(url) for _ in range(3)]
        try:
            for i in range(60):
                await stores[0].add_request(NewRequest(ChatKey("telegram", str(i % 20)), "u", "r"))
            seen: list[tuple[int, ChatKey]] = []
            while len(seen) < 60:
                rounds = await asyncio.gather(
                    *(s.claim_requests(f"w{n}", ["telegram"], 7, 30) for n, s in enumerate(stores))
                )
                batch = [(r.id, r.chat) for claimed in rounds for r in claimed]
                # At no moment two of one chat, and never one request twice.
                assert len({chat for _, chat in batch}) == len(batch)
                seen.extend(batch)
                for n, claimed in enumerate(rounds):
                    for r in claimed:
                        assert await stores[n].finish_request(r.id, f"w{n}", "done")
            ids = [rid for rid, _ in seen]
            assert sorted(ids) == list(range(1, 61))
            # Within a chat, oldest first.
            for chat in {c for _, c in seen}:
                of_chat = [rid for rid, c in seen if c == chat]
                assert of_chat == sorted(of_chat)
        finally:
            await asyncio.gather(*(s.close() for s in stores))
