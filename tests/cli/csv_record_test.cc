#include "cli/csv_record.h"

#include <csv.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace deepevolve::cli {
namespace {

// The cells of `line` as a CSV reader (libcsv's parser) reads them.
std::vector<std::string> Parse(const std::string& line) {
  struct csv_parser parser;
  EXPECT_EQ(csv_init(&parser, CSV_STRICT), 0);
  std::vector<std::string> cells;
  auto on_cell = [](void* data, size_t size, void* out) {
    static_cast<std::vector<std::string>*>(out)->emplace_back(static_cast<char*>(data), size);
  };
  const std::string text = line + "\n";
  EXPECT_EQ(csv_parse(&parser, text.data(), text.size(), on_cell, nullptr, &cells), text.size());
  csv_fini(&parser, on_cell, nullptr, &cells);
  csv_free(&parser);
  return cells;
}

TEST(CsvRecordTest, PlainCellsStayAsTheyAre) {
  EXPECT_EQ(CsvRecord({"nb_neurons", "128", "", "relu"}), "nb_neurons,128,,relu");
}

TEST(CsvRecordTest, CellsWithSeparatorsQuotesOrLineBreaksReadBackWhole) {
  const std::vector<std::string> cells = {"host,1", "say \"hi\"", "two\nlines", "plain",
                                          "INVALID_ARGUMENT: a, b"};
  const std::string line = CsvRecord(cells);
  EXPECT_EQ(line.substr(0, 9), "\"host,1\",");
  EXPECT_THAT(Parse(line), ::testing::ElementsAreArray(cells));
}

}  // namespace
}  // namespace deepevolve::cli
