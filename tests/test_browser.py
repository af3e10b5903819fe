"""Notebook 07 in a real JupyterLab, in headless Chromium: run all cells, drive the widgets.

A JupyterLab server is started on 127.0.0.1 (a free port, a random token) with its HOME,
config, data, runtime, settings and workspace folders in a temporary folder, serving a
copy of notebook 07 (so autosave never touches the repository). Playwright opens it in
Debian's Chromium (``executable_path``; ``playwright install`` is never needed), waits for
the kernel to be idle, runs all cells, then moves the EM explorer's K slider, picks a user
and rates three movies, checking each time that the readouts change to exactly what
``cfcore.apps.widgets`` computes for the same input. A screenshot goes to
figures/07_interactive_jupyterlab.png (``$CFCORE_FIGURES`` when set). Server, kernel and
browser are shut down at the end, and the test fails if any process it started is left.

Without Chromium or Playwright the test is skipped with the way to install them;
CFCORE_REQUIRE_BROWSER=1 (set by .ci/run) turns that skip into a failure.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import browser_support
import pytest
from browser_support import (
    TIMEOUT,
    alive,
    browser_or_skip,
    descendants,
    free_port,
    launch_chromium,
    server_environment,
    text_of,
    wait_for_text,
    wait_until_ready,
)

from cfcore.apps import widgets
from cfcore.apps.plotting import figures_dir
from cfcore.apps.recommender import movielens_recommender

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "07_interactive.ipynb"
IDLE = "Python 3 (ipykernel) | Idle"


def test_without_a_browser_the_skip_says_how_to_install_one(monkeypatch, tmp_path):
    monkeypatch.setattr(browser_support, "CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.delenv("CFCORE_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install chromium.*never"):
        browser_or_skip()
    monkeypatch.setenv("CFCORE_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match=r"no-chromium not found.*REQUIRE_BROWSER"):
        browser_or_skip()


# --- the JupyterLab server --------------------------------------------------------------------


def lab_folders(base: Path) -> dict[str, Path]:
    folders = {
        name: base / name
        for name in ("home", "config", "data", "runtime", "settings", "workspaces", "work")
    }
    for folder in folders.values():
        folder.mkdir()
    # no news pop-up, no update check, no toasts over the widgets
    notification = folders["settings"] / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True})
    )
    # render every cell, also those scrolled out of view, so that their outputs can be read
    tracker = folders["settings"] / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    return folders


def lab_environment(folders: dict[str, Path], figures: Path) -> dict[str, str]:
    return server_environment(
        HOME=folders["home"],
        JUPYTER_CONFIG_DIR=folders["config"],
        JUPYTER_DATA_DIR=folders["data"],
        JUPYTER_RUNTIME_DIR=folders["runtime"],
        JUPYTERLAB_SETTINGS_DIR=folders["settings"],
        JUPYTERLAB_WORKSPACES_DIR=folders["workspaces"],
        CFCORE_FIGURES=figures,  # the notebook's own figures stay out of the repository
    )


def start_lab(folders: dict[str, Path], env: dict[str, str], log) -> tuple[subprocess.Popen, str]:
    port, token = free_port(), secrets.token_hex(24)
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={folders['work']}",
        "--LabApp.news_url=",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    server = subprocess.Popen(
        command, env=env, cwd=folders["work"], stdout=log, stderr=subprocess.STDOUT
    )
    return server, f"http://127.0.0.1:{port}", token


def api(url: str, token: str, path: str, method: str = "GET", timeout: float = 5.0):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(
        f"{url}{path}", method=method, headers={"Authorization": f"token {token}"}
    )
    with opener.open(request, timeout=timeout) as response:
        return response.status, response.read()


def wait_for_server(server: subprocess.Popen, url: str, token: str, log_path: Path) -> None:
    ready = lambda: api(url, token, "/api/status")[0] == 200  # noqa: E731
    wait_until_ready(server, ready, log_path, "jupyter lab")


def stop_lab(server: subprocess.Popen, url: str, token: str) -> None:
    """Ask the server to shut down (it stops its kernels), then make sure it is gone."""
    try:
        api(url, token, "/api/shutdown", method="POST")
    except OSError:
        pass
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


# --- the page ---------------------------------------------------------------------------------


def run_all_cells(page) -> None:
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.locator(".cfcore-rate-and-recommend").wait_for(timeout=TIMEOUT)
    # the scripted session and its figure come after the last widget: wait for the end
    page.locator(".jp-InputPrompt").filter(has_text="[*]").first.wait_for(
        state="detached", timeout=TIMEOUT
    )
    page.get_by_text(IDLE).wait_for(timeout=TIMEOUT)


def test_notebook_07_widgets_in_jupyterlab(movielens, tmp_path):
    sync_playwright = browser_or_skip()
    recommender = movielens_recommender("u1", K=4, seeds=range(3), data=movielens)
    held_out = movielens.folds["u1"].test

    folders = lab_folders(tmp_path)
    shutil.copy(NOTEBOOK, folders["work"] / NOTEBOOK.name)
    env = lab_environment(folders, tmp_path / "notebook-figures")
    before = descendants(os.getpid())
    started: set[int] = set()  # every process this test started: server, kernel, browser
    log_path = tmp_path / "jupyter-lab.log"
    with open(log_path, "wb") as log:
        server, url, token = start_lab(folders, env, log)
        try:
            wait_for_server(server, url, token, log_path)
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                try:
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    page.set_default_timeout(TIMEOUT)
                    page.goto(f"{url}/lab/tree/{NOTEBOOK.name}?token={token}")
                    page.get_by_text(IDLE).wait_for(timeout=TIMEOUT)
                    run_all_cells(page)
                    drive_the_widgets(page, recommender, held_out)
                    take_screenshot(page)
                finally:
                    started |= descendants(os.getpid()) - before
                    browser.close()
            kernels = json.loads(api(url, token, "/api/kernels")[1])
            assert len(kernels) == 1 and kernels[0]["execution_state"] == "idle"
        finally:
            started |= descendants(os.getpid()) - before
            stop_lab(server, url, token)
    assert len(started) >= 3  # at least the server, its kernel and the browser
    deadline = time.monotonic() + 15
    while alive(started) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(started), f"processes left behind: {sorted(alive(started))}"


def drive_the_widgets(page, recommender, held_out) -> None:
    # the EM explorer: one step right on the K slider reruns EM with K = 5
    readout = ".cfcore-em-readout"
    assert "K = 4, seed 0" in text_of(page, readout)
    figure_before = page.locator(".cfcore-em-figure").get_attribute("src")
    page.locator(".cfcore-em-k .noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    wait_for_text(page, readout, "K = 5, seed 0")
    page.wait_for_function(
        "before => document.querySelector('.cfcore-em-figure').src !== before", arg=figure_before
    )
    shown = text_of(page, readout)
    assert shown.startswith("EM on four groups in 2-D (360 x 2), K = 5, seed 0")
    assert "BIC of the fitted K = 5 mixture: " in shown

    # the user explorer: pick a user whose most probable cluster differs from user 1's
    choice = page.locator(".cfcore-user-choice select")
    first_posterior = text_of(page, ".cfcore-user-posterior")
    options = widgets.users_with_held_out(held_out)
    first_cluster = recommender.post[recommender.user_index(options[0][1])].argmax()
    label, user_id = next(
        (label, user_id)
        for label, user_id in options
        if recommender.post[recommender.user_index(user_id)].argmax() != first_cluster
    )
    choice.select_option(label=label)
    report = widgets.user_report(recommender, held_out, user_id)
    wait_for_text(page, ".cfcore-user-report", f"user {user_id}:")
    assert text_of(page, ".cfcore-user-report").strip("\n") == widgets.format_user_report(report)
    posterior = text_of(page, ".cfcore-user-posterior").strip("\n")
    assert posterior == widgets.format_posterior(report.post) and posterior != first_posterior

    # rate and recommend: three movies, each folded in at once
    panel = page.locator(".cfcore-rate-and-recommend")
    ratings, previous = {}, None
    seen = {
        (text_of(page, ".cfcore-rate-posterior"), text_of(page, ".cfcore-rate-recommendations"))
    }
    for query, stars in (("star wars", 5), ("godfather", 5), ("scream", 1)):
        panel.locator(".cfcore-rate-search input").fill(query)
        item_id = recommender.search(query)[0]
        title = recommender.title(item_id)
        results = panel.locator(".cfcore-rate-results select")
        results.locator("option").filter(has_text=title).first.wait_for(timeout=TIMEOUT)
        results.select_option(label=title)
        panel.get_by_role("button", name=str(stars), exact=True).click()
        panel.get_by_role("button", name="Rate", exact=True).click()
        wait_for_text(page, ".cfcore-rate-ratings", f"{stars} ★  {title}")
        previous = recommender.fold_in(ratings).post
        ratings = widgets.rate(ratings, item_id, stars)
        view = widgets.session_view(recommender, ratings, previous)
        wait_for_text(page, ".cfcore-rate-posterior", view.posterior_text.splitlines()[0])
        shown = (
            text_of(page, ".cfcore-rate-posterior"),
            text_of(page, ".cfcore-rate-recommendations"),
        )
        assert shown[0].strip("\n") == view.posterior_text
        assert shown[1].strip("\n") == view.recommendations_text
        assert shown not in seen  # the posterior and the list changed with this rating
        seen.add(shown)
    assert text_of(page, ".cfcore-rate-ratings").count("★") == 3


def take_screenshot(page) -> None:
    """The rate-and-recommend panel after three ratings, as a person sees it."""
    # clicking the open file browser's tab folds the left panel: more room for the notebook
    page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
    page.locator("#jp-left-stack").wait_for(state="hidden", timeout=10_000)
    page.locator(".cfcore-rate-and-recommend").scroll_into_view_if_needed()
    folder = figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "07_interactive_jupyterlab.png"))
