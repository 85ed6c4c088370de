"""Colour: wide-gamut photos (profiles built here, byte by byte) come out right in sRGB."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from backends.local.render import RenderSpec, Slide, render

D65 = (0.3127, 0.3290)
D50_XYZ = np.array([0.9642, 1.0, 0.8249])
PRIMARIES = {
    "srgb": ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06)),
    "display-p3": ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)),
    "adobe-rgb": ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06)),
}
BRADFORD = np.array(
    [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]]
)
#: sRGB colours to show: saturated ones (far from what the wide numbers mean as sRGB)
#: and a grey.
PATCHES = [(235, 25, 25), (25, 190, 45), (30, 45, 230), (245, 215, 20), (235, 120, 20),
           (120, 120, 120)]  # fmt: skip


def _xyz(xy: tuple[float, float]) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1 - x - y) / y])


def rgb_to_xyz(space: str) -> np.ndarray:
    """The linear RGB → XYZ (D65) matrix of a colour space."""
    m = np.stack([_xyz(p) for p in PRIMARIES[space]], axis=1)
    scale = np.linalg.solve(m, _xyz(D65))
    return m * scale


def srgb_decode(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def srgb_encode(v: np.ndarray) -> np.ndarray:
    return np.where(
        v <= 0.0031308, v * 12.92, 1.055 * np.power(np.clip(v, 0, None), 1 / 2.4) - 0.055
    )


ADOBE_GAMMA = 563 / 256  # as Adobe RGB (1998) profiles store it (u8Fixed8)


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _tag_xyz(xyz: np.ndarray) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(float(c)) for c in xyz)


def _tag_desc(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    return (b"desc\0\0\0\0" + struct.pack(">I", len(ascii_)) + ascii_
            + struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + bytes(67))  # fmt: skip


def _tag_curve(space: str) -> bytes:
    if space == "adobe-rgb":
        return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(ADOBE_GAMMA * 256))
    table = np.round(srgb_decode(np.linspace(0, 1, 1024)) * 65535).astype(">u2").tobytes()
    return b"curv\0\0\0\0" + struct.pack(">I", 1024) + table


def icc_profile(space: str, name: str) -> bytes:
    """A v2 display (matrix/TRC) ICC profile of `space`, as the bytes a file embeds."""
    cone = BRADFORD @ _xyz(D65)
    adapt = np.linalg.inv(BRADFORD) @ np.diag((BRADFORD @ D50_XYZ) / cone) @ BRADFORD
    d50 = adapt @ rgb_to_xyz(space)
    curve = _tag_curve(space)
    tags = [
        (b"desc", _tag_desc(name)),
        (b"cprt", b"text\0\0\0\0No copyright, made in a test\0"),
        (b"wtpt", _tag_xyz(D50_XYZ)),
        (b"rXYZ", _tag_xyz(d50[:, 0])),
        (b"gXYZ", _tag_xyz(d50[:, 1])),
        (b"bXYZ", _tag_xyz(d50[:, 2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    table, data = [], b""
    offset = 128 + 4 + 12 * len(tags)
    for sig, body in tags:
        body += bytes(-len(body) % 4)
        table.append(struct.pack(">4sII", sig, offset + len(data), len(body)))
        data += body
    size = offset + len(data)
    illuminant = b"".join(_s15(float(c)) for c in D50_XYZ)
    header = (struct.pack(">I4sI4s4s4s", size, b"lcms", 0x02100000, b"mntr", b"RGB ", b"XYZ ")
              + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + bytes(24)
              + struct.pack(">I", 0) + illuminant + bytes(48))  # fmt: skip
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + b"".join(table) + data


def encode_in(space: str, srgb: np.ndarray) -> np.ndarray:
    """8-bit sRGB colours as 8-bit numbers of `space` that mean the same colours."""
    xyz = srgb_decode(srgb / 255.0) @ rgb_to_xyz("srgb").T
    linear = np.clip(xyz @ np.linalg.inv(rgb_to_xyz(space)).T, 0, 1)
    encoded = linear ** (1 / ADOBE_GAMMA) if space == "adobe-rgb" else srgb_encode(linear)
    return np.round(encoded * 255).astype(np.uint8)


def delta_e(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """CIEDE2000 between sRGB colours (0-255)."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    lab_a = rgb2lab(a.reshape(-1, 1, 3) / 255.0)
    lab_b = rgb2lab(b.reshape(-1, 1, 3) / 255.0)
    result: np.ndarray = deltaE_ciede2000(lab_a, lab_b).ravel()  # type: ignore[no-untyped-call]
    return result


@pytest.mark.parametrize(("space", "name", "fmt"), [
    ("display-p3", "Display P3", "PNG"), ("display-p3", "Display P3", "HEIF"),
    ("adobe-rgb", "Adobe RGB (1998)", "JPEG"),
])  # fmt: skip
def test_wide_gamut_photos_keep_their_colours(
    space: str, name: str, fmt: str, tmp_path: Path
) -> None:
    import av
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    wide = encode_in(space, np.array(PATCHES, dtype=float))
    # Read as if they were sRGB (the old way), saturated patches fail the check below.
    assert delta_e(wide.astype(float), np.array(PATCHES, dtype=float)).max() > 3.5
    picture = np.zeros((200, 300, 3), np.uint8)
    for i, colour in enumerate(wide):
        row, col = divmod(i, 3)
        picture[row * 100 : row * 100 + 100, col * 100 : col * 100 + 100] = colour
    photo = tmp_path / f"patches.{fmt.lower()}"
    Image.fromarray(picture).save(photo, fmt, icc_profile=icc_profile(space, name), quality=95)
    out = tmp_path / "patches.mp4"
    render(RenderSpec((Slide(photo, "still"),), width=300, height=200, fps=10, duration_s=0.3,
                      faces=False), out)  # fmt: skip
    with av.open(str(out)) as c:
        frame = next(c.decode(video=0))
        rgb = frame.reformat(
            format="rgb24", src_colorspace="ITU709", dst_colorspace="ITU709"
        ).to_ndarray()
    seen = np.array(
        [rgb[r * 100 + 30 : r * 100 + 70, c * 100 + 30 : c * 100 + 70].reshape(-1, 3).mean(0)
         for r in range(2) for c in range(3)]
    )  # fmt: skip
    errors = delta_e(seen, np.array(PATCHES, dtype=float))
    assert errors.max() < 3, errors.round(2)  # measured: 0.2-0.8


def test_an_srgb_or_unreadable_profile_leaves_the_photo_alone() -> None:
    from PIL import Image

    from backends.local.colour import to_srgb

    img = Image.new("RGB", (8, 8), (200, 40, 40))
    assert to_srgb(img, None) is img
    assert to_srgb(img, b"not a profile") is img
    srgb = icc_profile("srgb", "sRGB made in a test")
    assert to_srgb(img, srgb) is img
    p3 = to_srgb(img, icc_profile("display-p3", "Display P3"))
    assert p3 is not img
    red = p3.getpixel((0, 0))
    assert isinstance(red, tuple)
    assert red[0] > 200  # P3's red is redder than sRGB's
