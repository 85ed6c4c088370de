"""Faces kept in frame: real photos, real renders, the same detector on the output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backends.local import faces, motion
from backends.local.faces import Box, Face
from backends.local.render import RenderSpec, Slide, render


def _sample(name: str) -> np.ndarray:
    import skimage.data

    img: np.ndarray = getattr(skimage.data, name)()
    return img


@pytest.fixture(scope="module")
def portrait(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 600×800 portrait photo whose face (the astronaut's) sits near the top left
    corner, over a blurred sample photo."""
    import cv2
    from PIL import Image

    ground = cv2.GaussianBlur(cv2.resize(_sample("coffee"), (600, 800)), (0, 0), 8)
    ground[0:240, 0:170] = _sample("astronaut")[40:280, 140:310]  # the face: x 38-127, y 23-135
    path = tmp_path_factory.mktemp("faces") / "portrait.jpg"
    Image.fromarray(ground).save(path, quality=92)
    return path


def _faces_per_frame(path: Path) -> list[list[Face]]:
    import av

    with av.open(str(path)) as c:
        return [
            faces.detect(np.ascontiguousarray(f.to_ndarray(format="rgb24"), dtype=np.uint8))
            for f in c.decode(video=0)
        ]


def test_the_detector_finds_the_astronaut_and_nothing_in_a_coffee_cup() -> None:
    assert faces.available()
    (face,) = faces.detect(_sample("astronaut"))
    # Her face spans about x 180-265, y 65-175 of the 512×512 picture.
    assert face.box.cx * 512 == pytest.approx(222, abs=12)
    assert face.box.cy * 512 == pytest.approx(118, abs=15)
    assert face.score >= 85
    assert faces.detect(_sample("coffee")) == []
    assert faces.detect(_sample("chelsea")) == []  # a cat is not a face here


@pytest.mark.parametrize(("size", "move"), [
    ((288, 512), "zoom_in"), ((288, 512), "zoom_face"),
    ((512, 288), "zoom_in"), ((512, 288), "zoom_face"),
])  # fmt: skip
def test_a_face_off_centre_stays_in_every_frame(
    portrait: Path, size: tuple[int, int], move: motion.Move, tmp_path: Path
) -> None:
    out = tmp_path / "face.mp4"
    spec = RenderSpec((Slide(portrait, move),), width=size[0], height=size[1], fps=10,
                      duration_s=2.0)  # fmt: skip
    render(spec, out)
    found = _faces_per_frame(out)
    assert len(found) == 20
    assert all(found), [i for i, f in enumerate(found) if not f]
    if move == "zoom_face":
        # The zoom ends nearer the face, and larger (1.45× deep; the boxes wobble a little).
        first, last = found[0][0].box, found[-1][0].box
        assert (last.y1 - last.y0) > 1.25 * (first.y1 - first.y0)
        assert abs(last.cx - 0.5) < abs(first.cx - 0.5) or abs(last.cy - 0.5) < abs(first.cy - 0.5)


def test_without_faces_the_centre_crop_loses_that_face(portrait: Path, tmp_path: Path) -> None:
    # The check above can fail: the old centred framing cuts the face out of a 9:16 clip.
    out = tmp_path / "centre.mp4"
    spec = RenderSpec((Slide(portrait, "zoom_in"),), width=288, height=512, fps=10,
                      duration_s=2.0, faces=False)  # fmt: skip
    render(spec, out)
    assert not all(_faces_per_frame(out))


def test_the_subject_is_every_main_face_or_the_largest_when_they_do_not_fit() -> None:
    left = Face(Box(0.05, 0.2, 0.25, 0.5), 95)
    right = Face(Box(0.7, 0.2, 0.85, 0.45), 90)
    tiny = Face(Box(0.45, 0.8, 0.48, 0.84), 80)
    assert faces.subject([]) is None
    assert faces.subject([left, right, tiny]) == Box(0.05, 0.2, 0.85, 0.5)
    assert faces.subject([left, right], max_w=0.5) == left.box


@pytest.mark.parametrize("move", ["zoom_in", "zoom_out", "zoom_face", "breathe"])
@pytest.mark.parametrize("target", [(0.1, 0.1), (0.5, 0.5), (0.9, 0.3), (0.03, 0.97)])
def test_aimed_moves_stay_inside_the_still_and_keep_the_target_in_view(
    move: motion.Move, target: tuple[float, float]
) -> None:
    deepest = motion.max_zoom(move)
    for i in range(41):
        cam = motion.camera_at(move, i / 40, target=target)
        half = 0.5 / cam.zoom
        for centre, aim in ((cam.cx, target[0]), (cam.cy, target[1])):
            assert half - 1e-9 <= centre <= 1 - half + 1e-9
            assert centre - half - 1e-9 <= aim <= centre + half + 1e-9
    if move in ("zoom_in", "zoom_face"):
        end = motion.camera_at(move, 1.0, target=target)
        reachable = min(1 - 0.5 / deepest, max(0.5 / deepest, target[0]))
        assert end.cx == pytest.approx(reachable)


async def test_zoom_in_on_the_face_is_understood_and_a_faceless_photo_is_said(
    settings: object, photos: dict[str, Path], portrait: Path
) -> None:
    from backends.local.backend import LocalBackend
    from bot.config import Settings
    from bot.ports.backend import TextMessage
    from storage.memory import MemoryStore

    assert isinstance(settings, Settings)
    backend = LocalBackend(settings, MemoryStore())
    session = await backend.open_session("en")
    await backend.upload(session, portrait, "me.jpg")
    (reply,) = [e async for e in backend.instruct(session, "zoom in on the face, 9:16", "en")]
    assert isinstance(reply, TextMessage)
    assert reply.text == "Zoom in on the face · 9:16"
    assert (await backend.state(session)).draft["m"]["move"] == "zoom_face"

    other = await backend.open_session("zh")
    await backend.upload(other, photos["jpeg"], "coffee.jpg")
    (reply,) = [e async for e in backend.instruct(other, "对准人脸", "zh")]
    assert isinstance(reply, TextMessage)
    assert reply.text.startswith("对准人脸放大\n")
    assert "没有找到人脸" in reply.text


@pytest.mark.parametrize("look", [True, False])
def test_a_moving_segment_is_cropped_around_its_faces(
    portrait: Path, look: bool, tmp_path: Path
) -> None:
    from PIL import Image

    from backends.local.moving import FramesSlide

    # Cut 40 columns off the left: the face (x 0-87 of 560) is mostly out of a centred crop.
    rgb = np.ascontiguousarray(np.asarray(Image.open(portrait).convert("RGB"))[:, 40:])
    out = tmp_path / "moving-face.mp4"
    spec = RenderSpec((FramesSlide([rgb] * 5, fps=10),), width=288, height=512, fps=10,
                      duration_s=0.5, faces=look)  # fmt: skip
    render(spec, out)
    assert all(_faces_per_frame(out)) is look
