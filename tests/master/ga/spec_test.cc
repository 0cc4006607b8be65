#include "master/ga/spec.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "master/ga/operators.h"
#include "master/ga/strategies.h"
#include "master/ga/strategy.h"

namespace deepevolve::ga {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

v1::SearchSpec Preset(const char* name) {
  v1::SearchSpec spec;
  spec.set_preset(name);
  return spec;
}

void ExpectInvalid(const v1::SearchSpec& spec, const std::string& field,
                   const std::string& words = "") {
  auto r = ResolveSearchSpec(spec);
  ASSERT_FALSE(r.ok()) << "accepted a bad " << field;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), StartsWith(field + ":"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(words));
}

// A trainer program's search: genes of its own, its name, a dataset passed as is.
v1::SearchSpec ProgramSpec() {
  v1::SearchSpec spec;
  spec.mutable_task()->set_trainer("fmnist-cnn@2");
  spec.mutable_task()->set_dataset("fashion_mnist:8000");
  v1::Gene* g = spec.mutable_space()->add_genes();
  g->set_name("filters");
  for (int v : {16, 32, 64}) g->add_values()->set_int_value(v);
  g = spec.mutable_space()->add_genes();
  g->set_name("head");
  for (const char* v : {"dense", "global_pool"}) g->add_values()->set_string_value(v);
  spec.mutable_steady_state()->set_population(4);
  return spec;
}

TEST(ResolveSearchSpecTest, ATrainerProgramsSearchTakesItsOwnGenesAndTheEpochsOnly) {
  auto r = ResolveSearchSpec(ProgramSpec());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->task().trainer(), "fmnist-cnn@2");
  EXPECT_EQ(r->task().epochs(), 4);
  EXPECT_EQ(r->task().net(), v1::NET_KIND_UNSPECIFIED);  // the program builds its own
  EXPECT_EQ(r->task().batch_size(), 0);
  EXPECT_EQ(r->steady_state().trials(), 240);
  EXPECT_EQ(GeneNamesFor(r->task()), genome::GeneNames::kAny);

  v1::SearchSpec s = ProgramSpec();
  s.mutable_task()->set_trainer("FMNIST");
  ExpectInvalid(s, "task.trainer", "not a trainer's name");
  s.mutable_task()->set_trainer("cnn@2 ; rm -rf /");
  ExpectInvalid(s, "task.trainer", "NAME or NAME@VERSION");
  s = ProgramSpec();
  s.mutable_task()->set_net(v1::CNN);
  ExpectInvalid(s, "task.net", "a trainer program (task.trainer fmnist-cnn@2) gets");
  s = ProgramSpec();
  s.mutable_task()->set_batch_size(64);
  ExpectInvalid(s, "task.batch_size", "make it a gene");
  s = ProgramSpec();
  s.set_preset("fashion_mnist_mlp");
  ExpectInvalid(s, "preset", "names its own genes");
  s = ProgramSpec();
  s.mutable_task()->set_dataset("a\nb");
  ExpectInvalid(s, "task.dataset", "printable");
  s = ProgramSpec();
  s.mutable_space()->mutable_genes(0)->set_name("Bad Name");
  ExpectInvalid(s, "space.genes[0].name");
  // Without a trainer, the same genes are refused: they are no built-in trainer's.
  s = ProgramSpec();
  s.mutable_task()->clear_trainer();
  s.mutable_task()->set_net(v1::CNN);
  s.mutable_task()->set_dataset("fashion_mnist");
  EXPECT_FALSE(ResolveSearchSpec(s).ok());
}

// Audit F11: fields the master does not know are dropped, not stored and copied into
// every event and assignment, and a spec is bounded in size as a whole.
v1::SearchSpec WithObjectives(std::vector<std::pair<std::string, std::string>> objectives) {
  v1::SearchSpec spec = Preset("fashion_mnist_mlp");
  spec.mutable_steady_state()->set_population(4);
  for (const auto& [metric, goal] : objectives) {
    v1::Objective* o = spec.add_objectives();
    o->set_metric(metric);
    o->set_goal(goal);
  }
  return spec;
}

TEST(ResolveSearchSpecTest, ObjectivesAreCheckedAgainstTheTrainerAndWrittenOut) {
  auto spec = ResolveSearchSpec(WithObjectives({{"accuracy", "MAX"}, {"params", "min"}}));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->objectives(0).goal(), "maximize");
  EXPECT_EQ(spec->objectives(1).goal(), "minimize");
  EXPECT_TRUE(IsMultiObjective(*spec));
  // Accuracy, maximized, is what a search without objectives does.
  EXPECT_FALSE(IsMultiObjective(*ResolveSearchSpec(WithObjectives({{"accuracy", "max"}}))));
  EXPECT_FALSE(IsMultiObjective(*ResolveSearchSpec(WithObjectives({}))));
  ExpectInvalid(WithObjectives({{"flops", "min"}}), "objectives[0].metric",
                "the built-in trainer reports no metric 'flops' (known: accuracy, ");
  ExpectInvalid(WithObjectives({{"accuracy", "max"}, {"accuracy", "min"}}), "objectives[1].metric",
                "'accuracy' is objectives[0] already");
  ExpectInvalid(WithObjectives({{"params", "smallest"}}), "objectives[0].goal",
                "must be maximize or minimize, got 'smallest'");
  ExpectInvalid(WithObjectives({{"Params", "min"}}), "objectives[0].metric", "no metric name");
  ExpectInvalid(WithObjectives({{"accuracy", "max"},
                                {"params", "min"},
                                {"latency_ms", "min"},
                                {"model_bytes", "min"},
                                {"epoch_seconds", "min"}}),
                "objectives", "at most 4, got 5");
  // A trainer program's metrics are its own.
  v1::SearchSpec program = ProgramSpec();
  program.add_objectives()->set_metric("flops");
  program.mutable_objectives(0)->set_goal("min");
  EXPECT_TRUE(ResolveSearchSpec(program).ok());
}

TEST(ResolveSearchSpecTest, ConstraintsNeedABoundInOrder) {
  v1::SearchSpec spec = WithObjectives({});
  v1::Constraint* c = spec.add_constraints();
  c->set_metric("params");
  c->set_max(1e6);
  auto resolved = ResolveSearchSpec(spec);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_TRUE(IsMultiObjective(*resolved));
  c->clear_max();
  ExpectInvalid(spec, "constraints[0]", "neither min nor max");
  c->set_min(2);
  c->set_max(1);
  ExpectInvalid(spec, "constraints[0]", "min 2 is above max 1");
  c->set_max(std::nan(""));
  ExpectInvalid(spec, "constraints[0]", "finite");
  c->set_metric("flops");
  ExpectInvalid(spec, "constraints[0].metric", "no metric 'flops'");
}

TEST(ResolveSearchSpecTest, OtherObjectivesRunWithAshaButNotTheMedianPrunerOrCompat) {
  v1::SearchSpec spec = WithObjectives({{"accuracy", "max"}, {"params", "min"}});
  spec.mutable_pruner()->mutable_median();
  ExpectInvalid(spec, "pruner", "use asha, which ranks each rung by Pareto front");
  spec.mutable_pruner()->mutable_asha();
  EXPECT_TRUE(ResolveSearchSpec(spec).ok());
  spec.clear_pruner();
  spec.mutable_guided();
  EXPECT_TRUE(ResolveSearchSpec(spec).ok());
  spec.mutable_generational();
  spec.set_deepevolve_compat(true);
  ExpectInvalid(spec, "objectives", "compatibility mode");
}

TEST(ResolveSearchSpecTest, UnknownFieldsAreDroppedAndTheSpecIsBounded) {
  v1::SearchSpec spec = Preset("fashion_mnist_mlp");
  spec.GetReflection()->MutableUnknownFields(&spec)->AddLengthDelimited(999, "padding");
  spec.mutable_task()
      ->GetReflection()
      ->MutableUnknownFields(spec.mutable_task())
      ->AddVarint(998, 1);
  auto r = ResolveSearchSpec(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->GetReflection()->GetUnknownFields(*r).field_count(), 0);
  EXPECT_EQ(r->task().GetReflection()->GetUnknownFields(r->task()).field_count(), 0);
  spec.GetReflection()->MutableUnknownFields(&spec)->AddLengthDelimited(999,
                                                                        std::string(50 << 20, 'x'));
  auto big = ResolveSearchSpec(spec);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(big.status().message()), HasSubstr("over the 1024 KiB a spec may be"));
}

TEST(ResolveSearchSpecTest, FillsDeepEvolveDefaults) {
  auto r = ResolveSearchSpec(Preset("cifar10_cnn"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->space().genes_size(), 4);
  EXPECT_EQ(r->task().dataset(), "cifar10");
  EXPECT_EQ(r->task().net(), v1::CNN);
  EXPECT_EQ(r->task().epochs(), 4);
  EXPECT_EQ(r->task().batch_size(), 128);
  EXPECT_EQ(r->task().validation(), v1::HOLDOUT);
  EXPECT_DOUBLE_EQ(r->task().validation_fraction(), 0.1);
  EXPECT_DOUBLE_EQ(r->task().early_stop_min_delta(), 0.1);
  EXPECT_EQ(r->task().early_stop_patience(), 2);
  ASSERT_TRUE(r->has_generational());
  EXPECT_EQ(r->generational().population(), 30);
  EXPECT_EQ(r->generational().generations(), 8);
  EXPECT_DOUBLE_EQ(r->generational().retain(), 0.15);
  EXPECT_DOUBLE_EQ(r->generational().random_select(), 0.1);
  EXPECT_DOUBLE_EQ(r->generational().mutate_chance(), 0.3);
  EXPECT_EQ(ResolveSearchSpec(Preset("mnist_mlp"))->task().batch_size(), 64);
}

TEST(ResolveSearchSpecTest, CompatValidatesOnTheTestSet) {
  v1::SearchSpec spec = Preset("mnist_mlp");
  spec.set_deepevolve_compat(true);
  EXPECT_EQ(ResolveSearchSpec(spec)->task().validation(), v1::TEST_SET);
}

TEST(ResolveSearchSpecTest, ExplicitFieldsWinOverThePreset) {
  v1::SearchSpec spec = Preset("fashion_mnist_mlp");
  spec.mutable_task()->set_epochs(2);
  spec.mutable_task()->set_train_limit(5000);
  spec.mutable_generational()->set_population(10);
  spec.mutable_generational()->set_random_select(0);
  auto r = ResolveSearchSpec(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->task().epochs(), 2);
  EXPECT_EQ(r->task().train_limit(), 5000);
  EXPECT_EQ(r->generational().population(), 10);
  EXPECT_EQ(r->generational().random_select(), 0);  // explicit zero is kept
  EXPECT_EQ(r->generational().generations(), 8);
}

TEST(ResolveSearchSpecTest, RejectsBadInputNamingTheField) {
  ExpectInvalid(Preset("mnist_rnn"), "preset", "unknown preset 'mnist_rnn'");
  ExpectInvalid(v1::SearchSpec(), "space", "no genes");

  v1::SearchSpec s = Preset("mnist_mlp");
  s.mutable_task()->set_dataset("imagenet");
  ExpectInvalid(s, "task.dataset", "unknown dataset 'imagenet'");

  s = Preset("mnist_mlp");
  s.mutable_task()->set_epochs(-1);
  ExpectInvalid(s, "task.epochs", "[1, 1000]");

  s = Preset("mnist_mlp");
  s.mutable_task()->set_validation_fraction(1.5);
  ExpectInvalid(s, "task.validation_fraction");

  s = Preset("mnist_mlp");
  s.mutable_generational()->set_population(1);
  ExpectInvalid(s, "generational.population");

  s = Preset("mnist_mlp");
  s.mutable_generational()->set_population(1000);
  ExpectInvalid(s, "generational.population", "exceeds the 490 genomes");

  s = Preset("mnist_mlp");
  s.mutable_generational()->set_mutate_chance(std::nan(""));
  ExpectInvalid(s, "generational.mutate_chance");

  s = Preset("mnist_mlp");
  s.mutable_steady_state()->set_tournament_size(50);
  ExpectInvalid(s, "steady_state.tournament_size");

  s = Preset("mnist_mlp");
  s.mutable_random()->set_trials(0);
  ExpectInvalid(s, "random.trials");

  s = Preset("mnist_mlp");
  s.mutable_guided()->set_candidates(5000);
  ExpectInvalid(s, "guided.candidates");

  s = Preset("mnist_mlp");
  s.mutable_guided()->set_warmup(1);
  ExpectInvalid(s, "guided.warmup");

  s = Preset("mnist_mlp");
  s.mutable_guided()->set_explore(1.5);
  ExpectInvalid(s, "guided.explore");

  s = Preset("mnist_mlp");
  s.mutable_guided()->set_tournament_size(31);
  ExpectInvalid(s, "guided.tournament_size");

  s = Preset("mnist_mlp");
  s.mutable_space()->add_genes()->set_name("nb_neurons");
  ExpectInvalid(s, "space.genes[0].values", "no values");

  s = Preset("mnist_mlp");
  s.set_name(std::string(300, 'x'));
  ExpectInvalid(s, "name");

  v1::SearchSpec no_net;
  *no_net.mutable_space() = ResolveSearchSpec(Preset("mnist_mlp"))->space();
  no_net.mutable_task()->set_dataset("mnist");
  ExpectInvalid(no_net, "task.net");
}

TEST(ResolveSearchSpecTest, CsvDatasetsAreKnown) {
  EXPECT_TRUE(IsKnownDataset("csv:/data/bank.csv"));
  EXPECT_FALSE(IsKnownDataset("csv:"));
}

TEST(ResolveSearchSpecTest, ASpaceWhoseLargestGenomeWouldNotFitIsRefusedNamingIt) {
  v1::SearchSpec s = Preset("fashion_mnist_mlp");
  *s.mutable_space() = ResolveSearchSpec(s)->space();
  for (v1::Gene& gene : *s.mutable_space()->mutable_genes()) {
    if (gene.name() == "nb_neurons") gene.add_values()->set_int_value(65536);
    if (gene.name() == "nb_layers") gene.add_values()->set_int_value(64);
  }
  ExpectInvalid(s, "space", "largest genome, 64 layers up to 65536 wide");
  // The presets all fit.
  for (const char* preset : {"mnist_mlp", "mnist_cnn", "cifar10_mlp", "cifar10_cnn",
                             "fashion_mnist_mlp", "fashion_mnist_cnn"}) {
    EXPECT_TRUE(ResolveSearchSpec(Preset(preset)).ok()) << preset;
  }
}

TEST(ResolveSearchSpecTest, PopulationTimesGenerationsIsCapped) {
  v1::SearchSpec s = Preset("fashion_mnist_mlp");
  s.mutable_generational()->set_population(10000);
  s.mutable_generational()->set_generations(10000);
  ExpectInvalid(s, "generational.population", "above the limit");
}

TEST(ResolveSearchSpecTest, ACsvDatasetIsARelativePathInsideTheDataDirectories) {
  v1::SearchSpec s = Preset("mnist_mlp");
  s.mutable_task()->set_dataset("csv:bank/train.csv");
  s.mutable_task()->set_net(v1::MLP);
  EXPECT_TRUE(ResolveSearchSpec(s).ok());
  for (const char* escaping : {"csv:/etc/passwd", "csv:../secret.csv", "csv:a/../../x.csv",
                               "csv:/dev/zero", "csv:a b.csv", "csv:a\\b.csv"}) {
    s.mutable_task()->set_dataset(escaping);
    ExpectInvalid(s, "task.dataset", "relative path");
  }
  s.mutable_task()->set_dataset("csv:" + std::string(2000, 'a'));
  ExpectInvalid(s, "task.dataset", "longer than");
}

}  // namespace
}  // namespace deepevolve::ga

namespace deepevolve::ga {
namespace {

TEST(ResolveSearchSpecTest, GuidedDefaults) {
  v1::SearchSpec spec = Preset("fashion_mnist_mlp_full");
  ASSERT_TRUE(SetStrategy("guided", &spec).ok());
  auto r = ResolveSearchSpec(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->has_guided());
  EXPECT_EQ(StrategyName(*r), "guided");
  EXPECT_EQ(r->guided().population(), 30);
  EXPECT_EQ(r->guided().tournament_size(), 5);
  EXPECT_EQ(r->guided().trials(), 240);
  EXPECT_DOUBLE_EQ(r->guided().mutate_chance(), 0.3);
  EXPECT_EQ(r->guided().mutation(), v1::MUTATION_NEAR);
  EXPECT_EQ(r->guided().candidates(), 64);
  EXPECT_EQ(r->guided().warmup(), 10);
  EXPECT_DOUBLE_EQ(r->guided().explore(), 0.1);
  // With a pruner too.
  spec.mutable_pruner()->mutable_asha();
  EXPECT_TRUE(ResolveSearchSpec(spec).ok());
}

TEST(ResolvePrunerTest, DefaultsAsOptunasAndNoneStaysAbsent) {
  v1::SearchSpec spec;
  spec.set_preset("fashion_mnist_mlp");
  EXPECT_FALSE(ResolveSearchSpec(spec)->has_pruner());
  spec.mutable_pruner()->mutable_median();
  auto median = ResolveSearchSpec(spec);
  ASSERT_TRUE(median.ok()) << median.status();
  EXPECT_EQ(median->pruner().median().warmup_epochs(), 0);
  EXPECT_EQ(median->pruner().median().min_trials(), 5);
  spec.mutable_pruner()->mutable_asha();
  auto asha = ResolveSearchSpec(spec);
  ASSERT_TRUE(asha.ok()) << asha.status();
  EXPECT_EQ(asha->pruner().asha().min_epochs(), 1);
  EXPECT_EQ(asha->pruner().asha().reduction_factor(), 3);
}

TEST(ResolvePrunerTest, APrunerThatCannotStopAnythingOrUnderCompatIsRefused) {
  v1::SearchSpec spec;
  spec.set_preset("fashion_mnist_mlp");  // 4 epochs
  spec.mutable_pruner()->mutable_asha()->set_min_epochs(4);
  ExpectInvalid(spec, "pruner.asha.min_epochs", "no rung");
  spec.mutable_pruner()->mutable_asha()->set_min_epochs(1);
  spec.mutable_pruner()->mutable_asha()->set_reduction_factor(1);
  ExpectInvalid(spec, "pruner.asha.reduction_factor");
  spec.mutable_pruner()->mutable_median()->set_warmup_epochs(3);
  ExpectInvalid(spec, "pruner.median.warmup_epochs", "no epoch to stop");
  spec.mutable_pruner()->mutable_median()->set_warmup_epochs(0);
  spec.mutable_pruner()->mutable_median()->set_min_trials(-1);
  ExpectInvalid(spec, "pruner.median.min_trials");
  spec.mutable_pruner()->mutable_median()->set_min_trials(5);
  spec.set_deepevolve_compat(true);
  ExpectInvalid(spec, "pruner", "deepevolve_compat");
}

// Issue 33: a strategy is one row. Every case of SearchSpec's oneof has one, each row's
// name selects it and reads back, and it resolves and makes a strategy.
TEST(StrategiesTest, EveryStrategyIsOneRowThatSelectsResolvesAndMakes) {
  const google::protobuf::OneofDescriptor* oneof =
      v1::SearchSpec::descriptor()->FindOneofByName("strategy");
  ASSERT_NE(oneof, nullptr);
  for (int i = 0; i < oneof->field_count(); ++i) {
    const auto spec_case = static_cast<v1::SearchSpec::StrategyCase>(oneof->field(i)->number());
    EXPECT_TRUE(std::any_of(Strategies().begin(), Strategies().end(), [&](const StrategyRow& row) {
      return row.spec_case == spec_case;
    })) << oneof->field(i)->name();
  }
  EXPECT_EQ(StrategyNames().size(), Strategies().size());
  for (const StrategyRow& row : Strategies()) {
    v1::SearchSpec spec;
    // pbt changes training genes, which DeepEvolve's four-gene spaces have none of.
    spec.set_preset(row.spec_case == v1::SearchSpec::kPbt ? "fashion_mnist_mlp_full"
                                                          : "fashion_mnist_mlp");
    ASSERT_TRUE(SetStrategy(row.name, &spec).ok()) << row.name;
    EXPECT_EQ(StrategyName(spec), row.name);
    auto resolved = ResolveSearchSpec(spec);
    ASSERT_TRUE(resolved.ok()) << row.name << ": " << resolved.status();
    EXPECT_EQ(StrategyName(*resolved), row.name);
    auto space = genome::SearchSpace::FromProto(resolved->space());
    ASSERT_TRUE(space.ok());
    EXPECT_TRUE(MakeStrategy(*space, *resolved).ok()) << row.name;
  }
  EXPECT_EQ(StrategyList(),
            "generational, generational_compat, steady_state, guided, pbt, random or grid");
}

// A warm start's genomes, by name, drawn from the full MLP space.
v1::WarmStart WarmGenomes(const genome::SearchSpace& space, int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  v1::WarmStart w;
  for (int i = 0; i < count; ++i) {
    v1::NamedGenes* named = w.add_genomes();
    for (const auto& [name, value] : genome::ToNamedGenome(space, RandomGenome(space, rng))) {
      (*named->mutable_genes())[name] = genome::GeneValueToProto(value);
    }
  }
  return w;
}

TEST(WarmStartTest, EveryStrategyBeginsWithItsGenomesInOrder) {
  for (const char* strategy : {"generational", "steady_state", "guided", "pbt", "random"}) {
    SCOPED_TRACE(strategy);
    v1::SearchSpec spec = Preset("fashion_mnist_mlp_full");
    ASSERT_TRUE(SetStrategy(strategy, &spec).ok());
    spec.set_seed(7);
    auto plain = ResolveSearchSpec(spec);
    ASSERT_TRUE(plain.ok()) << plain.status();
    auto space = genome::SearchSpace::FromProto(plain->space());
    ASSERT_TRUE(space.ok());
    *spec.mutable_warm_start() = WarmGenomes(*space, 3, 11);
    // One genome no value of this space makes: passed over.
    (*spec.mutable_warm_start()->add_genomes()->mutable_genes())["nb_layers"].set_int_value(9);
    std::swap(*spec.mutable_warm_start()->mutable_genomes(1),
              *spec.mutable_warm_start()->mutable_genomes(3));
    auto resolved = ResolveSearchSpec(spec);
    ASSERT_TRUE(resolved.ok()) << resolved.status();
    auto first = WarmStartGenomes(*space, *resolved);
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_EQ(first->size(), 3u);
    auto made = MakeStrategy(*space, *resolved);
    ASSERT_TRUE(made.ok()) << made.status();
    std::mt19937_64 rng(1);
    auto next = (*made)->Next(100, rng);
    ASSERT_TRUE(next.ok()) << next.status();
    ASSERT_GE(next->size(), 3u);
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ((*next)[i].genome, (*first)[i]) << i;
    // The warm genomes draw nothing: the fourth genome is the plain search's first draw
    // (pbt makes each member novel among the others, which may redraw).
    auto plain_made = MakeStrategy(*space, *plain);
    ASSERT_TRUE(plain_made.ok());
    std::mt19937_64 plain_rng(1);
    auto plain_next = (*plain_made)->Next(100, plain_rng);
    ASSERT_TRUE(plain_next.ok());
    if (next->size() > 3 && std::string(strategy) != "pbt") {
      EXPECT_EQ((*next)[3].genome, (*plain_next)[0].genome);
    }
  }
}

TEST(WarmStartTest, RefusalsNameTheField) {
  v1::SearchSpec spec = Preset("fashion_mnist_mlp");
  auto space = genome::SearchSpace::FromProto(ResolveSearchSpec(spec)->space());
  ASSERT_TRUE(space.ok());
  spec.mutable_warm_start()->set_search_id(3);
  auto resolved = ResolveSearchSpec(spec);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->warm_start().best(), 8);  // the default, filled in

  v1::SearchSpec grid = spec;
  grid.mutable_grid();
  ExpectInvalid(grid, "warm_start", "grid enumerates the whole space");
  v1::SearchSpec compat = spec;
  compat.set_deepevolve_compat(true);
  ExpectInvalid(compat, "warm_start", "deepevolve_compat");
  v1::SearchSpec many = spec;
  many.mutable_warm_start()->set_best(1001);
  ExpectInvalid(many, "warm_start.best", "1 to 1000");
  v1::SearchSpec nothing = spec;
  nothing.mutable_warm_start()->clear_search_id();
  ExpectInvalid(nothing, "warm_start", "search_id");
  v1::SearchSpec foreign = spec;
  foreign.mutable_warm_start()->clear_search_id();
  (*foreign.mutable_warm_start()->add_genomes()->mutable_genes())["filters"].set_int_value(32);
  ExpectInvalid(foreign, "warm_start", "none of its 1 genomes is in this search's space");
  v1::SearchSpec negative = spec;
  negative.mutable_warm_start()->set_search_id(-1);
  ExpectInvalid(negative, "warm_start.search_id");
}

}  // namespace
}  // namespace deepevolve::ga
