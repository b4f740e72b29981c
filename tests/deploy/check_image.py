"""Runs the image dockerfile.py built as a container would, and checks it.

The container: the final stage's root bind-mounted read-only (like
`docker run --read-only`), /proc, a minimal /dev, a tmpfs /tmp (compose
and the Kubernetes manifest both give one), each VOLUME a writable
directory seeded from the image like a new named volume, secrets
bind-mounted read-only under /run/secrets and passed as *_FILE variables,
its own network namespace (so the image's port 8080 collides with
nothing). The process is ENTRYPOINT + CMD with the image ENV, as the
image USER with every capability and the bounding set dropped and
no_new_privs (compose's cap_drop: [ALL], no-new-privileges).

Checks: the service answers on the EXPOSEd port, the Okta verification
GET and a real signed delivery to /hooks/okta get 200 and the job is in
the store on the volume (owned by the image user), a wrong secret gets
401, the root really is read-only, the HEALTHCHECK command from the
Dockerfile exits 0 while serving and non-zero once stopped, STOPSIGNAL
stops it with status 0, and a second start on the same volume keeps the
job and deduplicates its redelivery. The HEALTHCHECK is also run against
GROUPSYNC_LISTEN=127.0.0.1:9090 and against TLS on 8443. Then
deploy/docker-compose.yml's groupsync service is held against the image:
its volume covers the VOLUME, its *_FILE paths are its secrets, nginx's
upstream is its GROUPSYNC_LISTEN, the image started with its environment
is healthy, and `groupsync check-config` accepts it.

Run by dockerfile_chroot.sh inside `unshare --mount --pid` + `--net`.
Standard library only.
"""
import argparse
import contextlib
import copy
import fcntl
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import ssl
import struct
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dockerfile import (DEFAULT_PATH, container_dev, in_root, mount,  # noqa: E402
                        resolve_user, umount_all, drop_privileges)

SECRET = "Basic ZG9ja2VyOmRvY2tlci1ob29rLXNlY3JldC0xMjM0NQ=="
GROUP = "00g8sync7AbCdEfGh4x7"


def log(*a):
    print("[check_image]", *a, file=sys.stderr, flush=True)


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)
    log("ok: " + what)


def loopback_up():
    """`ip link set lo up` without iproute2: SIOCGIFFLAGS / SIOCSIFFLAGS."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ifr = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, 0x8913, ifr))[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", flags | 1))
    finally:
        s.close()


def duration(text, default):
    """Docker durations: 30s, 5s, 1m30s, 500ms."""
    if not text:
        return default
    total = 0.0
    for n, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text):
        total += float(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total


class Container:
    def __init__(self, cfg, work, env, secrets):
        self.cfg, self.work = cfg, work
        self.image = cfg["root"]
        self.mnt = os.path.join(work, "rootfs")
        self.mounts = []
        self.extra_env = env
        self.secrets = secrets
        self.volumes = {}
        self.proc = None
        self.logf = None
        self.log_path = os.path.join(work, "container.log")

    # --- filesystem
    def setup(self):
        img, mnt = self.image, self.mnt
        # mount points Docker would create in the container layer
        for path in ["/run/secrets", "/tmp", "/proc", "/dev"] + self.cfg["volumes"]:
            os.makedirs(in_root(img, path), exist_ok=True)
        # each VOLUME: a new volume, seeded with the image's content and ownership
        for i, path in enumerate(self.cfg["volumes"]):
            vol = os.path.join(self.work, "volume%d" % i)
            if os.path.exists(vol):
                shutil.rmtree(vol)
            subprocess.run(["cp", "-a", in_root(img, path), vol], check=True)
            self.volumes[path] = vol
        secrets = os.path.join(self.work, "secrets")
        os.makedirs(secrets, exist_ok=True)
        for name, value in self.secrets.items():
            p = os.path.join(secrets, name)
            with open(p, "w") as f:
                f.write(value)
            os.chmod(p, 0o444)  # compose bind-mounts secret files: uid 10001 must read them
        os.makedirs(mnt, exist_ok=True)
        mount("--bind", img, mnt)
        self.mounts.append(mnt)
        mount("-o", "remount,bind,ro", mnt)
        mount("-t", "proc", "-o", "nosuid,nodev,noexec", "proc", in_root(mnt, "/proc"))
        self.mounts.append(in_root(mnt, "/proc"))
        container_dev(in_root(mnt, "/dev"), self.mounts)
        mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev,size=65536k", "tmpfs",
              in_root(mnt, "/tmp"))
        self.mounts.append(in_root(mnt, "/tmp"))
        for path, vol in self.volumes.items():
            mount("--bind", vol, in_root(mnt, path))
            self.mounts.append(in_root(mnt, path))
        mount("--bind", secrets, in_root(mnt, "/run/secrets"))
        self.mounts.append(in_root(mnt, "/run/secrets"))
        mount("-o", "remount,bind,ro", in_root(mnt, "/run/secrets"))
        self.uid, self.gid, self.groups, self.home = resolve_user(img, self.cfg["user"])

    def teardown(self):
        self.kill()
        umount_all(self.mounts)

    def environ(self, extra=None):
        """Docker's order: defaults, the image ENV, then `-e` (ours, or extra's)."""
        env = {"PATH": DEFAULT_PATH, "HOSTNAME": "groupsync-test", "HOME": self.home or "/"}
        env.update(self.cfg["env"])
        env.update(self.extra_env if extra is None else extra)
        return env

    def preexec(self):
        return drop_privileges(self.mnt, self.cfg["workdir"] or "/", self.uid, self.gid,
                               self.groups, no_new_privs=True)

    # --- processes
    def argv(self):
        ep = self.cfg["entrypoint"] or []
        return ep + (self.cfg["cmd"] or [])

    def start(self, env=None):
        """`docker run` of the image; env: more `-e` settings."""
        self.logf = open(self.log_path, "ab")
        argv = self.argv()
        log("start (uid %d gid %d): %s %s" % (self.uid, self.gid, argv, env or ""))
        e = self.environ()
        e.update(env or {})
        self.proc = subprocess.Popen(argv, env=e, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf,
                                     preexec_fn=self.preexec())

    def exec(self, argv, timeout, env=None):
        """`docker exec`: another process in the container, same user; env
        replaces the container's `-e` settings when given."""
        return subprocess.run(argv, env=self.environ(env), stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout, preexec_fn=self.preexec())

    def stop(self, timeout):
        sig = self.cfg.get("stopsignal") or "SIGTERM"
        signum = getattr(signal, sig if sig.startswith("SIG") else "SIG" + sig, None) \
            if not sig.isdigit() else int(sig)
        t = time.time()
        self.proc.send_signal(signum)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failed("%s did not stop it within %ss" % (sig, timeout))
        finally:
            self.logf.close()
        return rc, time.time() - t

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()


def request(port, method, path, body=None, headers=None, timeout=10, tls=False):
    if tls:  # the test's self-signed certificate: encryption only, no verification
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def wait_ready(c, port, timeout=30, tls=False):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if c.proc.poll() is not None:
            raise Failed("the container exited %d:\n%s" % (c.proc.returncode, c.log()))
        with contextlib.suppress(OSError, http.client.HTTPException):
            if request(port, "GET", "/readyz", timeout=2, tls=tls)[0] == 200:
                return
        time.sleep(0.1)
    raise Failed("no 200 from /readyz within %ds:\n%s" % (timeout, c.log()))


def delivery(samples):
    with open(os.path.join(samples, "delivery-group-add.json"), encoding="utf-8") as f:
        body = json.load(f)
    body["eventId"] = str(uuid.uuid4())
    ev = copy.deepcopy(body["data"]["events"][0])
    ev["uuid"] = str(uuid.uuid4())
    body["data"]["events"] = [ev]
    return body, ev["uuid"]


def stored_jobs(volume):
    db = os.path.join(volume, "groupsync.db")
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as con:
        return [r[0] for r in con.execute("SELECT uuid FROM jobs")]


def compose_service(path, name):
    """environment, volumes and secrets of one service of a compose file.

    Not a YAML parser: enough for deploy/docker-compose.yml's block style
    (`KEY: value  # comment` maps, `- a:b` lists, `[a, b]` flow lists)."""
    out = {"environment": {}, "volumes": [], "secrets": []}
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]
    indent = lambda line: len(line) - len(line.lstrip(" "))  # noqa: E731
    i, in_services, svc_indent = 0, False, None
    while i < len(lines):
        line = lines[i]
        text = re.sub(r"\s+#.*$", "", line).rstrip()
        if not text.strip() or text.lstrip().startswith("#"):
            i += 1
            continue
        if indent(text) == 0:
            in_services = text == "services:"
            svc_indent = None
        elif in_services and svc_indent is None and text.strip() == name + ":":
            svc_indent = indent(text)
        elif svc_indent is not None and indent(text) <= svc_indent:
            svc_indent = None if indent(text) == svc_indent else svc_indent
        elif svc_indent is not None:
            key, _, val = text.strip().partition(":")
            if key in out and indent(text) == svc_indent + 2:
                val = val.strip()
                if val.startswith("["):
                    out[key] = [v.strip() for v in val.strip("[]").split(",") if v.strip()]
                else:
                    j = i + 1
                    while j < len(lines) and (not lines[j].strip()
                                              or indent(lines[j]) > indent(text)):
                        item = re.sub(r"\s+#.*$", "", lines[j]).strip()
                        if item.startswith("- "):
                            out[key].append(item[2:].strip())
                        elif item and not item.startswith("#"):
                            k, _, v = item.partition(":")
                            out[key][k.strip()] = v.strip().strip("'\"")
                        j += 1
                    i = j
                    continue
        i += 1
    return out


def check_compose(c, compose):
    """deploy/docker-compose.yml's groupsync service agrees with the image."""
    svc = compose_service(compose, "groupsync")
    env = svc["environment"]
    check(env, "compose: groupsync's environment found (%d settings)" % len(env))
    targets = [v.split(":", 1)[1].split(":")[0] for v in svc["volumes"] if ":" in v]
    check(set(c.cfg["volumes"]) <= set(targets),
          "compose mounts a volume on every image VOLUME %s (%s)" % (c.cfg["volumes"], targets))
    for k, v in env.items():
        if k.endswith("_FILE") and v.startswith("/run/secrets/"):
            check(v[len("/run/secrets/"):] in svc["secrets"],
                  "compose: %s=%s is one of the service's secrets" % (k, v))
    listen = env.get("GROUPSYNC_LISTEN", c.cfg["env"]["GROUPSYNC_LISTEN"])
    nginx = os.path.join(os.path.dirname(compose), "nginx", "groupsync.conf")
    with open(nginx, encoding="utf-8") as f:
        upstreams = re.findall(r"^\s*server\s+([\d.]+:\d+)", f.read(), re.M)
    check(upstreams == [listen], "nginx's upstream %s is compose's GROUPSYNC_LISTEN %s"
          % (upstreams, listen))
    # the image started with compose's environment (workers off: its Okta
    # and remote are not reachable here) is healthy by its own HEALTHCHECK
    run_env = dict(env, GROUPSYNC_WORKERS="0")
    c.start(run_env)
    port = int(listen.rsplit(":", 1)[1])
    wait_ready(c, port)
    r = c.exec(c.cfg["healthcheck"]["test"], timeout=35, env=run_env)
    check(r.returncode == 0, "compose's settings: the HEALTHCHECK exits 0 (got %d, %r)"
          % (r.returncode, r.stderr.decode()[-300:]))
    rc, took = c.stop(timeout=15)
    check(rc == 0, "compose's settings: stopped with status 0 in %.2fs" % took)
    # the binary in the image accepts compose's settings (names and values)
    r = c.exec(["/usr/bin/groupsync", "check-config"], timeout=30, env=env)
    check(r.returncode == 0, "compose's environment passes `groupsync check-config` in the "
          "image%s" % ("" if r.returncode == 0 else " (exit %d: %s)" % (
              r.returncode, (r.stdout + r.stderr).decode()[-600:])))


def run_checks(c, samples, compose=None):
    cfg = c.cfg
    check(cfg["user"] not in ("", "0", "root") and c.uid != 0,
          "the image runs as a non-root USER (%s -> uid %d)" % (cfg["user"], c.uid))
    listen = c.environ().get("GROUPSYNC_LISTEN", "")
    port = int(listen.rsplit(":", 1)[1])
    exposed = [int(p.split("/")[0]) for p in cfg["expose"]]
    check(port in exposed, "GROUPSYNC_LISTEN's port %d is EXPOSEd %s" % (port, cfg["expose"]))
    data_dir = c.environ().get("GROUPSYNC_DATA_DIR")
    check(data_dir in c.volumes, "GROUPSYNC_DATA_DIR %s is a VOLUME" % data_dir)
    vol = c.volumes[data_dir]
    hc = cfg["healthcheck"]
    check(hc is not None, "the image has a HEALTHCHECK")
    hc_timeout = duration(hc.get("timeout"), 30)

    ca = in_root(c.mnt, "/etc/ssl/certs/ca-certificates.crt")
    check(os.path.getsize(ca) > 10000, "the CA bundle libcurl verifies Okta with is there")
    for path in ("/usr/bin/groupsync", "/usr/bin/bash"):
        check(os.access(in_root(c.mnt, path), os.X_OK), "%s is in the image" % path)
    hooks = c.environ().get("GROUPSYNC_HOOKS_DIR")
    check(os.path.isfile(in_root(c.mnt, hooks + "/create.json")),
          "GROUPSYNC_HOOKS_DIR %s holds the REST hooks" % hooks)

    # the read-only root really is read-only, even for root
    try:
        open(os.path.join(c.mnt, "ro-probe"), "w").close()
        os.unlink(os.path.join(c.mnt, "ro-probe"))
        raise Failed("the container root is writable")
    except OSError as e:
        check(e.errno == 30, "the container root is read-only (EROFS)")

    c.start()
    t = time.time()
    wait_ready(c, port)
    log("ready in %.2fs" % (time.time() - t))
    status, body = request(port, "GET", "/healthz")
    check(status == 200, "GET /healthz: 200")

    r = c.exec(hc["test"], timeout=hc_timeout + 5)
    check(r.returncode == 0, "HEALTHCHECK %s exits 0 (got %d, stderr %r)"
          % (hc["test"][:2], r.returncode, r.stderr.decode()[-300:]))

    status, body = request(port, "GET", "/hooks/okta",
                           headers={"X-Okta-Verification-Challenge": "dockerfile-test-42",
                                    "Authorization": SECRET})
    check(status == 200 and json.loads(body) == {"verification": "dockerfile-test-42"},
          "Okta's verification GET: 200 with the challenge")

    body, ev_uuid = delivery(samples)
    status, _ = request(port, "POST", "/hooks/okta", body,
                        {"Authorization": "Basic d3Jvbmc6d3Jvbmc=",
                         "Content-Type": "application/json"})
    check(status == 401, "a delivery with the wrong secret: 401 (got %d)" % status)
    status, resp = request(port, "POST", "/hooks/okta", body,
                           {"Authorization": SECRET, "Content-Type": "application/json"})
    check(status == 200, "a signed delivery (secret from GROUPSYNC_HOOK_SECRET_FILE): 200 "
          "(got %d %r)" % (status, resp[:200]))
    jobs = stored_jobs(vol)
    check(ev_uuid in jobs, "the delivery's event is stored as a job on the volume")
    st = os.stat(os.path.join(vol, "groupsync.db"))
    check((st.st_uid, st.st_gid) == (c.uid, c.gid),
          "the store belongs to the image user (%d:%d)" % (st.st_uid, st.st_gid))

    rc, took = c.stop(timeout=15)
    check(rc == 0, "%s: exit status 0 in %.2fs (got %d)" % (cfg.get("stopsignal") or "SIGTERM",
                                                          took, rc))
    r = c.exec(hc["test"], timeout=hc_timeout + 5)
    check(r.returncode != 0, "HEALTHCHECK fails once the service is stopped (%d)"
          % r.returncode)

    # a restart on the same volume: the store is reused, the redelivery deduplicated
    c.start()
    wait_ready(c, port)
    status, _ = request(port, "POST", "/hooks/okta", body,
                        {"Authorization": SECRET, "Content-Type": "application/json"})
    jobs2 = stored_jobs(vol)
    check(status == 200 and jobs2.count(ev_uuid) == 1,
          "after a restart on the same volume the job is kept and its redelivery deduplicated")
    rc, took = c.stop(timeout=15)
    check(rc == 0, "second stop: exit status 0 in %.2fs" % took)
    # the HEALTHCHECK follows GROUPSYNC_LISTEN: another port (compose-like
    # loopback address), and TLS on 8443 as the Dockerfile's comment offers
    variants = [("GROUPSYNC_LISTEN=127.0.0.1:9090", {"GROUPSYNC_LISTEN": "127.0.0.1:9090"},
                 9090, False),
                ("TLS on 0.0.0.0:8443", {"GROUPSYNC_LISTEN": "0.0.0.0:8443",
                                          "GROUPSYNC_TLS_CERT": "/run/secrets/tls-cert.pem",
                                          "GROUPSYNC_TLS_KEY": "/run/secrets/tls-key.pem"},
                 8443, True)]
    for what, env, vport, tls in variants:
        c.start(env)
        wait_ready(c, vport, tls=tls)
        r = c.exec(hc["test"], timeout=hc_timeout + 5, env=dict(c.extra_env, **env))
        check(r.returncode == 0, "%s: HEALTHCHECK exits 0 (got %d, stderr %r)"
              % (what, r.returncode, r.stderr.decode()[-300:]))
        rc, took = c.stop(timeout=15)
        check(rc == 0, "%s: stopped with status 0 in %.2fs" % (what, took))
        r = c.exec(hc["test"], timeout=hc_timeout + 5, env=dict(c.extra_env, **env))
        check(r.returncode != 0, "%s: HEALTHCHECK fails once stopped" % what)

    if compose:
        check_compose(c, compose)
    bad = [line for line in c.log().splitlines()
           if '"level":"error"' in line or '"level":"fatal"' in line]
    check(not bad, "no error lines in the service log%s" % ("" if not bad else ": %s" % bad[:3]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--samples", required=True)
    ap.add_argument("--compose", help="docker-compose.yml to check against the image")
    a = ap.parse_args()
    with open(a.config, encoding="utf-8") as f:
        cfg = json.load(f)
    os.makedirs(a.work, exist_ok=True)
    loopback_up()
    env = {
        "GROUPSYNC_HOOK_SECRET_FILE": "/run/secrets/hook-secret",
        "GROUPSYNC_OKTA_API_TOKEN_FILE": "/run/secrets/okta-api-token",
        "GROUPSYNC_OKTA_ORG_URL": "http://127.0.0.1:9",   # unreachable: intake only
        "GROUPSYNC_GROUP_IDS": GROUP,
        "REMOTE_BASE_URL": "http://127.0.0.1:9",
        "GROUPSYNC_WORKERS": "0",
    }
    secrets = {"hook-secret": SECRET, "okta-api-token": "00okta-api-token-for-the-image-test"}
    os.makedirs(os.path.join(a.work, "tls"), exist_ok=True)
    cert, key = (os.path.join(a.work, "tls", n) for n in ("cert.pem", "key.pem"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    for name, path in (("tls-cert.pem", cert), ("tls-key.pem", key)):
        with open(path, encoding="ascii") as f:
            secrets[name] = f.read()
    c = Container(cfg, a.work, env, secrets)
    try:
        c.setup()
        run_checks(c, a.samples, a.compose)
    except Failed as e:
        log("FAILED: %s" % e)
        if os.path.exists(c.log_path):
            log("container log:\n" + c.log()[-6000:])
        return 1
    finally:
        c.teardown()
    log("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
