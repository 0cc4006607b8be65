#!/usr/bin/env python3
"""What a hostile or broken worker, client or file gets, with real processes on
127.0.0.1: a trainer that hangs while its heartbeats go on, a worker that cannot load the
search's dataset, and datasets that name files outside the workers' data directories.
(The certificate and dashboard cases are in security_test.py and dashboard_test.py.)

  adversarial_test.py BUILD_DIR [unittest args]"""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import distributed_test  # noqa: E402
from distributed_test import Cluster, binary, wait_for  # noqa: E402


def metric(cluster, name):
    code, text = cluster.http("/metrics")
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(found.group(1)) if found else None


class AdversarialTest(unittest.TestCase):
    def tearDown(self):
        self.cluster.close()

    def test_a_hung_trainer_s_genome_runs_elsewhere_once_past_its_time_budget(self):
        c = self.cluster = Cluster(self, lease_seconds=1.0,
                                   master_args=["--max-epoch-seconds", "1"])
        c.start_worker("hung", epoch_ms=1, extra=["--hang"])
        search = c.submit("--preset", "fashion_mnist_mlp", "--population", "6",
                          "--generations", "2", "--seed", "31")
        wait_for(lambda: " hung" in c.trace_text(), "the hung worker to start a genome")
        hung_hash = c.trace_text().split()[1]
        c.start_worker("w1", epoch_ms=1)
        status = c.wait_done(search)
        self.assertEqual(status["state"], "SUCCEEDED", c.log("master.log"))
        self.assertIsNone(c.workers["hung"].poll())  # still stuck, its heartbeats going on
        self.assertIn(f"start {hung_hash} w1", c.trace_text())  # its genome ran on w1
        self.assertGreaterEqual(metric(c, "deepevolve_leases_expired_total"), 1)
        code, events = c.http(f"/api/searches/{search}/events")
        self.assertEqual(code, 200, events)
        self.assertIn("ran past its time budget", events)

    def test_a_worker_without_the_dataset_fails_the_search_and_leaves_the_ledger_alone(self):
        worker = binary("worker", "deepevolve-worker")
        if not os.path.exists(worker):
            self.skipTest("built without LibTorch")
        c = self.cluster = Cluster(self)
        home = os.path.join(c.dir, "home")
        os.makedirs(home)
        env = dict(os.environ, HOME=home)
        env.pop("DEEPEVOLVE_DATA", None)
        with open(os.path.join(c.dir, "nodata.log"), "a") as log:
            c.workers["nodata"] = subprocess.Popen(
                [worker, "--master", c.address(), "--insecure", "--id", "nodata", "--threads",
                 "1", "--slots-dir", os.path.join(c.dir, "slots")],
                stdout=log, stderr=log, env=env)
        search = c.submit("--preset", "mnist_mlp", "--population", "4", "--generations", "1",
                          "--epochs", "1", "--seed", "5")
        status = c.wait_done(search)
        self.assertEqual(status["state"], "FAILED", c.log("nodata.log"))
        self.assertIn("no registered worker can set up", status["error"])
        self.assertIn("dataset mnist", status["error"])
        self.assertEqual(int(status.get("failed", 0)), 0)  # no genome was blamed
        self.assertEqual(metric(c, "deepevolve_ledger_entries"), 0)
        self.assertGreaterEqual(metric(c, "deepevolve_setup_failures_total"), 3)

    def test_datasets_outside_the_data_directories_are_refused(self):
        c = self.cluster = Cluster(self)
        for dataset in ("csv:/etc/passwd", "csv:../../etc/passwd", "csv:/dev/zero"):
            spec = os.path.join(c.dir, "spec.yaml")
            with open(spec, "w") as f:
                f.write(f"name: escape\ntask: {{dataset: '{dataset}', net: MLP}}\n"
                        "preset: fashion_mnist_mlp\n")
            result = c.cli("submit", "--spec", spec, check=False)
            self.assertNotEqual(result.returncode, 0, dataset)
            self.assertIn("task.dataset", result.stderr)
            self.assertIn("relative path", result.stderr)
        self.assertEqual(c.http("/api/searches")[1].count("escape"), 0)


if __name__ == "__main__":
    distributed_test.BUILD = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
