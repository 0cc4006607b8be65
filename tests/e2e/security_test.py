#!/usr/bin/env python3
"""TLS, mutual TLS for workers and the bearer token, with real processes on 127.0.0.1:
certificates from `deepevolve certs`, a master serving TLS, the CLI and fake workers.

  security_test.py BUILD_DIR [unittest args]"""
import json
import re
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import distributed_test  # noqa: E402  (its wait_for and binaries)
from distributed_test import wait_for  # noqa: E402

BUILD = None


def binary(*parts):
    return os.path.join(BUILD, *parts)


class SecurityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="deepevolve-sec-")
        cls.certs = os.path.join(cls.dir, "certs")
        made = subprocess.run([binary("cli", "deepevolve"), "certs", "--out", cls.certs,
                               "--hosts", "127.0.0.1,localhost", "--worker", "good",
                               "--worker", "other"],
                              capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
        with open(os.path.join(cls.certs, "token")) as f:
            cls.token = f.read().strip()
        cls.log_path = os.path.join(cls.dir, "master.log")
        port_file = os.path.join(cls.dir, "port")
        http_file = os.path.join(cls.dir, "http-port")
        with open(cls.log_path, "a") as log:
            cls.master = subprocess.Popen(
                [binary("master", "deepevolve-master"), "--db", os.path.join(cls.dir, "m.db"),
                 "--listen", "127.0.0.1:0", "--port-file", port_file, "--durability", "process",
                 "--tls-cert", cls.cert("master.pem"), "--tls-key", cls.cert("master.key"),
                 "--tls-client-ca", cls.cert("ca.pem"), "--token-file", cls.cert("token"),
                 "--http-listen", "127.0.0.1:0", "--http-port-file", http_file],
                stdout=log, stderr=log)
        wait_for(lambda: os.path.exists(port_file) or cls.master.poll() is not None,
                 "the master to listen")
        assert cls.master.poll() is None, open(cls.log_path).read()
        with open(port_file) as f:
            cls.address = f"127.0.0.1:{int(f.read())}"
        with open(http_file) as f:
            cls.http_port = int(f.read())
        cls.workers = []

    @classmethod
    def tearDownClass(cls):
        for p in cls.workers + [cls.master]:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def cert(cls, name):
        return os.path.join(cls.certs, name)

    def cli(self, *args, token=True, ca=True, extra_env=None):
        command = [binary("cli", "deepevolve"), *args, "--master", self.address]
        if ca:
            command += ["--tls-ca", self.cert("ca.pem")]
        if token:
            command += ["--token-file", self.cert("token")]
        env = dict(os.environ)
        env.pop("DEEPEVOLVE_TOKEN", None)
        env.update(extra_env or {})
        return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)

    def worker(self, name, *flags):
        log_path = os.path.join(self.dir, name.replace("/", "_") + ".log")
        with open(log_path, "a") as log:
            p = subprocess.Popen([binary("tests", "testing", "fake-worker"), "--master",
                                  self.address, "--id", name, "--epoch-ms", "1", *flags],
                                 stdout=log, stderr=log)
        self.workers.append(p)
        return p, log_path

    def master_log(self):
        with open(self.log_path) as f:
            return f.read()

    def test_a_client_with_the_token_over_tls_is_served(self):
        result = self.cli("list")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("state", result.stdout)

    def test_a_missing_or_wrong_token_is_unauthenticated(self):
        missing = self.cli("list", token=False)
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn("UNAUTHENTICATED", missing.stderr)
        self.assertIn("bearer token", missing.stderr)
        wrong = self.cli("list", token=False, extra_env={"DEEPEVOLVE_TOKEN": "not-the-token"})
        self.assertNotEqual(wrong.returncode, 0)
        self.assertIn("UNAUTHENTICATED", wrong.stderr)
        self.assertIn("wrong bearer token", wrong.stderr)
        self.assertNotIn("not-the-token", wrong.stderr + self.master_log())

    def test_a_plaintext_client_against_the_tls_port_fails(self):
        result = self.cli("list", ca=False, extra_env={"DEEPEVOLVE_INSECURE": "1"})
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"cannot reach the master at {self.address}", result.stderr)

    def test_a_client_that_does_not_trust_the_master_s_certificate_fails(self):
        result = self.cli("list", ca=False)  # the system's roots do not hold our CA
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("cannot reach the master", result.stderr)

    def test_a_worker_without_a_client_certificate_is_refused(self):
        p, log_path = self.worker("nocert", "--tls-ca", self.cert("ca.pem"))
        self.assertEqual(p.wait(timeout=60), 1)
        with open(log_path) as f:
            self.assertIn("workers need a client certificate", f.read())

    def test_workers_with_certificates_run_a_search_over_tls(self):
        self.worker("good", "--tls-ca", self.cert("ca.pem"), "--tls-cert",
                    self.cert("worker-good.pem"), "--tls-key", self.cert("worker-good.key"))
        # Workers sharing one certificate go by its name and a suffix of their own.
        self.worker("deepevolve-worker/shared", "--tls-ca", self.cert("ca.pem"), "--tls-cert",
                    self.cert("worker.pem"), "--tls-key", self.cert("worker.key"))
        submitted = self.cli("submit", "--preset", "fashion_mnist_mlp", "--population", "4",
                             "--generations", "2", "--seed", "3", "--watch", "--no-live")
        self.assertEqual(submitted.returncode, 0, submitted.stderr + self.master_log())
        self.assertIn("succeeded", submitted.stdout)

    def test_a_worker_cannot_go_by_another_worker_s_id(self):
        p, log_path = self.worker("good", "--tls-ca", self.cert("ca.pem"), "--tls-cert",
                                  self.cert("worker-other.pem"), "--tls-key",
                                  self.cert("worker-other.key"))
        self.assertEqual(p.wait(timeout=60), 1)
        with open(log_path) as f:
            self.assertIn("this worker's certificate is for 'other'", f.read())
        code, metrics = self.https("/metrics")
        refused = re.search(r"^deepevolve_worker_calls_refused_total (\d+)$", metrics, re.M)
        self.assertIsNotNone(refused, metrics)
        self.assertGreaterEqual(int(refused.group(1)), 1)

    def test_the_token_never_appears_in_logs(self):
        self.cli("list")
        self.cli("list", token=False, extra_env={"DEEPEVOLVE_TOKEN": self.token[:-1] + "x"})
        logs = self.master_log()
        for name in os.listdir(self.dir):
            if name.endswith(".log"):
                with open(os.path.join(self.dir, name)) as f:
                    logs += f.read()
        self.assertNotIn(self.token, logs)
        self.assertNotIn(self.token[:-1], logs)

    def https(self, path, token=None, trust=True):
        context = ssl.create_default_context(cafile=self.cert("ca.pem") if trust else None)
        request = urllib.request.Request(f"https://127.0.0.1:{self.http_port}{path}")
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, context=context, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def test_the_http_port_is_https_and_its_api_needs_the_token(self):
        self.assertEqual(self.https("/healthz"), (200, "ok\n"))
        code, metrics = self.https("/metrics")
        self.assertEqual(code, 200)
        self.assertIn("deepevolve_queue_depth", metrics)
        self.assertEqual(self.https("/api/searches")[0], 401)
        code, body = self.https("/api/searches", token="wrong")
        self.assertEqual(code, 401)
        self.assertIn("wrong bearer token", body)
        code, body = self.https("/api/searches", token=self.token)
        self.assertEqual(code, 200, body)
        self.assertIsInstance(json.loads(body)["searches"], list)
        with self.assertRaises(urllib.error.URLError):  # our CA is not in the system's roots
            self.https("/healthz", trust=False)

    # The HTTP port under hostile clients (audit F1): nobody needs a token to reach it.
    def peak_rss_kib(self):
        with open(f"/proc/{self.master.pid}/status") as f:
            return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))

    def tls_socket(self):
        context = ssl.create_default_context(cafile=self.cert("ca.pem"))
        raw = socket.create_connection(("127.0.0.1", self.http_port), timeout=10)
        return context.wrap_socket(raw, server_hostname="127.0.0.1")

    def send_until_cut(self, head, chunk, limit):
        """Sends head, then chunk after chunk up to `limit` bytes; returns what was sent
        before the master cut the connection (all of it when it never did)."""
        sent = 0
        with self.tls_socket() as s:
            try:
                s.sendall(head)
                while sent < limit:
                    s.sendall(chunk)
                    sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout, OSError):
                pass
        return sent

    def test_a_huge_body_is_refused_before_it_is_read(self):
        before = self.peak_rss_kib()
        head = (b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 4294967296\r\n\r\n")
        sent = self.send_until_cut(head, b"\0" * (1 << 20), 512 << 20)
        self.assertLess(sent, 64 << 20, "the master read on")
        self.assertLess(self.peak_rss_kib() - before, 16 << 10)
        with self.tls_socket() as s:
            s.sendall(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
            answer = b""
            while chunk := s.recv(4096):  # to the end: the master closes the connection
                answer += chunk
            answer = answer.decode(errors="replace")
        self.assertIn("405", answer.splitlines()[0])
        self.assertIn("GET only", answer)
        self.assertEqual(self.https("/healthz"), (200, "ok\n"))

    def test_a_header_line_without_end_is_cut_off(self):
        before = self.peak_rss_kib()
        sent = self.send_until_cut(b"GET /healthz HTTP/1.1\r\nX: ", b"a" * (1 << 20), 512 << 20)
        self.assertLess(sent, 64 << 20, "the master read on")
        sent = self.send_until_cut(b"GET /healthz HTTP/1.1\r\n", b"X: y\r\n" * 100000, 512 << 20)
        self.assertLess(sent, 64 << 20, "the master read on")
        self.assertLess(self.peak_rss_kib() - before, 32 << 10)
        self.assertEqual(self.https("/healthz"), (200, "ok\n"))

    def test_slow_clients_do_not_starve_the_health_check(self):
        slow = []
        try:
            for _ in range(40):  # below the port's threads (kHttpThreads)
                s = self.tls_socket()
                s.sendall(b"GET /healthz HTTP/1.1\r\nX: ")
                slow.append(s)
            for _ in range(3):  # a byte a second each, within the read timeout
                for s in slow:
                    try:
                        s.sendall(b"a")
                    except OSError:
                        pass
                start = time.monotonic()
                self.assertEqual(self.https("/healthz"), (200, "ok\n"))
                self.assertLess(time.monotonic() - start, 1.0)
                time.sleep(1)  # the slow clients' pace, not a synchronisation
        finally:
            for s in slow:
                s.close()

    def test_the_master_refuses_to_serve_plaintext_unless_asked(self):
        result = subprocess.run([binary("master", "deepevolve-master"), "--db",
                                 os.path.join(self.dir, "other.db"), "--listen", "127.0.0.1:0"],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 2)
        self.assertIn("--insecure", result.stdout + result.stderr)


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv[1])
    distributed_test.BUILD = BUILD
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
