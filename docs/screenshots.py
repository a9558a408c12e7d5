"""Screenshots of the web view at 390 and 1440 pixels wide, for docs/web.md.

Makes a collection of the bundled sample in a temporary folder, serves it with
`archiver serve`, and saves what headless Chromium (JavaScript off) shows of the
collection, a bag, a text and a search into OUT (default: docs/img/).

Usage: .venv/bin/python docs/screenshots.py [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from urllib.parse import urljoin

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from archiver.clock import Clock  # noqa: E402
from archiver.packing import make_bag  # noqa: E402
from archiver.resources import sample_file  # noqa: E402
from tests.browser import chromium  # noqa: E402
from tests.oai_helpers import running_server  # noqa: E402

PAGES = {
    "collection": "/",
    "bag": "/bags/a-giant-step-for-peace",
    "text": "/bags/a-giant-step-for-peace/data/a-giant-step-for-peace.txt",
    "search": "/search?q=sanctions",
}
WIDTHS = (390, 1440)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clock = Clock.from_environment({"SOURCE_DATE_EPOCH": "1795737600"})
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        make_bag(
            [sample_file("a-giant-step-for-peace.txt")],
            root / "collection",
            record=sample_file("a-giant-step-for-peace.json"),
            bag_id="a-giant-step-for-peace",
            clock=clock,
        )
        with running_server(root / "collection") as server:
            for width in WIDTHS:
                driver = chromium(root / f"profile-{width}", width=width)
                try:
                    for name, path in PAGES.items():
                        driver.get(urljoin(server.url, path))
                        driver.set_window_size(width, 1200)
                        target = args.out / f"{name}-{width}.png"
                        driver.save_screenshot(str(target))
                        print(target)
                finally:
                    driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
