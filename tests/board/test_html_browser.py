"""The HTML report in a real browser (headless Debian ``chromium``): opened from disk with no server, its images
load and decode, and its table is visible on the first screen of a screenshot."""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess

import pytest

from metareg.board.report import to_html

from helpers.boards import make_board

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTH, HEIGHT = 1280, 1400

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium; .ci/run does)"),
]

#: reports, once the page has loaded, each image's decoded size and the first table's box, in the page title
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight]);
  const r = document.querySelector("table.board").getBoundingClientRect();
  document.title = "PROBE" + JSON.stringify({images, table: [r.left, r.top, r.width, r.height]});
});
</script>"""


def _chromium(*args: str, timeout: int = 120) -> str:
    command = [CHROMIUM, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               f"--window-size={WIDTH},{HEIGHT}", "--virtual-time-budget=5000", *args]
    if os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_report_images_load_and_table_is_visible_in_a_screenshot(tmp_path):
    from PIL import Image, ImageChops

    page = to_html(make_board(tmp_path / "store"))
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    hidden = tmp_path / "hidden.html"
    hidden.write_text(page.replace("</style>", "table.board { visibility: hidden; }</style>"), encoding="utf-8")

    dom = _chromium("--dump-dom", probe.as_uri())
    found = re.search(r"<title>PROBE(.*?)</title>", dom)
    assert found, dom[:500]
    state = json.loads(found.group(1).replace("&quot;", '"'))
    assert len(state["images"]) == 3
    assert all(complete and width > 0 and height > 0 for complete, width, height in state["images"])
    left, top, width, height = state["table"]
    assert width > 300 and height > 50 and 0 <= top and top + height <= HEIGHT  # on the first screen

    shots = {}
    for name, source in (("report", report), ("hidden", hidden)):
        target = tmp_path / f"{name}.png"
        _chromium(f"--screenshot={target}", source.as_uri())
        shots[name] = Image.open(io.BytesIO(target.read_bytes())).convert("RGB")
    box = (int(left), int(top), int(left + width), int(top + height))
    table = shots["report"].crop(box)
    assert len(table.getcolors(1 << 16) or []) > 10  # text and borders, not a blank area
    difference = ImageChops.difference(table, shots["hidden"].crop(box)).convert("L")
    changed = sum(difference.histogram()[41:])  # pixels that changed by more than 40 of 255
    assert changed > 0.02 * table.width * table.height  # hiding the table changes its pixels: it was visible
