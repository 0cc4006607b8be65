#!/usr/bin/env python3
"""The dashboard in a real browser: headless Chromium (Debian's `chromium`) loads
/dashboard/ from a master holding recorded searches — a generational one of 60 genomes,
steady-state ones of 500 and 10 000 — and each panel must have drawn its data. The fake
workers' accuracy is decided by nb_neurons (--gene-matters), so that is the gene the
importance panel must put first. The screenshots (dashboard-60.png, -500, -10000, ...)
are kept as test artefacts in BUILD_DIR/test-artefacts/.

  dashboard_test.py BUILD_DIR [unittest args]"""
import json
import os
import re
import shutil
import subprocess
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import distributed_test  # noqa: E402
from distributed_test import Cluster  # noqa: E402

TOKEN = "dashboard-test-token"
PANELS = ("fitness", "fitness-time", "genes", "importance", "curves", "parallel", "lineage",
          "leaderboard", "workers")
MATTERS = ("--gene-matters", "nb_neurons")

BIG_SPACE = """name: %d genomes
task: {dataset: fashion_mnist, net: MLP, epochs: 1}
steady_state: {population: 50, trials: %d}
seed: 17
space:
  genes:
  - name: nb_neurons
    values: [%s]
  - name: nb_layers
    values: [%s]
  - name: activation
    values: [{string_value: relu}, {string_value: elu}, {string_value: tanh}, {string_value: sigmoid}]
  - name: optimizer
    values: [{string_value: adam}, {string_value: sgd}, {string_value: nadam}, {string_value: rmsprop}]
"""


def big_space(trials):
    return BIG_SPACE % (trials, trials, ", ".join("{int_value: %d}" % v for v in range(1, 201)),
                        ", ".join("{int_value: %d}" % v for v in range(1, 41)))


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


class DashboardTest(unittest.TestCase):
    def setUp(self):
        if chromium() is None:
            self.skipTest("chromium is not installed (scripts/install-deps.sh installs it)")
        self.cluster = Cluster(self, token=TOKEN)
        self.artefacts = os.path.join(distributed_test.BUILD, "test-artefacts")
        os.makedirs(self.artefacts, exist_ok=True)

    def tearDown(self):
        self.cluster.close()

    def browse(self, search, shot, in_hash=False):
        """Loads the dashboard for `search` (?search=N, or #search=N with `in_hash`): the
        DOM after its scripts ran, and a screenshot."""
        url = (f"http://127.0.0.1:{self.cluster.http_port}/dashboard/" +
               (f"#search={search}&token={TOKEN}" if in_hash else
                f"?search={search}#token={TOKEN}"))
        flags = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu",
                 "--hide-scrollbars", "--window-size=1400,2400", "--virtual-time-budget=8000",
                 f"--user-data-dir={os.path.join(self.cluster.dir, 'chrome-' + shot)}"]
        dom = subprocess.run(flags + ["--dump-dom", url], capture_output=True, text=True,
                             timeout=180).stdout
        path = os.path.join(self.artefacts, shot)
        subprocess.run(flags + [f"--screenshot={path}", url], capture_output=True, timeout=180)
        self.assertTrue(os.path.getsize(path) > 10000, f"no screenshot at {path}")
        return dom

    def rendered(self, dom):
        return {m.group(1): int(m.group(2))
                for m in re.finditer(r'id="([a-z-]+)"[^>]*data-rendered="(\d+)"', dom)}

    def panel(self, dom, panel, attribute):
        """A data- attribute the page set on a panel."""
        return re.search(f'id="{panel}"[^>]*data-{attribute}="([^"]*)"', dom).group(1)

    def check_lineage_and_importance(self, dom, genomes):
        """Every genome is a point of the lineage, the best one's family (ancestors and
        children: two or more) is drawn over them, and nb_neurons is the gene that
        matters."""
        drawn = self.rendered(dom)
        self.assertEqual(drawn["lineage"], genomes)
        self.assertGreaterEqual(int(self.panel(dom, "lineage", "family")), 2)
        self.assertEqual(drawn["importance"], 4)           # a bar per gene
        self.assertEqual(self.panel(dom, "importance", "top"), "nb_neurons")

    def test_each_panel_draws_a_recorded_search(self):
        c = self.cluster
        for i in range(2):
            c.start_worker(f"w{i}", epoch_ms=1, extra=MATTERS)
        search = c.submit("--preset", "fashion_mnist_mlp", "--population", "15",
                          "--generations", "5", "--seed", "21", "--name", "panels")
        status = c.wait_done(search)
        done = int(status["trialsDone"])
        self.assertTrue(55 <= done <= 70, done)         # about 60
        dom = self.browse(search, "dashboard-60.png")
        drawn = self.rendered(dom)
        self.assertEqual(set(drawn), set(PANELS), dom[-2000:])
        self.check_lineage_and_importance(dom, done)
        self.assertEqual(drawn["fitness"], 5)           # one point per generation
        self.assertEqual(drawn["fitness-time"], done)   # one step per recorded genome
        self.assertEqual(drawn["genes"], 2)             # nb_neurons takes 64 or 128
        self.assertEqual(drawn["curves"], min(30, done))
        self.assertEqual(drawn["leaderboard"], done)
        self.assertEqual(drawn["workers"], 2)
        self.assertEqual(drawn["parallel"], done)       # a line per trained genome
        self.assertIn("panels: succeeded", dom)
        self.assertIn(status["best"]["genome"]["hash"], dom)  # the leader is in the table

    def test_a_search_of_several_objectives_draws_its_front(self):
        """Accuracy against size (the fake workers' params): the front of the two, the
        hypervolume as results arrived, and genes against both objectives."""
        c = self.cluster
        c.start_worker("w0", epoch_ms=1)
        search = c.submit("--preset", "fashion_mnist_mlp", "--strategy", "steady_state",
                          "--population", "8", "--trials", "40", "--seed", "5",
                          "--objective", "accuracy:max", "--objective", "params:min",
                          "--name", "front")
        self.assertEqual(c.wait_done(search)["state"], "SUCCEEDED")
        # A newer search, which the page would show by default: #search=N picks the other.
        c.wait_done(c.submit("--preset", "fashion_mnist_mlp", "--population", "2",
                             "--generations", "1", "--seed", "6", "--name", "newer"))
        _, body = c.http(f"/api/searches/{search}/trials")
        points = [(t["accuracy"], -t["metrics"]["params"]) for t in json.loads(body)["trials"]]
        front = [p for p in points
                 if not any(q[0] >= p[0] and q[1] >= p[1] and q != p for q in points)]
        dom = self.browse(search, "dashboard-front.png", in_hash=True)  # #search=N selects too
        drawn = self.rendered(dom)
        self.assertEqual(set(drawn), set(PANELS) | {"front", "hypervolume"}, dom[-2000:])
        self.assertEqual(drawn["front"], 40)
        self.assertEqual(drawn["hypervolume"], 40)
        self.assertEqual(drawn["parallel"], 40)
        self.assertIn(f'data-front="{len(front)}"', re.search(r'id="front"[^>]*', dom).group(0))
        self.assertIn(f"{len(front)} on the front of 40 trained", dom)
        self.assertIn("front: succeeded", dom)
        # The leaderboard gives each row its front and its size; the first rows are the
        # front.
        head = re.search(r"<thead>(.*?)</thead>", dom, re.S).group(1)
        self.assertIn(">front<", head)
        self.assertIn(">params<", head)
        rows = re.findall(r'<tr><td class="col-rank">(\d+)</td>.*?<td class="col-front">(\d+|-)</td>',
                          dom)
        self.assertEqual([f for _, f in rows[:len(front)]], ["1"] * len(front), rows[:10])
        self.assertNotEqual(rows[len(front)][1], "1")

    def test_pruned_genomes_are_marked(self):
        c = self.cluster
        c.start_worker("w0", epoch_ms=1)
        search = c.submit("--preset", "fashion_mnist_mlp", "--strategy", "steady_state",
                          "--population", "6", "--trials", "30", "--seed", "8",
                          "--pruner", "asha", "--name", "pruned")
        status = c.wait_done(search)
        pruned = int(status["pruned"])
        self.assertGreater(pruned, 5)
        dom = self.browse(search, "dashboard-pruned.png")
        # The curves panel draws the pruned genomes (dashed, marked where they stopped)
        # beside the best fully trained ones.
        drawn = re.search(r'id="curves"[^>]*', dom).group(0)
        self.assertIn(f'data-pruned="{pruned}"', drawn)
        self.assertEqual(self.rendered(dom)["curves"], (30 - pruned) + pruned)
        # The leaderboard lists them after every fully trained genome.
        self.assertIn(f"{30 - pruned} trained, {pruned} pruned (listed after)", dom)
        states = re.findall(r'<td class="col-state">(DONE|PRUNED)</td>', dom)
        self.assertEqual(states, ["DONE"] * (30 - pruned) + ["PRUNED"] * pruned)
        self.assertIn(f"{pruned} pruned (", dom)
        self.assertIn(f'{status["epochsSaved"]} saved)', dom)

    def test_population_based_training_shows_members_and_schedules(self):
        """PBT's rounds: the leaderboard names each round's member and the schedule its
        checkpoint went through, and the lineage links each round to the one it went on
        from (its exploit lineage)."""
        c = self.cluster
        c.start_worker("w0", epoch_ms=1)
        search = c.submit("--preset", "fashion_mnist_mlp_full", "--strategy", "pbt",
                          "--population", "4", "--epochs", "4", "--ready-epochs", "2",
                          "--seed", "3", "--name", "pbt")
        self.assertEqual(c.wait_done(search)["state"], "SUCCEEDED")
        dom = self.browse(search, "dashboard-pbt.png")
        head = re.search(r"<thead>(.*?)</thead>", dom, re.S).group(1)
        self.assertIn(">member<", head)
        self.assertIn(">schedule<", head)
        schedules = re.findall(r'<td class="col-schedule">([^<]*)</td>', dom)
        self.assertEqual(len(schedules), 8, dom[-2000:])  # 4 members x 2 rounds
        for text in schedules:
            self.assertTrue(text.startswith("1-"), text)
            self.assertIn("learning_rate=", text)
        members = re.findall(r'<td class="col-member">(\d+)</td>', dom)
        self.assertEqual(sorted(set(members)), ["1", "2", "3", "4"])
        self.assertEqual(self.rendered(dom)["lineage"], 8)
        self.assertIn("pbt: succeeded", dom)

    def test_the_dashboard_needs_the_token(self):
        url = f"http://127.0.0.1:{self.cluster.http_port}/dashboard/"
        dom = subprocess.run([chromium(), "--headless=new", "--no-sandbox", "--disable-gpu",
                              "--virtual-time-budget=5000",
                              f"--user-data-dir={os.path.join(self.cluster.dir, 'chrome-nt')}",
                              "--dump-dom", url], capture_output=True, text=True,
                             timeout=180).stdout
        self.assertRegex(dom, r'<form id="token-form"(?! hidden)')
        self.assertNotIn("data-rendered", dom)

    def test_names_show_as_text_and_no_script_runs(self):
        c = self.cluster
        # A worker id with markup is refused at registration, and its worker exits.
        hostile = c.start_worker("x<svg onload=alert(1)>", epoch_ms=1)
        self.assertNotEqual(hostile.wait(timeout=120), 0)
        self.assertIn("worker_id: must be", c.log("x<svg onload=alert(1)>.log"))
        c.start_worker("w0", epoch_ms=1)
        name = "<img src=x onerror=\"document.title='pwned'\">"
        search = c.submit("--preset", "fashion_mnist_mlp", "--population", "4",
                          "--generations", "1", "--seed", "2", "--name", name)
        c.wait_done(search)
        status, workers = c.http("/api/workers")
        self.assertNotIn("svg", workers)
        # The page comes with a policy that runs only its own scripts.
        with urllib.request.urlopen(f"http://127.0.0.1:{c.http_port}/dashboard/app.js",
                                    timeout=30) as r:
            self.assertIn("script-src 'self'", r.headers["Content-Security-Policy"])
        dom = self.browse(search, "dashboard-hostile-name.png")
        self.assertIn("<title>deepevolve dashboard</title>", dom)  # onerror never ran
        self.assertNotIn("<img", dom)
        self.assertIn("&lt;img src=x onerror=", dom)  # the name, as text
        self.assertIn("succeeded", dom)

    def big_search(self, trials):
        c = self.cluster
        spec = os.path.join(c.dir, f"big-{trials}.yaml")
        with open(spec, "w") as f:
            f.write(big_space(trials))
        for i in range(4):
            c.start_worker(f"w{i}", epoch_ms=0, extra=MATTERS)
        search = c.submit("--spec", spec)
        status = c.wait_done(search, timeout=400)
        self.assertEqual(int(status["trialsDone"]), trials)
        dom = self.browse(search, f"dashboard-{trials}.png")
        drawn = self.rendered(dom)
        self.assertEqual(set(drawn), set(PANELS), dom[-2000:])
        self.assertRegex(dom, f'data-trials="{trials}"')
        self.check_lineage_and_importance(dom, trials)
        return drawn

    def test_five_hundred_genomes(self):
        self.assertEqual(self.big_search(500)["leaderboard"], 200)

    def test_ten_thousand_genomes_stay_drawable(self):
        drawn = self.big_search(10000)
        self.assertEqual(drawn["leaderboard"], 200)     # the table shows the best 200


if __name__ == "__main__":
    distributed_test.BUILD = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
