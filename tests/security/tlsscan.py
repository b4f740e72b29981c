"""Runs sslscan and testssl.sh against a TLS listener and turns their
reports into a list of findings (strings; empty means nothing weak).

The policy (issue 5): TLS 1.2 and 1.3 only; in TLS 1.2 only ECDHE/DHE key
exchange with AEAD ciphers (no CBC, RC4, 3DES, NULL, EXPORT, anonymous or
MD5 suites); no compression; no insecure renegotiation; no RSA key below
2048 bits, no EC key below 256 bits, no DH group below 2048 bits.
"""
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

SSLSCAN = shutil.which("sslscan")
TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh")
OLD_PROTOCOLS = {("ssl", "2"), ("ssl", "3"), ("tls", "1.0"), ("tls", "1.1")}
WEAK_WORDS = ("RC4", "DES", "NULL", "EXP", "ADH", "AECDH", "ANON", "MD5", "CBC", "IDEA",
              "SEED", "PSK", "SRP")
AEAD_WORDS = ("GCM", "CHACHA20", "CCM")
# testssl findings that concern the test's own self-signed, short-lived
# certificate, not the listener's TLS settings
TESTSSL_IGNORED = {"engine_problem", "cert_chain_of_trust", "cert_expirationStatus",
                   "cert_notAfter", "cert_revocation", "DNS_CAArecord", "scanProblem"}


def sslscan_xml(port, timeout=180):
    # SIGPIPE stays ignored (as in Python): sslscan does not ignore it
    # itself and dies when a server closes a probe connection early. Its
    # heartbleed probe gives up on a server that resets the connection
    # (groupsync lingers 0 ms): left out, OpenSSL 3 is not affected.
    r = subprocess.run([SSLSCAN, "--no-colour", "--no-heartbleed", "--xml=-",
                        "127.0.0.1:%d" % port],
                       capture_output=True, text=True, timeout=timeout, restore_signals=False)
    start = r.stdout.find("<?xml")
    if r.returncode != 0 or start < 0:
        raise AssertionError("sslscan failed (%d): %s %s" % (r.returncode, r.stdout, r.stderr))
    return ET.fromstring(r.stdout[start:])


def cipher_findings(c):
    """What is wrong with one accepted cipher suite (sslscan <cipher>)."""
    name, version = c.get("cipher", ""), c.get("sslversion", "")
    up, out = name.upper(), []
    for w in WEAK_WORDS:
        if w in up:
            out.append("%s %s: weak suite (%s)" % (version, name, w))
    if version != "TLSv1.3":
        if not (up.startswith("ECDHE-") or up.startswith("DHE-")):
            out.append("%s %s: no forward secrecy" % (version, name))
        if not any(w in up for w in AEAD_WORDS):
            out.append("%s %s: not an AEAD cipher" % (version, name))
    if c.get("strength") not in ("strong", "acceptable"):
        out.append("%s %s: sslscan rates it %s" % (version, name, c.get("strength")))
    if c.get("dhebits") and int(c.get("dhebits")) < 2048:
        out.append("%s %s: DH group of %s bits" % (version, name, c.get("dhebits")))
    if c.get("ecdhebits") and int(c.get("ecdhebits")) < 253:
        out.append("%s %s: ECDH curve of %s bits" % (version, name, c.get("ecdhebits")))
    return out


def key_findings(pk):
    """sslscan <pk>: bits is the modulus for RSA, the security level for EC."""
    kind, bits = pk.get("type", ""), int(pk.get("bits", "0") or 0)
    if kind == "RSA" and bits < 2048:
        return ["certificate: RSA key of %d bits" % bits]
    if kind == "EC" and bits < 128:
        return ["certificate: EC key of %d bits of security (%s)" % (bits, pk.get("curve_name"))]
    if kind not in ("RSA", "EC"):
        return ["certificate: unexpected key type %r" % kind]
    return []


def sslscan_findings(root):
    """Findings in an sslscan --xml report, and a summary for the report."""
    test = root.find("ssltest")
    out, summary = [], {"protocols": [], "ciphers": [], "groups": [], "key": None}
    for p in test.findall("protocol"):
        key = (p.get("type"), p.get("version"))
        if p.get("enabled") == "1":
            summary["protocols"].append("%s%s" % key)
            if key in OLD_PROTOCOLS:
                out.append("protocol %s %s accepted" % key)
    if "tls1.2" not in summary["protocols"]:
        out.append("TLS 1.2 not offered (or the scan failed)")
    for c in test.findall("cipher"):
        summary["ciphers"].append("%s %s" % (c.get("sslversion"), c.get("cipher")))
        out += cipher_findings(c)
    if not summary["ciphers"]:
        out.append("no cipher suite accepted (the scan failed?)")
    for g in test.findall("group"):
        summary["groups"].append("%s %s" % (g.get("sslversion"), g.get("name")))
        if int(g.get("bits", "0")) < 112:
            out.append("key exchange group %s: %s bits of security" % (g.get("name"),
                                                                       g.get("bits")))
    for r in test.findall("renegotiation"):
        if r.get("supported") == "1" and r.get("secure") != "1":
            out.append("insecure renegotiation")
    for c in test.findall("compression"):
        if c.get("supported") == "1":
            out.append("TLS compression enabled")
    for h in test.findall("heartbleed"):
        if h.get("vulnerable") == "1":
            out.append("heartbleed (%s)" % h.get("sslversion"))
    for pk in test.iter("pk"):
        summary["key"] = "%s %s" % (pk.get("type"), pk.get("bits"))
        out += key_findings(pk)
    return out, summary


def testssl_json(port, tmp, timeout=420):
    """testssl.sh restricted to protocols, cipher categories, forward
    secrecy, server defaults (key), renegotiation and CRIME."""
    path = os.path.join(tmp, "testssl-%d.json" % port)
    argv = [TESTSSL, "--quiet", "--color", "0", "--warnings", "batch", "--nodns", "min",
            "-p", "-s", "-f", "-S", "-R", "-C", "--jsonfile", path, "127.0.0.1:%d" % port]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, HOME=tmp), restore_signals=False)
    if not os.path.exists(path):
        raise AssertionError("testssl.sh wrote no report (%d): %s %s" % (
            r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
    with open(path, encoding="utf-8") as f:
        return {x["id"]: x for x in json.load(f)}


EXPECT_NOT = {"SSLv2": "not offered", "SSLv3": "not offered", "TLS1": "not offered",
              "TLS1_1": "not offered", "cipherlist_NULL": "not offered",
              "cipherlist_aNULL": "not offered", "cipherlist_EXPORT": "not offered",
              "cipherlist_LOW": "not offered", "cipherlist_3DES_IDEA": "not offered",
              "cipherlist_AVERAGE": "not offered", "PFS": "offered",
              "secure_renego": "supported", "secure_client_renego": "not vulnerable",
              "CRIME_TLS": "not vulnerable"}


def testssl_findings(report):
    out = []
    for key, want in EXPECT_NOT.items():
        got = report.get(key, {}).get("finding")
        if got is None or not got.startswith(want):
            out.append("testssl %s: %r (want %r)" % (key, got, want))
    for key, x in report.items():
        if key in TESTSSL_IGNORED:
            continue
        if x.get("severity") in ("MEDIUM", "HIGH", "CRITICAL"):
            out.append("testssl %s: %s %s" % (key, x["severity"], x.get("finding")))
    size = report.get("cert_keySize", {}).get("finding", "")
    words = size.split()
    if len(words) < 2 or not words[1].isdigit():
        out.append("testssl cert_keySize unreadable: %r" % size)
    elif (words[0] == "RSA" and int(words[1]) < 2048) or (words[0] == "EC" and
                                                          int(words[1]) < 256):
        out.append("testssl: certificate key %s" % size)
    for g in report.get("DH_groups", {}).get("finding", "").split():
        if g.startswith("ffdhe") and int(g[5:]) < 2048:
            out.append("testssl: DH group %s" % g)
    return out
