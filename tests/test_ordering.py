"""`adapters.ordering.ChatOrder`: per-chat lines of tickets, in arrival order."""

from __future__ import annotations

import asyncio

from adapters.ordering import ChatOrder


async def test_a_chat_runs_in_order_and_other_chats_do_not_wait() -> None:
    order = ChatOrder()
    ran: list[str] = []
    slow = asyncio.Event()

    async def job(chat: str, name: str, gate: asyncio.Event | None = None) -> None:
        async with order.ticket(chat) as turn:
            await turn.wait()
            if gate is not None:
                await gate.wait()
            ran.append(name)

    tasks = [
        asyncio.create_task(job("a", "a1", slow)),
        asyncio.create_task(job("a", "a2")),
        asyncio.create_task(job("b", "b1")),
    ]
    await asyncio.sleep(0.02)
    assert ran == ["b1"]
    slow.set()
    await asyncio.gather(*tasks)
    assert ran == ["b1", "a1", "a2"]
    assert order.busy == 0


async def test_a_ticket_given_up_while_waiting_lets_no_one_overtake() -> None:
    order = ChatOrder()
    ran: list[str] = []
    gate = asyncio.Event()

    async def job(name: str, wait_for: asyncio.Event | None = None) -> None:
        async with order.ticket("chat") as turn:
            await turn.wait()
            if wait_for is not None:
                await wait_for.wait()
            ran.append(name)

    first = asyncio.create_task(job("first", gate))
    second = asyncio.create_task(job("second"))
    third = asyncio.create_task(job("third"))
    await asyncio.sleep(0.02)
    second.cancel()  # gives up its place while the first still runs
    await asyncio.sleep(0.02)
    assert ran == []  # the third still waits for the first
    assert not first.done()
    gate.set()
    await asyncio.gather(first, third)
    assert ran == ["first", "third"]
    assert second.cancelled()
    assert order.busy == 0
