"""Music on request: the bundled library, loudness (EBU R128) measured on the real AAC."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from backends.local import audio, library
from backends.local.changes import PickMusic, SetMusic
from backends.local.instructions import parse
from bot.config import Settings
from bot.timeline import parse as parse_timeline
from bot.timeline import summary
from storage.memory import MemoryStore
from tests.local.conftest import probe


def _aac_loudness(mp4: Path) -> audio.Loudness:
    """The loudness of an MP4's audio track, decoded from the AAC."""
    import av

    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=audio.RATE)
    chunks: list[np.ndarray] = []
    with av.open(str(mp4)) as c:
        for frame in c.decode(audio=0):
            chunks.extend(f.to_ndarray() for f in resampler.resample(frame))
    return audio.measure(np.concatenate(chunks, axis=1).astype(np.float32))


def _tone(path: Path, amplitude: float, seconds: float = 4.0) -> Path:
    rate = 44_100
    t = np.arange(round(rate * seconds)) / rate
    # A chord with a slow swell, so that it is not one flat level.
    wave_ = sum(np.sin(2 * np.pi * f * t) for f in (220, 277, 330)) / 3
    signal = amplitude * wave_ * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat((signal * 32767).astype(np.int16), 2).tobytes())
    return path


def test_the_library_has_five_moods_of_named_tracks() -> None:
    tracks = library.tracks()
    assert len(tracks) == 28
    assert {t.mood for t in tracks} == set(library.MOODS)
    assert all(t.path.is_file() and t.path.suffix == ".opus" for t in tracks)
    names = [t.name for t in tracks if t.mood == "calm"]
    assert names == [
        "calm acoustic", "calm acoustic 2", "calm acoustic 3", "calm electronic",
        "calm electronic 2",
    ]  # fmt: skip
    assert 25 < audio.probe(tracks[0].path) < 40


def test_picking_keeps_the_track_until_another_is_asked_for() -> None:
    first = library.pick("calm")
    assert first is not None
    assert first.name == "calm acoustic"
    assert library.pick("calm", first.key) == first
    second = library.pick("calm", first.key, another=True)
    assert second is not None
    assert (second.mood, second.name) == ("calm", "calm acoustic 2")
    happy = library.pick("happy", second.key)
    assert happy is not None
    assert happy.mood == "happy"
    last = library.tracks()[-1]
    assert library.pick(None, last.key, another=True) == library.tracks()[0]  # goes round


@pytest.mark.parametrize(
    ("text", "change"),
    [
        ("add music", SetMusic(True)),
        ("配乐", SetMusic(True)),
        ("add calm music", PickMusic("calm")),
        ("add some upbeat music", PickMusic("energetic")),
        ("happy music please", PickMusic("happy")),
        ("nostalgic background music", PickMusic("nostalgic")),
        ("tender music", PickMusic("tender")),
        ("欢快的音乐", PickMusic("happy")),
        ("加点温柔的背景音乐", PickMusic("tender")),
        ("怀旧的配乐", PickMusic("nostalgic")),
        ("change the music", PickMusic(another=True)),
        ("another song", PickMusic(another=True)),
        ("换一首", PickMusic(another=True)),
        ("换音乐", PickMusic(another=True)),
        ("no music", SetMusic(False)),
    ],
)
def test_music_phrases(text: str, change: object) -> None:
    parsed = parse(text)
    assert parsed.changes == (change,)
    assert parsed.unknown == ""


async def test_add_calm_music_names_the_track_and_plays_it_at_the_set_loudness(
    settings: Settings, photos: dict[str, Path], tmp_path: Path
) -> None:
    from backends.local.backend import LocalBackend
    from bot.ports.backend import ExportDone, TextMessage

    backend = LocalBackend(settings, MemoryStore())
    session = await backend.open_session("en")
    await backend.upload(session, photos["png"], "a.png")
    events = [e async for e in backend.instruct(session, "square, 720p, 15 fps, 3 seconds", "en")]
    events = [e async for e in backend.instruct(session, "add calm music", "en")]
    assert events == [TextMessage("music: calm acoustic", show_project=True)]
    timeline = summary(parse_timeline((await backend.state(session)).draft))
    assert "BGM: calm acoustic (0-3s, 100%)" in timeline

    state = await backend.state(session)
    done = [e async for e in backend.export(session, state, tmp_path / "out")][-1]
    assert isinstance(done, ExportDone)
    assert done.path is not None
    assert probe(done.path).audio_codec == "aac"
    loudness = _aac_loudness(done.path)
    assert loudness.integrated == pytest.approx(settings.music_lufs, abs=1.0)
    assert loudness.true_peak <= -0.5

    (changed,) = [e async for e in backend.instruct(session, "change the music", "en")]
    assert isinstance(changed, TextMessage)
    assert changed.text == "music: calm acoustic 2"
    (zh,) = [e async for e in backend.instruct(session, "欢快的音乐", "zh")]
    assert isinstance(zh, TextMessage)
    assert zh.text == "音乐：happy acoustic"
    zh_timeline = summary(parse_timeline((await backend.state(session)).draft), "zh")
    assert "背景音乐：happy acoustic (0-3s, 100%)" in zh_timeline


@pytest.mark.parametrize("amplitude", [0.01, 0.9])
async def test_the_users_own_music_is_brought_to_the_same_loudness(
    amplitude: float, settings: Settings, photos: dict[str, Path], tmp_path: Path
) -> None:
    from backends.local.backend import LocalBackend
    from bot.ports.backend import ExportDone

    song = _tone(tmp_path / "song.wav", amplitude)
    original = audio.measure(audio.load(song, 3.0))
    assert abs(original.integrated - settings.music_lufs) > 5  # far from the target
    backend = LocalBackend(settings, MemoryStore())
    session = await backend.open_session("en")
    await backend.upload(session, photos["png"], "a.png")
    await backend.upload(session, song, "song.wav")
    _ = [e async for e in backend.instruct(session, "square, 720p, 15 fps, 3 s, music", "en")]
    assert "BGM: song.wav" in summary(parse_timeline((await backend.state(session)).draft))
    state = await backend.state(session)
    done = [e async for e in backend.export(session, state, tmp_path / "out")][-1]
    assert isinstance(done, ExportDone)
    assert done.path is not None
    loudness = _aac_loudness(done.path)
    assert loudness.integrated == pytest.approx(settings.music_lufs, abs=1.0)
    assert loudness.true_peak <= -0.5


def test_the_limiter_holds_every_peak_and_normalising_reaches_the_target() -> None:
    rng = np.random.default_rng(7)
    quiet = (rng.normal(0, 0.005, (2, audio.RATE * 3))).astype(np.float32)
    quiet[:, :: audio.RATE // 7] = 0.95  # clicks far above the rest
    limited = audio.limit_peaks(quiet * 20, 0.5)
    assert float(np.abs(limited).max()) <= 0.5 + 1e-6
    out = audio.normalise(quiet, -16.0)
    measured = audio.measure(out)
    assert measured.integrated == pytest.approx(-16.0, abs=0.5)
    assert measured.true_peak <= -1.0 + 0.3
    silence = np.zeros((2, audio.RATE), np.float32)
    assert audio.normalise(silence, -16.0) is silence
