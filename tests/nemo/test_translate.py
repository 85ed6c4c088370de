"""GUI phrases become what the bot does, in English and Chinese."""

from __future__ import annotations

from backends.nemo.translate import Translated, translate


def test_click_export_is_an_offer_to_export_not_words() -> None:
    out = translate("Your clip is ready! Click Export to download it.")
    assert out == Translated("Your clip is ready!", offers_export=True)


def test_export_button() -> None:
    out = translate("Use the Export button when you are happy.")
    assert out == Translated("", offers_export=True)


def test_an_export_clause_is_cut_and_the_rest_kept() -> None:
    out = translate("I added the music, and click Export to download it.")
    assert out == Translated("I added the music.", offers_export=True)
    zh = translate("已添加音乐，点击导出即可下载。", "zh")
    assert zh == Translated("已添加音乐。", offers_export=True)


def test_chinese_click_export() -> None:
    out = translate("视频已生成。点击导出即可下载。", "zh")
    assert out == Translated("视频已生成。", offers_export=True)


def test_generic_click_becomes_say_capitalised_at_a_sentence_start() -> None:
    assert translate('Click "Add music" to add BGM.').text == 'Say "Add music" to add BGM.'
    assert translate("Then click Shuffle.").text == 'Then say "Shuffle".'
    assert translate("点击「添加音乐」即可。", "zh").text == "发送“添加音乐”即可。"


def test_drag_becomes_words() -> None:
    out = translate("I added the title. Drag the clip to reorder it.")
    assert out.text.startswith("I added the title.")
    assert "Drag" not in out.text
    assert "in words" in out.text
    assert "用文字" in translate("拖拽片段即可调整顺序。", "zh").text


def test_preview_and_open_ask_for_the_timeline() -> None:
    out = translate("Done! Preview it in the timeline.")
    assert out == Translated("Done!", show_project=True)
    assert translate("Open the editor panel to see it.").show_project
    assert translate("打开编辑器查看。", "zh").show_project


def test_plain_text_is_unchanged() -> None:
    out = translate("I made a 5-second zoom-in at 9:16.")
    assert out.text == "I made a 5-second zoom-in at 9:16."
    assert not out.show_project
    assert not out.offers_export


def test_line_breaks_are_kept() -> None:
    text = "5 s · Zoom in · 9:16\nDraft: Zoom in, 1080×1920, 5 s.\n\nClick Export to download."
    out = translate(text)
    kept = "5 s · Zoom in · 9:16\nDraft: Zoom in, 1080×1920, 5 s."
    assert out == Translated(kept, offers_export=True)
    zh = translate("9:16 · 6 秒\n当前草稿：放大，6 秒。说“导出”即可生成视频。", "zh")
    assert zh.text == "9:16 · 6 秒\n当前草稿：放大，6 秒。说“导出”即可生成视频。"


def test_file_names_and_decimals_are_not_split() -> None:
    text = "Timeline: 1. Video: astro.jpg (0-2.5s) at nemovideo.com. Done!"
    assert translate(text).text == text
    assert translate("第一句。第二句！Done. 好的").text == "第一句。第二句！Done. 好的"


def test_a_dropped_sentence_leaves_no_empty_line() -> None:
    out = translate("Title added.\nPreview it in the timeline.\nAnything else?")
    assert out.text == "Title added.\nAnything else?"
    assert out.show_project


def test_open_and_drop_in_plain_words_are_not_gui_phrases() -> None:
    for text in (
        "I added a drop shadow to the title.",
        "The clip starts on an open sky and zooms in.",
        "Let's open with a wide shot of the city.",
        "I lowered the music so the voice stands out; drop the volume further if you like.",
    ):
        out = translate(text)
        assert out == Translated(text), text
    assert translate("Drop the photo onto the timeline.").text.startswith("Tell me in words")
    assert translate("Drag and drop the clip here.").text.startswith("Tell me in words")
    assert translate("Open the timeline to check it.").show_project
    assert translate("Open your media library to see the photos.").show_project
