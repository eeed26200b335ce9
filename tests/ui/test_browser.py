"""A real headless chromium clicking through upload → ask → open the cited page."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium at /usr/bin/chromium")


def test_click_through_and_open_citation(served, guide_pdf, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, _lens, _gen = served
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1500, "height": 950})
        page.goto(url)
        page.locator("input[type=file]").first.set_input_files(str(guide_pdf))
        page.get_by_role("button", name="Ingest").click()
        page.get_by_text("guide.pdf: ok").wait_for(timeout=60_000)
        page.get_by_label("Question").fill("Who is the lighthouse keeper?")
        page.get_by_role("button", name="Ask").click()
        page.get_by_text("guide.pdf p. 2").first.wait_for(timeout=60_000)
        page.get_by_label("Open a citation").click()
        page.get_by_role("option").first.click()
        page.locator("#cited-page img").first.wait_for(timeout=30_000)
        shot = tmp_path / "answer.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    if os.environ.get("LONGLENS_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["LONGLENS_SCREENSHOT"])
