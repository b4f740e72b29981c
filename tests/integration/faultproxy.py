"""A loopback HTTP proxy that forwards to the real remote (json-server) and
injects faults on command: answer a status (503, 500, 429, with or without
Retry-After) for the next N requests or until a time, answer slowly, or
close the connection mid-response. Every request is logged with its time so
that tests can count retries and check their spacing.

Control: POST /__fault {"status":503,"count":5,"retry_after":1}
         POST /__fault {"status":503,"until":<epoch s>}
         POST /__fault {"delay_ms":2000,"count":1}   POST /__fault {"drop":1,"count":2}
         POST /__fault {}  (clear)        GET /__fault/log
"""
import http.client
import http.server
import json
import sys
import threading
import time


class State:
    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        self.fault = {}
        self.log = []

    def take(self):
        """The fault to apply to this request, consuming a count."""
        with self.lock:
            f = self.fault
            if not f:
                return None
            if "until" in f and time.time() >= f["until"]:
                self.fault = {}
                return None
            if "count" in f:
                if f["count"] <= 0:
                    self.fault = {}
                    return None
                f["count"] -= 1
            return dict(f)


def make_handler(state):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
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
            with state.lock:
                state.fault = json.loads(body or b"{}")
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

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path.startswith("/__fault"):
                return self.control(body)
            f = state.take()
            with state.lock:
                state.log.append({"t": time.time(), "method": self.command, "path": self.path,
                                  "fault": f or None})
            if f and f.get("delay_ms"):
                time.sleep(f["delay_ms"] / 1000.0)
            if f and f.get("drop"):
                # headers promise a body that never comes: a broken answer
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b'{"partial":')
                self.wfile.flush()
                self.close_connection = True
                return
            if f and f.get("status"):
                headers = {"Content-Type": "application/json"}
                if f.get("retry_after") is not None:
                    headers["Retry-After"] = str(f["retry_after"])
                return self.reply(f["status"], b'{"error":"injected"}', headers)
            status, data, headers = self.forward(body)
            return self.reply(status, data, headers)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    return Handler


def serve(port, upstream_port):
    state = State(upstream_port)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), make_handler(state))
    srv.daemon_threads = True
    print("faultproxy listening on http://127.0.0.1:%d" % port, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
