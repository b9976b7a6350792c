"""A headless Chromium driven over its DevTools protocol on a pipe, for the explorer page tests.

No Python package is needed: Chromium started with ``--remote-debugging-pipe`` reads protocol
commands (JSON, each ended by a NUL byte) from file descriptor 3 and writes replies and events
to descriptor 4. :class:`Browser` opens one page target, sends commands and keeps the events
(console messages, exceptions, log entries, network requests) for the tests to inspect.

Install the browser on Debian with ``apt-get install -y chromium``. ``EMBTABLE_CHROMIUM`` may
name another binary.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from typing import Any

import numpy as np

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# The flags the project runs Chromium with: headless, no sandbox (containers run as root),
# and nothing that reaches for the network (the test machines have none).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)


def find_chromium() -> str | None:
    """The Chromium binary: ``$EMBTABLE_CHROMIUM``, else the first of :data:`CHROMIUM_NAMES`."""
    named = os.environ.get("EMBTABLE_CHROMIUM")
    if named:
        return shutil.which(named) or (named if os.access(named, os.X_OK) else None)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class ProtocolError(RuntimeError):
    """Chromium answered a command with an error, or stopped answering."""


class Browser:
    """One headless Chromium with one page, driven over the DevTools pipe."""

    def __init__(self, binary: str, *, width: int = 1280, height: int = 800, timeout: float = 60):
        self.timeout = timeout
        self.events: list[dict[str, Any]] = []
        self._profile = tempfile.mkdtemp(prefix="embtable-chromium-")
        to_chrome_read, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_write = os.pipe()

        def attach_pipes() -> None:  # runs in the child between fork and exec
            # Move both ends above 4 first: a pipe end may itself be 3 or 4, and dup2 onto
            # itself would keep its close-on-exec flag.
            reading = fcntl.fcntl(to_chrome_read, fcntl.F_DUPFD, 10)
            writing = fcntl.fcntl(from_chrome_write, fcntl.F_DUPFD, 10)
            os.dup2(reading, 3, inheritable=True)
            os.dup2(writing, 4, inheritable=True)

        self._process = subprocess.Popen(
            [
                binary,
                *FLAGS,
                f"--user-data-dir={self._profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=attach_pipes,
            close_fds=False,  # keep 3 and 4; every other descriptor of ours is close-on-exec
        )
        os.close(to_chrome_read)
        os.close(from_chrome_write)
        self._buffer = b""
        self._next_id = 0
        self.session: str | None = None
        try:
            target = self.send("Target.createTarget", {"url": "about:blank"}, browser=True)
            attached = self.send(
                "Target.attachToTarget",
                {"targetId": target["targetId"], "flatten": True},
                browser=True,
            )
            self.session = attached["sessionId"]
            self.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            )
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.send(f"{domain}.enable")
        except BaseException:
            self.close()
            raise

    # -- protocol ---------------------------------------------------------------------------

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProtocolError(f"no answer from Chromium within {self.timeout} s")
            ready, _, _ = select.select([self._from_chrome], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                error = (
                    self._process.stderr.read().decode(errors="replace")
                    if self._process.stderr
                    else ""
                )
                raise ProtocolError(
                    f"Chromium closed the pipe (exit {self._process.poll()}): {error[-2000:]}"
                )
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, browser: bool = False
    ) -> dict[str, Any]:
        """Send one command to the page (or the browser) and return its result."""
        self._next_id += 1
        command: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if not browser and self.session is not None:
            command["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(command).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._read_message(deadline)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise ProtocolError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, method: str) -> dict[str, Any]:
        """Wait for the next event named ``method`` (already received ones count)."""
        deadline = time.monotonic() + self.timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event["method"] == method:
                    self.events.remove(event)
                    return event
            seen = len(self.events)
            message = self._read_message(deadline)
            if "method" in message:
                self.events.append(message)

    # -- page helpers -----------------------------------------------------------------------

    def open(self, url: str) -> None:
        """Navigate to ``url`` and wait for its load event."""
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-serialisable values)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise ProtocolError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def type_into(self, selector: str, text: str) -> None:
        """Focus the element, clear it, and type ``text`` as keyboard input would insert it."""
        self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
            "e.focus(); e.select(); })()"
        )
        self.send("Input.insertText", {"text": text})

    def press(self, key: str, code: str, key_code: int) -> None:
        """Press and release one key (e.g. ``("Enter", "Enter", 13)``)."""
        for kind in ("keyDown", "keyUp"):
            self.send(
                "Input.dispatchKeyEvent",
                {
                    "type": kind,
                    "key": key,
                    "code": code,
                    "windowsVirtualKeyCode": key_code,
                    "text": "\r" if key == "Enter" and kind == "keyDown" else "",
                },
            )

    def screenshot(self) -> bytes:
        """A PNG of the viewport."""
        return base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])

    def errors(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and error log entries so far."""
        found = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.consoleAPICalled" and params.get("type") in (
                "error",
                "warning",
                "assert",
            ):
                found.append(
                    "console: "
                    + " ".join(
                        str(a.get("value", a.get("description"))) for a in params.get("args", [])
                    )
                )
            elif event["method"] == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                found.append(
                    "exception: "
                    + str(details.get("exception", {}).get("description", details.get("text")))
                )
            elif event["method"] == "Log.entryAdded" and params.get("entry", {}).get("level") in (
                "error",
                "warning",
            ):
                entry = params["entry"]
                found.append(
                    f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}"
                )
        return found

    def requests(self) -> list[str]:
        """The URLs of every network request the page made so far."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent"
        ]

    def close(self) -> None:
        """Stop Chromium and remove its profile."""
        try:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
        finally:
            for fd in (self._to_chrome, self._from_chrome):
                try:
                    os.close(fd)
                except OSError:
                    pass
            if self._process.stderr:
                self._process.stderr.close()
            shutil.rmtree(self._profile, ignore_errors=True)


def decode_png(data: bytes) -> np.ndarray:
    """Decode an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium's screenshots are) to
    a ``(height, width, channels)`` uint8 array."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    position, chunks, header = 8, [], None
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(
            f"unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}"
        )
    channels = 3 if colour == 2 else 4
    raw = np.frombuffer(zlib.decompress(b"".join(chunks)), dtype=np.uint8)
    rows = raw.reshape(height, width * channels + 1)
    image = np.zeros((height + 1, width + 1, channels), dtype=np.int32)  # a zero row and column
    for y in range(height):
        kind = int(rows[y, 0])
        line = rows[y, 1:].astype(np.int32).reshape(width, channels)
        above = image[y, 1:]
        out = image[y + 1]
        if kind == 0:
            out[1:] = line
        elif kind == 1:  # sub: a running sum along the row, per channel
            out[1:] = np.cumsum(line, axis=0) & 0xFF
        elif kind == 2:  # up
            out[1:] = (line + above) & 0xFF
        else:  # average or Paeth: each pixel depends on the decoded one to its left
            for x in range(width):
                left, up, upper_left = out[x], above[x], image[y, x]
                if kind == 3:
                    predictor = (left + up) // 2
                else:
                    p = left + up - upper_left
                    pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - upper_left)
                    predictor = np.where(
                        (pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upper_left)
                    )
                out[x + 1] = (line[x] + predictor) & 0xFF
    return image[1:, 1:].astype(np.uint8)
