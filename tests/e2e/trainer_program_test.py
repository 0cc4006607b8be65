#!/usr/bin/env python3
"""Searches of trainer programs with real processes on 127.0.0.1: a master, real
deepevolve-worker daemons offering `--trainer NAME=COMMAND`, Python programs that follow
the protocol (or break it), the CLI's submit, status, watch, top and export.

  trainer_program_test.py BUILD_DIR [unittest args]

Waits are bounded polls, never fixed sleeps."""
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import distributed_test  # noqa: E402  (Cluster, wait_for, binary)
from distributed_test import Cluster, binary, wait_for  # noqa: E402

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MINIMAL = os.path.join(SOURCE, "examples", "trainers", "minimal.py")


def spec_file(directory, trainer, genes, strategy, epochs=3, extra=""):
    path = os.path.join(directory, f"spec-{trainer.replace('@', '-')}.yaml")
    with open(path, "w") as f:
        f.write(textwrap.dedent(f"""\
            task: {{trainer: {trainer}, dataset: synthetic, epochs: {epochs}}}
            genes: {json.dumps(genes)}
            {strategy}
            seed: 3
            """) + extra)
    return path


class TrainerProgramTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(self)
        self.dir = tempfile.mkdtemp(prefix="deepevolve-programs-", dir=self.cluster.dir)

    def tearDown(self):
        self.cluster.close()

    def start_worker(self, name, *trainers, builtin=False, extra=()):
        args = [binary("worker", "deepevolve-worker"), "--master", self.cluster.address(),
                "--id", name, "--insecure", "--threads", "1",
                "--slots-dir", os.path.join(self.cluster.dir, "slots"),
                "--trainer-work-dir", self.dir, *extra]
        for t in trainers:
            args += ["--trainer", t]
        if not builtin:
            args.append("--no-builtin-trainer")
        with open(os.path.join(self.cluster.dir, f"{name}.log"), "a") as log:
            self.cluster.workers[name] = subprocess.Popen(args, stdout=log, stderr=log)

    def program(self, name, text):
        path = os.path.join(self.cluster.dir, name)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))
        return f"{sys.executable} {path}"

    def trials(self, search_id):
        status, body = self.cluster.http(f"/api/searches/{search_id}/trials")
        self.assertEqual(status, 200, body)
        return json.loads(body)["trials"]

    def test_a_search_of_the_minimal_example_runs_through_submit_watch_top_and_export(self):
        self.start_worker("w1", f"toy@1={sys.executable} {MINIMAL}")
        spec = spec_file(self.dir, "toy@1",
                         {"learning_rate": [0.3, 0.1, 0.03, 0.01], "l2": [0, 0.001, 0.01]},
                         "steady_state: {population: 4, tournament_size: 2, trials: 8}")
        search = self.cluster.submit("--spec", spec)
        watched = self.cluster.cli("watch", str(search), "--no-live")
        self.assertIn("succeeded", watched.stdout)
        self.assertIn("trainer: toy@1", watched.stdout)
        status = self.cluster.status(search)
        self.assertEqual(status["state"], "SUCCEEDED")
        self.assertEqual(int(status["trialsDone"]), 8)
        self.assertGreater(status["best"]["accuracy"], 0.6)
        for t in self.trials(search):
            self.assertEqual(t["state"], "DONE", t)
            self.assertEqual([p["epoch"] for p in t["curve"]], [1, 2, 3])
            self.assertEqual(t["workerId"], "w1")
        top = self.cluster.cli("top", str(search), "-n", "3").stdout
        self.assertIn("learning_rate=", top)
        # No program wrote a model: export says so instead of writing an empty file.
        out = os.path.join(self.dir, "model")
        exported = self.cluster.cli("export", str(search), "-o", out, check=False)
        self.assertNotEqual(exported.returncode, 0)
        self.assertFalse(os.path.exists(out))
        # Every trial's working directory is gone.
        self.assertEqual(os.listdir(self.dir), [os.path.basename(spec)])
        # The program checkpointed each epoch but the last through its protocol: every
        # state reached the master (none is kept once its trial ended).
        _, metrics = self.cluster.http("/metrics")
        values = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                  for line in metrics.splitlines() if line and not line.startswith("#")}
        self.assertEqual(values["deepevolve_checkpoints_saved_total"], 8 * 2)
        self.assertEqual(values["deepevolve_checkpoints"], 0)

    def test_a_program_s_own_metric_is_an_objective(self):
        self.start_worker("w1", f"toy@1={sys.executable} {MINIMAL}")
        spec = spec_file(self.dir, "toy@1",
                         {"learning_rate": [0.3, 0.1, 0.03], "l2": [0, 0.01, 0.1, 1.0]},
                         "steady_state: {population: 4, tournament_size: 2, trials: 10}")
        search = self.cluster.submit("--spec", spec, "--objective", "accuracy:max",
                                     "--objective", "nonzero_weights:min")
        self.cluster.wait_done(search)
        trials = self.trials(search)
        self.assertEqual(len(trials), 10)
        for t in trials:
            self.assertIn("nonzero_weights", t["metrics"], t)
        top = self.cluster.cli("top", str(search), "-n", "10").stdout
        self.assertIn("nonzero_weights", top.splitlines()[0])
        # The leaderboard goes by Pareto front: no row is beaten on both objectives by
        # a row below it.
        status, body = self.cluster.http(f"/api/searches/{search}/leaderboard?limit=10")
        board = [(t["accuracy"], -t["metrics"]["nonzero_weights"]) for t in
                 json.loads(body)["trials"]]
        for i, p in enumerate(board):
            for q in board[i + 1:]:
                self.assertFalse(q[0] >= p[0] and q[1] >= p[1] and q != p, board)

    def test_a_search_waits_for_a_worker_offering_its_trainer_and_says_so(self):
        self.start_worker("builtin", builtin=True)
        self.start_worker("v2", f"toy@2={sys.executable} {MINIMAL}")
        spec = spec_file(self.dir, "toy@1", {"learning_rate": [0.1, 0.01], "l2": [0, 0.01]},
                         "grid: {}")
        search = self.cluster.submit("--spec", spec)
        def both_registered():
            text = self.cluster.cli("status", str(search)).stdout
            return "workers offer: the built-in trainer, toy@2" in text and text
        waiting = wait_for(both_registered, "both workers to register")
        self.assertIn("waiting: no registered worker offers trainer 'toy@1'", waiting)
        self.assertNotIn("trialsDone", self.cluster.status(search))  # nothing trained
        self.start_worker("v1", f"toy@1={sys.executable} {MINIMAL}")
        status = self.cluster.wait_done(search)
        self.assertEqual(status["state"], "SUCCEEDED")
        self.assertNotIn("waiting", status)
        self.assertEqual({t["workerId"] for t in self.trials(search)}, {"v1"})

    def test_the_pruner_stops_a_program_even_one_that_ignores_sigterm(self):
        # Accuracy quality/10 at every epoch; the grid hands out 9, 8, ..., 1: after the
        # first, each is worse than the best at rung 1 and ASHA stops it there.
        stubborn = self.program("stubborn.py", """\
            import json, signal, sys, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            t = json.load(sys.stdin)
            q = t["genes"]["quality"] / 10
            for epoch in range(1, t["epochs"] + 1):
                print(json.dumps({"epoch": epoch, "val_accuracy": q, "loss": 1 - q}), flush=True)
                time.sleep(0.05)
            print(json.dumps({"accuracy": q, "test_accuracy": q}))
            """)
        self.start_worker("w1", f"stubborn={stubborn}", extra=["--trainer-grace", "0.5"])
        spec = spec_file(self.dir, "stubborn", {"quality": list(range(9, 0, -1))}, "grid: {}",
                         epochs=4, extra="pruner: {asha: {min_epochs: 1, reduction_factor: 3}}\n")
        search = self.cluster.submit("--spec", spec)
        status = self.cluster.wait_done(search)
        self.assertEqual(status["state"], "SUCCEEDED", status)
        self.assertEqual(int(status["pruned"]), 8)
        trials = sorted(self.trials(search), key=lambda t: t["genome"]["id"])
        self.assertEqual(trials[0]["state"], "DONE")
        self.assertEqual(trials[0]["epochsRun"], 4)
        for t in trials[1:]:
            self.assertEqual(t["state"], "PRUNED", t)
            self.assertEqual(t["prunedAtEpoch"], 1)
        self.assertEqual(int(status["epochsSaved"]), 8 * 3)

    def test_a_silent_program_dies_with_its_worker_even_one_killed_by_sigkill(self):
        # Audit F5: the program, and what it started, write nothing and ignore SIGTERM;
        # the worker is killed with SIGKILL. The watchdog in the program's group sees
        # the worker's end of its pipe close and kills the group.
        pids = os.path.join(self.dir, "silent.pids")
        silent = self.program("silent.py", f"""\
            import os, signal, subprocess, sys, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            child = subprocess.Popen(["sleep", "300"])
            with open({pids!r}, "w") as f:
                f.write(f"{{os.getpid()}} {{child.pid}}\\n")
            time.sleep(300)
            """)
        self.start_worker("w1", f"silent={silent}")
        spec = spec_file(self.dir, "silent", {"x": [1, 2]}, "grid: {}")
        self.cluster.submit("--spec", spec)

        def started():
            if not os.path.exists(pids):
                return None
            with open(pids) as f:
                text = f.read()
            return text.endswith("\n") and [int(p) for p in text.split()]
        program_pids = wait_for(started, "the program to start")
        worker = self.cluster.workers.pop("w1")
        worker.kill()
        worker.wait(timeout=30)

        def gone(pid):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie is dead
            except FileNotFoundError:
                return True
        for pid in program_pids:
            wait_for(lambda: gone(pid), f"process {pid} of the program to die", timeout=30)

    def test_a_program_that_breaks_the_protocol_fails_the_search_saying_why(self):
        garbage = self.program("garbage.py", """\
            print('{"epoch": 1, "val_accuracy": 0.5')
            """)
        self.start_worker("w1", f"garbage={garbage}")
        spec = spec_file(self.dir, "garbage", {"x": [1, 2, 3]}, "grid: {}")
        search = self.cluster.submit("--spec", spec)
        status = self.cluster.wait_done(search)
        self.assertEqual(status["state"], "FAILED")
        self.assertIn("no registered worker can set up this search's task (trainer garbage",
                      status["error"])
        self.assertIn("malformed JSON", status["error"])
        self.assertEqual(int(status.get("failed", 0)), 0)  # no genome blamed

    def test_a_crashing_program_fails_its_genomes_with_its_stderr(self):
        crash = self.program("crash.py", """\
            import json, sys
            t = json.load(sys.stdin)
            if t["genes"]["x"] == 2:
                raise MemoryError("x = 2 does not fit")
            print(json.dumps({"accuracy": t["genes"]["x"] / 10}))
            """)
        self.start_worker("w1", f"crash={crash}")
        spec = spec_file(self.dir, "crash", {"x": [1, 2, 3]}, "grid: {}")
        search = self.cluster.submit("--spec", spec)
        status = self.cluster.wait_done(search)
        self.assertEqual(status["state"], "SUCCEEDED")
        self.assertEqual(int(status["failed"]), 1)
        failed = [t for t in self.trials(search) if t["state"] == "TRIAL_FAILED"]
        self.assertEqual(len(failed), 1)
        self.assertIn("exited with code 1", failed[0]["error"])
        self.assertIn("MemoryError: x = 2 does not fit", failed[0]["error"])
        self.assertEqual(status["best"]["accuracy"], 0.3)

    def test_local_runs_a_whole_search_of_a_program(self):
        out = os.path.join(self.cluster.dir, "local")
        result = subprocess.run(
            [binary("cli", "deepevolve"), "local", "--spec",
             os.path.join(SOURCE, "examples", "own_trainer.yaml"), "--trainer",
             f"toy={sys.executable} {MINIMAL}", "--trainers", "2", "--no-live", "--out", out],
            capture_output=True, text=True, timeout=300)
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertIn("fitness = trainer toy's accuracy", result.stdout)
        with open(os.path.join(out, "genomes.csv")) as f:
            rows = f.read().splitlines()
        self.assertEqual(rows[0].split(",")[:2], ["learning_rate", "l2"])
        self.assertEqual(len(rows), 1 + 16)


if __name__ == "__main__":
    distributed_test.BUILD = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
