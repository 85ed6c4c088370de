"""The model backend's rules that need no model: families from `model_index.json`, frame
counts and sizes, the caption split into rules and prompt, and the device's line."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from backends.local import changes as ch
from backends.model.families import LTX, SVD, frame_count, generation_size, read_family
from backends.model.line import Line
from backends.model.prompt import split
from bot.errors import BackendStartError


def _folder(tmp_path: Path, index: object, parts: tuple[str, ...] = ()) -> Path:
    folder = tmp_path / "m"
    folder.mkdir()
    text = index if isinstance(index, str) else json.dumps(index)
    (folder / "model_index.json").write_text(text, encoding="utf-8")
    for part in parts:
        (folder / part).mkdir()
    return folder


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("StableVideoDiffusionPipeline", SVD),
        ("LTXPipeline", LTX),
        ("LTXImageToVideoPipeline", LTX),
    ],
)
def test_the_family_comes_from_model_index(tmp_path: Path, name: str, family: object) -> None:
    folder = _folder(tmp_path, {"_class_name": name, "vae": ["diffusers", "X"]}, ("vae",))
    assert read_family(folder) is family


@pytest.mark.parametrize(
    ("index", "parts", "says"),
    [
        ({"_class_name": "CogVideoXImageToVideoPipeline"}, (), "does not run; it runs"),
        ({"_class_name": "StableDiffusionPipeline"}, (), "StableDiffusionPipeline"),
        ("{not json", (), "damaged"),
        ({"vae": ["diffusers", "X"]}, ("vae",), "names no pipeline class"),
        ({"_class_name": "LTXPipeline", "vae": ["diffusers", "X"]}, (), "incomplete: no vae"),
    ],
)
def test_a_folder_clipbot_cannot_run_is_refused_in_one_line(
    tmp_path: Path, index: object, parts: tuple[str, ...], says: str
) -> None:
    with pytest.raises(BackendStartError, match=says) as info:
        read_family(_folder(tmp_path, index, parts))
    assert "\n" not in str(info.value)


def test_a_missing_folder_or_index_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BackendStartError, match="is not a folder"):
        read_family(tmp_path / "nowhere")
    with pytest.raises(BackendStartError, match=r"no model_index\.json"):
        read_family(tmp_path)


def test_an_absent_optional_component_is_not_missing(tmp_path: Path) -> None:
    index = {"_class_name": "LTXPipeline", "vae": ["diffusers", "X"], "safety": [None, None]}
    assert read_family(_folder(tmp_path, index, ("vae",))) is LTX


@pytest.mark.parametrize(
    ("family", "seconds", "fps", "most", "frames"),
    [
        (LTX, 5.0, 24, 121, 121),  # 8k+1
        (LTX, 2.0, 24, 121, 49),
        (LTX, 10.0, 24, 121, 121),  # capped: the footage plays slower instead
        (LTX, 0.1, 24, 121, 9),  # at least one step of the VAE
        (SVD, 5.0, 7, 25, 25),
        (SVD, 2.0, 7, 25, 14),
        (SVD, 0.1, 7, 25, 2),
    ],
)
def test_frame_counts_follow_the_length_and_the_family_rule(
    family: object, seconds: float, fps: int, most: int, frames: int
) -> None:
    assert frame_count(family, seconds, fps, most) == frames  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("family", "short", "aspect", "size"),
    [
        (LTX, 512, (16, 9), (896, 512)),
        (LTX, 512, (9, 16), (512, 896)),
        (LTX, 512, (1, 1), (512, 512)),
        (SVD, 576, (16, 9), (1024, 576)),
        (SVD, 576, (4, 5), (576, 704)),
        (LTX, 20, (16, 9), (64, 32)),  # never under the stride
    ],
)
def test_generation_sizes_keep_the_aspect_on_the_family_grid(
    family: object, short: int, aspect: tuple[int, int], size: tuple[int, int]
) -> None:
    assert generation_size(family, short, aspect) == size  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "prompt", "changes"),
    [
        (
            "waves crashing on the rocks, 9:16, 6 seconds, title 'Summer Sale'",
            "waves crashing on the rocks",
            (ch.SetAspect("9:16"), ch.SetDuration(6.0), ch.SetTitle("Summer Sale")),
        ),
        ("海浪拍打礁石，竖屏，6秒", "海浪拍打礁石", (ch.SetAspect("9:16"), ch.SetDuration(6.0))),
        ("the cat's tail moves slowly", "the cat's tail moves slowly", ()),
        ('title "Sale, today" and water ripples', "water ripples", (ch.SetTitle("Sale, today"),)),
        ("9:16, fade in", "", (ch.SetAspect("9:16"), ch.SetFades(True, False))),
    ],
)
def test_the_caption_splits_into_rules_and_prompt(
    text: str, prompt: str, changes: tuple[ch.Change, ...]
) -> None:
    parts = split(text, camera_in_prompt=True)
    assert parts.prompt == prompt
    assert parts.changes == changes


def test_camera_words_are_the_prompt_s_for_a_text_model_and_dropped_otherwise() -> None:
    text_model = split("zoom in, water flows, 1:1", camera_in_prompt=True)
    assert text_model.prompt == "zoom in, water flows"
    assert text_model.changes == (ch.SetAspect("1:1"),)
    photo_model = split("zoom in, slower", camera_in_prompt=False)
    assert (photo_model.prompt, photo_model.changes, photo_model.camera) == ("", (), True)


async def test_the_line_serves_in_arrival_order_and_tells_each_its_place() -> None:
    line = Line()
    seen: dict[str, list[int]] = {name: [] for name in "abc"}
    served: list[str] = []
    gates = {name: asyncio.Event() for name in "abc"}

    async def clip(name: str) -> None:
        async with line.place() as place:
            async for n in place.moves():
                seen[name].append(n)
            served.append(name)
            await gates[name].wait()

    tasks = [asyncio.create_task(clip(name)) for name in "abc"]
    await asyncio.sleep(0.01)
    assert (len(line), served, seen) == (3, ["a"], {"a": [], "b": [1], "c": [2]})
    gates["a"].set()
    await asyncio.sleep(0.01)
    assert (served, seen["c"]) == (["a", "b"], [2, 1])
    gates["b"].set()
    gates["c"].set()
    await asyncio.gather(*tasks)
    assert served == ["a", "b", "c"]
    assert len(line) == 0


async def test_a_clip_leaving_the_line_early_moves_the_others_up() -> None:
    line = Line()
    gate = asyncio.Event()
    seen: list[int] = []

    async def first() -> None:
        async with line.place():
            await gate.wait()

    async def last() -> None:
        async with line.place() as place:
            seen.extend([n async for n in place.moves()])

    running = asyncio.create_task(first())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(first())
    await asyncio.sleep(0)
    third = asyncio.create_task(last())
    await asyncio.sleep(0.01)
    waiting.cancel()  # /new in the second chat: it leaves before its turn
    await asyncio.sleep(0.01)
    gate.set()
    await asyncio.gather(running, third, return_exceptions=True)
    assert seen == [2, 1]
