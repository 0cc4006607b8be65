"""deepevolve.trainer: the lines it writes, the failures an exception becomes, SIGTERM, and
programs run as a worker runs them (a process, the trial on stdin)."""

import io
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from conftest import SOURCE
from deepevolve.trainer import ProtocolError, Trial

TRIAL = {"genes": {"lr": 0.1, "layers": 2}, "seed": 7, "epochs": 3, "device": "cpu", "threads": 1,
         "dataset": "synthetic", "data_dirs": ["/data"], "model_path": "/tmp/x/model", "workdir": "/tmp/x",
         "trainer": "toy@1", "search_id": 1, "genome_id": 4, "genome_hash": "ab12"}


def lines(out):
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_trial_reports_epochs_and_finishes():
    out = io.StringIO()
    with Trial(dict(TRIAL), out=out) as trial:
        assert trial.genes == {"lr": 0.1, "layers": 2}
        assert (trial.seed, trial.epochs, trial.device, trial.dataset) == (7, 3, "cpu", "synthetic")
        assert trial.model_path == "/tmp/x/model" and trial.data_dirs == ["/data"]
        assert list(trial.epoch_range()) == [1, 2, 3]
        for epoch in trial.epoch_range():
            trial.report(epoch, 0.5 + epoch / 10, loss=1.0 / epoch, params=120)
        trial.finish(0.8, test_accuracy=0.75, params=120)
    assert lines(out) == [
        {"epoch": 1, "val_accuracy": 0.6, "loss": 1.0, "metrics": {"params": 120.0}},
        {"epoch": 2, "val_accuracy": 0.7, "loss": 0.5, "metrics": {"params": 120.0}},
        {"epoch": 3, "val_accuracy": 0.8, "loss": 1.0 / 3, "metrics": {"params": 120.0}},
        {"accuracy": 0.8, "test_accuracy": 0.75, "metrics": {"params": 120.0}},
    ]


@pytest.mark.parametrize("call, words", [
    (lambda t: t.report(2, 0.5), "epoch 2 after epoch 0"),
    (lambda t: t.report(1, 85.0), "in [0, 1]"),
    (lambda t: t.report(1, float("nan")), "finite"),
    (lambda t: t.report(1, 0.5, loss=-1), "negative"),
    (lambda t: t.report(1, 0.5, Bad=1), "metric 'Bad'"),
    (lambda t: t.report(1, 0.5, accuracy=1), "metric 'accuracy'"),
    (lambda t: t.finish(0.5, **{f"m{i}": i for i in range(33)}), "at most 32 metrics"),
    (lambda t: t.report(1.0, 0.5), "integer"),
])
def test_a_call_that_would_break_the_protocol_fails_the_set_up_and_names_it(call, words):
    out = io.StringIO()
    with Trial(dict(TRIAL), out=out) as trial:
        call(trial)
    last = lines(out)[-1]
    assert last["kind"] == "setup"
    assert words in last["error"]
    assert "ProtocolError" in last["error"]


@pytest.mark.parametrize("error, kind", [
    (RuntimeError("CUDA out of memory"), "genome"),
    (FloatingPointError("loss is nan"), "genome"),
    (ModuleNotFoundError("No module named 'torchvision'"), "setup"),
    (FileNotFoundError("train-images-idx3-ubyte"), "setup"),
])
def test_an_exception_in_the_block_becomes_the_right_failure(error, kind, capsys):
    out = io.StringIO()
    with Trial(dict(TRIAL), out=out) as trial:
        trial.report(1, 0.5)
        raise error
    assert lines(out)[-1] == {"error": f"{type(error).__name__}: {error}", "kind": kind}
    assert "Traceback" in capsys.readouterr().err  # for the worker's log


def test_no_finish_is_a_set_up_failure_and_nothing_follows_the_end():
    out = io.StringIO()
    with Trial(dict(TRIAL), out=out):
        pass
    assert lines(out) == [{"error": "the training ended without trial.finish(accuracy)", "kind": "setup"}]
    out = io.StringIO()
    with Trial(dict(TRIAL), out=out) as trial:
        trial.fail("does not fit", kind="genome")
        with pytest.raises(ProtocolError, match="already finished"):
            trial.report(1, 0.5)
    assert lines(out) == [{"error": "does not fit", "kind": "genome"}]


def test_resume_and_checkpoints(tmp_path):
    state = tmp_path / "resume"
    state.write_text("after epoch 2")
    ckpt = tmp_path / "checkpoint"
    out = io.StringIO()
    trial_dict = dict(TRIAL, epochs=5, resume_from=str(state), resume_epoch=2, checkpoint_path=str(ckpt),
                      checkpoint_every=2)
    with Trial(trial_dict, out=out) as trial:
        assert trial.start_epoch == 3 and list(trial.epoch_range()) == [3, 4, 5]
        assert [trial.checkpoint_due(e) for e in (3, 4, 5)] == [False, True, False]
        with pytest.raises(ProtocolError, match="epoch 2"):
            trial.report(1, 0.5)
        trial.report(3, 0.5)
        trial.report(4, 0.6)
        with trial.checkpoint(4) as f:
            f.write(b"after epoch 4")
        trial.finish(0.6)
    assert ckpt.read_bytes() == b"after epoch 4"
    assert not os.path.exists(str(ckpt) + ".partial")
    assert [line.get("epoch", line.get("checkpoint")) for line in lines(out)[:3]] == [3, 4, 4]
    assert lines(out)[2] == {"checkpoint": 4}
    # A state the program cannot use: it trains from epoch 1, and says why.
    out = io.StringIO()
    with Trial(dict(trial_dict), out=out) as trial:
        trial.discard_checkpoint("another trial's")
        assert trial.start_epoch == 1
        trial.report(1, 0.5)
        trial.finish(0.5)


def run_program(tmp_path, body, trial=None, wait=True):
    program = tmp_path / "program.py"
    program.write_text(f"import sys\nsys.path.insert(0, {os.path.join(SOURCE, 'python')!r})\n"
                       + textwrap.dedent(body))
    process = subprocess.Popen([sys.executable, str(program)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    process.stdin.write(json.dumps(trial or TRIAL))
    process.stdin.close()
    if not wait:
        return process
    stdout, stderr = process.stdout.read(), process.stderr.read()
    process.wait(timeout=60)
    return process.returncode, stdout, stderr


def test_a_program_s_prints_go_to_stderr_never_into_the_protocol(tmp_path):
    code, stdout, stderr = run_program(tmp_path, """\
        from deepevolve.trainer import Trial
        print("starting")
        with Trial() as trial:
            print({"epoch": 99, "not": "a protocol line"})
            trial.report(1, 0.5)
            print("done", flush=True)
            trial.finish(0.5)
        """)
    assert code == 0, stderr
    # What it printed before the trial stays where it was (the worker skips such lines).
    assert stdout.splitlines() == ["starting", '{"epoch": 1, "val_accuracy": 0.5}', '{"accuracy": 0.5}']
    assert "{'epoch': 99" in stderr and "done" in stderr


def test_sigterm_sets_should_stop_and_check_ends_the_program_quietly(tmp_path):
    process = run_program(tmp_path, """\
        import time
        from deepevolve.trainer import Trial
        with Trial() as trial:
            trial.report(1, 0.5)
            while not trial.should_stop:
                time.sleep(0.01)
            print("stopping", flush=True)
            trial.check()
            trial.finish(0.9)   # never reached
        """, trial=dict(TRIAL, epochs=10), wait=False)
    first = process.stdout.readline()
    assert json.loads(first) == {"epoch": 1, "val_accuracy": 0.5}
    process.send_signal(signal.SIGTERM)
    rest = process.stdout.read()
    assert process.wait(timeout=30) == 0
    assert rest == ""  # no final line, no error: the worker has the last epoch's result
    assert "stopping" in process.stderr.read()


def test_a_program_started_by_hand_says_what_it_needs(tmp_path):
    program = tmp_path / "p.py"
    program.write_text(f"import sys\nsys.path.insert(0, {os.path.join(SOURCE, 'python')!r})\n"
                       "from deepevolve.trainer import Trial\nTrial()\n")
    result = subprocess.run([sys.executable, str(program)], stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    assert "no trial" in result.stderr and "stdin" in result.stderr
