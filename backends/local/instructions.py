"""Instructions in English or Chinese, understood by rules (no model).

`parse` turns one message into a typed list of changes (`backends.local.changes`) and
the words it did not understand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from backends.local.changes import (
    Change,
    PickMusic,
    SetAspect,
    SetDuration,
    SetFades,
    SetFps,
    SetMotion,
    SetMusic,
    SetResolution,
    SetSpeed,
    SetTitle,
)
from backends.local.library import Mood


@dataclass(frozen=True, slots=True)
class Parsed:
    """What one message asked for, and what was left over."""

    changes: tuple[Change, ...]
    unknown: str


_ZH_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}


def zh_number(text: str) -> float | None:
    """A number written in digits or in simple Chinese numerals (up to 99)."""
    try:
        return float(text)
    except ValueError:
        pass
    if not text or any(ch not in _ZH_DIGITS and ch != "十" for ch in text):
        return None
    if "十" in text:
        tens, _, ones = text.partition("十")
        return float((_ZH_DIGITS[tens] if tens else 1) * 10 + (_ZH_DIGITS[ones] if ones else 0))
    return float(_ZH_DIGITS[text]) if len(text) == 1 else None


_NUM = r"(\d+(?:\.\d+)?|[零一二两三四五六七八九十]{1,3})"
Rule = tuple[str, Callable[[re.Match[str]], Change | None]]


def _fixed(change: Change) -> Callable[[re.Match[str]], Change]:
    return lambda _m: change


def _seconds(m: re.Match[str]) -> Change | None:
    n = zh_number(next(g for g in m.groups() if g is not None))
    return SetDuration(n) if n is not None and 1 <= n <= 60 else None


def _fps(m: re.Match[str]) -> Change | None:
    n = int(m.group(1))
    return SetFps(n) if 10 <= n <= 60 else None


def _resolution(m: re.Match[str]) -> Change:
    return SetResolution(int(m.group(1)) if m.group(1) else 1080)


def _aspect(m: re.Match[str]) -> Change:
    w, h = m.group(1), m.group(2)
    return SetAspect(f"{w}:{h}")  # type: ignore[arg-type]


#: Words for each mood of the music library, English and Chinese.
_MOOD_WORDS: dict[Mood, tuple[str, str]] = {
    "calm": (
        "calm|relaxing|relaxed|peaceful|chill|soothing|quiet|ambient",
        "平静|安静|舒缓|轻松|放松|宁静",
    ),
    "energetic": (
        "upbeat|energetic|lively|dynamic|exciting|epic|powerful|fast",
        "动感|激昂|活泼|热血|劲爆",
    ),
    "happy": ("happy|cheerful|joyful|joyous|fun|bright|playful", "欢快|快乐|开心|愉快|欢乐"),
    "nostalgic": ("nostalgic|retro|wistful|sentimental|melancholic|sad", "怀旧|复古|伤感|忧伤"),
    "tender": ("tender|romantic|gentle|soft|warm|sweet|loving", "温柔|浪漫|温馨|甜蜜|柔和"),
}


def _mood(m: re.Match[str]) -> Change | None:
    word = next(g for g in m.groups() if g is not None).lower()
    for mood, (en, zh) in _MOOD_WORDS.items():
        if word in en.split("|") or word in zh.split("|"):
            return PickMusic(mood)
    return None


_TUNE = r"(?:background |bgm )?(?:music|song|track|tune|soundtrack|bgm)"
_MOOD_RULE = (
    r"\b("
    + "|".join(en for en, _ in _MOOD_WORDS.values())
    + r")(?: (?:background|bgm|instrumental))? (?:music|song|track|tune|soundtrack|bgm)\b|("
    + "|".join(zh for _, zh in _MOOD_WORDS.values())
    + r")(?:一点|一些)?的?(?:背景)?(?:音乐|配乐|歌曲|歌|曲子)"
)

# Order matters: longer and more specific phrases first; each match is removed.
_MUSIC_WORD = r"(?:music|audio|song|soundtrack)"
_PAN = r"(?:s|ning|ing)?(?: to(?: the)?)? "
RULES: Sequence[Rule] = (
    # music (before the plain word "music")
    (
        r"\b(?:no|without|remove|drop|mute)(?: the| any)? (?:background )?"
        + _MUSIC_WORD
        + r"\b|\bsilent\b|不要(?:背景)?音乐|去掉(?:背景)?音乐|静音|无音乐",
        _fixed(SetMusic(False)),
    ),
    (
        r"\b(?:change|switch|swap|replace)(?: the| this)? " + _TUNE + r"\b"
        r"|\b(?:another|a different|different|other|next|new) " + _TUNE + r"\b"
        r"|换(?:一首|一个|首|个)(?:背景)?(?:音乐|歌|曲子|配乐)?|换(?:背景)?(?:音乐|配乐|歌)",
        _fixed(PickMusic(another=True)),
    ),
    (_MOOD_RULE, _mood),
    (
        r"\b(?:background )?(?:music|soundtrack|song|bgm)\b|背景音乐|配乐|音乐",
        _fixed(SetMusic(True)),
    ),
    (
        r"\b(?:no|remove|without)(?: the)? (?:title|caption|text)\b|去掉标题|不要标题",
        _fixed(SetTitle(None)),
    ),
    # fades
    (
        r"\bfades?(?:[ -]?in)? (?:and|&|/) ?(?:fade[ -]?)?out\b|\bfades\b|淡入淡出",
        _fixed(SetFades(True, True)),
    ),
    (r"\bfade[ -]?in\b|\bfade from black\b|淡入", _fixed(SetFades(True, False))),
    (r"\bfade[ -]?out\b|\bfade to black\b|淡出", _fixed(SetFades(False, True))),
    # camera motion (the face first: it also says "zoom in")
    (
        r"\b(?:zoom(?:s|ing)?|push(?:es|ing)?)(?:[ -]?in(?:to)?)? (?:on|to|towards?) "
        r"(?:the |her |his |their |my |our |a )?(?:faces?|person|people)\b"
        r"|\b(?:focus|centre|center|frame)(?: it)? on (?:the |her |his |their |my )?faces?\b"
        r"|\bface (?:zoom|close[ -]?up)\b|\bclose[ -]?up\b"
        r"|对准人脸|对准脸|聚焦人脸|放大人脸|人脸特写|脸部特写|特写",
        _fixed(SetMotion("zoom_face")),
    ),
    (
        r"\bzoom(?:s|ing)?[ -]?out\b|\bpull(?:s|ing)?[ -]?(?:back|out)\b|缩小|拉远",
        _fixed(SetMotion("zoom_out")),
    ),
    (
        r"\bzoom(?:s|ing)?(?:[ -]?in(?:to)?)?\b|\bpush(?:es|ing)?[ -]?in\b|\bken burns\b"
        r"|放大|推近|拉近",
        _fixed(SetMotion("zoom_in")),
    ),
    (
        r"\b(?:pan|move|slide|scroll)" + _PAN + r"left(?:wards?)?\b|向左(?:平移|移动|移)?|左移",
        _fixed(SetMotion("pan_left")),
    ),
    (
        r"\b(?:pan|move|slide|scroll)" + _PAN + r"right(?:wards?)?\b|向右(?:平移|移动|移)?|右移",
        _fixed(SetMotion("pan_right")),
    ),
    (
        r"\b(?:pan|tilt|move|slide|scroll)" + _PAN + r"up(?:wards?)?\b|向上(?:平移|移动|移)?|上移",
        _fixed(SetMotion("pan_up")),
    ),
    (
        r"\b(?:pan|tilt|move|slide|scroll)" + _PAN + r"down(?:wards?)?\b"
        r"|向下(?:平移|移动|移)?|下移",
        _fixed(SetMotion("pan_down")),
    ),
    (
        r"\b(?:(?:a )?(?:slow(?:ly)?|gentle|gently|subtle) )?(?:rotat\w*|spin\w*|twist\w*)\b"
        r"|(?:慢慢)?旋转|转动",
        _fixed(SetMotion("rotate")),
    ),
    (
        r"\b(?:(?:a )?(?:gentle|gently|soft|subtle|slow) )?(?:breath\w*|puls\w*)\b|呼吸",
        _fixed(SetMotion("breathe")),
    ),
    (
        r"\b(?:no (?:motion|movement|camera move(?:ment)?)|static|keep it still)\b|静止|不动",
        _fixed(SetMotion("still")),
    ),
    # speed
    (
        r"\b(?:much |a (?:bit|little) )?(?:slower|more slowly|less motion)\b"
        r"|慢一点|慢一些|慢点|更慢|放慢",
        _fixed(SetSpeed(0.6)),
    ),
    (
        r"\b(?:much |a (?:bit|little) )?(?:faster|quicker|more motion|more dramatic)\b"
        r"|快一点|快一些|快点|更快|加快",
        _fixed(SetSpeed(1.6)),
    ),
    # numbers with units
    (r"(\d{2})\s*(?:fps|frames? ?(?:per|a|/) ?s(?:ec(?:ond)?)?|帧(?:每秒)?)", _fps),
    (r"\b(720|1080)\s*p\b|\b(?:full hd|fhd)\b", _resolution),
    (r"\bhd\b|高清", _fixed(SetResolution(720))),
    (_NUM + r"\s*(?:-\s*)?(?:s|sec|secs|seconds?)\b|" + _NUM + r"\s*秒(?:钟)?", _seconds),
    # aspect
    (r"\b(9|16|1|4)\s*[:x/]\s*(16|9|1|5)\b", _aspect),
    (
        r"\b(?:vertical|portrait|story|stories|reels?|tiktok|shorts)\b|竖屏|竖版|竖向|竖",
        _fixed(SetAspect("9:16")),
    ),
    (
        r"\b(?:landscape|horizontal|widescreen|wide|youtube)\b|横屏|横版|横向|横",
        _fixed(SetAspect("16:9")),
    ),
    (r"\bsquare\b|正方形|方形|方屏", _fixed(SetAspect("1:1"))),
    (r"\b(?:feed|instagram post)\b", _fixed(SetAspect("4:5"))),
)


_COMPILED = [(re.compile(p, re.IGNORECASE), f) for p, f in RULES]
_QUOTES = re.compile(
    r"“([^”]+)”|「([^」]+)」|『([^』]+)』|«([^»]+)»|‘([^’]+)’|\"([^\"]+)\"|(?<!\w)'([^']+)'(?!\w)"
)
_TITLE_PLAIN = re.compile(
    r"(?:\btitle(?:d)?|\bcaption|\btext|标题|文字)\s*(?:[:：=]|\bis\b|\bsays?\b|为|是)\s*([^,;，。；\n]+)",
    re.IGNORECASE,
)
_FILLER_EN = frozenset(
    """a an the and or with please to of in it its it's this that for me my make made making
    clip video movie animation animate animated photo photos picture pictures image images
    can could you i want would like add use set some on at be long format ratio aspect
    camera effect do let's lets also then just little bit more give gentle gently nice
    smooth smoothly slow slowly resolution title titled called text caption say says
    duration length frame rate fps speed motion move movement quality into as is should
    about around but really very thanks thank hi hello hey ok okay so up now
    instead change switch go keep instagram telegram discord whatsapp wechat post
    each separately separate individually one per every clips videos""".split()  # noqa: SIM905 - a word list reads better so
)
_FILLER_ZH = tuple(
    sorted(
        """请 帮我 帮 我 做一个 做个 做 一个 个 把 让 的 吧 和 并且 然后 加上 添加 加 要 视频 照片
        图片 短片 镜头 效果 慢慢地 地 成 为 用 点 些 了 啊 呀 吗 呢 再 来 给 配上 改成 改 换成 换
        好的 好 行 可以 标题 文字 秒钟 动画 一下 一点 设置 变成 时长 长度 分辨率 比例 画面 帧率
        谢谢 也 还 就 都 这张 这个 它 分别 每张 每个 各自 单独""".split(),  # noqa: SIM905 - a word list reads better so
        key=len,
        reverse=True,
    )
)


def _strip_fillers(rest: str) -> str:
    words = re.findall(r"[A-Za-z']+|\d+(?:\.\d+)?|[\u4e00-\u9fff]+", rest)
    left: list[str] = []
    for w in words:
        if re.fullmatch(r"[\u4e00-\u9fff]+", w):
            for word in _FILLER_ZH:
                w = w.replace(word, " ")
            left.extend(w.split())
        elif w.lower() not in _FILLER_EN:
            left.append(w)
    return " ".join(left)


def parse(text: str) -> Parsed:
    """The changes `text` asks for, in the order they appear, and the rest."""
    found: list[tuple[int, Change]] = []
    norm = text.replace("：", ":").replace("／", "/").replace("，", ", ")
    norm = norm.translate(str.maketrans("０１２３４５６７８９", "0123456789"))

    def take(m: re.Match[str]) -> str:
        return " " * (m.end() - m.start())

    for m in _QUOTES.finditer(norm):
        quoted = next(g for g in m.groups() if g is not None).strip()
        if quoted:
            found.append((m.start(), SetTitle(quoted)))
    norm = _QUOTES.sub(take, norm)
    if not any(isinstance(c, SetTitle) for _, c in found):
        tm = _TITLE_PLAIN.search(norm)
        if tm and tm.group(1).strip():
            found.append((tm.start(), SetTitle(tm.group(1).strip())))
            norm = norm[: tm.start()] + " " * (tm.end() - tm.start()) + norm[tm.end() :]
    for rx, make in _COMPILED:
        for m in rx.finditer(norm):
            change = make(m)
            if change is not None:
                found.append((m.start(), change))
        norm = rx.sub(lambda m: take(m) if _accepts(m) else m.group(0), norm)
    found.sort(key=lambda p: p[0])
    return Parsed(tuple(c for _, c in found), _strip_fillers(norm))


def _accepts(m: re.Match[str]) -> bool:
    for rx, make in _COMPILED:
        if rx.pattern == m.re.pattern:
            return make(m) is not None
    return True
