"""The status page in a real headless Chromium (Debian's `chromium` and its
`chromium-driver`, driven by Selenium): it asks for the token, then shows a request that
was just made, on a phone-sized screen. Under CI=true it must run; elsewhere, without
Chromium, it is skipped with the reason."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app.core import open_core
from bot.config import Settings
from bot.ports.chat import ChatKey, IncomingMessage, Sender
from bot.web import SideServer
from tests.engine.doubles import RecordingChannel

TOKEN = "a-long-status-page-token-0123456789abcdef"
REQUEST = "make it 9:16 for the status page"


def _browser_paths() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    if os.environ.get("CI") == "true":
        pytest.fail(
            "CI must run the status page test, but Chromium is missing (.ci/run installs it)"
        )
    pytest.skip("no Chromium here: apt-get install chromium chromium-driver to run this test")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    chromium, driver_path = _browser_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium'}",
        "--window-size=390,844",  # a phone
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def _sign_in_and_read(driver: object, url: str) -> dict[str, object]:
    """What a person sees: the token form, then the page after typing the token."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    assert isinstance(driver, WebDriver)
    driver.get(url)
    field = driver.find_element(By.NAME, "token")
    asked = {
        "type": field.get_attribute("type"),
        "prompt": driver.find_element(By.TAG_NAME, "body").text,
    }
    field.send_keys("not the token")
    field.submit()
    WebDriverWait(driver, 10).until(ec.presence_of_element_located((By.CLASS_NAME, "error")))
    refused = driver.find_element(By.CLASS_NAME, "error").text
    field = driver.find_element(By.NAME, "token")
    field.send_keys(TOKEN)
    field.submit()
    WebDriverWait(driver, 10).until(ec.presence_of_element_located((By.TAG_NAME, "table")))
    return {
        **asked,
        "refused": refused,
        "title": driver.title,
        "text": driver.find_element(By.TAG_NAME, "body").text,
        "overflow": driver.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        ),
        "cookies": driver.get_cookies(),
    }


async def test_the_status_page_asks_for_the_token_then_shows_the_latest_request(
    browser: object, tmp_path: Path
) -> None:
    settings = Settings.load(
        None, data_dir=tmp_path / "data", http_port=1, http_host="127.0.0.1", http_token=TOKEN
    )
    async with open_core(settings) as core:
        side = SideServer(settings, core.store, core.backend, core.engine.pending, port=0)
        await side.start()
        try:
            chat = ChatKey("telegram", "4242")
            await core.engine.handle(
                IncomingMessage(chat, Sender("4242", "Ann"), REQUEST), RecordingChannel()
            )
            await core.engine.idle()
            seen = await asyncio.to_thread(
                _sign_in_and_read, browser, f"http://127.0.0.1:{side.port}/"
            )
        finally:
            await side.stop()
    assert seen["type"] == "password"
    assert "Enter the token set in CLIPBOT_HTTP_TOKEN" in str(seen["prompt"])
    assert seen["refused"] == "That token is not right."
    assert seen["title"] == "Clipbot status"
    text = str(seen["text"])
    assert REQUEST in text
    assert "telegram:4242" in text
    assert "Recent requests" in text
    assert "Today" in text
    assert seen["overflow"] == 0  # nothing wider than the phone's screen
    cookies = seen["cookies"]
    assert isinstance(cookies, list)
    assert all(TOKEN not in str(c.get("value")) for c in cookies)
