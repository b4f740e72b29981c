"""A small Dockerfile interpreter: builds an image as directories.

No Docker engine runs where groupsync is built, so tests/deploy/
dockerfile_chroot.sh proves deploy/Dockerfile with this instead: every
stage is a debootstrapped Debian 12 root (standing in for
debian:bookworm-slim), RUN runs `/bin/sh -c` chrooted into it, COPY reads
the build context (the repository minus Dockerfile.dockerignore) or an
earlier stage, and the final stage's config (ENV, USER, WORKDIR,
ENTRYPOINT, CMD, HEALTHCHECK, VOLUME, EXPOSE, STOPSIGNAL) is written as
JSON for check_image.py to run the container from.

The Dockerfile is read, not mirrored: a change to it changes what runs.
Anything this interpreter does not implement (heredocs, RUN --mount,
ADD of URLs, images other than debian:bookworm[-slim], ONBUILD) is an
error, never silently skipped.

Must run as root inside a private mount namespace (the shell wrapper uses
`unshare --mount --pid`): the mounts RUN needs die with the namespace on
every exit path. Standard library only.
"""
import argparse
import ctypes
import glob
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time

# bump when make_base() changes: the cached base root is rebuilt
BASE_VERSION = "2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# what the debian:bookworm(-slim) image config carries
BASE_IMAGES = ("debian:bookworm-slim", "debian:bookworm", "debian:12-slim", "debian:12")
BASE_CONFIG = {"env": {"PATH": DEFAULT_PATH}, "cmd": ["bash"]}
# apt failures worth a retry of the whole stage (network, mirror sync)
NETWORK_ERRORS = re.compile(
    r"Failed to fetch|Temporary failure resolving|Could not connect|Connection failed|"
    r"Connection timed out|Unable to connect|Hash Sum mismatch|Some index files failed|"
    r"Unable to fetch some archives|Undetermined Error|File has unexpected size|"
    r"Mirror sync in progress|Failed to retrieve|Download of .* failed")


def log(*a):
    print("[dockerfile]", *a, file=sys.stderr, flush=True)


class DockerfileError(Exception):
    pass


class NetworkError(Exception):
    pass


# ---------------------------------------------------------------- parsing

class Instruction:
    def __init__(self, cmd, args, lineno, original):
        self.cmd, self.args, self.lineno, self.original = cmd, args, lineno, original

    def __repr__(self):
        return "%d: %s %s" % (self.lineno, self.cmd, self.args)


def parse(text):
    """[Instruction]: directives, comments and line continuations handled."""
    escape = "\\"
    lines = text.splitlines()
    i = 0
    # parser directives: only at the very top, `# key=value`
    while i < len(lines):
        m = re.match(r"^\s*#\s*([a-zA-Z]+)\s*=\s*(.*?)\s*$", lines[i])
        if not m:
            break
        if m.group(1).lower() == "escape":
            escape = m.group(2)
            if escape not in ("\\", "`"):
                raise DockerfileError("bad escape directive %r" % escape)
        i += 1
    out = []
    while i < len(lines):
        line = lines[i]
        start = i + 1
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = []
        while True:
            stripped = line.rstrip()
            if stripped.endswith(escape):
                parts.append(stripped[:-1])
                # continuation: comment lines and empty lines in between are dropped
                while i < len(lines) and (lines[i].lstrip().startswith("#")
                                          or not lines[i].strip()):
                    i += 1
                if i >= len(lines):
                    break
                line = lines[i]
                i += 1
            else:
                parts.append(line)
                break
        full = "".join(parts).strip()
        m = re.match(r"^(\S+)\s*(.*)$", full, re.S)
        cmd, rest = m.group(1).upper(), m.group(2)
        if "<<" in rest and cmd in ("RUN", "COPY", "ADD") and re.search(r"<<-?[\"']?\w+", rest):
            raise DockerfileError("line %d: heredocs are not supported" % start)
        out.append(Instruction(cmd, rest, start, full))
    return out


def json_form(args):
    """The exec (JSON array) form's list, or None for the shell form."""
    s = args.strip()
    if not s.startswith("["):
        return None
    try:
        v = json.loads(s)
    except ValueError:
        return None
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        return None
    return v


def take_flags(args):
    """(--flag=value dict, remaining args) for COPY/RUN/FROM/HEALTHCHECK."""
    flags = {}
    rest = args.lstrip()
    while rest.startswith("--"):
        m = re.match(r"^--([a-zA-Z-]+)(?:=(\S*))?\s*", rest)
        if not m:
            break
        flags[m.group(1).lower()] = m.group(2) if m.group(2) is not None else "true"
        rest = rest[m.end():]
    return flags, rest


def expand(word, env):
    """Docker's variable substitution: $V, ${V}, ${V:-x}, ${V:+x}, \\$."""
    out = []
    i = 0
    while i < len(word):
        c = word[i]
        if c == "\\" and i + 1 < len(word) and word[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        if c != "$":
            out.append(c)
            i += 1
            continue
        if i + 1 < len(word) and word[i + 1] == "{":
            end = word.find("}", i + 2)
            if end < 0:
                raise DockerfileError("unterminated ${ in %r" % word)
            body = word[i + 2:end]
            m = re.match(r"^(\w+)(?::([-+])(.*))?$", body, re.S)
            if not m:
                raise DockerfileError("unsupported substitution ${%s}" % body)
            name, op, alt = m.groups()
            val = env.get(name, "")
            if op == "-":
                val = val if val else expand(alt, env)
            elif op == "+":
                val = expand(alt, env) if val else ""
            out.append(val)
            i = end + 1
            continue
        m = re.match(r"^\$(\w+)", word[i:])
        if m:
            out.append(env.get(m.group(1), ""))
            i += len(m.group(0))
        else:
            out.append("$")
            i += 1
    return "".join(out)


def words(s, env):
    """Shell-like words with quotes removed and variables expanded (ENV, ARG, LABEL)."""
    out, cur, i, quote, have = [], [], 0, None, False
    while i < len(s):
        c = s[i]
        if quote == "'":
            if c == "'":
                quote = None
            else:
                cur.append(c)
            i += 1
            continue
        if c == "\\" and i + 1 < len(s):
            if s[i + 1] == "$":
                cur.append("\\$")  # kept for expand() to turn into a literal $
            else:
                cur.append(s[i + 1])
            i += 2
            have = True
            continue
        if quote == '"':
            if c == '"':
                quote = None
            elif c == "$":
                j = _var_end(s, i)
                cur.append(expand(s[i:j], env))
                i = j
                continue
            else:
                cur.append(c)
            i += 1
            continue
        if c in "'\"":
            quote, have = c, True
        elif c.isspace():
            if cur or have:
                out.append("".join(cur).replace("\\$", "$"))
            cur, have = [], False
        elif c == "$":
            j = _var_end(s, i)
            cur.append(expand(s[i:j], env))
            have = True
            i = j
            continue
        else:
            cur.append(c)
        i += 1
    if quote:
        raise DockerfileError("unterminated quote in %r" % s)
    if cur or have:
        out.append("".join(cur).replace("\\$", "$"))
    return out


def _var_end(s, i):
    if s.startswith("${", i):
        end = s.find("}", i)
        return len(s) if end < 0 else end + 1
    m = re.match(r"\$\w*", s[i:])
    return i + max(1, len(m.group(0)))


def key_values(s, env, cmd):
    """ENV/ARG/LABEL pairs: `K=V K2="a b"` or the legacy `K value with spaces`."""
    ws = words(s, env)
    if not ws:
        raise DockerfileError("%s needs arguments" % cmd)
    if "=" not in ws[0]:
        if cmd == "ARG":
            return [(w, None) for w in ws]
        # legacy form: the first word is the key, the rest (raw) is the value
        key, _, rest = s.strip().partition(" ")
        return [(key, " ".join(words(rest, env)))]
    pairs = []
    for w in ws:
        k, eq, v = w.partition("=")
        if not eq:
            if cmd == "ARG":
                pairs.append((k, None))
                continue
            raise DockerfileError("%s: %r is not KEY=VALUE" % (cmd, w))
        pairs.append((k, v))
    return pairs


# ---------------------------------------------------------- .dockerignore

def ignore_patterns(path):
    pats = []
    if not path or not os.path.exists(path):
        return pats
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            neg = line.startswith("!")
            if neg:
                line = line[1:].strip()
            line = os.path.normpath(line).lstrip("/")
            if line in ("", "."):
                continue
            pats.append((neg, _pattern_regex(line)))
    return pats


def _pattern_regex(p):
    """moby/patternmatcher: * and ? never cross '/', ** crosses any number."""
    out, i = ["^"], 0
    while i < len(p):
        c = p[i]
        if p.startswith("**", i):
            i += 2
            if p.startswith("/", i):  # **/ : zero or more directories
                out.append("(.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = p.find("]", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                cls = p[i + 1:end]
                if cls.startswith("^") or cls.startswith("!"):
                    cls = "^" + cls[1:]
                out.append("[" + cls + "]")
                i = end
        elif c == "\\" and i + 1 < len(p):
            i += 1
            out.append(re.escape(p[i]))
        else:
            out.append(re.escape(c))
        i += 1
    out.append("$")
    return re.compile("".join(out))


def ignored(rel, pats):
    """Last matching pattern wins; a pattern matching a parent directory counts."""
    parents = []
    parts = rel.split("/")
    for n in range(1, len(parts) + 1):
        parents.append("/".join(parts[:n]))
    result = False
    for neg, rx in pats:
        if any(rx.match(p) for p in parents):
            result = not neg
    return result


def make_context(src, dst, pats):
    """Copies the build context src to dst, minus ignored paths (symlinks kept)."""
    has_negation = any(neg for neg, _ in pats)
    count = 0
    os.makedirs(dst)
    for dirpath, dirnames, filenames in os.walk(src):
        reld = os.path.relpath(dirpath, src)
        reld = "" if reld == "." else reld
        keep = []
        for d in sorted(dirnames):
            rel = os.path.join(reld, d) if reld else d
            full = os.path.join(dirpath, d)
            if os.path.islink(full):
                filenames.append(d)  # copied as a symlink, not followed
                continue
            if ignored(rel, pats) and not has_negation:
                continue
            keep.append(d)
            os.makedirs(os.path.join(dst, rel), exist_ok=True)
            shutil.copystat(full, os.path.join(dst, rel))
        dirnames[:] = keep
        for f in sorted(filenames):
            rel = os.path.join(reld, f) if reld else f
            if ignored(rel, pats):
                continue
            s, d = os.path.join(dirpath, f), os.path.join(dst, rel)
            os.makedirs(os.path.dirname(d), exist_ok=True)
            if os.path.islink(s):
                os.symlink(os.readlink(s), d)
            else:
                shutil.copy2(s, d)
            count += 1
    return count


# --------------------------------------------------------- rootfs helpers

def in_root(root, path, follow_last=True):
    """Host path of `path` inside root, resolving symlinks within root."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    cur = "/"
    hops = 0
    while parts:
        p = parts.pop(0)
        if p == "..":
            cur = os.path.dirname(cur.rstrip("/")) or "/"
            continue
        nxt = os.path.join(cur, p)
        host = root + nxt
        if os.path.islink(host) and (parts or follow_last):
            hops += 1
            if hops > 40:
                raise DockerfileError("symlink loop at %s" % path)
            target = os.readlink(host)
            if target.startswith("/"):
                cur = "/"
            parts = [x for x in target.split("/") if x not in ("", ".")] + parts
            continue
        cur = nxt
    return root + cur if cur != "/" else root


def passwd_lookup(root, user):
    """(uid, gid, home, name) for USER's user part, from root's /etc/passwd."""
    entries = []
    try:
        with open(in_root(root, "/etc/passwd"), encoding="utf-8") as f:
            entries = [line.rstrip("\n").split(":") for line in f if line.count(":") >= 6]
    except FileNotFoundError:
        pass
    for e in entries:
        if e[0] == user or (user.isdigit() and e[2] == user):
            return int(e[2]), int(e[3]), e[5], e[0]
    if user.isdigit():
        return int(user), 0, "/", None
    raise DockerfileError("unknown user %r" % user)


def group_lookup(root, group):
    if group.isdigit():
        return int(group)
    with open(in_root(root, "/etc/group"), encoding="utf-8") as f:
        for line in f:
            e = line.rstrip("\n").split(":")
            if e[0] == group:
                return int(e[2])
    raise DockerfileError("unknown group %r" % group)


def supplementary_groups(root, name):
    if not name:
        return []
    out = []
    try:
        with open(in_root(root, "/etc/group"), encoding="utf-8") as f:
            for line in f:
                e = line.rstrip("\n").split(":")
                if len(e) >= 4 and name in e[3].split(","):
                    out.append(int(e[2]))
    except FileNotFoundError:
        pass
    return out


def resolve_user(root, spec):
    """(uid, gid, groups, home) of a USER / --chown spec in this root."""
    spec = spec or "0"
    user, _, group = spec.partition(":")
    uid, gid, home, name = passwd_lookup(root, user)
    if group:
        gid = group_lookup(root, group)
    return uid, gid, supplementary_groups(root, name), home


def sh(*cmd, check=True, **kw):
    return subprocess.run(list(cmd), check=check, **kw)


def mount(*args):
    sh("mount", *args)


def umount_all(mounts):
    for m in reversed(mounts):
        subprocess.run(["umount", "-l", m], check=False, stderr=subprocess.DEVNULL)
    mounts.clear()


def container_dev(dev, mounts):
    """A Docker-like minimal /dev on a tmpfs."""
    mount("-t", "tmpfs", "-o", "mode=0755,nosuid,size=65536k", "tmpfs", dev)
    mounts.append(dev)
    for name, major, minor in (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7),
                               ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)):
        path = os.path.join(dev, name)
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        os.chmod(path, 0o666)
    os.makedirs(os.path.join(dev, "shm"))
    mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev,size=65536k", "shm",
          os.path.join(dev, "shm"))
    mounts.append(os.path.join(dev, "shm"))
    os.makedirs(os.path.join(dev, "pts"))
    mount("-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=0620", "devpts",
          os.path.join(dev, "pts"))
    mounts.append(os.path.join(dev, "pts"))
    os.symlink("pts/ptmx", os.path.join(dev, "ptmx"))
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, os.path.join(dev, name))


def bind_file(src, root, path, mounts, ro=False):
    """Bind-mounts a host file over root's path (Docker's resolv.conf, hosts)."""
    target = in_root(root, path)
    if os.path.islink(target) or not os.path.exists(target):
        if os.path.lexists(target):
            os.unlink(target)
        open(target, "w").close()
    mount("--bind", src, target)
    mounts.append(target)
    if ro:
        mount("-o", "remount,bind,ro", target)


class RunMounts:
    """/proc, /dev, /sys, resolv.conf, hosts and the apt cache for one RUN."""

    def __init__(self, root, work, apt_cache=None):
        self.root, self.work, self.apt_cache = root, work, apt_cache
        self.mounts = []

    def __enter__(self):
        try:
            r = self.root
            for d in ("proc", "dev", "sys", "tmp"):
                os.makedirs(in_root(r, "/" + d), exist_ok=True)
            mount("-t", "proc", "-o", "nosuid,nodev,noexec", "proc", in_root(r, "/proc"))
            self.mounts.append(in_root(r, "/proc"))
            mount("-t", "sysfs", "-o", "ro,nosuid,nodev,noexec", "sysfs", in_root(r, "/sys"))
            self.mounts.append(in_root(r, "/sys"))
            container_dev(in_root(r, "/dev"), self.mounts)
            bind_file("/etc/resolv.conf", r, "/etc/resolv.conf", self.mounts, ro=True)
            hosts = os.path.join(self.work, "hosts")
            with open(hosts, "w") as f:
                f.write("127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost\n")
            bind_file(hosts, r, "/etc/hosts", self.mounts, ro=True)
            if self.apt_cache:
                target = in_root(r, "/var/cache/apt/archives")
                if os.path.isdir(target):
                    os.makedirs(self.apt_cache, exist_ok=True)
                    mount("--bind", self.apt_cache, target)
                    self.mounts.append(target)
        except BaseException:
            umount_all(self.mounts)
            raise
        return self

    def __exit__(self, *exc):
        umount_all(self.mounts)


def drop_privileges(root, cwd, uid, gid, groups, no_new_privs=False):
    """preexec_fn: chroot, cd, then become uid:gid (all capabilities go)."""
    # ctypes is loaded here, in the parent: nothing can be imported once chrooted
    libc = ctypes.CDLL(None, use_errno=True) if no_new_privs else None

    def fn():
        os.chroot(root)
        os.chdir(cwd)
        if no_new_privs:
            PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38
            for cap in range(64):
                libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
            if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
        os.setgroups(groups)
        os.setgid(gid)
        os.setuid(uid)
    return fn


# ----------------------------------------------------------------- stages

class Stage:
    def __init__(self, index, name, root, base_config):
        self.index, self.name, self.root = index, name, root
        self.env = dict(base_config.get("env", {}))
        self.cmd = list(base_config["cmd"]) if base_config.get("cmd") is not None else None
        self.cmd_from_base = True
        self.entrypoint = base_config.get("entrypoint")
        self.workdir = base_config.get("workdir", "/")
        self.user = base_config.get("user", "")
        self.healthcheck = base_config.get("healthcheck")
        self.volumes = list(base_config.get("volumes", []))
        self.expose = list(base_config.get("expose", []))
        self.labels = dict(base_config.get("labels", {}))
        self.stopsignal = base_config.get("stopsignal")
        self.shell = base_config.get("shell", ["/bin/sh", "-c"])
        self.args = {}          # ARGs declared in this stage (name -> value)
        self.instructions = []

    def config(self):
        return {"env": self.env, "cmd": self.cmd, "entrypoint": self.entrypoint,
                "workdir": self.workdir, "user": self.user, "healthcheck": self.healthcheck,
                "volumes": self.volumes, "expose": self.expose, "labels": self.labels,
                "stopsignal": self.stopsignal, "shell": self.shell}

    def subst_env(self):
        """What ${VAR} sees in this stage: ARGs, overridden by ENV."""
        e = {k: v for k, v in self.args.items() if v is not None}
        e.update(self.env)
        return e


def split_stages(instrs):
    """(global ARG instructions, [(FROM instruction, [instructions])])."""
    globals_, stages = [], []
    for ins in instrs:
        if ins.cmd == "FROM":
            stages.append((ins, []))
        elif not stages:
            if ins.cmd != "ARG":
                raise DockerfileError("line %d: %s before the first FROM" % (ins.lineno, ins.cmd))
            globals_.append(ins)
        else:
            stages[-1][1].append(ins)
    if not stages:
        raise DockerfileError("no FROM")
    return globals_, stages


class Builder:
    def __init__(self, dockerfile, context, work, base_tar, build_args=None, apt_cache=None,
                 verbose=False, stage_attempts=3):
        self.dockerfile, self.context, self.work = dockerfile, context, work
        self.base_tar, self.apt_cache = base_tar, apt_cache
        self.build_args = build_args or {}
        self.verbose = verbose
        self.stage_attempts = stage_attempts
        self.stages = []

    # --- stage roots
    def new_root(self, name):
        root = os.path.join(self.work, "stages", name)
        if os.path.exists(root):
            shutil.rmtree(root)
        os.makedirs(root)
        t = time.time()
        sh("tar", "-C", root, "--numeric-owner", "-xpf", self.base_tar)
        log("stage %s: base root unpacked in %.1fs" % (name, time.time() - t))
        return root

    def build(self, target=None):
        with open(self.dockerfile, encoding="utf-8") as f:
            instrs = parse(f.read())
        globals_, stages = split_stages(instrs)
        global_args = {}
        for ins in globals_:
            for k, v in key_values(ins.args, global_args, "ARG"):
                global_args[k] = self.build_args.get(k, v)
        for idx, (frm, body) in enumerate(stages):
            for attempt in range(1, self.stage_attempts + 1):
                try:
                    stage = self.build_stage(idx, frm, body, global_args)
                    break
                except NetworkError as e:
                    if attempt == self.stage_attempts:
                        raise DockerfileError("stage %d: network errors, %d attempts: %s"
                                              % (idx, attempt, e))
                    log("stage %d: network error (%s), rebuilding the stage from its "
                        "base, attempt %d" % (idx, e, attempt + 1))
                    time.sleep(5 * attempt)
            self.stages.append(stage)
            if target and stage.name == target:
                break
        return self.stages[-1]

    def build_stage(self, idx, frm, body, global_args):
        flags, rest = take_flags(frm.args)
        if "platform" in flags:
            raise DockerfileError("line %d: FROM --platform not supported" % frm.lineno)
        ws = rest.split()
        image = expand(ws[0], global_args)
        name = ws[2].lower() if len(ws) == 3 and ws[1].upper() == "AS" else None
        if len(ws) not in (1, 3):
            raise DockerfileError("line %d: bad FROM" % frm.lineno)
        label = name or str(idx)
        prev = self.find_stage(image.lower())
        log("== stage %s: FROM %s" % (label, image))
        if prev is not None:
            root = os.path.join(self.work, "stages", label)
            if os.path.exists(root):
                shutil.rmtree(root)
            sh("cp", "-a", prev.root, root)
            stage = Stage(idx, name, root, prev.config())
        elif image in BASE_IMAGES:
            stage = Stage(idx, name, self.new_root(label), BASE_CONFIG)
        else:
            raise DockerfileError("line %d: FROM %s: only %s (a debootstrapped Debian 12) "
                                  "can be emulated" % (frm.lineno, image, ", ".join(BASE_IMAGES)))
        for ins in body:
            self.execute(stage, ins, global_args)
        return stage

    def find_stage(self, ref):
        for s in self.stages:
            if s.name == ref or str(s.index) == ref:
                return s
        return None

    # --- instructions
    def execute(self, st, ins, global_args):
        t = time.time()
        log("%s line %d: %s" % (st.name or st.index, ins.lineno,
                                ins.original if len(ins.original) < 160
                                else ins.original[:157] + "..."))
        fn = getattr(self, "do_" + ins.cmd.lower(), None)
        if fn is None:
            raise DockerfileError("line %d: %s is not supported by this interpreter"
                                  % (ins.lineno, ins.cmd))
        fn(st, ins, global_args)
        st.instructions.append(ins.cmd)
        if time.time() - t > 2:
            log("   (%.1fs)" % (time.time() - t))

    def do_arg(self, st, ins, global_args):
        for k, v in key_values(ins.args, st.subst_env(), "ARG"):
            if v is None and k in global_args:
                v = global_args[k]
            st.args[k] = self.build_args.get(k, v)

    def do_env(self, st, ins, _g):
        for k, v in key_values(ins.args, st.subst_env(), "ENV"):
            st.env[k] = v

    def do_label(self, st, ins, _g):
        for k, v in key_values(ins.args, st.subst_env(), "LABEL"):
            st.labels[k] = v

    def do_workdir(self, st, ins, _g):
        path = expand(ins.args.strip(), st.subst_env())
        st.workdir = os.path.normpath(os.path.join(st.workdir, path))
        uid, gid, _, _ = resolve_user(st.root, st.user) if st.user else (0, 0, [], "/")
        target = in_root(st.root, st.workdir)
        if not os.path.isdir(target):
            os.makedirs(target)
            os.chown(target, uid, gid)

    def do_user(self, st, ins, _g):
        st.user = expand(ins.args.strip(), st.subst_env())

    def do_expose(self, st, ins, _g):
        for w in words(ins.args, st.subst_env()):
            st.expose.append(w if "/" in w else w + "/tcp")

    def do_volume(self, st, ins, _g):
        v = json_form(ins.args)
        for w in v if v is not None else words(ins.args, st.subst_env()):
            st.volumes.append(w)

    def do_stopsignal(self, st, ins, _g):
        st.stopsignal = expand(ins.args.strip(), st.subst_env())

    def do_shell(self, st, ins, _g):
        v = json_form(ins.args)
        if v is None:
            raise DockerfileError("line %d: SHELL needs the JSON form" % ins.lineno)
        st.shell = v

    def _command(self, st, args):
        v = json_form(args)
        return v if v is not None else st.shell + [args]

    def do_cmd(self, st, ins, _g):
        st.cmd = self._command(st, ins.args)
        st.cmd_from_base = False

    def do_entrypoint(self, st, ins, _g):
        st.entrypoint = self._command(st, ins.args)
        if st.cmd_from_base:
            st.cmd = None  # ENTRYPOINT resets a CMD inherited from the base image

    def do_healthcheck(self, st, ins, _g):
        flags, rest = take_flags(ins.args)
        kind, _, cmd = rest.strip().partition(" ")
        if kind.upper() == "NONE":
            st.healthcheck = None
            return
        if kind.upper() != "CMD":
            raise DockerfileError("line %d: HEALTHCHECK needs CMD or NONE" % ins.lineno)
        v = json_form(cmd)
        test = v if v is not None else st.shell + [cmd.strip()]
        hc = {"test": test}
        for k in ("interval", "timeout", "start-period", "start-interval", "retries"):
            if k in flags:
                hc[k] = flags[k]
        unknown = set(flags) - set(hc)
        if unknown:
            raise DockerfileError("line %d: HEALTHCHECK flags %s" % (ins.lineno, unknown))
        st.healthcheck = hc

    def do_onbuild(self, st, ins, _g):
        raise DockerfileError("line %d: ONBUILD is not supported" % ins.lineno)

    def do_run(self, st, ins, _g):
        flags, rest = take_flags(ins.args)
        if flags:
            raise DockerfileError("line %d: RUN %s not supported"
                                  % (ins.lineno, " ".join("--" + f for f in flags)))
        argv = self._command(st, rest)
        uid, gid, groups, home = resolve_user(st.root, st.user)
        env = {"PATH": DEFAULT_PATH, "HOSTNAME": "buildkitsandbox", "HOME": home or "/"}
        # build args are in RUN's environment, ENV wins over an ARG of the same name
        env.update({k: v for k, v in st.args.items() if v is not None})
        env.update(st.env)
        cwd = in_root(st.root, st.workdir)
        os.makedirs(cwd, exist_ok=True)
        logpath = os.path.join(self.work, "run-%s-%d.log" % (st.name or st.index, ins.lineno))
        with RunMounts(st.root, self.work, self.apt_cache), open(logpath, "w+b") as out:
            p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                               stderr=subprocess.STDOUT,
                               preexec_fn=drop_privileges(st.root, st.workdir, uid, gid, groups))
            out.seek(0)
            text = out.read().decode("utf-8", "replace")
        if self.verbose:
            sys.stderr.write(text)
        if p.returncode != 0:
            tail = "\n".join(text.splitlines()[-40:])
            if NETWORK_ERRORS.search(text):
                raise NetworkError("RUN line %d: %s" % (
                    ins.lineno, NETWORK_ERRORS.search(text).group(0)))
            raise DockerfileError("line %d: RUN exited %d; last output:\n%s"
                                  % (ins.lineno, p.returncode, tail))

    def do_add(self, st, ins, g):
        flags, rest = take_flags(ins.args)
        srcs = json_form(rest) or rest.split()
        if any(re.match(r"^[a-z]+://", s) or s.startswith("git@") for s in srcs[:-1]):
            raise DockerfileError("line %d: ADD of URLs is not supported" % ins.lineno)
        if any(re.search(r"\.(tar|tgz|tar\.\w+)$", s) for s in srcs[:-1]):
            raise DockerfileError("line %d: ADD of archives is not supported" % ins.lineno)
        self.do_copy(st, ins, g)

    def do_copy(self, st, ins, _g):
        flags, rest = take_flags(ins.args)
        unknown = set(flags) - {"from", "chown", "chmod", "link"}
        if unknown:
            raise DockerfileError("line %d: COPY flags %s not supported" % (ins.lineno, unknown))
        env = st.subst_env()
        v = json_form(rest)
        parts = [expand(x, env) for x in (v if v is not None else rest.split())]
        if len(parts) < 2:
            raise DockerfileError("line %d: COPY needs a source and a destination" % ins.lineno)
        srcs, dest = parts[:-1], parts[-1]
        if "from" in flags:
            ref = expand(flags["from"], env).lower()
            src_stage = self.find_stage(ref)
            if src_stage is None:
                raise DockerfileError("line %d: COPY --from=%s: no such stage (other images "
                                      "are not supported)" % (ins.lineno, ref))
            src_root, src_label = src_stage.root, "stage " + ref
        else:
            src_root, src_label = self.context, "context"
        uid = gid = 0
        if "chown" in flags:
            uid, gid, _, _ = resolve_user(st.root, expand(flags["chown"], env))
        chmod = int(flags["chmod"], 8) if "chmod" in flags else None
        if not dest.startswith("/"):
            dest = os.path.join(st.workdir, dest)
        dest_is_dir = parts[-1].endswith("/") or len(srcs) > 1
        matched = []
        for s in srcs:
            if src_root == self.context:
                host = os.path.normpath(os.path.join(self.context, s.lstrip("/")))
                if not (host + "/").startswith(self.context.rstrip("/") + "/"):
                    raise DockerfileError("line %d: %s is outside the context" % (ins.lineno, s))
            else:
                host = in_root(src_root, s)
            hits = sorted(glob.glob(host)) if glob.has_magic(s) else (
                [host] if os.path.lexists(host) else [])
            if not hits:
                raise DockerfileError("line %d: COPY %s: not found in the %s%s" % (
                    ins.lineno, s, src_label,
                    " (excluded by the .dockerignore?)" if src_root == self.context else ""))
            matched.extend(hits)
        if len(matched) > 1:
            dest_is_dir = True
        for host in matched:
            if os.path.isdir(host) and not os.path.islink(host):
                target = self.dest_dir(st, dest, uid, gid)
                copy_tree(host, target, uid, gid, chmod)
            else:
                d = in_root(st.root, dest)
                if dest_is_dir or os.path.isdir(d):
                    target_dir = self.dest_dir(st, dest, uid, gid)
                    target = os.path.join(target_dir, os.path.basename(host))
                else:
                    parent = self.dest_dir(st, os.path.dirname(dest), uid, gid, chown=False)
                    target = os.path.join(parent, os.path.basename(dest))
                copy_entry(host, target, uid, gid, chmod)

    def dest_dir(self, st, path, uid, gid, chown=True):
        """Host path of a destination directory in the stage, created like Docker does."""
        parts = [p for p in path.split("/") if p]
        cur = "/"
        for p in parts:
            cur = os.path.join(cur, p)
            host = in_root(st.root, cur)
            if not os.path.exists(host):
                os.mkdir(host, 0o755)
                if chown:
                    os.chown(host, uid, gid)
        return in_root(st.root, path)


def copy_entry(src, dst, uid, gid, chmod):
    if os.path.lexists(dst) and (os.path.islink(dst) or not os.path.isdir(dst)):
        os.unlink(dst)
    if os.path.islink(src):
        os.symlink(os.readlink(src), dst)
    else:
        shutil.copy2(src, dst)
        if chmod is not None:
            os.chmod(dst, chmod)
    os.lchown(dst, uid, gid)


def copy_tree(src, dst, uid, gid, chmod):
    """A directory's contents into dst (Docker: the directory itself is not copied)."""
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        tdir = dst if rel == "." else os.path.join(dst, rel)
        if not os.path.isdir(tdir):
            os.makedirs(tdir)
            shutil.copystat(dirpath, tdir)
            if chmod is not None:
                os.chmod(tdir, chmod)
            os.lchown(tdir, uid, gid)
        for d in list(dirnames):
            if os.path.islink(os.path.join(dirpath, d)):
                dirnames.remove(d)
                filenames.append(d)
        for f in filenames:
            copy_entry(os.path.join(dirpath, f), os.path.join(tdir, f), uid, gid, chmod)


# ------------------------------------------------------------ base image

SLIM_DPKG = """\
# as in the debian:*-slim images (debuerreotype --slimify)
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
"""


def make_base(root, suite, mirror, attempts=3):
    """debootstrap --variant=minbase, then the touches of Debian's docker images."""
    for attempt in range(1, attempts + 1):
        if os.path.exists(root):
            shutil.rmtree(root)
        t = time.time()
        log("debootstrap --variant=minbase %s %s (attempt %d)" % (suite, mirror, attempt))
        r = subprocess.run(["debootstrap", "--variant=minbase", suite, root, mirror],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode == 0:
            log("debootstrap: %.0fs" % (time.time() - t))
            break
        log("debootstrap failed:\n" + r.stdout.decode("utf-8", "replace")[-3000:])
        if attempt == attempts:
            raise DockerfileError("debootstrap failed %d times" % attempts)
        time.sleep(10 * attempt)
    # debootstrap leaves its own mounts on failure paths; we are in a private namespace
    subprocess.run(["umount", "-R", os.path.join(root, "proc")], stderr=subprocess.DEVNULL)
    subprocess.run(["umount", "-R", os.path.join(root, "sys")], stderr=subprocess.DEVNULL)
    apt = os.path.join(root, "etc/apt")
    if os.path.exists(os.path.join(apt, "sources.list")):
        os.unlink(os.path.join(apt, "sources.list"))
    sec = mirror.rstrip("/")
    sec = sec[:-len("/debian")] + "/debian-security" if sec.endswith("/debian") else sec
    with open(os.path.join(apt, "sources.list.d/debian.sources"), "w") as f:
        f.write("Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n"
                "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
                "Types: deb\nURIs: %s\nSuites: %s-security\nComponents: main\n"
                "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
                % (mirror, suite, suite, sec, suite))
    confs = {
        "docker-no-languages": 'Acquire::Languages "none";\n',
        "docker-gzip-indexes": 'Acquire::GzipIndexes "true";\n',
        "docker-autoremove-suggests": 'Apt::AutoRemove::SuggestsImportant "false";\n',
        # not in Debian's image: this test's own robustness against a flaky mirror
        "zz-test-retries": 'Acquire::Retries "5";\nAcquire::http::Timeout "30";\n',
    }
    for name, text in confs.items():
        with open(os.path.join(apt, "apt.conf.d", name), "w") as f:
            f.write(text)
    with open(os.path.join(root, "etc/dpkg/dpkg.cfg.d/docker"), "w") as f:
        f.write(SLIM_DPKG)
    with open(os.path.join(root, "etc/dpkg/dpkg.cfg.d/docker-apt-speedup"), "w") as f:
        f.write("force-unsafe-io\n")
    policy = os.path.join(root, "usr/sbin/policy-rc.d")
    with open(policy, "w") as f:
        f.write("#!/bin/sh\nexit 101\n")
    os.chmod(policy, 0o755)
    for d in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for f in glob.glob(os.path.join(root, d, "*")):
            if os.path.isfile(f):
                os.unlink(f)
    for f in ("etc/hostname",):
        p = os.path.join(root, f)
        if os.path.exists(p):
            os.unlink(p)


def ensure_base_tar(cache, work, suite, mirror, max_age_days):
    """cache/base-<suite>.tar: the prepared base root, rebuilt when missing or old."""
    os.makedirs(cache, exist_ok=True)
    tar = os.path.join(cache, "base-%s-minbase.tar" % suite)
    stamp = tar + ".mirror"
    fresh = (os.path.exists(tar) and os.path.exists(stamp)
             and time.time() - os.path.getmtime(tar) < max_age_days * 86400
             and open(stamp).read().strip() == "%s %s" % (mirror, BASE_VERSION))
    if fresh:
        log("base root: cached %s (%.1f days old)" % (
            tar, (time.time() - os.path.getmtime(tar)) / 86400))
        return tar
    # the .debs kept for RUN's apt-get go with the base they were fetched for
    shutil.rmtree(os.path.join(cache, "apt-archives"), ignore_errors=True)
    root = os.path.join(work, "base")
    make_base(root, suite, mirror)
    t = time.time()
    sh("tar", "-C", root, "--numeric-owner", "-cf", tar + ".tmp", ".")
    os.replace(tar + ".tmp", tar)
    with open(stamp, "w") as f:
        f.write("%s %s\n" % (mirror, BASE_VERSION))
    shutil.rmtree(root)
    log("base root cached as %s (%.1fs)" % (tar, time.time() - t))
    return tar


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", "-f", required=True, help="the Dockerfile")
    ap.add_argument("--context", required=True, help="the build context directory")
    ap.add_argument("--work", required=True, help="scratch directory (stage roots)")
    ap.add_argument("--cache", required=True, help="cache directory (base root, apt debs)")
    ap.add_argument("--mirror", default="http://deb.debian.org/debian")
    ap.add_argument("--suite", default="bookworm")
    ap.add_argument("--cache-days", type=float, default=7)
    ap.add_argument("--build-arg", action="append", default=[])
    ap.add_argument("--target")
    ap.add_argument("--config-out", required=True, help="final stage's config (JSON)")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("dockerfile.py: must run as root (in a private mount namespace)")
    os.makedirs(a.work, exist_ok=True)
    dockerfile = os.path.abspath(a.file)
    ignore = dockerfile + ".dockerignore"
    if not os.path.exists(ignore):
        ignore = os.path.join(a.context, ".dockerignore")
    pats = ignore_patterns(ignore)
    ctx = os.path.join(a.work, "context")
    if os.path.exists(ctx):
        shutil.rmtree(ctx)
    n = make_context(os.path.abspath(a.context), ctx, pats)
    log("context: %d files (%s applied)" % (n, os.path.relpath(ignore, a.context)
                                            if os.path.exists(ignore) else "no .dockerignore"))
    base = ensure_base_tar(a.cache, a.work, a.suite, a.mirror, a.cache_days)
    b = Builder(dockerfile, ctx, a.work, base,
                build_args=dict(x.split("=", 1) for x in a.build_arg),
                apt_cache=os.path.join(a.cache, "apt-archives"), verbose=a.verbose)
    final = b.build(a.target)
    cfg = final.config()
    cfg["root"] = final.root
    cfg["stages"] = {(s.name or str(s.index)): s.root for s in b.stages}
    with open(a.config_out, "w") as f:
        json.dump(cfg, f, indent=2)
    log("image config: %s" % json.dumps({k: cfg[k] for k in (
        "user", "workdir", "entrypoint", "cmd", "volumes", "expose", "stopsignal")}))


if __name__ == "__main__":
    try:
        main()
    except DockerfileError as e:
        log("ERROR: %s" % e)
        sys.exit(1)
