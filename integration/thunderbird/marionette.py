"""A minimal Marionette client (Python 3 standard library only).

Marionette is Gecko's remote protocol: over TCP, each message is
"<length>:<json>". The server speaks first with a hello object; a command is
[0, id, name, params] and its answer [1, id, error, result]. This is enough
to drive Thunderbird's chrome context; it is not a WebDriver client.
"""

import json
import socket
import time


class MarionetteError(Exception):
    pass


class Marionette:
    def __init__(self, host="127.0.0.1", port=2828, connect_timeout=60.0):
        deadline = time.monotonic() + connect_timeout
        last = None
        while True:
            try:
                self.sock = socket.create_connection((host, port), timeout=5)
                break
            except OSError as e:
                last = e
                if time.monotonic() > deadline:
                    raise MarionetteError(f"marionette: connect {host}:{port}: {last}")
                time.sleep(0.5)
        self.sock.settimeout(None)
        self.buf = b""
        self.msgid = 0
        self.hello = self._recv()
        if self.hello.get("marionetteProtocol") != 3:
            raise MarionetteError(f"marionette: unexpected hello {self.hello!r}")

    def _recv(self):
        while b":" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise MarionetteError("marionette: connection closed")
            self.buf += chunk
        n, rest = self.buf.split(b":", 1)
        n = int(n)
        while len(rest) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise MarionetteError("marionette: connection closed")
            rest += chunk
        self.buf = rest[n:]
        return json.loads(rest[:n].decode("utf-8"))

    def command(self, name, params=None):
        self.msgid += 1
        data = json.dumps([0, self.msgid, name, params or {}]).encode("utf-8")
        self.sock.sendall(str(len(data)).encode() + b":" + data)
        while True:
            msg = self._recv()
            if isinstance(msg, list) and len(msg) == 4 and msg[0] == 1 and msg[1] == self.msgid:
                break
        _, _, err, result = msg
        if err:
            raise MarionetteError(f"marionette: {name}: {err.get('error')}: {err.get('message')}\n{err.get('stacktrace', '')}")
        return result

    def new_session(self):
        return self.command("WebDriver:NewSession", {"capabilities": {}})

    def set_chrome(self):
        self.command("Marionette:SetContext", {"value": "chrome"})

    def set_script_timeout(self, ms):
        self.command("WebDriver:SetTimeouts", {"script": ms})

    def execute(self, script, args=None):
        """Runs script in the current context; a returned Promise is awaited."""
        r = self.command("WebDriver:ExecuteScript", {"script": script, "args": args or []})
        return r.get("value") if isinstance(r, dict) else r

    def quit(self):
        try:
            self.command("Marionette:Quit", {"flags": ["eForceQuit"]})
        except MarionetteError:
            pass
        self.sock.close()
