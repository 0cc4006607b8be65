#include "worker/daemon/program_trainer.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/subprocess.h"
#include "genome/gene_json.h"
#include "genome/genome.h"
#include "genome/metrics.h"
#include "genome/space.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

extern char** environ;

namespace deepevolve::worker {
namespace {

using Json = nlohmann::json;

// A child's stdout or stderr, read a chunk at a time and cut into lines.
struct Stream {
  int fd = -1;
  std::string pending;
  bool open() const { return fd >= 0; }
  void Close() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

// The text of a stdout line for a message: at most 200 bytes, printable.
std::string Excerpt(absl::string_view line) {
  std::string out(line.substr(0, 200));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return line.size() > 200 ? absl::StrCat(out, "...") : out;
}

// A value from a program's line, for a message: a number or short text as it is, a
// container by its kind and size. Never `dump()`: that recurses once per nesting level,
// and a line may nest as deep as its megabyte allows.
std::string Describe(const Json& v) {
  if (v.is_array()) return absl::StrCat("an array of ", v.size());
  if (v.is_object()) return absl::StrCat("an object of ", v.size(), " keys");
  return Excerpt(v.dump());  // a scalar: no recursion
}

// How deep a stdout line's JSON may nest: the protocol's lines are flat objects.
constexpr int kMaxProgramJsonDepth = 16;

// A number in [0, 1] at `key` of an object line, or an error naming it.
absl::StatusOr<double> Fraction(const Json& line, const char* key) {
  const Json& v = line.at(key);
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0 ||
      v.get<double>() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", key, "\" must be a number in [0, 1], got ", Describe(v)));
  }
  return v.get<double>();
}

// A line's optional "metrics": an object of at most genome::kMaxMetrics numbers by
// metric name (genome/metrics.h).
absl::StatusOr<genome::Metrics> MetricsOf(const Json& line) {
  genome::Metrics out;
  if (!line.contains("metrics")) return out;
  const Json& m = line.at("metrics");
  if (!m.is_object() || m.size() > static_cast<size_t>(genome::kMaxMetrics)) {
    return absl::InvalidArgumentError(absl::StrCat("\"metrics\" that is not an object of at most ",
                                                   genome::kMaxMetrics, " numbers, got ",
                                                   Describe(m)));
  }
  for (const auto& [name, value] : m.items()) {
    if (!value.is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric \"", Excerpt(name), "\" that is not a number: ", Describe(value)));
    }
    out[name] = value.get<double>();
  }
  if (absl::Status s = genome::CheckMetrics(out); !s.ok()) {
    return absl::InvalidArgumentError(s.message());
  }
  return out;
}

absl::StatusOr<std::string> ReadProgramFile(const std::string& workdir, const std::string& path,
                                            int64_t max_bytes, absl::string_view what);

// The running program: a shell in a process group of its own, its pipes, and the
// watchdog's pipe.
class Child {
 public:
  // Starts `command` in `dir` with `env`; stdin gets `input`.
  static absl::StatusOr<Child> Start(const std::string& command, const std::string& dir,
                                     const std::vector<std::string>& env,
                                     const std::string& input) {
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, watch[2] = {-1, -1};
    const auto close_all = [&](std::initializer_list<int> fds) {
      for (int fd : fds) {
        if (fd >= 0) close(fd);
      }
    };
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 ||
        pipe2(watch, O_CLOEXEC) != 0) {
      const int error = errno;
      close_all({in[0], in[1], out[0], out[1], err[0], err[1], watch[0], watch[1]});
      return absl::InternalError(absl::StrCat("pipe: ", std::strerror(error)));
    }
    // The watchdog (audit F5): a shell in the program's group waits on a pipe whose
    // only writer is this worker, and kills the whole group when it reads its end — so
    // a program dies with its worker, even one killed by SIGKILL while the program
    // writes nothing. The program does not see the pipe, and its first line stays line 1.
    SpawnOptions options;
    options.dir = dir;
    options.env = env;
    options.fds = {
        {STDIN_FILENO, in[0]}, {STDOUT_FILENO, out[1]}, {STDERR_FILENO, err[1]}, {3, watch[0]}};
    // A stop ends it at once and a dead worker's program dies at its next line.
    options.own_group = true;
    absl::StatusOr<Subprocess> shell = Subprocess::Spawn(
        {"/bin/sh", "-c",
         absl::StrCat("(read x <&3; kill -9 0) </dev/null >/dev/null 2>&1 & exec 3<&-; ", command)},
        options);
    close_all({in[0], out[1], err[1], watch[0]});
    if (!shell.ok()) {
      close_all({in[1], out[0], err[0], watch[1]});
      return shell.status();
    }
    Child child(*std::move(shell));
    child.watch_fd_ = watch[1];
    child.out_.fd = out[0];
    child.err_.fd = err[0];
    // The trial is a few KiB, below a pipe's buffer: this never blocks. A program that
    // exits without reading it makes the write fail (EPIPE), which is its business.
    for (size_t done = 0; done < input.size();) {
      const ssize_t n = write(in[1], input.data() + done, input.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    close(in[1]);
    return child;
  }

  Child(Child&& other) noexcept
      : process_(std::move(other.process_)),
        watch_fd_(other.watch_fd_),
        out_(other.out_),
        err_(other.err_) {
    other.watch_fd_ = other.out_.fd = other.err_.fd = -1;
  }
  Child& operator=(Child&&) = delete;
  ~Child() {
    out_.Close();
    err_.Close();
    Kill(absl::ZeroDuration());
    // The watchdog reads its end and ends whatever the program left in its group.
    if (watch_fd_ >= 0) close(watch_fd_);
  }

  Stream& out() { return out_; }
  Stream& err() { return err_; }

  // Its wait status once it has exited (reaped), nullopt while it runs.
  std::optional<int> Poll() { return process_.Poll(); }
  // Waits up to `timeout` for it to exit.
  std::optional<int> Wait(absl::Duration timeout) { return process_.Wait(timeout); }
  // SIGTERM to the whole group, SIGKILL after `grace`; returns its wait status once it
  // is reaped, and what it left in its group is killed.
  int Kill(absl::Duration grace) { return process_.Stop(grace); }

 private:
  explicit Child(Subprocess process) : process_(std::move(process)) {}
  Subprocess process_;
  int watch_fd_ = -1;  // the watchdog pipe's only writer
  Stream out_, err_;
};

// One trial of a program: reads its output, talks to the master through `progress`, and
// decides what the trial produced.
class ProgramRun {
 public:
  ProgramRun(const TrainerProgram& program, const v1::Assignment& assignment,
             const ProgramOptions& options, const ProgressFn& progress)
      : program_(program), assignment_(assignment), options_(options), progress_(progress) {}

  // The program was offered a checkpoint to write at `path` (in `workdir`) and, with
  // `resume_epoch` > 0, one to resume from after that epoch.
  void OfferCheckpoints(std::string workdir, std::string path, int resume_epoch) {
    workdir_ = std::move(workdir);
    checkpoint_path_ = std::move(path);
    last_epoch_ = resumed_from_ = resume_epoch;
  }

  absl::StatusOr<genome::TrialResult> Run(Child& child) {
    start_ = absl::Now();
    const absl::Time deadline = start_ + options_.time_budget;
    while (child.out().open() || child.err().open()) {
      pollfd fds[2];
      int n = 0;
      for (Stream* s : {&child.out(), &child.err()}) {
        if (s->open()) fds[n++] = {s->fd, POLLIN, 0};
      }
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return OverBudget(child);
      // Wakes at least every kProgramPollInterval, so that a stop or a cancel reaches a
      // program that writes nothing (hung, or in a long epoch) within that.
      const int ready = poll(
          fds, n,
          static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1,
                                             absl::ToInt64Milliseconds(kProgramPollInterval))));
      if (ready < 0 && errno != EINTR) {
        return absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
      }
      if (absl::Now() - last_asked_ >= kProgramPollInterval) {
        Ask();
        if (stop_.has_value()) return Stopped(child);
      }
      for (Stream* s : {&child.err(), &child.out()}) {
        if (!s->open()) continue;
        const bool is_out = s == &child.out();
        for (int i = 0; i < n; ++i) {
          if (fds[i].fd != s->fd || fds[i].revents == 0) continue;
          char buffer[65536];
          const ssize_t got = read(s->fd, buffer, sizeof(buffer));
          if (got <= 0) {
            if (got < 0 && errno == EINTR) continue;
            if (!s->pending.empty()) {
              std::string rest = std::move(s->pending);
              s->pending.clear();
              if (is_out) {
                if (Line(rest); stop_.has_value()) return Stopped(child);
              } else {
                ErrLine(rest);
              }
            }
            s->Close();
            continue;
          }
          s->pending.append(buffer, static_cast<size_t>(got));
          size_t from = 0;
          for (size_t nl; (nl = s->pending.find('\n', from)) != std::string::npos; from = nl + 1) {
            const absl::string_view line(s->pending.data() + from, nl - from);
            if (!is_out) {
              ErrLine(line);
              continue;
            }
            Line(line);
            if (stop_.has_value()) return Stopped(child);
          }
          s->pending.erase(0, from);
          if (is_out && s->pending.size() > kMaxProgramLineBytes) {
            Violation(
                absl::StrCat("wrote a line over ", kMaxProgramLineBytes >> 20, " MiB on stdout"));
            return Stopped(child);
          }
          if (!is_out && s->pending.size() > 65536) {
            ErrLine(s->pending);
            s->pending.clear();
          }
        }
      }
    }
    // Both pipes closed: the program is ending (or detached itself from them). Still
    // asked between waits, as above.
    while (!child
                .Wait(std::min(kProgramPollInterval,
                               std::max(absl::ZeroDuration(), deadline - absl::Now())))
                .has_value()) {
      if (absl::Now() >= deadline) return OverBudget(child);
      Ask();
      if (stop_.has_value()) return Stopped(child);
    }
    return Ended(child.Kill(absl::ZeroDuration()));  // and its leftovers
  }

 private:
  // Where the trial went: stopped by the master, cancelled, or broke the protocol.
  enum class Stop { kPruned, kCancelled, kViolation };

  double Elapsed() const { return absl::ToDoubleSeconds(absl::Now() - start_); }
  std::string Tail() const {
    if (stderr_tail_.empty()) return "(it wrote nothing on stderr)";
    return absl::StrCat("its stderr ends:\n", absl::StrJoin(stderr_tail_, "\n"));
  }
  std::string Who() const { return absl::StrCat("trainer ", program_.name); }

  void ErrLine(absl::string_view line) {
    line = absl::StripTrailingAsciiWhitespace(line);
    std::string text(line.substr(0, 1000));
    spdlog::info("[{} lease {}] {}", program_.name, assignment_.lease_id(), text);
    stderr_tail_.push_back(std::move(text));
    if (stderr_tail_.size() > kProgramStderrTailLines) stderr_tail_.pop_front();
  }

  // Asks whether to go on while no epoch line came (EpochProgress with epoch 0).
  void Ask() {
    last_asked_ = absl::Now();
    switch (progress_({0,
                       assignment_.task().epochs(),
                       0,
                       last_val_,
                       Elapsed(),
                       0,
                       {},
                       resumed_from_,
                       resume_error_,
                       {}})) {
      case AfterEpoch::kContinue:
        return;
      case AfterEpoch::kStop:
        // The pruner's stop: the result is the last epoch's. With no epoch yet there is
        // none, and the master stops a genome only at an epoch.
        if (epoch_lines_ > 0) stop_ = Stop::kPruned;
        return;
      case AfterEpoch::kCancel:
        stop_ = Stop::kCancelled;
        return;
    }
  }

  void Violation(std::string what) {
    violation_ = std::move(what);
    stop_ = Stop::kViolation;
  }

  // One stdout line. Whatever it holds, a line the protocol does not allow is a
  // violation, never an exception out of the worker.
  void Line(absl::string_view raw) {
    try {
      ParseLine(raw);
    } catch (const std::exception& e) {
      Violation(absl::StrCat("wrote a line the protocol does not allow (", e.what(),
                             "): ", Excerpt(raw)));
    }
  }

  void ParseLine(absl::string_view raw) {
    const absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty()) return;
    if (line.front() != '{') {
      if (ignored_++ < 10) {
        spdlog::warn("[{} lease {}] ignored a stdout line that is not a JSON object: {}",
                     program_.name, assignment_.lease_id(), Excerpt(line));
      }
      return;
    }
    bool too_deep = false;
    Json j = Json::parse(
        line,
        [&too_deep](int depth, Json::parse_event_t, Json&) {
          too_deep |= depth > kMaxProgramJsonDepth;
          return true;
        },
        /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return Violation(absl::StrCat("wrote malformed JSON on stdout: ", Excerpt(line)));
    }
    if (too_deep) {
      return Violation(absl::StrCat("wrote JSON nested deeper than ", kMaxProgramJsonDepth,
                                    " levels on stdout: ", Excerpt(line)));
    }
    if (final_.has_value() || declared_error_.has_value()) {
      return Violation(absl::StrCat("wrote on stdout after its final line: ", Excerpt(line)));
    }
    if (j.contains("error")) {
      const Json& e = j["error"];
      const bool kind_ok = !j.contains("kind") || j["kind"].is_string();
      const std::string kind = kind_ok ? j.value("kind", std::string("genome")) : "";
      if (!e.is_string() || (kind != "genome" && kind != "setup")) {
        return Violation(absl::StrCat(
            "wrote an error line that is not {\"error\": text, \"kind\": \"genome\" or "
            "\"setup\"}: ",
            Excerpt(line)));
      }
      declared_error_ = e.get<std::string>().substr(0, 2000);
      declared_setup_ = kind == "setup";
      return;
    }
    if (j.contains("accuracy")) {
      absl::StatusOr<double> accuracy = Fraction(j, "accuracy");
      absl::StatusOr<double> test =
          j.contains("test_accuracy") ? Fraction(j, "test_accuracy") : absl::StatusOr<double>(0.0);
      if (!accuracy.ok() || !test.ok()) {
        return Violation(absl::StrCat(
            "wrote a final line with ",
            (!accuracy.ok() ? accuracy.status() : test.status()).message(), ": ", Excerpt(line)));
      }
      absl::StatusOr<genome::Metrics> metrics = MetricsOf(j);
      if (!metrics.ok()) {
        return Violation(absl::StrCat("wrote a final line with ", metrics.status().message(), ": ",
                                      Excerpt(line)));
      }
      final_ = genome::TrialResult{};
      final_->accuracy = *accuracy;
      final_->test_accuracy = *test;
      // What it measured on the last epoch, unless the final line says otherwise.
      final_->metrics = last_metrics_;
      for (auto& [name, value] : *metrics) final_->metrics[name] = value;
      return;
    }
    if (j.contains("epoch")) return Epoch(j, line);
    if (j.contains("checkpoint")) return CheckpointLine(j, line);
    if (ignored_++ < 10) {
      spdlog::warn(
          "[{} lease {}] ignored a stdout object with neither epoch, accuracy nor error: {}",
          program_.name, assignment_.lease_id(), Excerpt(line));
    }
  }

  void Epoch(const Json& j, absl::string_view line) {
    const int epochs = assignment_.task().epochs();
    const Json& e = j["epoch"];
    if (resumed_from_ > 0 && epoch_lines_ == 0 && e.is_number_integer() && e.get<int64_t>() == 1) {
      // Offered a checkpoint, it began at the first epoch: it did not resume.
      resume_error_ = absl::StrCat(Who(),
                                   " began at epoch 1: it did not resume from the "
                                   "checkpoint after epoch ",
                                   resumed_from_);
      spdlog::warn("[{} lease {}] {}", program_.name, assignment_.lease_id(), resume_error_);
      last_epoch_ = resumed_from_ = 0;
    }
    // Every epoch, in order: a skipped one would skip a pruner's rung.
    if (!e.is_number_integer() || e.get<int64_t>() != last_epoch_ + 1 ||
        e.get<int64_t>() > epochs) {
      return Violation(absl::StrCat("wrote an epoch line whose \"epoch\" is not ", last_epoch_ + 1,
                                    " (epochs go 1, 2, ... to ", epochs, "): ", Excerpt(line)));
    }
    if (!j.contains("val_accuracy")) {
      return Violation(
          absl::StrCat("wrote an epoch line without \"val_accuracy\": ", Excerpt(line)));
    }
    absl::StatusOr<double> val = Fraction(j, "val_accuracy");
    if (!val.ok()) {
      return Violation(
          absl::StrCat("wrote an epoch line with ", val.status().message(), ": ", Excerpt(line)));
    }
    absl::StatusOr<genome::Metrics> metrics = MetricsOf(j);
    if (!metrics.ok()) {
      return Violation(absl::StrCat("wrote an epoch line with ", metrics.status().message(), ": ",
                                    Excerpt(line)));
    }
    double loss = 0;
    if (j.contains("loss")) {
      const Json& l = j["loss"];
      if (!l.is_number() || !std::isfinite(l.get<double>()) || l.get<double>() < 0) {
        // A diverged training: the genome's failure, as the built-in trainer's NaN loss.
        diverged_ = absl::StrCat("its loss at epoch ", e.get<int64_t>(), " is ", Describe(l));
        return;
      }
      loss = l.get<double>();
    }
    last_epoch_ = static_cast<int>(e.get<int64_t>());
    ++epoch_lines_;
    last_loss_ = loss;
    last_val_ = *val;
    for (auto& [name, value] : *metrics) last_metrics_[name] = value;
    last_test_ = 0;
    if (j.contains("test_accuracy")) {
      if (absl::StatusOr<double> t = Fraction(j, "test_accuracy"); t.ok()) last_test_ = *t;
    }
    Progress({});
  }

  // Tells the master of the last epoch, with its checkpoint when given, and takes its
  // answer.
  void Progress(std::string checkpoint) {
    switch (progress_({last_epoch_, assignment_.task().epochs(), last_loss_, last_val_, Elapsed(),
                       0, last_metrics_, resumed_from_, resume_error_, std::move(checkpoint)})) {
      case AfterEpoch::kContinue:
        return;
      case AfterEpoch::kStop:
        stop_ = Stop::kPruned;
        return;
      case AfterEpoch::kCancel:
        stop_ = Stop::kCancelled;
        return;
    }
  }

  // {"checkpoint": N}: the state after epoch N (its last epoch line's) is at
  // checkpoint_path. It goes to the master with that epoch's progress; a file that
  // cannot be read is not sent, and the worker's log says why.
  void CheckpointLine(const Json& j, absl::string_view line) {
    const Json& c = j["checkpoint"];
    if (!c.is_number_integer() || epoch_lines_ == 0 || c.get<int64_t>() != last_epoch_) {
      return Violation(absl::StrCat(
          "wrote a checkpoint line whose \"checkpoint\" is not its last "
          "epoch line's epoch (",
          epoch_lines_ == 0 ? "none yet" : absl::StrCat(last_epoch_), "): ", Excerpt(line)));
    }
    if (checkpoint_path_.empty()) {
      spdlog::warn(
          "[{} lease {}] wrote a checkpoint line, but this search takes no checkpoints "
          "(none was offered): ignored",
          program_.name, assignment_.lease_id());
      return;
    }
    absl::StatusOr<std::string> bytes =
        ReadProgramFile(workdir_, checkpoint_path_, kMaxProgramCheckpointBytes, "a checkpoint");
    if (!bytes.ok() || bytes->empty()) {
      spdlog::warn("[{} lease {}] the checkpoint after epoch {} is not sent: {}", program_.name,
                   assignment_.lease_id(), last_epoch_,
                   bytes.ok() ? "the file is empty" : std::string(bytes.status().message()));
      return;
    }
    Progress(*std::move(bytes));
  }

 public:
  // A program's whole stdout, read as Run reads it line by line, with no process: the
  // trial's outcome as if the program then exited with status 0.
  absl::StatusOr<genome::TrialResult> Read(absl::string_view output) {
    start_ = absl::Now();
    while (!output.empty()) {
      const size_t nl = output.find('\n');
      const absl::string_view line = output.substr(0, nl);
      if (line.size() > kMaxProgramLineBytes) {
        Violation(absl::StrCat("wrote a line over ", kMaxProgramLineBytes >> 20, " MiB on stdout"));
        return StopResult();
      }
      Line(line);
      if (stop_.has_value()) return StopResult();
      output.remove_prefix(nl == absl::string_view::npos ? output.size() : nl + 1);
    }
    return Ended(0);
  }

 private:
  absl::StatusOr<genome::TrialResult> Stopped(Child& child) {
    child.Kill(options_.grace);
    return StopResult();
  }

  absl::StatusOr<genome::TrialResult> StopResult() {
    switch (*stop_) {
      case Stop::kCancelled:
        return absl::CancelledError(absl::StrCat(Who(), ": the master asked to stop"));
      case Stop::kViolation:
        return absl::FailedPreconditionError(
            absl::StrCat(Who(), " broke the protocol: it ", violation_, "; ", Tail()));
      case Stop::kPruned:
        break;
    }
    genome::TrialResult r;
    r.accuracy = last_val_;
    r.test_accuracy = last_test_;
    r.metrics = last_metrics_;
    r.epochs_run = last_epoch_;
    r.train_seconds = Elapsed();
    return r;
  }

  absl::StatusOr<genome::TrialResult> OverBudget(Child& child) {
    child.Kill(options_.grace);
    return Failed(absl::StrCat(Who(), " ran past the trial's time budget of ",
                               absl::FormatDuration(options_.time_budget), " and was killed; ",
                               Tail()));
  }

  genome::TrialResult Failed(std::string why) const {
    genome::TrialResult r;
    r.ok = false;
    r.error = std::move(why);
    if (r.error.size() > 4000) r.error = absl::StrCat(r.error.substr(0, 3990), " ...");
    r.epochs_run = last_epoch_;
    r.train_seconds = Elapsed();
    return r;
  }

  absl::StatusOr<genome::TrialResult> Ended(int status) {
    if (WIFEXITED(status) && (WEXITSTATUS(status) == 126 || WEXITSTATUS(status) == 127) &&
        epoch_lines_ == 0 && !final_.has_value()) {
      return absl::FailedPreconditionError(
          absl::StrCat(Who(), ": cannot run its command (", program_.command, "): the shell ",
                       Subprocess::DescribeExit(status), "; ", Tail()));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return Failed(absl::StrCat(Who(), " ", Subprocess::DescribeExit(status), "; ", Tail()));
    }
    if (declared_error_.has_value()) {
      if (declared_setup_) {
        return absl::FailedPreconditionError(absl::StrCat(Who(), ": ", *declared_error_));
      }
      return Failed(absl::StrCat(Who(), ": ", *declared_error_));
    }
    if (!diverged_.empty()) return Failed(absl::StrCat(Who(), ": ", diverged_));
    if (!final_.has_value()) {
      return absl::FailedPreconditionError(absl::StrCat(
          Who(), " broke the protocol: it exited without a final {\"accuracy\": ...} line; ",
          Tail()));
    }
    genome::TrialResult r = *final_;
    r.epochs_run = last_epoch_ > 0 ? last_epoch_ : assignment_.task().epochs();
    r.train_seconds = Elapsed();
    return r;
  }

  const TrainerProgram& program_;
  const v1::Assignment& assignment_;
  const ProgramOptions& options_;
  const ProgressFn& progress_;
  absl::Time start_;
  absl::Time last_asked_ = absl::Now();
  std::deque<std::string> stderr_tail_;
  int ignored_ = 0;
  int last_epoch_ = 0;   // the last epoch line's (or the one it resumes after)
  int epoch_lines_ = 0;  // epoch lines this run
  double last_val_ = 0, last_test_ = 0, last_loss_ = 0;
  // Checkpoints: where the program writes them, and the epoch it resumed after (0: the
  // first) or why it did not.
  std::string workdir_, checkpoint_path_;
  int resumed_from_ = 0;
  std::string resume_error_;
  genome::Metrics last_metrics_;  // the latest value of each a line named
  std::optional<genome::TrialResult> final_;
  std::optional<std::string> declared_error_;
  bool declared_setup_ = false;
  std::string diverged_;
  std::optional<Stop> stop_;
  std::string violation_;
};

// Removes what directory `fd` holds (it closes `fd`), then nothing else: every name is
// opened relative to its parent with O_NOFOLLOW, so a program (or a process that left
// its group) that swaps a subdirectory for a link mid-walk makes the walk unlink the
// link, never what it points to. A subdirectory set to mode 000 is made 0700 first.
// Bounded depth; what cannot be removed stays.
void RemoveContents(int fd, int depth) {
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    close(fd);
    return;
  }
  std::vector<std::string> names;
  while (const dirent* e = readdir(d)) {
    const absl::string_view name(e->d_name);
    if (name != "." && name != "..") names.emplace_back(name);
  }
  for (const std::string& name : names) {
    if (unlinkat(fd, name.c_str(), 0) == 0 || errno != EISDIR) continue;
    if (depth < 64) {
      const int sub = openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0 && errno == EACCES) {
        // A directory the program made unreadable: ours to open again.
        if (fchmodat(fd, name.c_str(), 0700, AT_SYMLINK_NOFOLLOW) == 0) {
          const int again =
              openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (again >= 0) RemoveContents(again, depth + 1);
        }
      } else if (sub >= 0) {
        RemoveContents(sub, depth + 1);
      }
    }
    unlinkat(fd, name.c_str(), AT_REMOVEDIR);
  }
  closedir(d);  // closes fd
}

// Removes `dir` and everything in it, not following links. POSIX calls rather than
// std::filesystem::remove_all: PyTorch's wheels (2.5 on) export the copies of
// std::filesystem::recursive_directory_iterator they link statically (pytorch/pytorch
// issue 133437), and a worker linked against one may bind remove_all's walk to them. On
// the GPU machine such a worker crashed removing every trial directory that held a file.
void RemoveTree(const std::string& dir) {
  constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  int fd = open(dir.c_str(), kFlags);
  if (fd < 0 && errno == EACCES &&
      fchmodat(AT_FDCWD, dir.c_str(), 0700, AT_SYMLINK_NOFOLLOW) == 0) {
    fd = open(dir.c_str(), kFlags);
  }
  if (fd >= 0) RemoveContents(fd, 0);
  rmdir(dir.c_str());
}

// A file a program left at `path` in its working directory `workdir` (its model, a
// checkpoint): a regular file of the workdir's file system, opened without following a
// link (a program must not make the worker upload a file it can read and the program
// cannot: a key, /proc/self/environ), read through the descriptor it was checked on,
// and at most `max_bytes` (a /proc file says 0 bytes and never ends). NOT_FOUND when the
// program wrote none; FAILED_PRECONDITION saying why the file is refused.
absl::StatusOr<std::string> ReadProgramFile(const std::string& workdir, const std::string& path,
                                            int64_t max_bytes, absl::string_view what) {
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError("no model file");
    if (errno == ELOOP) return absl::FailedPreconditionError("it is a symbolic link");
    return absl::FailedPreconditionError(absl::StrCat("cannot open it: ", std::strerror(errno)));
  }
  struct CloseFd {
    int fd;
    ~CloseFd() { close(fd); }
  } close_fd{fd};
  struct stat file, dir;
  if (fstat(fd, &file) != 0 || stat(workdir.c_str(), &dir) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("cannot stat it: ", std::strerror(errno)));
  }
  if (!S_ISREG(file.st_mode)) return absl::FailedPreconditionError("it is not a regular file");
  if (file.st_dev != dir.st_dev) {
    return absl::FailedPreconditionError("it is not on the working directory's file system");
  }
  if (file.st_size > max_bytes) {
    return absl::FailedPreconditionError(absl::StrCat("it is ", file.st_size >> 20,
                                                      " MiB, over the ", max_bytes >> 20, " MiB ",
                                                      what, " may be"));
  }
  std::string bytes;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = read(fd, buffer, sizeof(buffer));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      return absl::FailedPreconditionError(absl::StrCat("cannot read it: ", std::strerror(errno)));
    }
    if (got == 0) break;
    bytes.append(buffer, static_cast<size_t>(got));
    if (bytes.size() > static_cast<size_t>(max_bytes)) {
      return absl::FailedPreconditionError(
          absl::StrCat("it grew past the ", max_bytes >> 20, " MiB ", what, " may be while read"));
    }
  }
  return bytes;
}

// The environment variable for gene `name`: DEEPEVOLVE_GENE_ and the name upper-cased.
std::string GeneVariable(absl::string_view name) {
  return absl::StrCat("DEEPEVOLVE_GENE_", absl::AsciiStrToUpper(name));
}

}  // namespace

absl::StatusOr<genome::TrialResult> ReadProgramOutput(absl::string_view output,
                                                      const v1::Assignment& assignment,
                                                      const ProgressFn& progress) {
  const TrainerProgram program{assignment.task().trainer(), ""};
  const ProgramOptions options;
  ProgramRun run(program, assignment, options, progress);
  return run.Read(output);
}

std::string TrialJson(const TrainerProgram& program, const v1::Assignment& a,
                      const ProgramOptions& options, const std::string& workdir,
                      const genome::Checkpoints* checkpoints) {
  Json genes = Json::object();
  for (int i = 0; i < a.gene_names_size() && i < a.genome().values_size(); ++i) {
    const v1::GeneValue& v = a.genome().values(i);
    // An inactive gene is no part of the genome.
    if (v.value_case() != v1::GeneValue::VALUE_NOT_SET)
      genes[a.gene_names(i)] = genome::GeneValueToJson(v);
  }

  const bool cuda = absl::StartsWith(options.device, "cuda");
  Json trial = {{"trainer", program.name},
                {"search_id", a.search_id()},
                {"genome_id", a.genome().id()},
                {"genome_hash", a.genome().hash()},
                {"genes", genes},
                {"seed", a.seed() & 0x7fffffff},
                {"epochs", a.task().epochs()},
                {"dataset", a.task().dataset()},
                {"device", cuda ? "cuda:0" : "cpu"},
                {"threads", options.threads},
                {"data_dirs", options.data_dirs},
                {"model_path", absl::StrCat(workdir, "/model")},
                {"workdir", workdir}};
  if (checkpoints != nullptr) {
    trial["checkpoint_path"] = absl::StrCat(workdir, "/checkpoint");
    trial["checkpoint_every"] = checkpoints->every_epochs;
    if (!checkpoints->resume.empty()) {
      trial["resume_from"] = absl::StrCat(workdir, "/resume");
      trial["resume_epoch"] = a.resume_epoch();
    }
  }
  return trial.dump();
}

absl::StatusOr<genome::TrialResult> RunTrainerProgram(
    const TrainerProgram& program, const v1::Assignment& assignment, const ProgramOptions& options,
    const ProgressFn& progress, std::string* model, const genome::Checkpoints* checkpoints) {
  static const bool sigpipe_ignored = [] { return signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
  (void)sigpipe_ignored;
  std::string pattern = absl::StrCat(options.work_root, "/deepevolve-trial-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot make a working directory in ", options.work_root, ": ", std::strerror(errno)));
  }
  const std::string workdir = pattern;
  struct RemoveDir {
    std::string dir;
    ~RemoveDir() { RemoveTree(dir); }
  } remove_dir{workdir};

  const std::string trial = TrialJson(program, assignment, options, workdir, checkpoints);
  const Json parsed = Json::parse(trial);
  if (parsed.contains("resume_from")) {
    // The state to resume from, for the program alone to read.
    const std::string path = parsed["resume_from"].get<std::string>();
    std::ofstream out(path, std::ios::binary);
    out.write(checkpoints->resume.data(), static_cast<std::streamsize>(checkpoints->resume.size()));
    if (!out.flush()) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot write the checkpoint to resume from at ", path));
    }
  }
  // The worker's environment, less what the trial sets.
  std::vector<std::string> env;
  const std::string threads = absl::StrCat(options.threads);
  std::vector<std::pair<std::string, std::string>> set = {
      {"DEEPEVOLVE_TRIAL", trial},
      {"DEEPEVOLVE_TRAINER", program.name},
      {"DEEPEVOLVE_SEED", absl::StrCat(parsed["seed"].get<int64_t>())},
      {"DEEPEVOLVE_EPOCHS", absl::StrCat(assignment.task().epochs())},
      {"DEEPEVOLVE_DATASET", assignment.task().dataset()},
      {"DEEPEVOLVE_DEVICE", parsed["device"].get<std::string>()},
      {"DEEPEVOLVE_THREADS", threads},
      {"DEEPEVOLVE_DATA_DIRS", absl::StrJoin(options.data_dirs, ":")},
      {"DEEPEVOLVE_MODEL_PATH", parsed["model_path"].get<std::string>()},
      {"DEEPEVOLVE_WORKDIR", workdir},
      {"DEEPEVOLVE_CHECKPOINT_PATH", parsed.value("checkpoint_path", std::string())},
      {"DEEPEVOLVE_RESUME_FROM", parsed.value("resume_from", std::string())},
      {"DEEPEVOLVE_RESUME_EPOCH", absl::StrCat(parsed.value("resume_epoch", 0))},
      {"OMP_NUM_THREADS", threads},
      {"MKL_NUM_THREADS", threads},
      {"OPENBLAS_NUM_THREADS", threads},
      {"CUDA_VISIBLE_DEVICES",
       absl::StartsWith(options.device, "cuda:") ? options.device.substr(5) : ""}};
  for (const auto& [name, value] : parsed["genes"].items()) {
    set.emplace_back(GeneVariable(name), genome::GeneJsonText(value));
  }
  for (char** e = environ; *e != nullptr; ++e) {
    const absl::string_view entry(*e);
    const absl::string_view name = entry.substr(0, entry.find('='));
    // The worker's own DEEPEVOLVE_* settings are no part of the trial.
    if (absl::StartsWith(name, "DEEPEVOLVE_")) continue;
    bool replaced = false;
    for (const auto& s : set) replaced |= s.first == name;
    if (!replaced) env.emplace_back(entry);
  }
  for (const auto& [name, value] : set) env.push_back(absl::StrCat(name, "=", value));

  absl::StatusOr<Child> child = Child::Start(program.command, workdir, env, trial + "\n");
  if (!child.ok()) return child.status();
  ProgramRun run(program, assignment, options, progress);
  if (checkpoints != nullptr) {
    run.OfferCheckpoints(workdir, parsed["checkpoint_path"].get<std::string>(),
                         parsed.contains("resume_from") ? assignment.resume_epoch() : 0);
  }
  absl::StatusOr<genome::TrialResult> result = run.Run(*child);
  if (result.ok() && result->ok && model != nullptr) {
    absl::StatusOr<std::string> bytes = ReadProgramFile(
        workdir, parsed["model_path"].get<std::string>(), kMaxProgramModelBytes, "a model");
    if (bytes.ok()) {
      *model = *std::move(bytes);
    } else if (!absl::IsNotFound(bytes.status())) {
      spdlog::warn("{}: its model file is not uploaded: {}", program.name,
                   std::string(bytes.status().message()));
    }
  }
  return result;
}

}  // namespace deepevolve::worker
