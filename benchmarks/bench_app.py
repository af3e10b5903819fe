"""First render of the web app in Voila, beside notebook 07 served by Voila.

    python benchmarks/bench_app.py              # 5 loads per row (3 for the slow rows)
    python benchmarks/bench_app.py --loads 3 --json

Serves app/recommender_app.ipynb with Voila as ``make app`` does (app/voila.json), and
notebook 07 with Voila's defaults, each from a copy in a temporary folder with its own
HOME and Jupyter folders, on 127.0.0.1; then loads the page in headless Chromium (a new
browser context each time: nothing cached in the browser) and times from the request to
the rate-and-recommend panel's recommendations on screen. Rows:

- the app, pre-heated kernel (make app): Voila keeps one kernel that has already run the
  notebook, so a visitor gets a rendered page; the next load waits until the pool is
  filled again (a warm kernel, a warm model cache);
- the app, a kernel started per visit (``preheat_kernel=False``), model cache warm;
- the app, a kernel per visit and an empty model cache: the kernel fits the hybrid mixture
  (20 seeds) before it can render; a new server and cache for every load;
- notebook 07 (the whole derivation, three explorers), a kernel per visit.

Each row gives the median, min and max over its loads (after one untimed load on the same
server, which warms the browser and the file cache; the cold-cache row has none, its
browser is warm from the rows before) and the resident memory of a visitor's kernel once
the page is shown. Pages are closed between loads; the kernels they
leave are culled or stopped with the server. Requests to anywhere but 127.0.0.1 (Voila's
template links Font Awesome from a CDN) get an empty answer: this machine has no outside
network. Reuses tests/browser_support.py. Needs Chromium (/usr/bin/chromium, or
$CFCORE_CHROMIUM), Playwright, and MovieLens 100K under $CFCORE_DATA/ml-100k.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the browser and server helpers of the tests

from browser_support import (  # noqa: E402
    CHROMIUM,
    command_line,
    kernels_below,
    launch_chromium,
    start_voila,
    stop_process,
    voila_environment,
    wait_for_port,
)

from cfcore.apps.app import APP_MODEL, fitted_model  # noqa: E402
from cfcore.data import load_movielens_100k  # noqa: E402

APP = ("app", "recommender_app.ipynb", ["voila.json"])
NOTEBOOK_07 = ("notebooks", "07_interactive.ipynb", [])
#: what "rendered" means on both pages: the recommendations of rate-and-recommend shown
RENDERED = ".cfcore-rate-recommendations pre"
#: Voila logs this when its pool of pre-heated kernels is full again
POOL_FILLED = "is filled with"
#: seconds a page may take (notebook 07 executes every cell first)
PAGE_TIMEOUT = 180


@dataclass(frozen=True)
class Row:
    """One row of the table: a page, how it was served, and its first-render times."""

    page: str
    kernel: str
    model_cache: str
    loads: int
    median_s: float
    min_s: float
    max_s: float
    kernel_rss_mb: float


def kernel_rss_mb(server_pid: int, kernel_id: str) -> float:
    """Resident memory of the kernel process whose connection file names kernel_id."""
    for pid in kernels_below(server_pid):
        if kernel_id in command_line(pid):
            status = Path(f"/proc/{pid}/status").read_text()
            return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024
    return float("nan")


def load_once(browser, url: str, server_pid: int) -> tuple[float, float]:
    """(seconds to the rendered panel, the visitor's kernel memory in MB) of one page load."""
    context = browser.new_context(viewport={"width": 1200, "height": 1400})
    local = f"{url}/"
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(local)
            else route.fulfill(status=200, content_type="text/css", body="")
        ),
    )
    kernels: list[str] = []
    page = context.new_page()
    page.on("websocket", lambda socket: kernels.append(socket.url))
    start = time.perf_counter()
    page.goto(local, timeout=PAGE_TIMEOUT * 1000)
    page.locator(RENDERED).first.wait_for(timeout=PAGE_TIMEOUT * 1000)
    seconds = time.perf_counter() - start
    found = [re.search(r"/api/kernels/([0-9a-f-]{36})", u) for u in kernels]
    ids = [match.group(1) for match in found if match]
    memory = kernel_rss_mb(server_pid, ids[0]) if ids else float("nan")
    page.close(run_before_unload=True)
    context.close()
    return seconds, memory


class Server:
    """Voila on a copy of one notebook (and its config) in a temporary folder."""

    def __init__(self, source, cache: Path, *options: str):
        folder, notebook, extra_files = source
        self.base = Path(tempfile.mkdtemp(prefix="cfcore-bench-app-"))
        work = self.base / folder
        work.mkdir()
        for name in (notebook, *extra_files):
            shutil.copy(ROOT / folder / name, work / name)
        env = voila_environment(self.base, CFCORE_CACHE=cache, CFCORE_FIGURES=self.base / "fig")
        self.log_path = self.base / "voila.log"
        self.log = open(self.log_path, "wb")  # closed in stop()
        self.process, port = start_voila(work, notebook, env, self.log, *options)
        self.url = f"http://127.0.0.1:{port}"
        wait_for_port(self.process, port, self.log_path, "voila")

    def pool_fills(self) -> int:
        return self.log_path.read_text(errors="replace").count(POOL_FILLED)

    def wait_for_pool(self, fills: int) -> None:
        deadline = time.monotonic() + PAGE_TIMEOUT
        while self.pool_fills() < fills and time.monotonic() < deadline:
            time.sleep(0.2)

    def stop(self) -> None:
        stop_process(self.process)
        self.log.close()
        shutil.rmtree(self.base, ignore_errors=True)


def summarise(page, kernel, cache, results) -> Row:
    seconds = [s for s, _ in results]
    memory = statistics.median(m for _, m in results)
    return Row(
        page,
        kernel,
        cache,
        len(seconds),
        round(statistics.median(seconds), 2),
        round(min(seconds), 2),
        round(max(seconds), 2),
        round(memory),
    )


def bench_preheated(browser, cache: Path, loads: int) -> Row:
    server = Server(APP, cache)
    try:
        results = []
        for k in range(loads + 1):
            server.wait_for_pool(k + 1)  # a warm kernel is waiting, as for a visitor
            results.append(load_once(browser, server.url, server.process.pid))
        results = results[1:]  # the first load warms the browser and the file cache
    finally:
        server.stop()
    return summarise("app", "pre-heated (make app)", "warm", results)


def bench_per_visit(browser, source, cache: Path, loads: int, page: str) -> Row:
    options = ["--VoilaConfiguration.preheat_kernel=False"] if source is APP else []
    server = Server(source, cache, *options)
    try:
        load_once(browser, server.url, server.process.pid)  # warms the browser, the file cache
        results = [load_once(browser, server.url, server.process.pid) for _ in range(loads)]
    finally:
        server.stop()
    cache_state = "warm" if source is APP else "-"
    return summarise(page, "started per visit", cache_state, results)


def bench_cold_cache(browser, loads: int) -> Row:
    results = []
    for _ in range(loads):
        with tempfile.TemporaryDirectory(prefix="cfcore-empty-cache-") as empty:
            server = Server(APP, Path(empty), "--VoilaConfiguration.preheat_kernel=False")
            try:
                results.append(load_once(browser, server.url, server.process.pid))
            finally:
                server.stop()
    return summarise("app", "started per visit", "cold (fits)", results)


def format_table(rows: list[Row]) -> str:
    lines = [
        "| page | kernel | model cache | first render, median (min-max) | loads | kernel RSS |",
        "|---|---|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.page} | {row.kernel} | {row.model_cache} | {row.median_s:.2f} s "
            f"({row.min_s:.2f}-{row.max_s:.2f}) | {row.loads} | {row.kernel_rss_mb:.0f} MB |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=5, help="page loads per fast row")
    parser.add_argument("--slow-loads", type=int, default=3, help="per cold-cache and 07 row")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    data = load_movielens_100k()
    with tempfile.TemporaryDirectory(prefix="cfcore-model-cache-") as cache:
        fitted_model(data.ratings, APP_MODEL, cache)  # what make app does before serving
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                rows = [
                    bench_preheated(browser, Path(cache), args.loads),
                    bench_per_visit(browser, APP, Path(cache), args.loads, "app"),
                    bench_cold_cache(browser, args.slow_loads),
                    bench_per_visit(
                        browser, NOTEBOOK_07, Path(cache), args.slow_loads, "notebook 07"
                    ),
                ]
            finally:
                browser.close()
    if args.json:
        print(json.dumps([asdict(row) for row in rows], indent=2))
    else:
        print(f"first render in Voila, headless Chromium ({CHROMIUM}), 127.0.0.1")
        print(format_table(rows))


if __name__ == "__main__":
    main()
