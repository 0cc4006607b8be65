#!/usr/bin/env python3
"""Multi-process tests of the master and workers on 127.0.0.1: real processes, real
gRPC, a real SQLite file, real SIGKILL/SIGSTOP. Workers are fake-worker (the real worker
loop and client with a pretend trainer) except in the end-to-end Fashion-MNIST test.

  distributed_test.py BUILD_DIR [unittest args, e.g. DistributedTest.test_kill_master]

Waits are bounded polls of the database or of process state, never fixed sleeps."""
import collections
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

BUILD = None


def binary(*parts):
    return os.path.join(BUILD, *parts)


def wait_for(condition, what, timeout=60.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class TlsMaster:
    """deepevolve-master on 127.0.0.1:0 over TLS, with a client CA and a bearer token
    (certificates from `deepevolve certs`), and a plaintext health port, its files in
    `directory`: for the tests that speak gRPC to it themselves."""

    def __init__(self, build, directory):
        self.certs = os.path.join(directory, "certs")
        made = subprocess.run([os.path.join(build, "cli", "deepevolve"), "certs", "--out",
                               self.certs, "--hosts", "127.0.0.1"],
                              capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
        port_file = os.path.join(directory, "port")
        health_port_file = os.path.join(directory, "health-port")
        self.log = open(os.path.join(directory, "master.log"), "a")
        self.process = subprocess.Popen(
            [os.path.join(build, "master", "deepevolve-master"), "--db",
             os.path.join(directory, "m.db"), "--listen", "127.0.0.1:0", "--port-file",
             port_file, "--durability", "process", "--tls-cert", self.cert("master.pem"),
             "--tls-key", self.cert("master.key"), "--tls-client-ca", self.cert("ca.pem"),
             "--token-file", self.cert("token"), "--health-listen", "127.0.0.1:0",
             "--health-port-file", health_port_file],
            stdout=self.log, stderr=self.log)
        wait_for(lambda: os.path.exists(port_file) or self.process.poll() is not None,
                 "the master to listen")
        assert self.process.poll() is None
        with open(port_file) as f:
            self.address = f"127.0.0.1:{int(f.read())}"
        with open(health_port_file) as f:  # written before the gRPC port's file
            self.health_address = f"127.0.0.1:{int(f.read())}"

    def cert(self, name):
        return os.path.join(self.certs, name)

    def close(self):
        self.process.kill()
        self.process.wait()
        self.log.close()


def query(path, sql, *params):
    """Rows of `sql` on the master's database at `path`, read-only beside the master."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def process_state(pid):
    """The state letter of /proc/PID/stat: R running, S sleeping, T stopped, ..."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


class Cluster:
    """A master and its workers in a temporary directory."""

    def __init__(self, test, lease_seconds=2.0, token=None, master_args=()):
        self.test = test
        self.master_args = list(master_args)
        self.token = token
        self.dir = tempfile.mkdtemp(prefix="deepevolve-dist-")
        self.db = os.path.join(self.dir, "master.db")
        self.lease_seconds = lease_seconds
        self.port = 0
        self.master = None
        self.workers = {}
        self.trace = os.path.join(self.dir, "trace.txt")
        self.start_master()

    def start_master(self):
        port_file = os.path.join(self.dir, "port")
        http_file = os.path.join(self.dir, "http-port")
        for f in (port_file, http_file):
            if os.path.exists(f):
                os.remove(f)
        token_args = []
        if self.token:
            token_file = os.path.join(self.dir, "token")
            with open(token_file, "w") as f:
                f.write(self.token + "\n")
            token_args = ["--token-file", token_file]
        with open(os.path.join(self.dir, "master.log"), "a") as log:
            self.master = subprocess.Popen(
                [binary("master", "deepevolve-master"), "--db", self.db,
                 "--listen", f"127.0.0.1:{self.port}", "--port-file", port_file,
                 "--lease-seconds", str(self.lease_seconds), "--durability", "process",
                 "--insecure", "--http-listen", "127.0.0.1:0", "--http-port-file", http_file,
                 *token_args, *self.master_args],
                stdout=log, stderr=log)
        wait_for(lambda: os.path.exists(port_file) or self.master.poll() is not None,
                 "the master to listen")
        self.test.assertIsNone(self.master.poll(), self.log("master.log"))
        with open(port_file) as f:
            self.port = int(f.read())
        with open(http_file) as f:
            self.http_port = int(f.read())

    def http(self, path):
        """GET on the master's HTTP port, with the master's token where it has one:
        (status, body)."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}")
        if self.token:
            request.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def kill_master(self):
        self.master.send_signal(signal.SIGKILL)
        self.master.wait()

    def address(self):
        return f"127.0.0.1:{self.port}"

    def start_worker(self, name, epoch_ms=5, extra=()):
        with open(os.path.join(self.dir, f"{name}.log"), "a") as log:
            self.workers[name] = subprocess.Popen(
                [binary("tests", "testing", "fake-worker"), "--master", self.address(),
                 "--id", name, "--epoch-ms", str(epoch_ms), "--trace", self.trace, "--insecure",
                 *extra],
                stdout=log, stderr=log)
        return self.workers[name]

    def cli(self, *args, check=True):
        env = dict(os.environ, DEEPEVOLVE_TOKEN=self.token) if self.token else None
        result = subprocess.run([binary("cli", "deepevolve"), *args, "--master", self.address(),
                                 "--insecure"],
                                capture_output=True, text=True, timeout=120, env=env)
        if check:
            self.test.assertEqual(result.returncode, 0, result.stderr + self.log("master.log"))
        return result

    def submit(self, *args):
        out = self.cli("submit", "--json", *args).stdout
        return int(json.loads(out.strip().splitlines()[0])["searchId"])

    def query(self, sql, *params):
        return query(self.db, sql, *params)

    def open_trials(self, search_id):
        """Genomes queued or leased. A generational search queues its next generation
        in the same transaction that records the last result of the one before, so
        none are open only once the search has ended."""
        return self.query("SELECT COUNT(*) FROM trials WHERE search_id = ? AND state IN (1, 2)",
                          search_id)[0][0]

    def trace_text(self):
        if not os.path.exists(self.trace):
            return ""
        with open(self.trace) as f:
            return f.read()

    def status(self, search_id):
        return json.loads(self.cli("status", str(search_id), "--json").stdout)

    def wait_done(self, search_id, timeout=120):
        def done():
            try:
                return self.status(search_id).get("state") in ("SUCCEEDED", "FAILED", "CANCELLED")
            except AssertionError:
                return False
        wait_for(done, f"search {search_id} to end", timeout=timeout, interval=0.1)
        return self.status(search_id)

    def log(self, name):
        path = os.path.join(self.dir, name)
        if not os.path.exists(path):
            return ""
        with open(path) as f:
            return f.read()[-3000:]

    def close(self):
        for p in list(self.workers.values()) + [self.master]:
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class DistributedTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(self)

    def tearDown(self):
        self.cluster.close()

    def test_four_workers_finish_and_the_ledger_holds_each_genome_once(self):
        c = self.cluster
        for i in range(4):
            c.start_worker(f"w{i}")
        search = c.submit("--preset", "fashion_mnist_mlp", "--population", "20",
                          "--generations", "4", "--seed", "5")
        watch = c.cli("watch", str(search), "--no-live")
        self.assertIn("succeeded", watch.stdout)
        status = c.status(search)
        done = int(status["trialsDone"])
        self.assertGreaterEqual(done, 20)
        hashes = [h for (h,) in c.query("SELECT genome_hash FROM ledger")]
        self.assertEqual(len(hashes), done)
        self.assertEqual(len(set(hashes)), done)
        started = c.trace_text().split("\n")
        trained = [line.split()[1] for line in started if line]
        self.assertEqual(sorted(trained), sorted(hashes), "a genome was trained twice")
        self.assertTrue(all(c.workers[w].poll() is None for w in c.workers))

    def test_metrics_and_the_json_api_show_the_search(self):
        c = self.cluster
        self.assertEqual(c.http("/healthz"), (200, "ok\n"))
        for i in range(2):
            c.start_worker(f"w{i}")
        search = c.submit("--preset", "fashion_mnist_mlp", "--population", "6",
                          "--generations", "2", "--seed", "12", "--name", "watched")
        status = c.wait_done(search)
        code, metrics = c.http("/metrics")
        self.assertEqual(code, 200)
        lines = {line.rsplit(" ", 1)[0]: line.rsplit(" ", 1)[1]
                 for line in metrics.splitlines() if line and not line.startswith("#")}
        self.assertEqual(int(lines["deepevolve_genomes_done_total"]), int(status["trialsDone"]))
        self.assertEqual(int(lines["deepevolve_ledger_entries"]), int(status["trialsDone"]))
        self.assertEqual(int(lines["deepevolve_queue_depth"]), 0)
        self.assertEqual(int(lines["deepevolve_workers"]), 2)
        best = float(lines[f'deepevolve_search_best_accuracy{{search="{search}",name="watched"}}'])
        self.assertAlmostEqual(best, status["best"]["accuracy"], places=5)
        reports = int(lines['deepevolve_rpc_duration_seconds_count{method="Report"}'])
        self.assertEqual(reports, int(status["trialsDone"]))
        self.assertEqual(lines['deepevolve_rpc_duration_seconds_bucket{method="Report",le="+Inf"}'],
                         str(reports))
        # Every commit and every WAL sync is timed; a sync covers one or more commits.
        commits = int(lines["deepevolve_store_commits_total"])
        syncs = int(lines["deepevolve_store_syncs_total"])
        self.assertEqual(int(lines["deepevolve_store_commit_seconds_count{}"]), commits)
        self.assertEqual(int(lines["deepevolve_store_sync_seconds_count{}"]), syncs)
        self.assertEqual(lines['deepevolve_store_sync_seconds_bucket{le="+Inf"}'], str(syncs))
        self.assertGreaterEqual(int(lines["deepevolve_store_steps_total"]), commits)
        self.assertGreater(commits, 0)
        code, body = c.http(f"/api/searches/{search}/trials")
        self.assertEqual(code, 200)
        trials = json.loads(body)["trials"]
        self.assertEqual(len(trials), int(status["trialsDone"]))
        self.assertTrue(all(t["state"] == "DONE" for t in trials))
        # The leaderboard in rank order, the best first, as the summary names it.
        code, body = c.http(f"/api/searches/{search}/leaderboard?limit=3")
        self.assertEqual(code, 200)
        board = json.loads(body)["trials"]
        self.assertEqual(len(board), 3)
        self.assertEqual(board[0]["genome"]["hash"], status["best"]["genome"]["hash"])
        self.assertGreaterEqual(board[0]["accuracy"], board[1]["accuracy"])
        self.assertGreaterEqual(board[1]["accuracy"], board[2]["accuracy"])
        code, body = c.http("/api/workers")
        self.assertEqual(sorted(w["worker_id"] for w in json.loads(body)["workers"]), ["w0", "w1"])
        self.assertEqual(c.http("/api/searches/99")[0], 404)
        self.assertEqual(c.http("/api/searches/99/leaderboard")[0], 404)

    def test_a_killed_worker_s_genome_runs_elsewhere(self):
        c = self.cluster
        c.start_worker("doomed", epoch_ms=300)
        search = c.submit("--preset", "fashion_mnist_mlp", "--population", "6",
                          "--generations", "2", "--seed", "9")
        held = wait_for(lambda: c.trace_text().split(),
                        "the doomed worker to start a genome")[1]
        c.workers["doomed"].kill()
        c.workers["doomed"].wait()
        c.start_worker("survivor", epoch_ms=5)
        status = c.wait_done(search)
        self.assertEqual(status["state"], "SUCCEEDED")
        self.assertEqual(c.query("SELECT COUNT(*) FROM ledger WHERE genome_hash = ?", held),
                         [(1,)])
        self.assertGreaterEqual(c.query("SELECT value FROM counters WHERE name = 'leases_expired'")[0][0], 1)

    def preempt(self, checkpoint_every, kills, seed, worker_args=()):
        """A steady-state search of 10 genomes of 6 epochs on a steady worker and a spot
        worker SIGKILLed `kills` times, each time 1 to 3 epochs into a genome, and
        started again. Returns the search's status and how many times each (genome,
        epoch) was trained to the master's knowledge (the workers' epoch traces)."""
        c = self.cluster
        epochs_file = os.path.join(c.dir, f"epochs-{checkpoint_every}.txt")
        extra = ("--epoch-trace", epochs_file, *worker_args)
        c.start_worker("steady", epoch_ms=60, extra=extra)
        c.start_worker("spot", epoch_ms=60, extra=extra)
        search = c.submit("--preset", "fashion_mnist_mlp", "--strategy", "steady_state",
                          "--population", "4", "--trials", "10", "--epochs", "6",
                          "--seed", str(seed), "--checkpoint-every", checkpoint_every)
        rng = random.Random(seed)

        def spot_epochs():
            if not os.path.exists(epochs_file):
                return []
            with open(epochs_file) as f:
                return [line.split() for line in f if line.endswith(" spot\n")]
        for _ in range(kills):
            # 1 to 3 more epochs on the spot worker, then it is gone mid-genome.
            target = len(spot_epochs()) + rng.randint(1, 3)
            wait_for(lambda: len(spot_epochs()) >= target or not c.open_trials(search),
                     "the spot worker to train")
            if not c.open_trials(search):
                break
            c.workers["spot"].kill()
            c.workers["spot"].wait()
            c.start_worker("spot", epoch_ms=60, extra=extra)
        status = c.wait_done(search)
        self.assertEqual(status["state"], "SUCCEEDED")
        with open(epochs_file) as f:
            trained = collections.Counter(tuple(line.split()[1:3]) for line in f)
        status["said"] = c.cli("status", str(search)).stdout
        return status, trained

    def test_a_preempted_worker_s_genome_resumes_and_no_epoch_is_trained_twice(self):
        status, trained = self.preempt("1", kills=4, seed=31)
        twice = {k: n for k, n in trained.items() if n > 1}
        self.assertEqual(twice, {}, "epochs trained twice")
        self.assertGreaterEqual(int(status.get("preempted", 0)), 3)
        self.assertGreaterEqual(int(status.get("resumes", 0)), 3)
        self.assertEqual(int(status.get("epochsLost", 0)), 0)
        self.assertRegex(status["said"], r"preempted: \d+ leases lost with their workers, "
                                         r"\d+ resumed from a checkpoint, 0 epochs lost")
        # Every epoch of every genome once: what the search says it trained (less any
        # the master recorded just before a kill, before the worker could write it down).
        self.assertLessEqual(sum(trained.values()), int(status["epochsTrained"]))
        self.assertGreaterEqual(sum(trained.values()), int(status["epochsTrained"]) - 4)
        # The master keeps no checkpoint of a finished search.
        self.assertEqual(os.listdir(c_dir := self.cluster.db + ".checkpoints"), [], c_dir)

    def test_preempted_workers_resume_through_a_shared_checkpoint_directory(self):
        """--checkpoint-dir on the master and the workers: the workers write and read the
        checkpoints there (the master moves them into place), with the same result as
        streaming: no epoch trained twice, none lost."""
        shared = tempfile.mkdtemp(prefix="deepevolve-shared-")
        self.addCleanup(shutil.rmtree, shared, True)
        self.cluster.close()
        self.cluster = Cluster(self, master_args=("--checkpoint-dir", shared))
        status, trained = self.preempt("1", kills=4, seed=31,
                                       worker_args=("--checkpoint-dir", shared))
        self.assertEqual({k: n for k, n in trained.items() if n > 1}, {}, "epochs trained twice")
        self.assertGreaterEqual(int(status.get("resumes", 0)), 3)
        self.assertEqual(int(status.get("epochsLost", 0)), 0)
        _, metrics = self.cluster.http("/metrics")
        saved = [l for l in metrics.splitlines() if l.startswith("deepevolve_checkpoints_saved_total")]
        self.assertGreater(float(saved[0].split()[-1]), 10)
        # Every checkpoint went through the directory: no worker fell back to streaming,
        # and nothing is left there once the search ended.
        for name in ("steady", "spot"):
            with open(os.path.join(self.cluster.dir, f"{name}.log")) as f:
                self.assertNotIn("does not share", f.read())
        self.assertEqual(os.listdir(shared), [])

    def test_without_checkpoints_a_preempted_worker_s_epochs_are_trained_again(self):
        status, trained = self.preempt("none", kills=4, seed=31)
        again = sum(n - 1 for n in trained.values())
        self.assertGreater(again, 0)
        self.assertEqual(int(status.get("resumes", 0)), 0)
        # What was lost is said, as many epochs as were trained again.
        self.assertEqual(int(status["epochsLost"]), again)

    def test_a_draining_worker_hands_its_genome_over_within_a_lease(self):
        """SIGTERM (a spot notice, a drain) to a worker mid-genome: it sends the epoch in
        hand with its checkpoint and hands the lease back, and the next worker resumes
        the genome after that epoch sooner than the lease (2 s) would have run out."""
        c = self.cluster
        epochs_file = os.path.join(c.dir, "epochs.txt")
        extra = ("--epoch-trace", epochs_file)
        spot = c.start_worker("spot", epoch_ms=300, extra=extra)
        search = c.submit("--preset", "fashion_mnist_mlp", "--strategy", "steady_state",
                          "--population", "2", "--trials", "3", "--epochs", "6", "--seed", "4")

        def lines():
            if not os.path.exists(epochs_file):
                return []
            with open(epochs_file) as f:
                return [line.split() for line in f]
        wait_for(lambda: len(lines()) >= 2, "the spot worker to train two epochs")
        noticed = time.monotonic()
        spot.send_signal(signal.SIGTERM)
        self.assertEqual(spot.wait(timeout=30), 0)
        _, held, last, _ = lines()[-1]
        c.start_worker("heir", epoch_ms=300, extra=extra)
        resumed = wait_for(lambda: [l for l in lines() if l[1] == held and l[3] == "heir"],
                           "the heir to train the drained genome")
        self.assertLess(time.monotonic() - noticed, c.lease_seconds)
        # After the spot's last epoch (the one it drained with went to the master with its
        # checkpoint, but not to its trace: it was answered by cancelling the training).
        self.assertIn(int(resumed[0][2]), (int(last) + 1, int(last) + 2))
        status = c.wait_done(search)
        self.assertEqual(status["state"], "SUCCEEDED")
        self.assertEqual(int(status.get("resumes", 0)), 1)
        self.assertEqual(int(status.get("epochsLost", 0)), 0)
        self.assertEqual(collections.Counter((l[1], l[2]) for l in lines()).most_common(1)[0][1],
                         1, "an epoch was trained twice")
        self.assertEqual(c.query("SELECT value FROM counters WHERE name = 'leases_expired'"), [])
        _, events = c.http(f"/api/searches/{search}/events")
        self.assertIn("handed back by worker spot (draining)", events)

    def test_population_based_training_survives_killed_masters_and_workers(self):
        """PBT, 6 members x 3 rounds of 2 epochs, with the master SIGKILLed again and
        again and a worker SIGKILLed mid-round: every round is decided once (its stored
        decision replays), each member's epochs are trained once, later rounds go on from
        the earlier rounds' checkpoints, and none is left on the master's disk."""
        c = self.cluster
        rng = random.Random(20261207)
        epochs_file = os.path.join(c.dir, "pbt-epochs.txt")
        extra = ("--epoch-trace", epochs_file)
        for i in range(3):
            c.start_worker(f"w{i}", epoch_ms=60, extra=extra)
        search = c.submit("--preset", "fashion_mnist_mlp_full", "--strategy", "pbt",
                          "--population", "6", "--epochs", "6", "--ready-epochs", "2",
                          "--seed", "5")

        def epochs_traced():
            if not os.path.exists(epochs_file):
                return 0
            with open(epochs_file) as f:
                return sum(1 for _ in f)
        wait_for(lambda: epochs_traced() >= 8, "the first round to be under way")
        c.workers["w0"].kill()
        c.workers["w0"].wait()
        c.start_worker("w0", epoch_ms=60, extra=extra)
        kills = self.kill_the_master_repeatedly(c, search, rng, rounds=4, most_between=3)
        self.assertGreaterEqual(kills, 2)
        status = c.status(search)
        _, body = c.http(f"/api/searches/{search}/trials")
        trials = {t["genome"]["id"]: t for t in json.loads(body)["trials"]}
        self.assertEqual(len(trials), 18)
        with open(epochs_file) as f:
            trained = collections.Counter(tuple(line.split()[1:3]) for line in f)
        self.assertEqual({k: n for k, n in trained.items() if n > 1}, {}, "epochs trained twice")
        self.assertEqual(int(status["epochsTrained"]), 36,  # 6 members x 6 epochs, once each
                         [(t["genome"]["id"], t.get("startEpoch"), t.get("epochsRun"),
                           t.get("resumeError"), t.get("lost")) for t in trials.values()])
        hashes = set()
        for t in trials.values():
            self.assertEqual(t["state"], "DONE", t)
            hashes.add(t["genome"]["hash"])
            rnd = t["genome"]["generation"]
            self.assertEqual(t.get("startEpoch", 0), 2 * (rnd - 1), t)
            self.assertEqual(t.get("stopEpoch", 0), 0 if rnd == 3 else 2 * rnd, t)
            self.assertTrue(t["schedule"].startswith("1-"), t)
            if rnd > 1:
                parent = trials[t["genome"]["parents"][0]]
                self.assertEqual(parent["genome"]["generation"], rnd - 1, t)
                # Its curve goes on from the round it continues.
                self.assertEqual(t["curve"][:2 * (rnd - 1)], parent["curve"][:2 * (rnd - 1)])
        self.assertEqual(len(hashes), 18, "a schedule was trained twice")
        self.assertEqual(os.listdir(d := c.db + ".checkpoints"), [], d)
        said = c.cli("status", str(search)).stdout
        self.assertIn("pbt on fashion_mnist, round 3 of 3", said)
        self.assertIn("rounds: 18 done of 18 planned (6 members, 2 epochs a round)", said)
        self.assertRegex(said, r"member \d, schedule 1-")
        said = c.cli("top", str(search), "-n", "3").stdout
        self.assertIn("schedule 1-", said)
        self.assertRegex(said, r"\(member \d, epochs 5-6\)")

    def kill_the_master_repeatedly(self, c, search, rng, rounds, most_between):
        """SIGKILLs the master up to `rounds` times, each after 0 to `most_between` more
        results are recorded, restarting it each time, then waits for the search to
        succeed. Checks that every acknowledged ledger entry (accuracy and fidelity) is in
        the file each kill leaves, is there at the end, and that no recorded genome is
        trained again. Returns the number of kills."""
        sql = "SELECT genome_hash, accuracy, pruned FROM ledger"
        recorded = {}
        marks = []  # (trace length at the crash, genomes recorded at the crash)
        kills = 0
        for _ in range(rounds):
            target = len(recorded) + rng.randint(0, most_between)
            wait_for(lambda: c.query("SELECT COUNT(*) FROM ledger")[0][0] >= target
                     or not c.open_trials(search), f"{target} recorded results")
            c.kill_master()
            kills += 1
            # Everything the master acknowledged is in the file it leaves behind.
            now = {h: (acc, pruned) for h, acc, pruned in c.query(sql)}
            for h, entry in recorded.items():
                self.assertEqual(now.get(h), entry, f"result of {h} lost after kill {kills}")
            recorded = now
            marks.append((os.path.getsize(c.trace) if os.path.exists(c.trace) else 0, set(now)))
            c.start_master()
            if not c.open_trials(search):
                break
        status = c.wait_done(search)
        self.assertEqual(status["state"], "SUCCEEDED")
        final = {h: (acc, pruned) for h, acc, pruned in c.query(sql)}
        for h, entry in recorded.items():
            self.assertEqual(final.get(h), entry)
        trace = c.trace_text()
        for offset, snapshot in marks:
            later = {line.split()[1] for line in trace[offset:].splitlines() if line}
            self.assertFalse(later & snapshot, "a recorded genome was trained again")
        return kills

    def test_kill_the_master_many_times_loses_nothing_and_trains_nothing_twice(self):
        c = self.cluster
        rng = random.Random(20261127)
        for i in range(3):
            c.start_worker(f"w{i}", epoch_ms=40)
        search = c.submit("--preset", "fashion_mnist_mlp", "--population", "16",
                          "--generations", "5", "--seed", "3")
        kills = self.kill_the_master_repeatedly(c, search, rng, rounds=8, most_between=3)
        self.assertGreaterEqual(kills, 4)

    def test_kill_the_master_during_a_pruned_search(self):
        """ASHA on steady-state with the master SIGKILLed again and again: the pruner's
        rungs and decisions survive (a stopped genome is recorded pruned at a rung, never
        trained again), and the epochs add up."""
        self.kill_the_master_during_a_pruned_search(20261202)

    def test_kill_the_master_during_a_multi_objective_pruned_search(self):
        """The same with accuracy against size (the fake workers' params, sent with each
        epoch): multi-objective ASHA's rungs are rebuilt from the stored curves, which keep
        each epoch's metrics, and the leaderboard goes by Pareto front."""
        search, trials = self.kill_the_master_during_a_pruned_search(
            20261207, "--objective", "accuracy:max", "--objective", "params:min")
        for t in trials:
            self.assertIn("params", t["metrics"], t)
            for p in t["curve"]:
                self.assertEqual(p["metrics"]["params"], t["metrics"]["params"], t)
        _, body = self.cluster.http(f"/api/searches/{search}/leaderboard?limit=60")
        board = [t for t in json.loads(body)["trials"] if t["state"] == "DONE"]
        points = [(t["accuracy"], -t["metrics"]["params"]) for t in board]
        for i, p in enumerate(points):
            for q in points[i + 1:]:
                self.assertFalse(q[0] >= p[0] and q[1] >= p[1] and q != p, board)
        # The front's size and hypervolume, in the summary and in /metrics.
        status = self.cluster.status(search)
        full = [(t["accuracy"], -t["metrics"]["params"]) for t in trials if t["state"] == "DONE"]
        front = [p for p in full if not any(q[0] >= p[0] and q[1] >= p[1] and q != p for q in full)]
        self.assertEqual(int(status["frontSize"]), len(front))
        self.assertGreater(status["hypervolume"], 0)
        _, metrics = self.cluster.http("/metrics")
        labels = f'{{search="{search}",name="fashion_mnist_mlp"}}'
        self.assertIn(f"deepevolve_search_front_size{labels} {len(front)}\n", metrics)
        self.assertIn(f"deepevolve_search_hypervolume{labels} {status['hypervolume']:.6f}\n",
                      metrics)

    def test_any_member_of_a_front_exports(self):
        """With several objectives every genome on the front when it reported keeps its
        model: the smallest of the front exports by the start of its hash or by its id,
        whatever its accuracy."""
        c = self.cluster
        for i in range(2):
            c.start_worker(f"w{i}", epoch_ms=5)
        search = c.submit("--preset", "fashion_mnist_mlp", "--strategy", "steady_state",
                          "--population", "6", "--trials", "20", "--seed", "8",
                          "--objective", "accuracy:max", "--objective", "params:min")
        self.assertEqual(c.wait_done(search)["state"], "SUCCEEDED")
        _, body = c.http(f"/api/searches/{search}/leaderboard?limit=20")
        board = json.loads(body)["trials"]
        point = lambda t: (t["accuracy"], -t["metrics"]["params"])
        front = [t for t in board
                 if not any(point(u)[0] >= point(t)[0] and point(u)[1] >= point(t)[1]
                            and point(u) != point(t) for u in board)]
        self.assertGreaterEqual(len(front), 2)
        smallest = min(front, key=lambda t: t["metrics"]["params"])
        self.assertLess(smallest["accuracy"], board[0]["accuracy"])
        out = os.path.join(c.dir, "small.pt")
        for genome in (smallest["genome"]["hash"][:8], str(smallest["genome"]["id"])):
            wrote = c.cli("export", str(search), "--genome", genome, "-o", out).stdout
            self.assertIn("wrote", wrote)
            with open(out) as f:
                self.assertEqual(f.read(), "fake model of " + smallest["genome"]["hash"])
        bad = c.cli("export", str(search), "--genome", "xyz", "-o", out, check=False)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--genome", bad.stderr)
        none = c.cli("export", str(search), "--genome", "ffffffffffff", "-o", out, check=False)
        self.assertNotEqual(none.returncode, 0)
        self.assertIn("no genome whose hash begins with ffffffffffff", none.stderr)

    def kill_the_master_during_a_pruned_search(self, seed, *flags):
        c = self.cluster
        rng = random.Random(seed)
        for i in range(3):
            c.start_worker(f"w{i}", epoch_ms=40)
        search = c.submit("--preset", "fashion_mnist_mlp", "--strategy", "steady_state",
                          "--population", "8", "--trials", "60", "--seed", "4",
                          "--pruner", "asha", *flags)
        kills = self.kill_the_master_repeatedly(c, search, rng, rounds=6, most_between=4)
        status = c.status(search)
        _, body = c.http(f"/api/searches/{search}/trials")
        trials = json.loads(body)["trials"]
        self.assertEqual(len(trials), 60)
        pruned = [t for t in trials if t["state"] == "PRUNED"]
        self.assertGreater(len(pruned), 15)
        self.assertGreaterEqual(kills, 3)
        for t in trials:
            self.assertIn(t["state"], ("DONE", "PRUNED"), t)
            if t["state"] == "PRUNED":
                # Rungs at 1 and 3 of 4 epochs; the accuracy is the curve's there.
                self.assertIn(t["epochsRun"], (1, 3), t)
                self.assertEqual(t["prunedAtEpoch"], t["epochsRun"], t)
                at = [p for p in t["curve"] if p["epoch"] == t["epochsRun"]]
                self.assertEqual(len(at), 1, t)
                self.assertAlmostEqual(t["accuracy"], at[0]["valAccuracy"])
        ledger_pruned = {h for h, (_, p) in
                         {h: (a, p) for h, a, p in c.query("SELECT genome_hash, accuracy, pruned FROM ledger")}.items() if p}
        self.assertEqual(ledger_pruned, {t["genome"]["hash"] for t in pruned})
        self.assertEqual(int(status["pruned"]), len(pruned))
        self.assertEqual(int(status["epochsTrained"]) + int(status["epochsSaved"]), 60 * 4)
        self.assertEqual(int(status["epochsTrained"]), sum(t["epochsRun"] for t in trials))
        code, metrics = c.http("/metrics")
        lines = {line.rsplit(" ", 1)[0]: line.rsplit(" ", 1)[1]
                 for line in metrics.splitlines() if line and not line.startswith("#")}
        self.assertEqual(int(lines["deepevolve_genomes_pruned_total"]), len(pruned))
        self.assertEqual(int(lines[f'deepevolve_search_epochs_saved{{search="{search}",name="fashion_mnist_mlp"}}']),
                         int(status["epochsSaved"]))
        return search, trials

    def test_a_stopped_worker_s_late_report_is_fenced(self):
        c = self.cluster
        c.close()
        self.cluster = c = Cluster(self, lease_seconds=0.5)
        # The sleeper stops itself (SIGSTOP) between training its first genome and
        # reporting it: the worst moment, the one a lease must cover.
        sleeper = c.start_worker("sleeper", epoch_ms=5, extra=("--freeze-after", "1"))
        search = c.submit("--preset", "fashion_mnist_mlp", "--population", "6",
                          "--generations", "2", "--seed", "4")
        held = wait_for(lambda: c.trace_text().split(), "the sleeper to start a genome")[1]
        wait_for(lambda: process_state(sleeper.pid) == "T", "the sleeper to stop")
        c.start_worker("helper", epoch_ms=5)
        wait_for(lambda: c.query("SELECT COUNT(*) FROM ledger WHERE genome_hash = ?", held)[0][0],
                 "the helper to train the stopped worker's genome")
        sleeper.send_signal(signal.SIGCONT)
        wait_for(lambda: c.query("SELECT value FROM counters WHERE name = 'reports_fenced' "
                                 "AND value > 0"),
                 "the late report to arrive and be fenced")
        self.assertEqual(c.wait_done(search)["state"], "SUCCEEDED")
        self.assertEqual(c.query("SELECT COUNT(*) FROM ledger WHERE genome_hash = ?", held), [(1,)])
        self.assertEqual(c.query("SELECT value FROM counters WHERE name = 'reports_fenced'"),
                         [(1,)])
        trained = [line.split()[1] for line in c.trace_text().splitlines()]
        self.assertEqual(trained.count(held), 2, "trained by the sleeper, then by the helper")

    def test_a_second_search_on_the_same_task_hits_the_ledger(self):
        c = self.cluster
        c.start_worker("w0")
        first = c.submit("--preset", "fashion_mnist_mlp", "--population", "8",
                         "--generations", "2", "--seed", "8")
        trained = int(c.wait_done(first)["trialsDone"])
        before = c.trace_text()
        second = c.submit("--preset", "fashion_mnist_mlp", "--population", "8",
                          "--generations", "2", "--seed", "8", "--name", "again")
        status = c.wait_done(second)
        self.assertEqual(int(status["ledgerHits"]), trained)
        self.assertEqual(c.trace_text(), before, "the second search trained something")

    def test_bad_input_is_rejected_and_leaves_the_database_unchanged(self):
        c = self.cluster
        spec = os.path.join(c.dir, "bad.yaml")
        before = c.query("SELECT (SELECT COUNT(*) FROM searches), (SELECT COUNT(*) FROM events)")
        cases = {
            "task:\n  epochs: 5000\npreset: fashion_mnist_mlp\n": "task.epochs",
            "preset: no_such\n": "preset",
            "preset: fashion_mnist_mlp\ntask:\n  dataset: imagenet\n": "dataset",
            "space:\n  genes:\n  - name: nb_neurons\n    values: [{int_value: 8}]\n"
            "task: {dataset: fashion_mnist, net: MLP}\n": "space.genes[0]",
            "preset: [1, 2\n": "bad.yaml",
            "preset: fashion_mnist_mlp\nnot_a_field: 1\n": "not_a_field",
        }
        for text, named in cases.items():
            with open(spec, "w") as f:
                f.write(text)
            result = c.cli("submit", "--spec", spec, check=False)
            self.assertNotEqual(result.returncode, 0, text)
            self.assertIn(named, result.stderr, text)
        self.assertEqual(c.query("SELECT (SELECT COUNT(*) FROM searches), "
                                 "(SELECT COUNT(*) FROM events)"), before)
        missing = c.cli("status", "77", check=False)
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn("no search with id 77", missing.stderr)
        gone = subprocess.run([binary("cli", "deepevolve"), "list", "--master", "127.0.0.1:1",
                               "--insecure"],
                              capture_output=True, text=True, timeout=60)
        self.assertNotEqual(gone.returncode, 0)
        self.assertIn("127.0.0.1:1", gone.stderr)

    def real_worker(self, name):
        worker = binary("worker", "deepevolve-worker")
        if not os.path.exists(worker):
            self.skipTest("built without LibTorch")
        c = self.cluster
        with open(os.path.join(c.dir, f"{name}.log"), "a") as log:
            c.workers[name] = subprocess.Popen(
                [worker, "--master", c.address(), "--insecure", "--id", name, "--threads", "1",
                 "--slots-dir", os.path.join(c.dir, "slots")], stdout=log, stderr=log)
        return c.workers[name]

    def test_a_real_training_killed_mid_genome_resumes_to_the_same_result(self):
        """The built-in trainer, for real: a genome's training SIGKILLed after its second
        checkpoint ends, resumed on another worker process, exactly as the same genome's
        uninterrupted training (same seed, same threads)."""
        c = self.cluster
        one = ("--strategy", "random", "--trials", "1", "--epochs", "4", "--train-limit",
               "20000", "--test-limit", "1000", "--seed", "12")
        self.real_worker("whole")
        whole = c.wait_done(c.submit("--preset", "fashion_mnist_mlp", *one), timeout=300)
        self.assertEqual(whole["state"], "SUCCEEDED", c.log("whole.log"))
        finished = c.workers.pop("whole")
        finished.kill()
        finished.wait()

        def saved():
            _, text = c.http("/metrics")
            line = [l for l in text.splitlines()
                    if l.startswith("deepevolve_checkpoints_saved_total")]
            return int(float(line[0].split()[1])) if line else 0
        before = saved()
        doomed = self.real_worker("doomed")
        search = c.submit("--preset", "fashion_mnist_mlp", *one, "--retrain")
        # Four checkpoints over the first search; two more into this one, then it is gone.
        wait_for(lambda: saved() >= before + 2, "the second checkpoint", timeout=300,
                 interval=0.01)
        doomed.kill()
        doomed.wait()
        self.real_worker("heir")
        status = c.wait_done(search, timeout=300)
        self.assertEqual(status["state"], "SUCCEEDED", c.log("heir.log"))
        self.assertEqual(int(status.get("resumes", 0)), 1, c.log("heir.log"))
        self.assertIn("resuming after epoch 2", c.log("heir.log"))
        for key in ("accuracy", "testAccuracy", "epochsRun"):
            self.assertEqual(status["best"][key], whole["best"][key], key)
        self.assertEqual(status["best"]["genome"]["hash"], whole["best"]["genome"]["hash"])

    def test_real_training_on_a_fashion_mnist_slice(self):
        c = self.cluster
        worker = binary("worker", "deepevolve-worker")
        if not os.path.exists(worker):
            self.skipTest("built without LibTorch")
        with open(os.path.join(c.dir, "real.log"), "a") as log:
            c.workers["real"] = subprocess.Popen(
                [worker, "--master", c.address(), "--insecure", "--id", "real", "--threads", "1",
                 "--slots-dir", os.path.join(c.dir, "slots")], stdout=log, stderr=log)
        search = c.submit("--preset", "fashion_mnist_mlp", "--population", "3",
                          "--generations", "1", "--epochs", "1", "--train-limit", "3000",
                          "--test-limit", "1000", "--seed", "2")
        status = c.wait_done(search, timeout=300)
        self.assertEqual(status["state"], "SUCCEEDED", c.log("real.log"))
        self.assertGreater(status["best"]["accuracy"], 0.5)
        model = os.path.join(c.dir, "best.pt")
        out = c.cli("export", str(search), "-o", model).stdout
        self.assertIn("wrote", out)
        self.assertGreater(os.path.getsize(model), 10000)
        # A CNN search over the newer genes, submitted as a spec file: each trial's
        # genome has values for its active genes only, and its best model exports.
        spec = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                            "own_cnn.yaml")
        cnn = c.submit("--spec", spec, "--trials", "3", "--epochs", "1", "--train-limit", "2000",
                       "--test-limit", "500", "--seed", "4")
        status = c.wait_done(cnn, timeout=300)
        self.assertEqual(status["state"], "SUCCEEDED", c.log("real.log"))
        code, body = c.http(f"/api/searches/{cnn}/trials")
        self.assertEqual(code, 200, body)
        trials = json.loads(body)["trials"]
        self.assertEqual(len(trials), 3)
        for t in trials:
            self.assertEqual(t["state"], "DONE", t)
            values = t["genome"]["values"]
            layers = int(values[0]["intValue"])
            # nb_neurons_3 (the fourth gene) is set only for a three-block genome.
            self.assertEqual(bool(values[3]), layers == 3, t)
        self.assertIn("wrote", c.cli("export", str(cnn), "-o", model).stdout)


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
