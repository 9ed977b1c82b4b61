"""report.html in a real browser: headless Chromium renders every plot and takes a screenshot.

The page's own script sets ``<body data-images="ok/total" data-image-sizes="WxH,...">`` once
the images have loaded; ``--dump-dom`` returns the DOM after that. Chromium is a system package
(``make test`` installs it with scripts/system-deps.sh): when it is missing this test FAILS,
saying so, rather than skipping.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from reglab.lab.study.report import write_outputs
from tests.lab.test_report import _rows

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WINDOW = (1200, 900)
PLOTS = 6  # learning curves, test score, gap, paired comparison, epochs, weights


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(
        "headless Chromium is needed to check report.html but was not found on PATH "
        "(install Debian's 'chromium' package: `make system-deps`)."
    )


def _run(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    cmd = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    config = {"data": "digits", "recipes": ["baseline", "wide", "narrow"], "recipe_defs": {}}
    return write_outputs(out, config, _rows())["report"]


def test_every_plot_renders_in_chromium(report: Path, tmp_path: Path) -> None:
    proc = _run(["--dump-dom", report.as_uri()], tmp_path / "profile")
    assert proc.returncode == 0, proc.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", proc.stdout)
    assert body is not None, proc.stdout[:500]
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))
    assert attrs.get("data-images") == f"{PLOTS}/{PLOTS}"
    sizes = [tuple(int(v) for v in s.split("x")) for s in attrs["data-image-sizes"].split(",")]
    assert len(sizes) == PLOTS
    assert all(w >= 200 and h >= 150 for w, h in sizes), sizes


def test_screenshot_has_the_window_size_and_is_not_blank(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    size = f"--window-size={WINDOW[0]},{WINDOW[1]}"
    proc = _run(
        [size, "--hide-scrollbars", f"--screenshot={shot}", report.as_uri()], tmp_path / "p"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.is_file()
    with Image.open(shot) as im:
        assert im.format == "PNG"
        assert im.size == WINDOW
        rgb = im.convert("RGB")
        colors = rgb.getcolors(maxcolors=1 << 20) or []
        spread = ImageStat.Stat(rgb.convert("L")).stddev[0]
    # A blank (or error) page is one or two flat colors; the report has text, a table and plots.
    assert len(colors) > 500
    assert spread > 20
