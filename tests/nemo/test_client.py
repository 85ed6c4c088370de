"""The client against the emulator: every endpoint, identity, error codes and retries."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from backends.nemo import NemoBackend, create_backend
from bot.errors import (
    BackendError,
    FileTooLarge,
    NoCredits,
    ProtocolError,
    RateLimited,
    SessionLost,
    TokenError,
    Unavailable,
    UnsupportedFile,
)
from bot.ports.store import Identity
from fakes.nemo.server import NemoEmulator
from storage.memory import MemoryStore
from storage.sqlite import SqliteStore
from tests.nemo_fixtures import nemo_settings


async def test_every_call_carries_bearer_and_attribution(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    session = await backend.open_session("zh")
    await backend.upload(session, photo, "beach.png")
    await backend.credits()
    await backend.state(session)
    await backend.project_link(session)
    token_call, *calls = nemo_emulator.requests
    assert token_call.path == "/api/auth/anonymous-token"
    assert "Authorization" not in token_call.headers
    assert len(calls) == 5
    for call in calls:
        assert call.headers["Authorization"].startswith("Bearer nmv_usr_")
        assert call.headers["X-Skill-Source"] == "clipbot"
        assert call.headers["X-Skill-Version"]
        assert call.headers["X-Skill-Platform"] == "clipbot"
        assert "nmv_usr" not in call.path
    assert nemo_emulator.received("/with-session/")[0].json == {
        "task_name": "project",
        "language": "zh",
    }
    claim = nemo_emulator.received("claim-token")[0].json
    assert claim == {"task_id": session.extra["task_id"], "session_id": session.session_id}


async def test_client_id_is_made_once_and_kept(nemo_emulator: NemoEmulator, tmp_path: Path) -> None:
    db = tmp_path / "data" / "clipbot.sqlite3"
    settings = nemo_settings(nemo_emulator, tmp_path / "data")
    store = await SqliteStore.open(db)
    first = create_backend(settings, store)
    await first.credits()
    await first.aclose()
    saved = await store.get_identity("nemo")
    await store.close()
    assert saved is not None
    assert saved.token is not None
    # The database holds the token: readable by its owner only.
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    store = await SqliteStore.open(db)
    second = create_backend(settings, store)
    await second.credits()
    await second.aclose()
    await store.close()
    # The stored token is reused: one anonymous token for the two runs.
    assert len(nemo_emulator.received("anonymous-token")) == 1
    assert nemo_emulator.received("anonymous-token")[0].headers["X-Client-Id"] == saved.client_id


async def test_configured_client_id_wins(nemo_emulator: NemoEmulator, tmp_path: Path) -> None:
    settings = nemo_settings(nemo_emulator, tmp_path, nemo_client_id="client-fixed-1")
    nemo = create_backend(settings, MemoryStore())
    await nemo.credits()
    await nemo.aclose()
    assert nemo_emulator.received("anonymous-token")[0].headers["X-Client-Id"] == "client-fixed-1"


async def test_configured_token_is_used_and_never_swapped(
    nemo_emulator: NemoEmulator, tmp_path: Path
) -> None:
    nemo_emulator.add_token("nmv_usr_test", user_id="usr_1", credits=7)
    settings = nemo_settings(nemo_emulator, tmp_path, nemo_token="nmv_usr_test")
    nemo = create_backend(settings, MemoryStore())
    try:
        assert (await nemo.credits()).available == 7
        assert nemo_emulator.received("anonymous-token") == []
        nemo_emulator.fail_next("credits", code=1001)
        with pytest.raises(TokenError):
            await nemo.credits()
        assert nemo_emulator.received("anonymous-token") == []
    finally:
        await nemo.aclose()


async def test_expired_token_is_refreshed_once_and_the_call_repeated(
    backend: NemoBackend, nemo_emulator: NemoEmulator, identities: MemoryStore
) -> None:
    await backend.credits()
    old = identities.identities["nemo"]
    nemo_emulator.expire_tokens()
    await backend.credits()
    new = identities.identities["nemo"]
    assert new.client_id == old.client_id
    assert new.token != old.token
    assert len(nemo_emulator.received("anonymous-token")) == 2
    assert len(nemo_emulator.received("/credits/")) == 3
    # Still 1001 after the refresh: give up with TokenError, no loop.
    nemo_emulator.fail_next("credits", code=1001, count=2)
    with pytest.raises(TokenError):
        await backend.credits()
    assert len(nemo_emulator.received("anonymous-token")) == 3
    assert len(nemo_emulator.received("/credits/")) == 5


async def test_missing_client_id_is_supplied_and_retried(
    backend: NemoBackend, nemo_emulator: NemoEmulator
) -> None:
    nemo_emulator.fail_next("anonymous-token", code=400, status=400)
    await backend.credits()
    calls = nemo_emulator.received("anonymous-token")
    assert len(calls) == 2
    assert calls[1].headers["X-Client-Id"]


async def test_a_rate_limited_write_waits_then_retries_once(
    backend: NemoBackend, nemo_emulator: NemoEmulator
) -> None:
    session = await backend.open_session("en")
    nemo_emulator.fail_next("claim", code=429, status=429)
    await backend.project_link(session)
    first, second = nemo_emulator.received("/claim-token")[-2:]
    assert second.at - first.at >= 0.01  # the configured wait
    nemo_emulator.fail_next("claim", code=429, status=429, count=2)
    with pytest.raises(RateLimited):
        await backend.project_link(session)
    assert len(nemo_emulator.received("/claim-token")) == 4


async def test_error_codes_become_typed_errors(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    session = await backend.open_session("en")
    cases: list[tuple[str, int | None, int | None, type[BackendError]]] = [
        ("state", 1002, None, SessionLost),
        ("upload", 4001, None, UnsupportedFile),
        ("upload", 4002, None, FileTooLarge),
        ("claim", None, 503, Unavailable),  # a write: never tried again
        ("state", 2001, None, NoCredits),
        ("claim", 777, 200, BackendError),
    ]
    for endpoint, code, status, error in cases:
        nemo_emulator.fail_next(endpoint, code=code, status=status)
        calls = {
            "upload": lambda: backend.upload(session, photo, "beach.png"),
            "state": lambda: backend.state(session),
            "claim": lambda: backend.project_link(session),
            "credits": backend.credits,
        }
        with pytest.raises(error) as info:
            await calls[endpoint]()
        assert code is None or info.value.code == code


async def test_no_credits_links_anonymous_users_to_registration(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    session = await backend.open_session("en")
    await backend.upload(session, photo, "beach.png")
    nemo_emulator.sessions[session.session_id].user.available = 10
    with pytest.raises(NoCredits) as info:
        [e async for e in backend.instruct(session, "animate it", "en")]
    user_id = session.extra["user_id"]
    assert info.value.register_url == f"https://nemo.example/register?bind={user_id}"


async def test_real_lost_session_and_unsupported_file(
    backend: NemoBackend, nemo_emulator: NemoEmulator, tmp_path: Path
) -> None:
    session = await backend.open_session("en")
    doc = tmp_path / "notes.txt"
    doc.write_text("not a video", encoding="utf-8")
    with pytest.raises(UnsupportedFile) as info:
        await backend.upload(session, doc, "notes.txt")
    assert "mp4" in info.value.formats
    nemo_emulator.forget_session(session.session_id)
    with pytest.raises(SessionLost):
        await backend.state(session)
    with pytest.raises(SessionLost):
        [e async for e in backend.instruct(session, "hello", "en")]


async def test_oversized_file_refused_before_sending(
    backend: NemoBackend, nemo_emulator: NemoEmulator, tmp_path: Path
) -> None:
    session = await backend.open_session("en")
    big = tmp_path / "big.mp4"
    with big.open("wb") as fh:
        fh.truncate(200 * 1024 * 1024 + 1)  # sparse: costs no disk
    with pytest.raises(FileTooLarge) as info:
        await backend.upload(session, big, "big.mp4")
    assert info.value.limit_bytes == 200 * 1024 * 1024
    assert nemo_emulator.received("upload-video") == []


async def test_server_side_size_limit(
    backend: NemoBackend, nemo_emulator: NemoEmulator, tmp_path: Path
) -> None:
    nemo_emulator.config.upload_limit_bytes = 1000
    session = await backend.open_session("en")
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\0" * 5000)
    with pytest.raises(FileTooLarge):
        await backend.upload(session, clip, "clip.mp4")


@pytest.mark.parametrize("shape", ["files", "uploaded_files"])
async def test_both_upload_answer_shapes(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path, shape: str
) -> None:
    nemo_emulator.config.upload_shape = shape
    session = await backend.open_session("en")
    uploaded = await backend.upload(session, photo, "beach.png")
    assert uploaded.name == "beach.png"
    assert uploaded.kind == "image"
    assert uploaded.url is not None
    assert uploaded.url.startswith(nemo_emulator.base_url)


async def test_an_upload_keeps_its_file_name_as_written(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    session = await backend.open_session("zh")
    name = '夏天 "海边" é.png'
    uploaded = await backend.upload(session, photo, name)
    assert uploaded.name == name  # as the emulator read it from the multipart part


async def test_a_signed_download_link_is_fetched_exactly_as_given(
    backend: NemoBackend, nemo_emulator: NemoEmulator, tmp_path: Path
) -> None:
    query = "?X-Amz-Credential=AKIA%2F2026%2Fus&X-Amz-Signature=ab%2Bc%3D&x=a+b"
    url = nemo_emulator.make_blob(1000) + query
    assert await backend.client.download(url, tmp_path / "clip.mp4") == 1000
    (fetched,) = nemo_emulator.received("/_emulator/files/")
    assert fetched.raw_path.endswith(query)


async def test_upload_by_url(backend: NemoBackend, nemo_emulator: NemoEmulator) -> None:
    session = await backend.open_session("en")
    files = await backend.client.upload_urls(session.session_id, ["https://cdn.example/a.png"])
    assert files[0].url == "https://cdn.example/a.png"
    assert nemo_emulator.received("upload-video")[0].json == {
        "urls": ["https://cdn.example/a.png"],
        "source_type": "url",
    }


async def test_credits_go_down_for_work_not_for_export(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path, tmp_path: Path
) -> None:
    session = await backend.open_session("en")
    await backend.upload(session, photo, "beach.png")
    start = await backend.credits()
    assert start.available == 500
    assert start.frozen == 0
    nemo_emulator.config.generation_s = 0.3
    frozen_seen = None
    async for _ in backend.instruct(session, "animate it", "en"):
        if frozen_seen is None:
            frozen_seen = await backend.credits()
    assert frozen_seen is not None
    assert frozen_seen.frozen == 100
    after_gen = await backend.credits()
    assert (after_gen.available, after_gen.frozen) == (400, 0)
    [e async for e in backend.instruct(session, "make it 3 seconds", "en")]
    after_edit = await backend.credits()
    assert after_edit.available == 350
    state = await backend.state(session)
    [e async for e in backend.export(session, state, tmp_path / "out")]
    assert (await backend.credits()).available == 350


async def test_html_answer_is_a_typed_error(
    backend: NemoBackend, nemo_emulator: NemoEmulator
) -> None:
    nemo_emulator.fail_next("credits", html=True, status=502, count=5)  # every read try
    with pytest.raises(Unavailable):
        await backend.credits()
    nemo_emulator.fail_next("credits", html=True, status=200)
    with pytest.raises(ProtocolError) as info:
        await backend.credits()
    assert info.value.field == "content-type"


async def test_unreachable_server_is_unavailable(tmp_path: Path) -> None:
    emu = NemoEmulator()
    await emu.start()
    settings = nemo_settings(emu, tmp_path)
    await emu.stop()
    nemo = create_backend(settings, MemoryStore())
    with pytest.raises(Unavailable):
        await nemo.credits()
    await nemo.aclose()


async def test_token_never_in_logs_or_errors(
    backend: NemoBackend,
    nemo_emulator: NemoEmulator,
    identities: MemoryStore,
    photo: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    session = await backend.open_session("en")
    await backend.upload(session, photo, "beach.png")
    [e async for e in backend.instruct(session, "animate it", "en")]
    nemo_emulator.expire_tokens()
    await backend.credits()
    token = identities.identities["nemo"].token
    assert token is not None
    nemo_emulator.fail_next("credits", code=1001, message=f"token {token} expired", count=2)
    with pytest.raises(TokenError) as info:
        await backend.credits()
    assert token not in str(info.value)
    text = caplog.text + json.dumps([r.getMessage() for r in caplog.records])
    assert "anonymous token" in text  # the log did run
    for secret in {i.token for i in identities.identities.values()} | {token}:
        assert secret is not None
        assert secret not in text


def test_identity_value_is_the_storage_one() -> None:
    assert Identity("c").token is None


async def test_processes_of_one_database_share_one_anonymous_token(
    nemo_emulator: NemoEmulator, tmp_path: Path
) -> None:
    shared = MemoryStore()  # the database both processes use
    settings = nemo_settings(nemo_emulator, tmp_path)
    first, second = create_backend(settings, shared), create_backend(settings, shared)
    try:
        await first.credits()
        await second.credits()
        assert len(nemo_emulator.received("anonymous-token")) == 1  # the stored one reused
        nemo_emulator.expire_tokens()
        await first.credits()  # refreshes, and stores the new token
        await second.credits()  # rejected too: takes the stored new one, asks for none
        assert len(nemo_emulator.received("anonymous-token")) == 2
    finally:
        await first.aclose()
        await second.aclose()
