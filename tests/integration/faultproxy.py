"""A loopback HTTP proxy that forwards to the real remote (json-server) and
injects faults on command. Every request is logged with its arrival time
(and the Okta user it is about, when the request names one) so that tests
can count retries per user and check their spacing.

Control: POST /__fault RULE or [RULE, ...]   (replaces the rules; {} clears)
         POST /__fault/down {"seconds": S}   refuse connections for S s
         GET /__fault/log                    POST /__fault/log/reset

A RULE applies to the requests it matches, first matching rule wins:
  match:  "method", "path_prefix", "body_contains" (all optional)
  extent: "count" (the next N matching requests), "until" (epoch s);
          neither: until cleared
  fault (one of):
    "status": N, with "retry_after": S (seconds form) or
        "retry_after_date": S (an HTTP-date S seconds from now)
    "delay_ms": D   wait D ms, then forward (a slow network: the remote
                    sees the request only after the wait)
    "slow_ms": D    forward at once, answer after D ms (a slow remote: the
                    work is done, the answer comes late)
    "drop": KIND    a broken answer, status 200: "length" (Content-Length
                    promises more than is sent), "headers" (the same, no
                    body byte), "chunked" (a chunk cut short), "eof" (no
                    length: half the body, then close, which HTTP cannot
                    tell from a whole answer); with "forward": true the
                    request reaches the remote first
"""
import email.utils
import http.client
import http.server
import json
import socket
import sys
import threading
import time
import urllib.parse


class State:
    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        self.rules = []
        self.log = []
        self.down_until = 0.0
        self.server = None
        self.conns = set()

    @staticmethod
    def matches(rule, method, path, body):
        if rule.get("method") and rule["method"].upper() != method:
            return False
        if rule.get("path_prefix") and not path.startswith(rule["path_prefix"]):
            return False
        if rule.get("body_contains") and rule["body_contains"].encode() not in body:
            return False
        return True

    def take(self, method, path, body):
        """The fault to apply to this request, consuming a count."""
        with self.lock:
            now = time.time()
            self.rules = [r for r in self.rules
                          if r.get("count", 1) > 0 and now < r.get("until", float("inf"))]
            for r in self.rules:
                if self.matches(r, method, path, body):
                    if "count" in r:
                        r["count"] -= 1
                    return dict(r)
            return None


def okta_id_of(path, body):
    """The Okta user a request is about: ?oktaId= (find) or the body's oktaId."""
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    if q.get("oktaId"):
        return q["oktaId"][0]
    try:
        return json.loads(body).get("oktaId") if body else None
    except (ValueError, AttributeError):
        return None


def make_handler(state):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def setup(self):
            super().setup()
            with state.lock:
                state.conns.add(self.connection)

        def finish(self):
            with state.lock:
                state.conns.discard(self.connection)
            try:
                super().finish()
            except OSError:
                pass

        def reply(self, status, body=b"", headers=None):
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def control(self, body):
            if self.command == "GET":
                with state.lock:
                    data = json.dumps(state.log).encode()
                return self.reply(200, data, {"Content-Type": "application/json"})
            arg = json.loads(body or b"{}")
            if self.path == "/__fault/log/reset":
                with state.lock:
                    state.log = []
            elif self.path == "/__fault/down":
                self.reply(200, b"{}", {"Content-Type": "application/json"})
                self.close_connection = True
                threading.Thread(target=go_down, args=(state, float(arg["seconds"])),
                                 daemon=True).start()
                return None
            else:
                with state.lock:
                    state.rules = arg if isinstance(arg, list) else ([arg] if arg else [])
            return self.reply(200, b"{}", {"Content-Type": "application/json"})

        def forward(self, body):
            conn = http.client.HTTPConnection("127.0.0.1", state.upstream_port, timeout=30)
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "connection", "content-length")}
            conn.request(self.command, self.path, body=body if body else None,
                         headers=headers)
            r = conn.getresponse()
            data = r.read()
            out = {k: v for k, v in r.getheaders()
                   if k.lower() in ("content-type", "location", "etag")}
            conn.close()
            return r.status, data, out

        def broken(self, kind, data):
            """Headers, then part of the body (or none), then close."""
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if kind == "chunked":
                self.send_header("Transfer-Encoding", "chunked")
            elif kind != "eof":
                self.send_header("Content-Length", str(len(data) + 1000))
            self.end_headers()
            part = data[:max(1, len(data) // 2)]
            if kind == "chunked":
                self.wfile.write(b"%x\r\n%s" % (len(part) + 10, part))
            elif kind != "headers":
                self.wfile.write(part)
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

        def apply(self, f, body):
            if f.get("delay_ms"):
                time.sleep(f["delay_ms"] / 1000.0)
            if f.get("drop"):
                data = self.forward(body)[1] if f.get("forward") else b'{"id":1,"partial":true}'
                return self.broken(str(f["drop"]), data)
            if f.get("status"):
                headers = {"Content-Type": "application/json"}
                if f.get("retry_after") is not None:
                    headers["Retry-After"] = str(f["retry_after"])
                if f.get("retry_after_date") is not None:
                    headers["Retry-After"] = email.utils.formatdate(
                        time.time() + f["retry_after_date"], usegmt=True)
                return self.reply(f["status"], b'{"error":"injected"}', headers)
            status, data, headers = self.forward(body)
            if f.get("slow_ms"):
                time.sleep(f["slow_ms"] / 1000.0)
            return self.reply(status, data, headers)

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path.startswith("/__fault"):
                return self.control(body)
            if time.time() < state.down_until:
                # a kept-alive connection from before the outage: gone
                self.close_connection = True
                return None
            f = state.take(self.command, self.path, body)
            with state.lock:
                state.log.append({"t": time.time(), "method": self.command, "path": self.path,
                                  "okta_id": okta_id_of(self.path, body), "fault": f or None})
            try:
                return self.apply(f or {}, body)
            except OSError:
                self.close_connection = True  # the client gave up (its timeout)
                return None

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    return Handler


def go_down(state, seconds):
    """Stops listening (new connections are refused) and closes open ones."""
    with state.lock:
        state.down_until = time.time() + seconds
        conns = list(state.conns)
    state.server.shutdown()
    for c in conns:
        try:
            c.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(port, upstream_port):
    state = State(upstream_port)
    handler = make_handler(state)
    print("faultproxy listening on http://127.0.0.1:%d" % port, flush=True)
    while True:
        while True:
            try:
                srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
                break
            except OSError:
                time.sleep(0.1)
        srv.daemon_threads = True
        state.server = srv
        srv.serve_forever(poll_interval=0.1)
        srv.server_close()
        wait = state.down_until - time.time()
        if wait > 0:
            time.sleep(wait)


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
