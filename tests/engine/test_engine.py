"""The engine against a scripted backend: requests, queueing, errors, recovery."""

from __future__ import annotations

import asyncio

import pytest

from bot.config import Settings
from bot.engine import Engine
from bot.errors import ExportNotAllowed, NoCredits, SessionLost, UnsupportedFile
from bot.ports.backend import (
    BackendSession,
    KeepAlive,
    StreamError,
    TextDelta,
    TextMessage,
    ToolCall,
    ToolResult,
)
from bot.ports.chat import Attachment, ChatKey
from bot.progress import StatusReporter
from bot.routing import DEFAULT_PROMPT
from storage.memory import MemoryStore
from tests.engine.conftest import msg, photo
from tests.engine.doubles import (
    RecordingChannel,
    RecordingPlatform,
    Script,
    ScriptedBackend,
    video_draft,
)


async def test_photo_with_caption_is_one_request_that_delivers_a_clip(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel, store: MemoryStore
) -> None:
    await engine.handle(msg("zoom in slowly", photo()), channel)
    await engine.idle()
    assert backend.uploads == [("s1", "cat.jpg")]
    assert backend.instructions == [("s1", "zoom in slowly")]
    videos = [s for s in channel.sent if s.kind == "video"]
    assert len(videos) == 1
    assert "1080×1920" in videos[0].text
    assert "https://nemovideo.example/claim?s=s1" in videos[0].text
    assert [b.action for b in videos[0].buttons] == ["export", "status", "credits", "new"]
    assert "Here is your clip: zoom in slowly" in channel.texts()
    assert channel.working_depth == 0
    assert channel.working_entries >= 1
    assert [r.state for r in store.requests.values()] == ["done"]
    assert [j.state for j in store.jobs.values()] == ["completed"]
    assert store.sessions[(ChatKey("test", "1"), "scripted")].session_id == "s1"


async def test_photos_alone_use_the_default_prompt_in_one_request(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    await engine.handle(msg("", photo("a.jpg"), photo("b.png")), channel)
    await engine.idle()
    assert [u[1] for u in backend.uploads] == ["a.jpg", "b.png"]
    assert backend.instructions == [("s1", DEFAULT_PROMPT)]


async def test_tool_use_is_never_shown_and_an_offer_to_export_says_the_clip_is_coming(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    backend.scripts.append(
        Script(
            [
                ToolCall("1", "generate_video", {"secret": "args"}),
                KeepAlive(),
                ToolResult("1", "generate_video", {"ok": True}),
                TextDelta("Done! Click "),
                TextMessage("Done!", offers_export=True),
            ],
            video_draft("sunset"),
        )
    )
    await engine.handle(msg("make a sunset clip"), channel)
    await engine.idle()
    texts = channel.texts()
    # The project changed, so the engine exports by itself: no "say export" hint.
    assert "Done!\nYour clip is on its way." in texts
    assert not any("generate_video" in t or "secret" in t or "Click" in t for t in texts)
    assert len(channel.texts("video")) == 1


async def test_an_offer_to_export_when_nothing_changed_says_how_to_get_the_video(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    await engine.handle(msg("clip", photo()), channel)
    await engine.idle()
    backend.scripts.append(Script([TextMessage("It is ready.", offers_export=True)], None))
    await engine.handle(msg("is it ready?"), channel)
    await engine.idle()
    assert "It is ready.\nSay “export” (or use /export) to get the video." in channel.texts()
    assert len(channel.texts("video")) == 1  # only the first request's clip


async def test_the_timeline_follows_a_message_that_asks_for_it(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    backend.scripts.append(
        Script([TextMessage("Title added.", show_project=True)], video_draft("sunset"))
    )
    await engine.handle(msg("add a title"), channel)
    await engine.idle()
    assert "Title added.\nTimeline (1 track): 1. Video: sunset (0-5s)" in channel.texts()


async def test_an_unchanged_project_shown_says_how_to_render_it_again(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    await engine.handle(msg("clip", photo()), channel)
    await engine.idle()
    backend.scripts.append(Script([TextMessage("Zoom in", show_project=True)], None))
    await engine.handle(msg("zoom in"), channel)
    await engine.idle()
    assert channel.texts()[-1] == (
        "Zoom in\nTimeline (1 track): 1. Video: clip (0-5s)\n"
        "Nothing changed; say “export” to render it again."
    )
    assert len(channel.texts("video")) == 1


async def test_a_silent_turn_is_answered_from_the_state_difference(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    await engine.handle(msg("clip", photo()), channel)
    await engine.idle()
    backend.scripts.append(Script([KeepAlive()], video_draft("clip", seconds=3)))
    await engine.handle(msg("make it 3 seconds"), channel)
    await engine.idle()
    assert "✅ Done. What changed: Video: clip (0-5s) → clip (0-3s)." in channel.texts()
    assert len(channel.texts("video")) == 2  # the edit changed the draft: a new clip


async def test_a_silent_turn_that_changed_nothing_says_so(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    backend.scripts.append(Script([], None))
    await engine.handle(msg("hmm"), channel)
    await engine.idle()
    assert any("nothing changed" in t for t in channel.texts())
    assert channel.texts("video") == []


async def test_messages_while_busy_are_queued_in_order_and_quick_answers_go_at_once(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    gate = asyncio.Event()
    backend.scripts.append(Script([TextMessage("first done")], video_draft("a"), gate=gate))
    backend.scripts.append(Script([TextMessage("second done")], video_draft("b")))
    await engine.handle(msg("first"), channel)
    await asyncio.sleep(0.05)
    await engine.handle(msg("second"), channel)
    assert any("next in line (1)" in t for t in channel.texts())
    await engine.handle(msg("/credits"), channel)
    assert channel.texts()[-1] == "Credits: 90 available, 10 reserved, 100 in total."
    assert backend.instructions == [("s1", "first")]  # never sent while the turn runs
    gate.set()
    await engine.idle()
    assert backend.instructions == [("s1", "first"), ("s1", "second")]
    texts = channel.texts()
    assert texts.index("first done") < texts.index("second done")


async def test_different_chats_run_in_parallel(engine: Engine, backend: ScriptedBackend) -> None:
    gate = asyncio.Event()
    backend.scripts.extend([Script([], video_draft("x"), gate=gate) for _ in range(2)])
    a, b = RecordingChannel(), RecordingChannel()
    await engine.handle(msg("one", chat="a"), a)
    await engine.handle(msg("two", chat="b"), b)
    for _ in range(50):
        if len(backend.instructions) == 2:
            break
        await asyncio.sleep(0.01)
    assert sorted(t for _, t in backend.instructions) == ["one", "two"]
    gate.set()
    await engine.idle()


async def test_a_lost_session_is_recreated_and_the_call_made_again(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel, store: MemoryStore
) -> None:
    await engine.handle(msg("first", photo()), channel)
    await engine.idle()
    backend.lost.add("s1")
    await engine.handle(msg("again"), channel)
    await engine.idle()
    assert backend.instructions[-1] == ("s2", "again")
    assert store.sessions[(ChatKey("test", "1"), "scripted")].session_id == "s2"


async def test_a_dropped_stream_is_recovered_by_reading_state_never_resending(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    backend.draft_after_drop_reads = 2
    backend.scripts.append(Script([KeepAlive()], video_draft("late"), drop=True))
    await engine.handle(msg("make it"), channel)
    await engine.idle()
    assert backend.instructions == [("s1", "make it")]
    assert any(
        t.startswith("The connection dropped, but the work went through") for t in channel.texts()
    )
    assert len(channel.texts("video")) == 1


async def test_a_dropped_stream_with_no_change_offers_a_retry(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    backend.draft_after_drop_reads = None
    backend.scripts.append(Script([], video_draft("never"), drop=True))
    await engine.handle(msg("make it"), channel)
    await engine.idle()
    assert backend.instructions == [("s1", "make it")]
    assert "Send your message again to retry." in channel.texts()[-1]
    assert channel.texts("video") == []


async def test_backend_errors_become_one_clear_message(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    url = "https://nemovideo.com/register?bind=anon_1"
    backend.scripts.append(Script(error=NoCredits("2001 no credits", register_url=url)))
    await engine.handle(msg("make it"), channel)
    await engine.idle()
    assert channel.texts()[-1] == f"You're out of credits. Register for free to get more: {url}"
    backend.fail_export = ExportNotAllowed("HTTP 402", status=402)
    await engine.handle(msg("clip", photo()), channel)
    await engine.idle()
    assert "register or upgrade your plan to export" in channel.texts()[-1]
    assert "credits" not in channel.texts()[-1]
    backend.scripts.append(Script(error=UnsupportedFile("4001")))
    await engine.handle(msg("again"), channel)
    await engine.idle()
    assert "mp4, mov, avi" in channel.texts()[-1]


async def test_a_stream_error_with_no_text_and_no_change_is_reported(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    # Codes a backend knows it turns into typed errors itself (Nemo's 2001 → NoCredits);
    # what reaches the engine is an error it can only report as the service failing.
    backend.scripts.append(Script([StreamError("E42", "the agent fell over")], None))
    await engine.handle(msg("make it"), channel)
    await engine.idle()
    assert channel.texts()[-1] == (
        "I can't reach the video service right now. Please try again shortly."
    )


async def test_export_of_nothing_and_status(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    await engine.handle(msg("/status"), channel)
    assert channel.texts()[-1] == "There is no project yet: send a photo to start."
    await engine.handle(msg("export"), channel)
    await engine.idle()
    assert "nothing to export yet" in channel.texts()[-1]
    await engine.handle(msg("clip", photo()), channel)
    await engine.idle()
    await engine.handle(msg("状态"), channel)
    assert channel.texts()[-1] == "时间线（1 条轨道）：1. 视频：clip (0-5s)"


async def test_over_the_limit_a_link_is_sent(engine: Engine, backend: ScriptedBackend) -> None:
    small = RecordingChannel(max_upload_bytes=1000)
    await engine.handle(msg("clip", photo()), small)
    await engine.idle()
    links = small.texts("link")
    assert len(links) == 1
    assert links[0].startswith("https://cdn.example/clip.mp4")
    assert "over this chat's upload limit" in links[0]
    # The backend was told the limit, so one that controls its encoder can keep under it.
    assert backend.export_limits == [1000]


async def test_groups_need_addressing_and_captions_name_who_asked(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    await engine.handle(msg("make it", group=True, addressed=False), channel)
    await engine.idle()
    assert channel.sent == []
    assert backend.instructions == []
    await engine.handle(msg("clip", photo(), group=True, sender="Bob"), channel)
    await engine.idle()
    assert "for Bob" in channel.texts("video")[0]


async def test_chinese_user_gets_chinese_and_a_chinese_session(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel, store: MemoryStore
) -> None:
    await engine.handle(msg("做一个视频", photo()), channel)
    await engine.idle()
    session = store.sessions[(ChatKey("test", "1"), "scripted")]
    assert session.extra["language"] == "zh"
    assert "你的视频" in channel.texts("video")[0]
    await engine.handle(msg("/credits"), channel)
    assert channel.texts()[-1].startswith("积分")
    await engine.handle(msg("", photo(), language_code="en-US"), channel)
    await engine.idle()


async def test_new_forgets_the_session(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel, store: MemoryStore
) -> None:
    await engine.handle(msg("clip", photo()), channel)
    await engine.idle()
    await engine.handle(msg("/new"), channel)
    await engine.idle()
    assert store.sessions == {}
    assert channel.texts()[-1].startswith("Fresh project")
    await engine.handle(msg("another", photo()), channel)
    await engine.idle()
    assert backend.instructions[-1] == ("s2", "another")


async def test_a_credits_error_is_answered_and_the_engine_keeps_going(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    backend.fail_credits = SessionLost("weird")
    await engine.handle(msg("credits"), channel)
    assert "lost this project" in channel.texts()[-1]
    await engine.handle(msg("help"), channel)
    assert "/export" in channel.texts()[-1]


async def test_a_session_lost_at_the_turn_gets_the_files_again_and_one_turn(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    await engine.handle(msg("first", photo()), channel)
    await engine.idle()
    backend.lose_next_instruct = True
    await engine.handle(msg("second", photo("dog.jpg")), channel)
    await engine.idle()
    assert backend.instructions == [("s1", "first"), ("s2", "second")]
    assert backend.uploads[-2:] == [("s1", "dog.jpg"), ("s2", "dog.jpg")]
    assert len(channel.texts("video")) == 2


async def test_status_while_the_first_request_runs_says_the_project_is_coming(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    await engine.handle(msg("clip", photo()), channel)
    await engine.handle(msg("/status"), channel)  # answered at once, before any session
    assert channel.texts()[-1].startswith("Your project is being set up")
    await engine.idle()
    await engine.handle(msg("/status"), channel)
    assert channel.texts()[-1].startswith("Timeline (")


async def test_the_status_message_moves_forward_and_the_session_is_read_once(
    settings: Settings,
    backend: ScriptedBackend,
    channel: RecordingChannel,
    platform: RecordingPlatform,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class CountingStore(MemoryStore):
        reads = 0

        async def get_session(self, chat: ChatKey, backend: str) -> BackendSession | None:
            CountingStore.reads += 1
            return await super().get_session(chat, backend)

    stages: list[str] = []
    original = StatusReporter.stage

    def record(self: StatusReporter, text: str) -> None:
        if not stages or stages[-1] != text:
            stages.append(text)
        original(self, text)

    monkeypatch.setattr(StatusReporter, "stage", record)
    engine = Engine(settings, backend, CountingStore(), {"test": platform})
    try:
        await engine.handle(msg("clip", photo()), channel)
        await engine.idle()
    finally:
        await engine.aclose()
    # Once to see whether there is a project, once when it is opened (then kept).
    assert CountingStore.reads == 2
    assert stages == [
        "🔌 Connecting…",
        "📤 Uploading 1 file…",
        "🤖 Working on it…",
        "🎬 Rendering…",
        "📨 Sending the video…",
    ]


async def test_the_first_answer_comes_at_intake_and_becomes_the_status(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    gate = asyncio.Event()
    backend.scripts.append(Script([TextMessage("on it")], video_draft("a"), gate=gate))
    await engine.handle(msg("clip", photo()), channel)
    # Answered before any worker got to it: a reply the user sees at once.
    [first] = channel.sent
    assert (first.kind, first.text) == ("text", "📥 Got it, starting…")
    gate.set()
    await engine.idle()
    # One status message: the answer, edited through the stages to the end.
    edits = [m.text for m in channel.sent if m.kind == "edit"]
    assert {m.ref for m in channel.sent if m.kind == "edit"} == {first.ref}
    assert edits[-1].startswith("✅ Done")
    assert not [m for m in channel.sent[1:] if m.kind == "text" and "…" in m.text]
    assert len(channel.texts("video")) == 1


async def test_photos_with_each_make_one_clip_per_photo(
    engine: Engine, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    song = Attachment("song.mp3", "audio/mpeg", 10, "audio", photo("song.mp3").ref)
    await engine.handle(msg("zoom in, each", photo("a.jpg"), photo("b.jpg"), song), channel)
    await engine.idle()
    assert channel.texts()[0] == "🎞 2 photos: one clip for each, sent as each is ready."
    # Each photo in a project of its own, with the music beside it, in the order sent.
    assert backend.uploads == [
        ("s1", "a.jpg"), ("s1", "song.mp3"), ("s2", "b.jpg"), ("s2", "song.mp3"),
    ]  # fmt: skip
    assert [text for _, text in backend.instructions] == ["zoom in, each", "zoom in, each"]
    assert len(channel.texts("video")) == 2
    # The default stays one slideshow: one request, one clip.
    await engine.handle(msg("zoom in", photo("c.jpg"), photo("d.jpg")), channel)
    await engine.idle()
    assert [text for _, text in backend.instructions][-1] == "zoom in"
    assert len(backend.instructions) == 3
    assert len(channel.texts("video")) == 3
