"""The dashboard served in a background thread and a page of it in headless chromium.

For the browser test and the README's screenshot: Debian's ``chromium`` is driven through
Playwright's protocol (``playwright`` package, no browser of its own is downloaded).
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

CHROMIUM_FLAGS = (
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip


def chromium_path() -> str | None:
    """The system's ``chromium``, or None."""
    return shutil.which("chromium")


@contextmanager
def served(app, timeout_s: float = 30.0) -> Iterator[str]:
    """Serves ``app`` with uvicorn on a free local port; yields its URL (``http://.../``).

    Raises:
        RuntimeError: the server did not start within ``timeout_s``.
    """
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the dashboard did not start on port {port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def chromium_page(width: int = 1440, height: int = 1000):
    """A Playwright page in headless chromium with a fresh profile (closed on exit).

    Raises:
        RuntimeError: no ``chromium`` on this machine.
    """
    from playwright.sync_api import sync_playwright

    chromium = chromium_path()
    if chromium is None:
        raise RuntimeError("no chromium on this machine (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium, headless=True, args=list(CHROMIUM_FLAGS),
            viewport={"width": width, "height": height},
        )  # fmt: skip
        try:
            yield context.new_page()
        finally:
            context.close()
