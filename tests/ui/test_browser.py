"""A real headless chromium clicking through upload → ask → open the cited page."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium at /usr/bin/chromium")


def _ingest(p, url: str, path: Path):  # noqa: ANN001, ANN202 - playwright objects
    """A fresh browser on the app with `path` uploaded and ingested: (browser, page)."""
    browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    page.goto(url)
    page.locator("input[type=file]").first.set_input_files(str(path))
    page.get_by_role("button", name="Ingest").click()
    page.get_by_text(f"{path.name}: ok").wait_for(timeout=120_000)
    return browser, page


def _ask_and_open_first_citation(page, question: str, cited: str) -> None:  # noqa: ANN001
    page.get_by_label("Question").fill(question)
    page.get_by_role("button", name="Ask").click()
    page.get_by_text(cited).first.wait_for(timeout=60_000)
    page.get_by_label("Open a citation").click()
    page.get_by_role("option").first.click()


def test_click_through_and_open_citation(served, guide_pdf, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, _lens, _gen = served
    with sync_api.sync_playwright() as p:
        browser, page = _ingest(p, url, guide_pdf)
        _ask_and_open_first_citation(page, "Who is the lighthouse keeper?", "guide.pdf p. 2")
        page.locator("#cited-page img").first.wait_for(timeout=30_000)
        shot = tmp_path / "answer.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    if os.environ.get("LONGLENS_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["LONGLENS_SCREENSHOT"])


def _video_tools():  # noqa: ANN202 - the video tests' ffmpeg/espeak-ng renderer, loaded by path
    import importlib.util

    spec = importlib.util.spec_from_file_location("video_media", Path(__file__).parents[1] / "video" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not (shutil.which("ffmpeg") and shutil.which("espeak-ng")), reason="needs ffmpeg and espeak-ng")
def test_cited_video_opens_at_the_cited_second(served, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    media = _video_tools()
    video = media.make_media(tmp_path / "tour.mp4", media.MediaSpec(
        slides=[(20.0, 26.0, "HARBOUR TOUR")], speech=[(21.0, "The lighthouse keeper is Marguerite Vasquez.")],
        duration=30.0, size="320x180"))
    url, lens, _gen = served
    with sync_api.sync_playwright() as p:
        browser, page = _ingest(p, url, video)
        hit = lens.search("lighthouse keeper", k=1)[0]
        assert hit.t_start is not None and hit.t_start >= 15.0  # the speech and the slide start after 20 s
        _ask_and_open_first_citation(page, "Who is the lighthouse keeper?", "tour.mp4 [")
        player = page.locator("#cited-video video").first
        player.wait_for(timeout=30_000)
        page.wait_for_function(
            "() => { const v = document.querySelector('#cited-video video');"
            " return v && v.currentTime > 1 && v.readyState >= 2; }",
            timeout=30_000)
        position = player.evaluate("v => v.currentTime")
        shot = tmp_path / "video.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert abs(position - hit.t_start) < 1.5, (position, hit.t_start)
    if os.environ.get("LONGLENS_VIDEO_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["LONGLENS_VIDEO_SCREENSHOT"])
