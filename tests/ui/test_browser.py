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
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1500, "height": 950})
        page.goto(url)
        page.locator("input[type=file]").first.set_input_files(str(video))
        page.get_by_role("button", name="Ingest").click()
        page.get_by_text("tour.mp4: ok").wait_for(timeout=120_000)
        hit = lens.search("lighthouse keeper", k=1)[0]
        assert hit.t_start is not None and hit.t_start >= 15.0  # the speech and the slide start after 20 s
        page.get_by_label("Question").fill("Who is the lighthouse keeper?")
        page.get_by_role("button", name="Ask").click()
        page.get_by_text("tour.mp4").first.wait_for(timeout=60_000)
        page.get_by_label("Open a citation").click()
        page.get_by_role("option").first.click()
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
