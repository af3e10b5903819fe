"""What the real-browser tests share (tests/test_browser.py, tests/test_app.py).

Debian's Chromium through Playwright (``executable_path``; ``playwright install`` is never
needed), or a skip saying how to install them, which CFCORE_REQUIRE_BROWSER=1 (set by
.ci/run) turns into a failure; servers on 127.0.0.1 with an environment of temporary
folders; the processes a test started, read from /proc, so that it can fail when one is
left behind; the text a page shows.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CFCORE_CHROMIUM", "/usr/bin/chromium")
#: flags that let Chromium run as root in a container on a network with no outside access
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "install Debian's Chromium (apt-get install chromium) and Playwright (pip install "
    "'.[dev]'); never `playwright install`, which downloads a browser build"
)
#: milliseconds to wait for a page, a kernel and a readout
TIMEOUT = 90_000


def browser_or_skip():
    """sync_playwright, or skip (fail under CFCORE_REQUIRE_BROWSER=1) saying how to install."""
    missing = []
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
        missing.append("the playwright package")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"Chromium at {CHROMIUM}")
    if missing:
        reason = f"no real browser to test in ({' and '.join(missing)} not found): {INSTALL_HINT}"
        if os.environ.get("CFCORE_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " (CFCORE_REQUIRE_BROWSER=1)")
        pytest.skip(reason)
    return sync_playwright


def launch_chromium(playwright):
    """Headless Debian Chromium."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)


# --- processes ------------------------------------------------------------------------------


def _live_children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if state != "Z":
            children.setdefault(int(parent), []).append(int(entry.name))
    return children


def descendants(pid: int) -> set[int]:
    """Live (not zombie) processes below pid, read from /proc."""
    children = _live_children()
    found, stack = set(), [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """The pids that are still running (not gone, not zombies)."""
    still = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            still.add(pid)
    return still


def command_line(pid: int) -> str:
    """A process's command line as one string ("" once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def kernels_below(pid: int) -> set[int]:
    """The ipykernel processes below pid: one per running kernel of a Jupyter server."""
    return {child for child in descendants(pid) if "ipykernel_launcher" in command_line(child)}


def wait_until_gone(pids: set[int], seconds: float = 15) -> set[int]:
    """Wait for the processes to end; return those still running after `seconds`."""
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive(pids)


def stop_process(process: subprocess.Popen, first=signal.SIGTERM, grace: float = 30) -> None:
    """Send `first` and wait; then SIGINT, then SIGKILL, until the process has ended."""
    for sig, wait in ((first, grace), (signal.SIGINT, 10), (signal.SIGKILL, 10)):
        if process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


# --- servers on 127.0.0.1 -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_environment(**folders: Path) -> dict[str, str]:
    """This process's environment without proxies or JUPYTER_* variables, plus folders
    (e.g. HOME=..., JUPYTER_RUNTIME_DIR=...) as strings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.lower().endswith("_proxy") and not key.startswith("JUPYTER")
    }
    env.update({name: str(path) for name, path in folders.items()})
    return env


def wait_until_ready(server: subprocess.Popen, ready, log_path: Path, what: str) -> None:
    """Poll ready() until it is true; fail with the server's log if it exits or times out."""
    deadline = time.monotonic() + TIMEOUT / 1000
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"{what} exited with {server.returncode}:\n{log_path.read_text()}")
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{what} was not ready within {TIMEOUT / 1000:.0f} s:\n{log_path.read_text()}")


def wait_for_port(server: subprocess.Popen, port: int, log_path: Path, what: str) -> None:
    """Wait until the server accepts connections on 127.0.0.1:port; fail with its log."""

    def listening() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    wait_until_ready(server, listening, log_path, what)


def voila_environment(base: Path, **extra) -> dict[str, str]:
    """An environment whose HOME, Jupyter folders and TMPDIR are new folders under base
    (so that Voila writes nothing outside it), plus extra (e.g. CFCORE_CACHE=...)."""
    folders = {
        "HOME": base / "home",
        "JUPYTER_CONFIG_DIR": base / "config",
        "JUPYTER_DATA_DIR": base / "data",
        "JUPYTER_RUNTIME_DIR": base / "runtime",
        "TMPDIR": base / "tmp",
    }
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return server_environment(**folders, **extra)


def start_voila(folder: Path, notebook: str, env, log, *options) -> tuple[subprocess.Popen, int]:
    """Voila serving folder/notebook on 127.0.0.1 and a free port, run from folder (where
    it reads a voila.json), without a browser; options: more command-line settings."""
    port = free_port()
    command = [sys.executable, "-m", "voila", notebook, "--no-browser", "--Voila.ip=127.0.0.1"]
    command += [f"--port={port}", "--Voila.port_retries=0", *options]
    server = subprocess.Popen(command, env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    return server, port


# --- the page -------------------------------------------------------------------------------


def text_of(page, css: str) -> str:
    """The text in the element (its DOM text: an element scrolled out of view still has it)."""
    return page.locator(css).first.text_content()


def wait_for_text(page, css: str, expected: str) -> str:
    """Wait until the element's text contains expected; return the text."""
    page.locator(css).filter(has_text=expected).first.wait_for(timeout=TIMEOUT)
    return text_of(page, css)
