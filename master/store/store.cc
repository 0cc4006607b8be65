#include "master/store/store.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace deepevolve::store {
namespace {

// Tables keyed by their primary key are WITHOUT ROWID: one B-tree each, so that a write
// touches one page instead of a table page and an index page.
constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS searches (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  summary BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
  search_id INTEGER NOT NULL REFERENCES searches(id),
  genome_id INTEGER NOT NULL,
  state INTEGER NOT NULL,
  trial BLOB NOT NULL,
  PRIMARY KEY (search_id, genome_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS strategy_ops (
  search_id INTEGER NOT NULL REFERENCES searches(id),
  seq INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  genome_id INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  accuracy REAL NOT NULL,
  pruned INTEGER NOT NULL DEFAULT 0,  -- added later: 0 in rows written before
  PRIMARY KEY (search_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger (
  genome_hash TEXT NOT NULL,
  task_hash TEXT NOT NULL,
  ok INTEGER NOT NULL,
  accuracy REAL NOT NULL,
  test_accuracy REAL NOT NULL,
  train_seconds REAL NOT NULL,
  epochs_run INTEGER NOT NULL,
  error TEXT NOT NULL,
  pruned INTEGER NOT NULL DEFAULT 0,  -- added later: 0 in rows written before
  metrics BLOB NOT NULL DEFAULT x'',  -- added later (a MetricValues): none before
  source TEXT NOT NULL DEFAULT '',  -- added later: where an imported entry came from
  PRIMARY KEY (genome_hash, task_hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,  -- assigned by the master, never reused
  search_id INTEGER NOT NULL,
  event BLOB NOT NULL,
  kind INTEGER NOT NULL DEFAULT 0);  -- added later: 0 in rows written before
CREATE INDEX IF NOT EXISTS events_by_search ON events (search_id, seq);
CREATE TABLE IF NOT EXISTS models (
  search_id INTEGER PRIMARY KEY REFERENCES searches(id),
  genome_id INTEGER NOT NULL,
  data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS ledger_models (
  genome_hash TEXT NOT NULL,
  task_hash TEXT NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (genome_hash, task_hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS finished_searches (
  search_id INTEGER PRIMARY KEY REFERENCES searches(id),
  summary BLOB NOT NULL,  -- the final summary: counts and best trial included
  last_event INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS leaderboards (
  search_id INTEGER NOT NULL REFERENCES searches(id),
  rank INTEGER NOT NULL,
  trial BLOB NOT NULL,
  PRIMARY KEY (search_id, rank)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rankings (
  search_id INTEGER NOT NULL REFERENCES searches(id),
  rank INTEGER NOT NULL,
  genome_id INTEGER NOT NULL,
  PRIMARY KEY (search_id, rank)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL);
)sql";

// `what` names the record (which search's, which genome's); `db` the file.
template <typename Message>
absl::StatusOr<Message> Parse(const std::string& bytes, absl::string_view what,
                              const Database& db) {
  Message m;
  if (!m.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat("corrupt ", what, " record in ", db.path()));
  }
  return m;
}

// Every row of `s`, its first column parsed as a Message.
template <typename Message>
absl::StatusOr<std::vector<Message>> ReadAll(Statement& s, absl::string_view what,
                                             const Database& db) {
  std::vector<Message> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(Message m, Parse<Message>(s.Text(0), what, db));
    out.push_back(std::move(m));
  }
  return out;
}

// Adds `table`.`column` of `type` (with the default the rows written before it take),
// when the table lacks it.
absl::Status AddColumnIfMissing(Database& db, absl::string_view table, absl::string_view column,
                                absl::string_view type = "INTEGER NOT NULL DEFAULT 0") {
  ASSIGN_OR_RETURN(ScopedStatement s, db.Cached("SELECT COUNT(*) FROM pragma_table_info(?) "
                                                "WHERE name = ?"));
  s->Bind(1, std::string(table)).Bind(2, std::string(column));
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (row && s->Int(0) > 0) return absl::OkStatus();
  return db.Exec(absl::StrCat("ALTER TABLE ", table, " ADD COLUMN ", column, " ", type));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path, Durability durability) {
  ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(path, durability));
  RETURN_IF_ERROR(db->Exec(kSchema));
  // A database written before a column existed gains it (CREATE TABLE IF NOT EXISTS
  // leaves an existing table as it was).
  RETURN_IF_ERROR(AddColumnIfMissing(*db, "events", "kind"));
  RETURN_IF_ERROR(AddColumnIfMissing(*db, "strategy_ops", "pruned"));
  RETURN_IF_ERROR(AddColumnIfMissing(*db, "ledger", "metrics", "BLOB NOT NULL DEFAULT x''"));
  RETURN_IF_ERROR(AddColumnIfMissing(*db, "ledger", "pruned"));
  RETURN_IF_ERROR(AddColumnIfMissing(*db, "ledger", "source", "TEXT NOT NULL DEFAULT ''"));
  return std::unique_ptr<Store>(new Store(std::move(db)));
}

absl::StatusOr<int64_t> Store::InsertSearch(const v1::SearchSummary& summary) {
  ASSIGN_OR_RETURN(ScopedStatement s, db_->Cached("INSERT INTO searches (summary) VALUES (?)"));
  RETURN_IF_ERROR(s->BindBlob(1, summary.SerializeAsString()).Run());
  return db_->LastInsertId();
}

absl::Status Store::UpdateSearch(const v1::SearchSummary& summary) {
  ASSIGN_OR_RETURN(ScopedStatement s, db_->Cached("UPDATE searches SET summary = ? WHERE id = ?"));
  return s->BindBlob(1, summary.SerializeAsString()).Bind(2, summary.search_id()).Run();
}

absl::StatusOr<std::vector<v1::SearchSummary>> Store::LoadSearches() {
  ASSIGN_OR_RETURN(ScopedStatement s,
                   db_->Cached("SELECT id, summary FROM searches WHERE id NOT IN "
                               "(SELECT search_id FROM finished_searches) ORDER BY id"));
  std::vector<v1::SearchSummary> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    ASSIGN_OR_RETURN(
        v1::SearchSummary summary,
        Parse<v1::SearchSummary>(s->Text(1), absl::StrCat("search ", s->Int(0)), *db_));
    summary.set_search_id(s->Int(0));
    out.push_back(std::move(summary));
  }
  return out;
}

absl::Status Store::PutTrial(const v1::Trial& trial) {
  ASSIGN_OR_RETURN(ScopedStatement s,
                   db_->Cached("INSERT OR REPLACE INTO trials (search_id, genome_id, state, trial) "
                               "VALUES (?, ?, ?, ?)"));
  return s->Bind(1, trial.search_id())
      .Bind(2, trial.genome().id())
      .Bind(3, static_cast<int64_t>(trial.state()))
      .BindBlob(4, trial.SerializeAsString())
      .Run();
}

absl::StatusOr<std::vector<v1::Trial>> Store::LoadTrials(int64_t search_id) {
  ASSIGN_OR_RETURN(ScopedStatement s, db_->Cached("SELECT trial FROM trials WHERE search_id = ? "
                                                  "ORDER BY genome_id"));
  s->Bind(1, search_id);
  return ReadAll<v1::Trial>(*s, absl::StrCat("trial of search ", search_id), *db_);
}

absl::StatusOr<std::vector<v1::Trial>> Store::LoadTrialsPage(int64_t search_id,
                                                             int64_t after_genome_id, int limit) {
  ASSIGN_OR_RETURN(ScopedStatement s,
                   db_->Cached("SELECT trial FROM trials WHERE search_id = ? AND genome_id > ? "
                               "ORDER BY genome_id LIMIT ?"));
  s->Bind(1, search_id).Bind(2, after_genome_id).Bind(3, static_cast<int64_t>(limit));
  return ReadAll<v1::Trial>(*s, absl::StrCat("trial of search ", search_id), *db_);
}

absl::StatusOr<std::optional<v1::Trial>> Store::LoadTrial(int64_t search_id, int64_t genome_id) {
  ASSIGN_OR_RETURN(ScopedStatement s, db_->Cached("SELECT trial FROM trials WHERE search_id = ? "
                                                  "AND genome_id = ?"));
  s->Bind(1, search_id).Bind(2, genome_id);
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<v1::Trial>();
  ASSIGN_OR_RETURN(
      v1::Trial trial,
      Parse<v1::Trial>(s->Text(0), absl::StrCat("genome ", genome_id, " of search ", search_id),
                       *db_));
  return std::make_optional(std::move(trial));
}

absl::Status Store::PutFinished(const v1::SearchSummary& summary, int64_t last_event,
                                const std::vector<const v1::Trial*>& leaderboard,
                                const std::vector<int64_t>& ranking) {
  ASSIGN_OR_RETURN(ScopedStatement s,
                   db_->Cached("INSERT OR REPLACE INTO finished_searches (search_id, summary, "
                               "last_event) VALUES (?, ?, ?)"));
  RETURN_IF_ERROR(s->Bind(1, summary.search_id())
                      .BindBlob(2, summary.SerializeAsString())
                      .Bind(3, last_event)
                      .Run());
  ASSIGN_OR_RETURN(ScopedStatement clear,
                   db_->Cached("DELETE FROM leaderboards WHERE search_id = ?"));
  RETURN_IF_ERROR(clear->Bind(1, summary.search_id()).Run());
  ASSIGN_OR_RETURN(ScopedStatement put,
                   db_->Cached("INSERT INTO leaderboards (search_id, rank, trial) "
                               "VALUES (?, ?, ?)"));
  for (size_t rank = 0; rank < leaderboard.size(); ++rank) {
    put->Reset();
    RETURN_IF_ERROR(put->Bind(1, summary.search_id())
                        .Bind(2, static_cast<int64_t>(rank))
                        .BindBlob(3, leaderboard[rank]->SerializeAsString())
                        .Run());
  }
  ASSIGN_OR_RETURN(ScopedStatement unrank, db_->Cached("DELETE FROM rankings WHERE search_id = ?"));
  RETURN_IF_ERROR(unrank->Bind(1, summary.search_id()).Run());
  ASSIGN_OR_RETURN(
      ScopedStatement rank,
      db_->Cached("INSERT INTO rankings (search_id, rank, genome_id) VALUES (?, ?, ?)"));
  for (size_t i = 0; i < ranking.size(); ++i) {
    rank->Reset();
    RETURN_IF_ERROR(rank->Bind(1, summary.search_id())
                        .Bind(2, static_cast<int64_t>(i))
                        .Bind(3, ranking[i])
                        .Run());
  }
  // Their points are in the trials' curves now.
  ASSIGN_OR_RETURN(ScopedStatement prune,
                   db_->Cached("DELETE FROM events WHERE search_id = ? AND kind = ?"));
  return prune->Bind(1, summary.search_id())
      .Bind(2, static_cast<int64_t>(v1::Event::GENOME_PROGRESS))
      .Run();
}

absl::StatusOr<std::vector<FinishedSearch>> Store::LoadFinishedIndex() {
  ASSIGN_OR_RETURN(ScopedStatement s, db_->Cached("SELECT search_id, last_event FROM "
                                                  "finished_searches ORDER BY search_id"));
  std::vector<FinishedSearch> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(FinishedSearch{s->Int(0), s->Int(1)});
  }
  return out;
}

absl::StatusOr<std::optional<v1::SearchSummary>> Store::LoadFinished(int64_t search_id) {
  ASSIGN_OR_RETURN(ScopedStatement s, db_->Cached("SELECT summary FROM finished_searches "
                                                  "WHERE search_id = ?"));
  s->Bind(1, search_id);
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<v1::SearchSummary>();
  ASSIGN_OR_RETURN(
      v1::SearchSummary summary,
      Parse<v1::SearchSummary>(s->Text(0), absl::StrCat("finished search ", search_id), *db_));
  return std::make_optional(std::move(summary));
}

absl::StatusOr<std::vector<v1::SearchSummary>> Store::ListFinished(int64_t before_id, int limit) {
  ASSIGN_OR_RETURN(ScopedStatement s, db_->Cached("SELECT summary FROM finished_searches WHERE "
                                                  "search_id < ? ORDER BY search_id DESC LIMIT ?"));
  s->Bind(1, before_id > 0 ? before_id : INT64_MAX).Bind(2, static_cast<int64_t>(limit));
  return ReadAll<v1::SearchSummary>(*s, "finished search", *db_);
}

absl::StatusOr<std::vector<v1::Trial>> Store::LoadLeaderboard(int64_t search_id, int limit) {
  ASSIGN_OR_RETURN(ScopedStatement s, db_->Cached("SELECT trial FROM leaderboards WHERE "
                                                  "search_id = ? ORDER BY rank LIMIT ?"));
  s->Bind(1, search_id).Bind(2, static_cast<int64_t>(limit));
  return ReadAll<v1::Trial>(*s, absl::StrCat("leaderboard of search ", search_id), *db_);
}

absl::StatusOr<std::vector<v1::Trial>> Store::LoadRanked(int64_t search_id, int limit) {
  ASSIGN_OR_RETURN(ScopedStatement s,
                   db_->Cached("SELECT t.trial FROM rankings r JOIN trials t ON t.search_id = "
                               "r.search_id AND t.genome_id = r.genome_id WHERE r.search_id = ? "
                               "ORDER BY r.rank LIMIT ?"));
  s->Bind(1, search_id).Bind(2, static_cast<int64_t>(limit));
  return ReadAll<v1::Trial>(*s, absl::StrCat("ranked trial of search ", search_id), *db_);
}

absl::Status Store::AppendOp(int64_t search_id, const StrategyOp& op) {
  ASSIGN_OR_RETURN(ScopedStatement s,
                   db_->Cached("INSERT INTO strategy_ops (search_id, seq, kind, genome_id, ok, "
                               "accuracy, pruned) VALUES (?, ?, ?, ?, ?, ?, ?)"));
  return s->Bind(1, search_id)
      .Bind(2, op.seq)
      .Bind(3, static_cast<int64_t>(op.kind))
      .Bind(4, op.genome_id)
      .Bind(5, static_cast<int64_t>(op.ok))
      .Bind(6, op.accuracy)
      .Bind(7, static_cast<int64_t>(op.pruned))
      .Run();
}

absl::StatusOr<std::vector<StrategyOp>> Store::LoadOps(int64_t search_id) {
  ASSIGN_OR_RETURN(ScopedStatement s,
                   db_->Cached("SELECT seq, kind, genome_id, ok, accuracy, pruned FROM "
                               "strategy_ops WHERE search_id = ? ORDER BY seq"));
  s->Bind(1, search_id);
  std::vector<StrategyOp> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(StrategyOp{s->Int(0), static_cast<StrategyOp::Kind>(s->Int(1)), s->Int(2),
                             s->Int(3) != 0, s->Double(4), s->Int(5) != 0});
  }
  return out;
}

absl::Status Store::AppendEvent(const v1::Event& event) {
  ASSIGN_OR_RETURN(ScopedStatement s,
                   db_->Cached("INSERT INTO events (seq, search_id, event, kind) "
                               "VALUES (?, ?, ?, ?)"));
  return s->Bind(1, event.sequence())
      .Bind(2, event.search_id())
      .BindBlob(3, event.SerializeAsString())
      .Bind(4, static_cast<int64_t>(event.kind()))
      .Run();
}

absl::StatusOr<std::vector<v1::Event>> Store::LoadEvents(int64_t search_id, int64_t after_sequence,
                                                         int64_t up_to, int limit) {
  ASSIGN_OR_RETURN(ScopedStatement s,
                   db_->Cached("SELECT seq, event FROM events WHERE search_id = ? "
                               "AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?"));
  s->Bind(1, search_id).Bind(2, after_sequence).Bind(3, up_to).Bind(4, static_cast<int64_t>(limit));
  std::vector<v1::Event> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    ASSIGN_OR_RETURN(
        v1::Event event,
        Parse<v1::Event>(s->Text(1), absl::StrCat("event ", s->Int(0), " of search ", search_id),
                         *db_));
    event.set_sequence(s->Int(0));
    out.push_back(std::move(event));
  }
  return out;
}

absl::StatusOr<int64_t> Store::LastEventSequence() {
  ASSIGN_OR_RETURN(ScopedStatement s, db_->Cached("SELECT COALESCE(MAX(seq), 0) FROM events"));
  ASSIGN_OR_RETURN(bool row, s->Step());
  return row ? s->Int(0) : 0;
}

absl::StatusOr<std::optional<std::pair<int64_t, std::string>>> Store::LoadModel(int64_t search_id) {
  ASSIGN_OR_RETURN(ScopedStatement s,
                   db_->Cached("SELECT genome_id, data FROM models WHERE search_id = ?"));
  s->Bind(1, search_id);
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<std::pair<int64_t, std::string>>();
  return std::make_optional(std::make_pair(s->Int(0), s->Text(1)));
}

absl::StatusOr<std::optional<std::string>> Store::LoadLedgerModel(const genome::LedgerKey& key) {
  ASSIGN_OR_RETURN(ScopedStatement s,
                   db_->Cached("SELECT data FROM ledger_models WHERE genome_hash = ? AND "
                               "task_hash = ?"));
  s->Bind(1, key.genome_hash).Bind(2, key.task_hash);
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<std::string>();
  return std::make_optional(s->Text(0));
}

absl::Status Store::EndStep(bool keep) {
  if (!keep) RETURN_IF_ERROR(db_->ExecCached("ROLLBACK TO step"));
  return db_->ExecCached("RELEASE step");
}

absl::StatusOr<int64_t> Store::Counter(const std::string& name) {
  ASSIGN_OR_RETURN(ScopedStatement s, db_->Cached("SELECT value FROM counters WHERE name = ?"));
  s->Bind(1, name);
  ASSIGN_OR_RETURN(bool row, s->Step());
  return row ? s->Int(0) : 0;
}

absl::Status Store::SetCounter(const std::string& name, int64_t value) {
  ASSIGN_OR_RETURN(ScopedStatement s,
                   db_->Cached("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)"));
  return s->Bind(1, name).Bind(2, value).Run();
}

absl::Status SqliteLedger::Load() {
  ASSIGN_OR_RETURN(ScopedStatement s, store_->db().Cached("SELECT COUNT(*) FROM ledger"));
  ASSIGN_OR_RETURN(bool row, s->Step());
  count_ = row ? s->Int(0) : 0;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<genome::TrialResult>> SqliteLedger::Lookup(
    const genome::LedgerKey& key) const {
  ASSIGN_OR_RETURN(ScopedStatement s,
                   store_->db().Cached("SELECT ok, accuracy, test_accuracy, train_seconds, "
                                       "epochs_run, error, pruned, metrics, source FROM ledger "
                                       "WHERE "
                                       "genome_hash = ? AND task_hash = ?"));
  s->Bind(1, key.genome_hash).Bind(2, key.task_hash);
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<genome::TrialResult>();
  genome::TrialResult r;
  r.ok = s->Int(0) != 0;
  r.accuracy = s->Double(1);
  r.test_accuracy = s->Double(2);
  r.train_seconds = s->Double(3);
  r.epochs_run = static_cast<int>(s->Int(4));
  r.error = s->Text(5);
  r.pruned = s->Int(6) != 0;
  ASSIGN_OR_RETURN(
      const v1::MetricValues metrics,
      Parse<v1::MetricValues>(s->Text(7), absl::StrCat("ledger metrics of ", key.ToString()),
                              store_->db()));
  r.metrics = genome::MetricsFrom(metrics.values());
  r.source = s->Text(8);
  return std::optional<genome::TrialResult>(std::move(r));
}
absl::Status SqliteLedger::Insert(const genome::LedgerKey& key, const genome::TrialResult& r) {
  ASSIGN_OR_RETURN(std::optional<genome::TrialResult> held, Lookup(key));
  if (held.has_value() && !genome::Replaces(r, *held)) {
    return absl::AlreadyExistsError(
        absl::StrCat("ledger already holds a result for ", key.ToString()));
  }
  ASSIGN_OR_RETURN(
      ScopedStatement s,
      store_->db().Cached("INSERT OR REPLACE INTO ledger (genome_hash, task_hash, ok, "
                          "accuracy, test_accuracy, train_seconds, epochs_run, error, "
                          "pruned, metrics, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  v1::MetricValues metrics;
  genome::CopyMetrics(r.metrics, metrics.mutable_values());
  RETURN_IF_ERROR(s->Bind(1, key.genome_hash)
                      .Bind(2, key.task_hash)
                      .Bind(3, static_cast<int64_t>(r.ok))
                      .Bind(4, r.accuracy)
                      .Bind(5, r.test_accuracy)
                      .Bind(6, r.train_seconds)
                      .Bind(7, static_cast<int64_t>(r.epochs_run))
                      .Bind(8, r.error)
                      .Bind(9, static_cast<int64_t>(r.pruned))
                      .BindBlob(10, metrics.SerializeAsString())
                      .Bind(11, r.source)
                      .Run());
  if (!held.has_value()) ++count_;
  return absl::OkStatus();
}

}  // namespace deepevolve::store
