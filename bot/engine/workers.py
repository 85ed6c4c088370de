"""The workers: claim requests from the durable queue, run them, keep their leases alive,
and at shutdown let running work finish for a grace period, then leave the rest for the
next start (never marked failed).

One `Workers` per process. It claims, for the platforms this process can answer on, the
oldest unfinished request of each chat (the store sees to one at a time per chat),
runs each as a task, renews the leases of all of them every `lease_s / 4` seconds, and
wakes when the store says there is new work (or every `poll_s`, for expired leases).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from bot.engine.records import decode
from bot.engine.request import Outcome, RequestRunner
from bot.engine.work import Deps, LeaseLost, Received, Work
from bot.ports.chat import ChatKey, Platform
from bot.ports.store import RequestState, Step, StoredRequest
from bot.progress import Pace
from bot.words import say

log = logging.getLogger(__name__)


#: Tries to record a request's end when the store fails (0.2 s, 0.4 s, … apart).
_FINISH_TRIES = 5


def worker_name() -> str:
    """This process's name on the leases it takes: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """How a process takes work from the queue."""

    #: Requests run at once by this process (most of them wait on the network).
    concurrency: int = 1000
    #: A claim lasts this long unless renewed; a dead worker's work moves on after it.
    lease_s: float = 20.0
    #: How often to look for expired leases when nothing wakes the workers.
    poll_s: float = 5.0
    #: A request claimed this many times (it keeps killing its process) is given up.
    max_attempts: int = 5


class Workers:
    """Claims and runs requests until stopped."""

    def __init__(
        self,
        deps: Deps,
        runner: RequestRunner,
        platforms: Mapping[str, Platform],
        live: Callable[[int], Received | None],
        served: Callable[[], list[str]],
        settings: WorkerSettings,
        on_finished: Callable[[StoredRequest, Outcome], Awaitable[None]] | None = None,
    ) -> None:
        self._deps = deps
        self._runner = runner
        self._platforms = platforms
        self._live = live
        self._served = served
        self._settings = settings
        self._on_finished = on_finished
        self.owner = worker_name()
        self._tasks: dict[int, asyncio.Task[None]] = {}
        # The requests running here, and those /new stopped (they end as failed, not
        # left for a resume).
        self._works: dict[int, Work] = {}
        self._stopped: set[int] = set()
        self._paces: dict[ChatKey, Pace] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._beat_task: asyncio.Task[None] | None = None
        self._claiming = False
        self._stopping = False
        self._idle = asyncio.Event()
        self._idle.set()
        # Set once the leases of dead workers are freed: no claim comes before that (a
        # request claimed first and freed after would run twice).
        self._recovered = asyncio.Event()

    def stop_export(self, chat: ChatKey) -> bool:
        """/new: stop the chat's request running here if it is rendering (a render is
        reproducible, an agent's turn is not: turns are never cut). True if stopped."""
        for request_id, work in self._works.items():
            task = self._tasks.get(request_id)
            if work.chat == chat and work.step == "exporting" and task and not task.done():
                self._stopped.add(request_id)
                return task.cancel()
        return False

    @property
    def running(self) -> int:
        """How many requests this process is running now."""
        return len(self._tasks)

    def start(self) -> None:
        """Begin claiming (idempotent)."""
        if self._loop_task is None:
            self._claiming = True
            self._loop_task = asyncio.create_task(self._claim_loop(), name="clipbot-claims")
            self._beat_task = asyncio.create_task(self._heartbeat(), name="clipbot-leases")

    async def idle(self) -> None:
        """Wait until nothing runs here and nothing is left to claim."""
        while True:
            await self._idle.wait()
            claimed = await self._claim()
            if not claimed and not self._tasks:
                return

    async def stop(self, grace_s: float) -> None:
        """Claim nothing more; let running requests finish for `grace_s`; then stop them
        where they are and give their leases up, for the next start to resume."""
        self._claiming = False
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        running = list(self._tasks.values())
        if running and grace_s > 0:
            log.info("shutdown: letting %d request(s) finish (up to %g s)", len(running), grace_s)
            await asyncio.wait(running, timeout=grace_s)
        self._stopping = True
        left = [task for task in self._tasks.values() if not task.done()]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        if self._beat_task is not None:
            self._beat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat_task
        try:
            released = await self._deps.store.release_requests(self.owner)
        except Exception:
            log.warning("shutdown: could not release the leases (they will expire)")
            released = len(left)
        if released:
            log.info("shutdown: %d request(s) left for the next start to resume", released)

    # --- claiming ----------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        try:
            if freed := await self._deps.store.recover_leases():
                log.info("%d interrupted request(s) to resume", freed)
        except Exception:
            log.exception("could not free the leases of earlier workers (they will expire)")
        finally:
            self._recovered.set()
        while self._claiming:
            try:
                claimed = await self._claim()
            except Exception:
                log.exception("claiming requests failed; trying again shortly")
                claimed = 0
            if not claimed:
                await self._deps.store.wait_for_work(self._settings.poll_s)

    async def _claim(self) -> int:
        await self._recovered.wait()
        free = self._settings.concurrency - len(self._tasks)
        if not self._claiming or free <= 0:
            return 0
        claimed = await self._deps.store.claim_requests(
            self.owner, self._served(), free, self._settings.lease_s
        )
        for stored in claimed:
            self._idle.clear()
            self._tasks[stored.id] = asyncio.create_task(
                self._serve(stored), name=f"clipbot-request-{stored.id}"
            )
        return len(claimed)

    async def _heartbeat(self) -> None:
        store, lease = self._deps.store, self._settings.lease_s
        while True:
            await asyncio.sleep(lease / 4)
            running = dict(self._tasks)
            try:
                held = await store.renew_leases(self.owner, list(running), lease)
            except Exception:
                log.warning("renewing leases failed; trying again", exc_info=True)
                continue
            for request_id, task in running.items():
                if request_id not in held and not task.done():
                    # Our lease ran out (the loop was blocked, the database away) and
                    # another worker may have it now: stop here, say nothing.
                    log.warning("request %s: lease lost; stopping here", request_id)
                    task.cancel()

    # --- running one -------------------------------------------------------------------

    async def _serve(self, stored: StoredRequest) -> None:
        try:
            await self._run(stored)
        except asyncio.CancelledError:
            if stored.id in self._stopped and not self._stopping:
                log.info("request %s stopped by /new", stored.id)
                await self._finish(stored, Outcome(False, "stopped by /new"))
            elif not self._stopping:
                log.info("request %s stopped (lease lost)", stored.id)
        except LeaseLost as exc:
            log.warning("request %s: another worker took it over (%s)", stored.id, exc)
        except Exception:
            log.exception("request %s ended in an unexpected error", stored.id)
        finally:
            self._tasks.pop(stored.id, None)
            self._works.pop(stored.id, None)
            self._stopped.discard(stored.id)
            if not self._tasks:
                self._idle.set()

    async def _run(self, stored: StoredRequest) -> None:
        message, address, route, lang = decode(stored.payload)
        platform = self._platforms.get(address.platform)
        received = self._live(stored.id)
        channel = received.channel if received else None
        channel = channel or (platform.channel_for(address) if platform else None)
        if channel is None:  # claims only take platforms served here
            raise LeaseLost(f"request {stored.id}: no {address.platform} connection here")
        if stored.attempts > self._settings.max_attempts:
            log.error("request %s: given up after %d attempts", stored.id, stored.attempts)
            with contextlib.suppress(Exception):
                await channel.send_text(say("given_up", lang))
            await self._finish(stored, Outcome(False, "too many attempts"))
            return
        work = Work(
            request_id=stored.id,
            message=message,
            address=address,
            route=route,
            lang=lang,
            channel=channel,
            step=stored.step,
            checkpoint=dict(stored.checkpoint),
            ack=received.ack if received is not None else None,
            resumed=stored.attempts > 1,
            saver=self._save,
            received_at=stored.created_at,
        )
        if work.resumed:
            log.info("request %s: resuming at step %s", stored.id, stored.step)
        pace = self._paces.setdefault(message.chat, Pace())
        self._works[stored.id] = work
        # What the request spends (Nemo's credits) is charged to whoever asked.
        async with self._deps.gate.metered(message, route.intent):
            outcome = await self._runner.run(work, pace, platform)
        await self._finish(stored, outcome)

    async def _save(self, work: Work, step: Step) -> None:
        if not await self._deps.store.checkpoint_request(
            work.request_id, self.owner, step, work.checkpoint
        ):
            raise LeaseLost(f"request {work.request_id}")

    async def _finish(self, stored: StoredRequest, outcome: Outcome) -> None:
        state: RequestState = "done" if outcome.ok else "failed"
        for attempt in range(_FINISH_TRIES):
            try:
                finished = await self._deps.store.finish_request(
                    stored.id, self.owner, state, outcome.detail
                )
                break
            except Exception:
                if attempt == _FINISH_TRIES - 1:
                    # The lease runs out; the next worker resumes it from its last step
                    # (after delivery: it is only finished then, nothing is sent again).
                    log.exception("request %s: could not record its end", stored.id)
                    return
                log.warning("request %s: recording its end failed; trying again", stored.id)
                await asyncio.sleep(0.2 * 2**attempt)
        if not finished:
            raise LeaseLost(f"request {stored.id}")
        if self._on_finished is not None:
            await self._on_finished(stored, outcome)
