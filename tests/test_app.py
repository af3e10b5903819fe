"""The web app (app/recommender_app.ipynb) served by Voila, in headless Chromium.

Voila is started as ``make app`` starts it (``app/voila.json``: 127.0.0.1, a pre-heated
kernel, idle kernels culled), on a free port, from a copy of app/ in a temporary folder,
with HOME, the Jupyter folders, TMPDIR and the model cache (``$CFCORE_CACHE``) there too;
the cache holds the model this process fitted, as ``make app`` fits it before serving.
Playwright opens the page in Debian's Chromium and times the first render; then a person's
session: three movies searched and rated, the recommendations changing after each rating
to exactly what the live model (``cfcore.models.LiveModel``) computes in this process for
the same ratings; one movie re-rated, then Undo, which brings back its earlier rating and
the earlier recommendations; Undo again. A screenshot after the three ratings goes to
figures/app_voila.png (``$CFCORE_FIGURES`` when set). The readouts must be monospace
(every character one width), the page must log no console error, and no request may leave
127.0.0.1 but the Font Awesome style sheets that Voila's template links from a CDN
(answered here with an empty style sheet: the machine has no outside network, and the
widgets bundle their own copy). The kernel of a closed page is culled (the test shortens
the idle timeout to watch it happen).
At the end the server is stopped, and the test fails if any process it started is left.

Marker ``app``; skipped without Chromium or Playwright (failed under
CFCORE_REQUIRE_BROWSER=1, as .ci/run sets), like tests/test_browser.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from browser_support import (
    TIMEOUT,
    browser_or_skip,
    command_line,
    descendants,
    kernels_below,
    launch_chromium,
    start_voila,
    stop_process,
    text_of,
    voila_environment,
    wait_for_port,
    wait_until_gone,
)

from cfcore.apps import widgets
from cfcore.apps.app import (
    APP_MODEL,
    APP_RECOMMENDATIONS,
    LiveSession,
    fitted_model,
    live_model,
)
from cfcore.apps.plotting import figures_dir
from cfcore.apps.recommender import Recommender

pytestmark = pytest.mark.app

ROOT = Path(__file__).resolve().parents[1]
APP_FILES = ("recommender_app.ipynb", "voila.json")
#: culling shortened so that a test can watch it: idle and disconnected for 10 s, checked
#: every second (app/voila.json: 2 minutes, every 30 s). Not shorter: a kernel handed to a
#: visitor is idle and unconnected until their page has loaded its scripts
FAST_CULLING = [
    "--MappingKernelManager.cull_idle_timeout=10",
    "--MappingKernelManager.cull_interval=1",
]
#: the only requests that may leave 127.0.0.1: Voila's lab template links these
CDN_STYLE_SHEETS = re.compile(r"^https://cdn\.jsdelivr\.net/npm/@fortawesome/fontawesome-free")
#: a person's session: (what they search for, the stars they give its first title)
SESSION = [("star wars", 5), ("godfather", 5), ("scream", 1)]
RE_RATING = ("star wars", 1)
READOUTS = {
    "ratings": ".cfcore-rate-ratings",
    "posterior": ".cfcore-rate-posterior",
    "recommendations": ".cfcore-rate-recommendations",
}


@pytest.fixture(scope="module")
def model_cache(movielens, tmp_path_factory) -> Path:
    """A model cache holding the app's fitted model, as ``make app`` leaves it."""
    cache = tmp_path_factory.mktemp("model-cache")
    fitted_model(movielens.ratings, APP_MODEL, cache)
    return cache


class Expected:
    """What the app must show, computed in this process by the same live model."""

    def __init__(self, movielens, cache: Path):
        model = fitted_model(movielens.ratings, APP_MODEL, cache).model  # the kernel's copy
        self.recommender = Recommender.from_model(movielens.ratings, model)
        self.session = LiveSession(self.recommender, live_model(model))  # as the kernel does
        self.shown_post = None
        self.view = self._view(None)

    def _view(self, previous_post) -> dict[str, str]:
        view = widgets.session_view(
            self.recommender,
            self.session.ratings,
            previous_post,
            APP_RECOMMENDATIONS,
            user=self.session.user(),
        )
        self.shown_post = view.user.post
        return {
            "ratings": view.ratings_text,
            "posterior": view.posterior_text,
            "recommendations": view.recommendations_text,
        }

    def rate(self, item_id, stars) -> dict[str, str]:
        previous = self.shown_post
        self.session.rate(item_id, stars)
        self.view = self._view(previous)
        return self.view

    def undo(self) -> dict[str, str]:
        previous = self.shown_post
        self.session.undo()
        self.view = self._view(previous)
        return self.view


# --- the server -----------------------------------------------------------------------------


def serve_app(work: Path, cache: Path, log) -> tuple[subprocess.Popen, int]:
    """Voila on the copy of app/ in work, as ``make app`` runs it (app/voila.json)."""
    env = voila_environment(work, CFCORE_CACHE=cache)
    return start_voila(work / "app", APP_FILES[0], env, log, *FAST_CULLING)


def copy_app(work: Path) -> None:
    (work / "app").mkdir()
    for name in APP_FILES:
        shutil.copy(ROOT / "app" / name, work / "app" / name)


def kernel_of(page_kernels: list[str], server_pid: int) -> int:
    """The pid of the kernel whose id the page's websocket named."""
    (kernel_id,) = page_kernels
    for pid in kernels_below(server_pid):
        if kernel_id in command_line(pid):
            return pid
    raise AssertionError(f"no kernel process for kernel {kernel_id}")


# --- the page -------------------------------------------------------------------------------


class Visit:
    """One page of the app, with what it logs and which kernel serves it."""

    def __init__(self, browser, url: str):
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.kernels: list[str] = []
        self.context = browser.new_context(viewport={"width": 1100, "height": 1000})
        self.context.route("**/*", self._route(url))
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on("websocket", self._websocket)

    def _route(self, url: str):
        def handle(route):
            if route.request.url.startswith(url):
                route.continue_()
            else:
                self.outside.append(route.request.url)
                route.fulfill(status=200, content_type="text/css", body="")

        return handle

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console error: {message.text}")

    def _websocket(self, socket) -> None:
        found = re.search(r"/api/kernels/([0-9a-f-]{36})/channels", socket.url)
        if found and found.group(1) not in self.kernels:
            self.kernels.append(found.group(1))

    def open(self, url: str) -> float:
        """Load the page; the seconds until the recommendations are shown."""
        start = time.perf_counter()
        self.page.goto(url)
        self.page.locator(f"{READOUTS['recommendations']} pre").wait_for(timeout=TIMEOUT)
        return time.perf_counter() - start

    def readouts(self) -> dict[str, str]:
        return {name: text_of(self.page, css).strip("\n") for name, css in READOUTS.items()}

    def wait_for(self, expected: dict[str, str]) -> None:
        """Wait until the readouts show the expected texts; fail showing what they show."""
        deadline = time.monotonic() + TIMEOUT / 1000
        while self.readouts() != expected and time.monotonic() < deadline:
            time.sleep(0.1)
        assert self.readouts() == expected

    def rate(self, title: str, query: str, stars: int) -> None:
        page = self.page
        page.locator(".cfcore-rate-search input").fill(query)
        results = page.locator(".cfcore-rate-results select")
        results.locator("option").filter(has_text=title).first.wait_for()
        results.select_option(label=title)
        stars_row = page.locator(".cfcore-rate-stars")
        stars_row.get_by_role("button", name=str(stars), exact=True).click()
        page.locator("button.cfcore-rate-rate").click()  # waits until Rate is enabled

    def undo(self) -> None:
        self.page.locator("button.cfcore-rate-undo").click()


def glyph_widths(page) -> dict[str, float]:
    """The width of 20 of each character the readouts line up with, in the posterior's font."""
    return page.locator(f"{READOUTS['posterior']} pre").evaluate(
        """pre => {
            const widths = {};
            for (const glyph of ['█', '·', 'a', 'W', ' ', '0', '—', '…']) {
                const span = document.createElement('span');
                span.textContent = glyph.repeat(20);
                pre.appendChild(span);
                widths[glyph] = span.getBoundingClientRect().width;
                span.remove();
            }
            return widths;
        }"""
    )


def check_first_render(page) -> None:
    """Nothing chosen for the visitor; the readouts monospace whatever the template."""
    assert page.title() == "Movie recommendations"
    assert page.locator("button.cfcore-rate-rate").is_disabled()
    assert page.locator("button.cfcore-rate-undo").is_disabled()
    assert page.locator(".cfcore-rate-results select").evaluate("s => s.selectedIndex") == -1
    assert page.locator(".cfcore-rate-stars button.mod-active").count() == 0
    widths = glyph_widths(page)
    assert max(widths.values()) - min(widths.values()) < 0.5, widths
    assert "monospace" in page.locator(f"{READOUTS['posterior']} pre").evaluate(
        "pre => getComputedStyle(pre).fontFamily"
    )
    assert "recommender_app()" not in page.content()  # no code on the page


def run_the_session(visit: Visit, expected: Expected) -> None:
    """Three ratings, a re-rating and two undos, each checked against the live model."""
    visit.wait_for(expected.view)
    seen = [expected.view["recommendations"]]
    titles = {}
    for query, stars in SESSION:
        item_id = expected.recommender.search(query)[0]
        titles[query] = expected.recommender.title(item_id)
        visit.rate(titles[query], query, stars)
        visit.wait_for(expected.rate(item_id, stars))
        assert expected.view["recommendations"] not in seen  # the list moved with the rating
        seen.append(expected.view["recommendations"])
    after_three = expected.view
    take_screenshot(visit.page)
    query, stars = RE_RATING
    visit.rate(titles[query], query, stars)
    visit.wait_for(expected.rate(expected.recommender.search(query)[0], stars))
    assert f"{stars} ★  {titles[query]}" in expected.view["ratings"]
    visit.undo()
    visit.wait_for(expected.undo())
    assert expected.view["ratings"] == after_three["ratings"]  # the earlier 5 stars are back
    assert expected.view["recommendations"] == after_three["recommendations"]
    visit.undo()
    visit.wait_for(expected.undo())
    assert expected.view["recommendations"] == seen[2]  # as after the first two ratings
    assert visit.readouts()["ratings"].count("★") == 2


def take_screenshot(page) -> None:
    """The app after three ratings, as a visitor sees it: figures/app_voila.png."""
    folder = figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "app_voila.png"), full_page=True)


def test_the_app_in_voila(movielens, model_cache, tmp_path, record_property):
    sync_playwright = browser_or_skip()
    expected = Expected(movielens, model_cache)
    copy_app(tmp_path)
    before = descendants(os.getpid())
    started: set[int] = set()  # every process this test started: server, kernels, browser
    log_path = tmp_path / "voila.log"
    with open(log_path, "wb") as log:
        server, port = serve_app(tmp_path, model_cache, log)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_port(server, port, log_path, "voila")
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                try:
                    visit = Visit(browser, url)
                    seconds = visit.open(f"{url}/")
                    record_property("first_render_seconds", round(seconds, 2))
                    print(f"first render of the app in Voila: {seconds:.2f} s")
                    check_first_render(visit.page)
                    run_the_session(visit, expected)
                    assert visit.errors == [], "\n".join(visit.errors)
                    assert all(CDN_STYLE_SHEETS.match(u) for u in visit.outside), visit.outside
                    check_the_kernel_is_culled(visit, server.pid)
                finally:
                    started |= descendants(os.getpid()) - before
                    browser.close()
        finally:
            started |= descendants(os.getpid()) - before
            stop_process(server)
    assert len(started) >= 3  # at least the server, a kernel and the browser
    left = wait_until_gone(started)
    assert not left, f"processes left behind: {sorted(left)}: {log_path.read_text()[-3000:]}"


def check_the_kernel_is_culled(visit: Visit, server_pid: int) -> None:
    """A closed page's kernel is culled once idle and disconnected (Voila's own shutdown on
    closing the page is refused for a missing _xsrf argument, voila-dashboards/voila#1458)."""
    kernel = kernel_of(visit.kernels, server_pid)
    visit.page.close(run_before_unload=True)
    visit.context.close()
    assert not wait_until_gone({kernel}, 60), "a closed page's kernel was left running"
