"""Known secrets, their searchable fragments, a leak collector and an HTTP
server that reflects every request's credentials in its error bodies.

Each secret is searched for whole and by the fragments a careless program
would print: the base64 part of a Basic value, the password inside it, the
token without its scheme, 24-character pieces of a PEM key's body.
"""
import base64
import http.server
import json
import os
import subprocess
import threading


def b64(s):
    return base64.b64encode(s.encode()).decode()


HOOK_PW = "HookPw-Zebra-9931-Quartz"
HOOK_SECRET = "Basic " + b64("okta-hook:" + HOOK_PW)
HOOK_NEXT_PW = "NextPw-Walrus-4417-Onyx"
HOOK_SECRET_NEXT = "Basic " + b64("okta-hook:" + HOOK_NEXT_PW)
# what a client may send instead: a near miss of the real secret, and another
NEAR_MISS = "Basic " + b64("okta-hook:" + HOOK_PW[:-1] + "Q")
WRONG = "Bearer WrongGuess-Magpie-5150-Slate"
OKTA_TOKEN = "00SswsTok-Kestrel-5528-Marmot"
REMOTE_USER = "remote-user"
REMOTE_PASSWORD = "RemPw-Heron-8823-Basalt"
REMOTE_TOKEN = "RemBearer-Otter-6610-Cobalt"
REMOTE_AUTH_HEADER = "X-Api-Key"
REMOTE_AUTH_VALUE = "RemHdr-Lynx-3391-Garnet"
REMOTE_CLIENT_SECRET = "RemOauth-Bison-7024-Amber"
REMOTE_VAR_SECRET = "TplVar-Ibis-2207-Jasper"  # REMOTE_API_KEY_FILE


def pem_fragments(pem):
    """24-character pieces of a PEM body's lines (each is unique enough)."""
    lines = [l.strip() for l in pem.splitlines() if l.strip() and not l.startswith("-----")]
    out = []
    for line in lines[1:-1]:
        out += [line[i:i + 24] for i in range(0, len(line) - 23, 24)]
    return out


def make_rsa_key(directory, name, bits=2048):
    """A PKCS#8 RSA private key and its SPKI public key, as file paths."""
    key = os.path.join(directory, name + ".pem")
    pub = os.path.join(directory, name + ".pub.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:%d" % bits, "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    return key, pub


class Secrets:
    """name -> list of fragments; the configured ones and the client's."""

    def __init__(self, private_key_pem, tls_key_pem):
        basic_remote = b64(REMOTE_USER + ":" + REMOTE_PASSWORD)
        self.table = {
            "hook secret": [HOOK_SECRET, HOOK_SECRET.split()[1], HOOK_PW],
            "hook secret next": [HOOK_SECRET_NEXT, HOOK_SECRET_NEXT.split()[1], HOOK_NEXT_PW],
            "client's near-miss secret": [NEAR_MISS.split()[1]],
            "client's wrong secret": [WRONG.split()[1]],
            "okta api token": [OKTA_TOKEN],
            "okta private key": pem_fragments(private_key_pem),
            "tls private key": pem_fragments(tls_key_pem),
            "remote password": [REMOTE_PASSWORD, basic_remote],
            "remote token": [REMOTE_TOKEN],
            "remote header value": [REMOTE_AUTH_VALUE],
            "remote client secret": [REMOTE_CLIENT_SECRET],
            "REMOTE_API_KEY_FILE": [REMOTE_VAR_SECRET],
        }

    def leaks(self, text, extra=()):
        """(secret name, fragment) found in text."""
        found = []
        for name, frags in list(self.table.items()) + list(extra):
            for f in frags:
                if f and f in text:
                    found.append((name, f if len(f) < 40 else f[:40] + "..."))
                    break
        return found


class Collector:
    """Every text a scenario produced, by scenario and location."""

    def __init__(self, secrets):
        self.secrets = secrets
        self.items = []
        self.extra = []

    def add(self, scenario, where, text):
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        self.items.append((scenario, where, text or ""))

    def add_cli(self, scenario, r):
        self.add(scenario, "stdout", r.stdout)
        self.add(scenario, "stderr", r.stderr)

    def add_tree(self, scenario, directory):
        """Every file under a directory (queue database, WAL), as bytes."""
        for base, _, files in os.walk(directory):
            for f in files:
                with open(os.path.join(base, f), "rb") as fh:
                    self.add(scenario, os.path.relpath(os.path.join(base, f), directory),
                             fh.read().decode("latin-1"))

    def report(self):
        out = []
        for scenario, where, text in self.items:
            for name, frag in self.secrets.leaks(text, self.extra):
                out.append("%s / %s: %s (%r)" % (scenario, where, name, frag))
        return out

    def scenarios(self):
        return sorted({s for s, _, _ in self.items})


class Reflector:
    """Answers every request with the next status of a cycle and a JSON
    error body that echoes the request's headers and body: a program that
    logs response bodies leaks its own credentials through it."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.requests = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
                with outer.lock:
                    status = outer.statuses[len(outer.requests) % len(outer.statuses)]
                    outer.requests.append((self.command, self.path, dict(self.headers)))
                echo = "; ".join("%s: %s" % kv for kv in self.headers.items())
                data = json.dumps({"errorCode": "E0000011", "error": "invalid_client",
                                   "errorSummary": "Invalid credentials: " + echo,
                                   "error_description": "you sent " + echo + " " + body,
                                   "headers": dict(self.headers), "body": body}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("WWW-Authenticate", "Basic realm=\"" + echo + "\"")
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = answer

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def count(self):
        with self.lock:
            return len(self.requests)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
