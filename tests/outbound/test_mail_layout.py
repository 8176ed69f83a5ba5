"""Every mail template fits a phone: rendered by mailhub (CSS inlined) and opened in Chromium at
375 px and at desktop width, nothing overflows sideways; on the phone the buttons stack and the
card spans the screen with little side padding, on the desktop the buttons sit side by side in
a centred card. A screenshot of each is saved under tests/output/screenshots/mail/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailhub.outbound.render import Renderer

from helpers import CHROMIUM, TESTS, chromium
from mail_context import CONTEXT, TEMPLATES

SHOTS = TESTS / "output" / "screenshots" / "mail"
PHONE, DESKTOP = 375, 1024

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Browser, sync_playwright  # noqa: E402

MEASURE = """() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.width, r.bottom]; };
  const card = document.querySelector('.card');
  return {
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
    card: box(card),
    padding: parseFloat(getComputedStyle(card).paddingLeft),
    buttons: [...document.querySelectorAll('a.button, a.button-quiet')].map(box),
    rows: [...document.querySelectorAll('.card *')]
      .map((p) => [...p.children].filter((c) => c.matches('a.button, a.button-quiet')))
      .filter((group) => group.length > 1)
      .map((group) => group.map((b) => Math.round(b.getBoundingClientRect().top))),
  };
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = chromium(p)
        yield b
        b.close()


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_mail_fits_a_phone_and_a_desktop(browser: Browser, template: str) -> None:
    html = Renderer().render(template, CONTEXT).html
    for width in (PHONE, DESKTOP):
        context = browser.new_context(viewport={"width": width, "height": 800})
        page = context.new_page()
        page.set_content(html)
        got = page.evaluate(MEASURE)
        page.screenshot(path=str(SHOTS / f"{template}-{width}.png"), full_page=True)
        context.close()
        assert got["scroll"] <= got["inner"], f"{template} overflows at {width} px"
        left, _top, card_width, _bottom = got["card"]
        buttons = got["buttons"]
        if width == PHONE:
            assert left <= 1 and card_width >= PHONE - 2, "the card spans the phone's screen"
            assert got["padding"] <= 16
            for above, below in zip(buttons, buttons[1:], strict=False):
                assert below[1] >= above[3] - 1, "buttons stack on a phone"
            for b in buttons:
                assert b[2] >= card_width - 2 * got["padding"] - 2, (
                    "a button is as wide as the card"
                )
        else:
            assert card_width <= 652 and left > 100, "a centred card on the desktop"
            for row in got["rows"]:  # the buttons of one paragraph
                assert len(set(row)) == 1, "buttons side by side on the desktop"
