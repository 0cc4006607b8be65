#!/usr/bin/python3
"""What a preempted worker costs: a real search (the built-in trainer on Fashion-MNIST)
on a master and two worker processes, one of which is SIGKILLed every --kill-every
seconds and started again (a spot GPU taken back and replaced), against the same search
with no kills; with checkpoints after every epoch (the default) and without
(--checkpoint-every none). Each run is a fresh master and database; the search is the
same (seed, genomes, epochs), so every run trains the same genomes.

Prints per run the wall-clock, the kills, the leases lost, the resumes, the epochs the
master counted as lost (trained by a killed worker after its last checkpoint, then
trained again), and for the runs without kills the time checkpointing costs; then a
Markdown table of the medians.

  /usr/bin/python3 bench/preempt.py --repeats 1 --preset fashion_mnist_cnn_full \\
      --trials 8 --population 4 --epochs 3 --train-limit 12000 --kill-every 30
  /usr/bin/python3 bench/preempt.py --no-kills --repeats 3 ...   (checkpointing's cost)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wait_for(condition, what, timeout=600.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


class Run:
    """A master on 127.0.0.1:0 and workers of the built-in trainer, in `directory`."""

    def __init__(self, build, directory, shared=False):
        self.build, self.dir = build, directory
        # The shared storage mode: master and workers given one --checkpoint-dir.
        self.shared = ["--checkpoint-dir", os.path.join(directory, "shared")] if shared else []
        port_file = os.path.join(directory, "port")
        self.log = open(os.path.join(directory, "master.log"), "a")
        self.master = subprocess.Popen(
            [os.path.join(build, "master", "deepevolve-master"), "--db",
             os.path.join(directory, "m.db"), "--listen", "127.0.0.1:0", "--port-file",
             port_file, "--insecure", "--lease-seconds", "10", *self.shared],
            stdout=self.log, stderr=self.log)
        wait_for(lambda: os.path.exists(port_file) and open(port_file).read().strip(),
                 "the master")
        self.address = "127.0.0.1:" + open(port_file).read().strip()
        self.workers = {}

    def start_worker(self, name):
        self.workers[name] = subprocess.Popen(
            [os.path.join(self.build, "worker", "deepevolve-worker"), "--master", self.address,
             "--insecure", "--id", name, "--threads", "1",
             "--slots-dir", os.path.join(self.dir, "slots"), *self.shared],
            stdout=self.log, stderr=self.log)

    def cli(self, *args):
        out = subprocess.run([os.path.join(self.build, "cli", "deepevolve"), *args, "--master",
                              self.address, "--insecure"],
                             capture_output=True, text=True, timeout=120, check=True)
        return out.stdout

    def status(self, search):
        return json.loads(self.cli("status", str(search), "--json"))

    def close(self):
        for p in list(self.workers.values()) + [self.master]:
            p.kill()
            p.wait()
        self.log.close()


def one(args, checkpoint_every, kill_every, storage="stream"):
    with tempfile.TemporaryDirectory(prefix="deepevolve-preempt-") as d:
        run = Run(args.build, d, shared=storage == "shared")
        try:
            run.start_worker("steady")
            run.start_worker("spot")
            start = time.monotonic()
            out = run.cli("submit", "--json", "--preset", args.preset, "--strategy",
                          "steady_state", "--population", str(args.population), "--trials",
                          str(args.trials), "--epochs", str(args.epochs), "--train-limit",
                          str(args.train_limit), "--test-limit", "2000", "--seed",
                          str(args.seed), "--checkpoint-every", checkpoint_every)
            search = int(json.loads(out.strip().splitlines()[0])["searchId"])
            kills = 0
            next_kill = start + kill_every if kill_every > 0 else float("inf")
            while run.status(search)["state"] == "RUNNING":
                if time.monotonic() >= next_kill:
                    run.workers["spot"].kill()
                    run.workers["spot"].wait()
                    run.start_worker("spot")
                    kills += 1
                    next_kill += kill_every
                time.sleep(0.2)
            seconds = time.monotonic() - start
            s = run.status(search)
            assert s["state"] == "SUCCEEDED", s
            return {"checkpoints": checkpoint_every, "storage": storage,
                    "kill_every": kill_every, "seconds": seconds,
                    "kills": kills, "preempted": int(s.get("preempted", 0)),
                    "resumes": int(s.get("resumes", 0)),
                    "epochs_lost": int(s.get("epochsLost", 0)),
                    "epochs_trained": int(s.get("epochsTrained", 0)),
                    "best_test": s["best"]["testAccuracy"]}
        finally:
            run.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--preset", default="fashion_mnist_cnn_full")
    p.add_argument("--trials", type=int, default=12)
    p.add_argument("--population", type=int, default=4)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--train-limit", type=int, default=6000)
    p.add_argument("--kill-every", type=float, default=30)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-kills", action="store_true",
                   help="only the runs without kills: checkpointing's cost, in repeats")
    p.add_argument("--modes", default="stream,none",
                   help="what to run, comma-separated: stream (checkpoints after every epoch, "
                        "streamed to the master), shared (the same in a --checkpoint-dir that "
                        "the master and the workers share), none (no checkpoints)")
    args = p.parse_args()
    configs = [{"stream": ("1", "stream"), "shared": ("1", "shared"), "none": ("none", "-")}[m]
               for m in args.modes.split(",")]
    rows = []
    for repeat in range(args.repeats):
        for checkpoint_every, storage in configs:
            for kill_every in (0,) if args.no_kills else (0, args.kill_every):
                r = one(args, checkpoint_every, kill_every, storage)
                r["repeat"] = repeat
                print(json.dumps(r), flush=True)
                rows.append(r)
    print("\n| checkpoints | storage | kills | wall-clock (median s) | kills per run | "
          "leases lost | resumes | epochs lost | epochs lost per kill | best test |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for checkpoint_every, storage in configs:
        for kill_every in (0,) if args.no_kills else (0, args.kill_every):
            rs = [r for r in rows if r["checkpoints"] == checkpoint_every
                  and r["storage"] == storage and r["kill_every"] == kill_every]
            med = lambda k: statistics.median(r[k] for r in rs)  # noqa: E731
            kills = med("kills")
            print(f"| {'every epoch' if checkpoint_every == '1' else 'none'} | {storage} | "
                  f"{'every %g s' % kill_every if kill_every else 'none'} | {med('seconds'):.0f} | "
                  f"{kills:g} | {med('preempted'):g} | {med('resumes'):g} | "
                  f"{med('epochs_lost'):g} | "
                  f"{(med('epochs_lost') / kills) if kills else 0:.2f} | "
                  f"{100 * med('best_test'):.2f} % |")
    plain = [r["seconds"] for r in rows if r["checkpoints"] == "none" and not r["kill_every"]]
    for storage in ("stream", "shared"):
        saved = [r["seconds"] for r in rows
                 if r["storage"] == storage and not r["kill_every"]]
        if plain and saved:
            print(f"\ncheckpointing's cost without kills ({storage}): "
                  f"{statistics.median(saved):.1f} s against {statistics.median(plain):.1f} s "
                  f"({100 * (statistics.median(saved) / statistics.median(plain) - 1):+.1f} %)")


if __name__ == "__main__":
    sys.exit(main())
