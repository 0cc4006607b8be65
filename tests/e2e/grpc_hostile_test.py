#!/usr/bin/python3
"""The master's gRPC port under hostile peers, from a real gRPC client (Debian's
python3-grpcio, run by /usr/bin/python3): calls without credentials are refused from
their headers, before the master receives or parses their messages (audit F12).

  grpc_hostile_test.py BUILD_DIR [unittest args]"""
import os
import re
import shutil
import sys
import tempfile
import threading
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from distributed_test import TlsMaster  # noqa: E402

BUILD = None


class GrpcHostileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="deepevolve-grpc-")
        cls.tls = TlsMaster(BUILD, cls.dir)
        cls.master, cls.address = cls.tls.process, cls.tls.address
        with open(cls.tls.cert("ca.pem"), "rb") as f:
            cls.credentials = grpc.ssl_channel_credentials(f.read())

    @classmethod
    def tearDownClass(cls):
        cls.tls.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def peak_rss_mib(self):
        with open(f"/proc/{self.master.pid}/status") as f:
            return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) / 1024

    def call(self, method, payload):
        """Calls `method` with raw bytes, no token and no client certificate."""
        channel = grpc.secure_channel(self.address, self.credentials,
                                      options=[("grpc.max_send_message_length", -1)])
        try:
            channel.unary_unary(method)(payload, timeout=120)
            return grpc.StatusCode.OK, ""
        except grpc.RpcError as e:
            return e.code(), e.details()
        finally:
            channel.close()

    def test_unauthenticated_calls_are_refused_before_their_message_is_read(self):
        before = self.peak_rss_mib()
        results = []
        # A spec (field 1, a string) of 200 MiB, eight at once to each service.
        payload = b"\x0a\x80\x80\x80\x64" + b"x" * (200 << 20)
        threads = [threading.Thread(target=lambda m=m: results.append(self.call(m, payload)))
                   for m in ["/deepevolve.v1.SearchService/Submit",
                             "/deepevolve.v1.WorkerService/Report"] for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(results), 16)
        for code, details in results:
            self.assertEqual(code, grpc.StatusCode.UNAUTHENTICATED, details)
        self.assertTrue(any("bearer token" in d for _, d in results))
        self.assertTrue(any("client certificate" in d for _, d in results))
        # 3.2 GB were sent; the master held none of it.
        self.assertLess(self.peak_rss_mib() - before, 100)


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
