"""The harness's own promises that other tests rely on."""
import os
import socket
import subprocess
import sys
import unittest

import harness


def ephemeral_range():
    with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
        lo, hi = f.read().split()
    return int(lo), int(hi)


class FreePort(unittest.TestCase):

    def test_never_ephemeral(self):
        # an ephemeral port may become the local port of any outgoing
        # connection between free_port() and the server's bind (CI failed
        # so: "Address already in use")
        lo, hi = ephemeral_range()
        for _ in range(50):
            port = harness.free_port()
            self.assertFalse(lo <= port <= hi, "port %d is ephemeral (%d-%d)" % (port, lo, hi))

    def test_unique_within_process(self):
        ports = [harness.free_port() for _ in range(100)]
        self.assertEqual(len(ports), len(set(ports)))

    def test_other_process_ports_not_reused(self):
        # a second process (another test of ctest -j) holds its ports until
        # it exits: this process must not be given any of them
        code = ("import sys, harness\n"
                "print(' '.join(str(harness.free_port()) for _ in range(200)), flush=True)\n"
                "sys.stdin.read()\n")
        child = subprocess.Popen([sys.executable, "-c", code], cwd=os.path.dirname(harness.__file__),
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            theirs = set(int(p) for p in child.stdout.readline().split())
            self.assertEqual(len(theirs), 200)
            ours = set(harness.free_port() for _ in range(200))
            self.assertFalse(ours & theirs)
        finally:
            child.stdin.close()
            child.wait(10)

    def test_port_is_bindable(self):
        port = harness.free_port()
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


if __name__ == "__main__":
    unittest.main()
