"""Tools for the hostile-client suite: slow attackers and a real client.

Standard library only. An Attack holds many sockets in one thread (epoll),
sends each its bytes at a fixed pace and records when the server closed
it; a RealClient makes a delivery every interval, as Okta would, and
records how each was answered and how long it took.
"""
import json
import resource
import selectors
import socket
import ssl
import threading
import time
import uuid

from harness import SECRET, delivery, membership_event

OKTA_BUDGET_S = 3.0  # Okta gives up on a hook answer after 3 s


def raise_fd_limit(need):
    """Raises the soft fd limit to need if the hard limit allows it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= need


def client_hello():
    """The bytes of a TLS ClientHello, as a real client would send them."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="127.0.0.1")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def slow_header():
    """A delivery request whose header never ends (sent a byte at a time)."""
    return (b"POST /hooks/okta HTTP/1.1\r\nHost: x\r\nAuthorization: " + SECRET.encode() +
            b"\r\nX-Pad: " + b"a" * 4000)


def slow_body(user):
    """A complete header announcing a real delivery that arrives a byte at a time."""
    d = delivery([membership_event(user)])
    d["pad"] = "p" * 4000  # longer than any deadline at a byte a second
    body = json.dumps(d).encode()
    return (b"POST /hooks/okta HTTP/1.1\r\nHost: x\r\nAuthorization: " + SECRET.encode() +
            b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) +
            body)


class Attack:
    """count connections to port; each sends prefix at once, then script a
    byte every pace_s seconds (script b"": stays silent). With tls (an
    SSLContext) each first completes a TLS handshake, without blocking.
    Records when the server closed each connection."""

    def __init__(self, port, count, script, prefix=b"", pace_s=1.0, name="attack", tls=None):
        self.port, self.count, self.script, self.prefix = port, count, script, prefix
        self.pace_s, self.name, self.tls = pace_s, name, tls
        self.sel = selectors.DefaultSelector()
        self.opened = 0
        self.failed_connect = 0
        self.closed_after = []  # seconds from connect to the server's close
        self.answered = 0       # connections that got any bytes back
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        for _ in range(self.count):
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            except OSError:
                self.failed_connect += 1
                continue
            s.setblocking(False)
            if self.tls is not None:
                s = self.tls.wrap_socket(s, server_hostname="127.0.0.1",
                                         do_handshake_on_connect=False)
            st = {"sock": s, "t0": time.monotonic(), "pos": 0, "next": 0.0, "got": False,
                  "hs": self.tls is not None, "pre": not self.prefix}
            self.sel.register(s, selectors.EVENT_READ, st)
            self.opened += 1
        self.thread.start()
        return self

    def _closed(self, st):
        self.sel.unregister(st["sock"])
        st["sock"].close()
        self.closed_after.append(time.monotonic() - st["t0"])

    def _handshake(self, st):
        try:
            st["sock"].do_handshake()
            st["hs"] = False
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass
        except OSError:
            self._closed(st)

    def _readable(self, st):
        if st["hs"]:
            return self._handshake(st)
        try:
            data = st["sock"].recv(65536)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except OSError:
            data = b""
        if data:
            if not st["got"]:
                self.answered += 1
            st["got"] = True
            return
        self._closed(st)

    def _send(self, st, data):
        try:
            st["sock"].send(data)
            return True
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False
        except OSError:
            self._closed(st)
            return None

    def _dribble(self, now):
        for key in list(self.sel.get_map().values()):
            st = key.data
            if st["hs"]:
                self._handshake(st)
                continue
            if not st["pre"]:
                st["pre"] = self._send(st, self.prefix)
                continue
            if not self.script or st["pos"] >= len(self.script) or now < st["next"]:
                continue
            sent = self._send(st, self.script[st["pos"]:st["pos"] + 1])
            if sent:
                st["pos"] += 1
                st["next"] = now + self.pace_s

    def _run(self):
        while not self.stop_flag.is_set() and self.sel.get_map():
            for key, _ in self.sel.select(timeout=0.05):
                self._readable(key.data)
            self._dribble(time.monotonic())

    def live(self):
        return self.opened - len(self.closed_after)

    def stop(self):
        self.stop_flag.set()
        self.thread.join(10)
        for key in list(self.sel.get_map().values()):
            key.data["sock"].close()
        self.sel.close()

    def figures(self):
        c = sorted(self.closed_after)
        return ("%s: opened %d (connect failed %d), closed by server %d "
                "(after %.1f s median, %.1f s max), answered %d, still open %d" % (
                    self.name, self.opened, self.failed_connect, len(c),
                    c[len(c) // 2] if c else 0.0, c[-1] if c else 0.0, self.answered,
                    self.live()))


class RealClient:
    """A delivery every interval_s on a new connection, like Okta's."""

    def __init__(self, gs, interval_s=0.2, prefix="00ureal"):
        self.gs, self.interval_s, self.prefix = gs, interval_s, prefix
        self.results = []  # (status or exception text, seconds)
        self.users = []
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _one(self, i):
        user = "%s%013d" % (self.prefix, i)
        t0 = time.monotonic()
        try:
            st, _, _ = self.gs.deliver(delivery([membership_event(user)]))
        except (OSError, ssl.SSLError) as e:
            st = "%s: %s" % (type(e).__name__, e)
        self.results.append((st, time.monotonic() - t0))
        if st == 200:
            self.users.append(user)

    def _run(self):
        i = 0
        while not self.stop_flag.is_set():
            t0 = time.monotonic()
            self._one(i)
            i += 1
            self.stop_flag.wait(max(0.0, self.interval_s - (time.monotonic() - t0)))

    def stop(self):
        self.stop_flag.set()
        self.thread.join(30)

    def ok(self):
        return [r for r in self.results if r[0] == 200]

    def max_latency(self):
        return max((r[1] for r in self.results), default=0.0)

    def figures(self):
        return "real client: sent %d, answered 200 %d, max latency %.2f s, failures %s" % (
            len(self.results), len(self.ok()), self.max_latency(),
            [r for r in self.results if r[0] != 200][:5])


def unique_user():
    return "00uatk" + uuid.uuid4().hex[:14]
