#include "worker/trainer/data.h"

#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace deepevolve::trainer {
namespace {

namespace fs = std::filesystem;
using ::deepevolve::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Be32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string IdxImages(uint32_t n, uint32_t rows, uint32_t cols, uint32_t magic = 0x803) {
  std::string s = Be32(magic) + Be32(n) + Be32(rows) + Be32(cols);
  for (uint32_t i = 0; i < n * rows * cols; ++i) s.push_back(static_cast<char>(i % 256));
  return s;
}

std::string IdxLabels(const std::vector<uint8_t>& labels) {
  std::string s = Be32(0x801) + Be32(static_cast<uint32_t>(labels.size()));
  for (uint8_t l : labels) s.push_back(static_cast<char>(l));
  return s;
}

class DataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("data_test_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void Write(const std::string& name, const std::string& bytes, bool gzip = false) {
    const std::string path = (dir_ / name).string();
    if (gzip) {
      gzFile f = gzopen(path.c_str(), "wb");
      gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
      gzclose(f);
    } else {
      std::ofstream(path, std::ios::binary) << bytes;
    }
  }
  void WriteMnist(bool gzip) {
    const std::string gz = gzip ? ".gz" : "";
    Write("train-images-idx3-ubyte" + gz, IdxImages(6, 4, 4), gzip);
    Write("train-labels-idx1-ubyte" + gz, IdxLabels({0, 1, 2, 3, 4, 9}), gzip);
    Write("t10k-images-idx3-ubyte" + gz, IdxImages(2, 4, 4), gzip);
    Write("t10k-labels-idx1-ubyte" + gz, IdxLabels({5, 6}), gzip);
  }
  fs::path dir_;
};

TEST_F(DataTest, LoadsIdxPlainAndGzip) {
  for (bool gzip : {false, true}) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    WriteMnist(gzip);
    auto d = LoadDataset("mnist", {dir_.string()});
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ((*d)->train.x.sizes(), (std::vector<int64_t>{6, 1, 4, 4}));
    EXPECT_EQ((*d)->test.size(), 2);
    EXPECT_EQ((*d)->shape, (std::vector<int64_t>{1, 4, 4}));
    EXPECT_EQ((*d)->train.y[5].item<int64_t>(), 9);
    EXPECT_FLOAT_EQ((*d)->train.x[0][0][0][1].item<float>(), 1.0f / 255);
  }
}

TEST_F(DataTest, BadIdxFilesNameTheFileAndTheProblem) {
  WriteMnist(false);
  Write("train-images-idx3-ubyte", IdxImages(6, 4, 4, 0x801));
  auto s = LoadDataset("mnist", {dir_.string()}).status();
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("train-images-idx3-ubyte: wrong magic 0x00000801, expected 0x00000803"));

  Write("train-images-idx3-ubyte", IdxImages(6, 4, 4).substr(0, 40));
  s = LoadDataset("mnist", {dir_.string()}).status();
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("train-images-idx3-ubyte: 24 data bytes, expected 96"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("(truncated)"));

  Write("train-images-idx3-ubyte", IdxImages(6, 4, 4));
  Write("train-labels-idx1-ubyte", IdxLabels({0, 1, 2, 3, 4, 12}));
  s = LoadDataset("mnist", {dir_.string()}).status();
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("train-labels-idx1-ubyte: label 12 out of range (expected 0..9)"));

  Write("train-labels-idx1-ubyte", IdxLabels({0, 1, 2}));
  s = LoadDataset("mnist", {dir_.string()}).status();
  EXPECT_THAT(std::string(s.message()), HasSubstr("6 images but"));

  Write("train-labels-idx1-ubyte", IdxLabels({0, 1, 2, 3, 4, 9}));
  fs::remove(dir_ / "t10k-labels-idx1-ubyte");
  s = LoadDataset("mnist", {dir_.string()}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("t10k-labels-idx1-ubyte[.gz] not found in " + dir_.string()));

  Write("bad.gz", "\x1f\x8b\x08\x00garbage", false);
  EXPECT_FALSE(ReadIdx((dir_ / "bad.gz").string(), 1).ok());
}

TEST_F(DataTest, LoadsCifarBatchesAndRejectsRaggedOnes) {
  auto record = [](uint8_t label) {
    std::string r(1 + 3072, '\0');
    r[0] = static_cast<char>(label);
    r[1] = static_cast<char>(255);  // red channel, first pixel
    return r;
  };
  for (int b = 1; b <= 5; ++b)
    Write("data_batch_" + std::to_string(b) + ".bin", record(b) + record(0));
  Write("test_batch.bin", record(7));
  auto d = LoadDataset("cifar10", {dir_.string()});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->train.x.sizes(), (std::vector<int64_t>{10, 3, 32, 32}));
  EXPECT_EQ((*d)->train.y[2].item<int64_t>(), 2);
  EXPECT_FLOAT_EQ((*d)->train.x[0][0][0][0].item<float>(), 1.0f);
  EXPECT_EQ((*d)->test.y[0].item<int64_t>(), 7);

  Write("test_batch.bin", record(7).substr(0, 100));
  EXPECT_THAT(std::string(LoadDataset("cifar10", {dir_.string()}).status().message()),
              HasSubstr("test_batch.bin: 100 bytes is not a whole number of CIFAR-10 records"));
  Write("test_batch.bin", record(11));
  EXPECT_THAT(std::string(LoadDataset("cifar10", {dir_.string()}).status().message()),
              HasSubstr("label 11 out of range"));
}

TEST_F(DataTest, LoadsCsvAndRejectsRaggedRows) {
  std::string csv = "a,b,label\n";
  for (int i = 0; i < 10; ++i)
    csv += std::to_string(i) + ".5," + std::to_string(-i) + "," + std::to_string(i % 3) + "\n";
  Write("d.csv", csv);
  const std::string name = "csv:d.csv";
  const std::vector<std::string> dirs = {dir_.string()};
  auto d = LoadDataset(name, dirs);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->shape, (std::vector<int64_t>{2}));
  EXPECT_EQ((*d)->num_classes, 3);
  EXPECT_EQ((*d)->train.size() + (*d)->test.size(), 10);
  EXPECT_FLOAT_EQ((*d)->train.x[1][0].item<float>(), 1.5f);

  Write("d.csv", "a,b,label\n1,2,0\n3,1\n");
  EXPECT_THAT(std::string(LoadDataset(name, dirs).status().message()),
              HasSubstr("d.csv: line 3: 2 columns, expected 3"));
  // Errors name the line and column, never the file's content (they reach every client).
  Write("d.csv", "a,b,label\n1,secret,0\n3,1,1\n");
  auto bad = LoadDataset(name, dirs);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("line 2, column 2: not a number"));
  EXPECT_THAT(std::string(bad.status().message()), Not(HasSubstr("secret")));
  Write("d.csv", "a,b,label\n1,2,-1\n3,1,1\n");
  EXPECT_THAT(std::string(LoadDataset(name, dirs).status().message()),
              HasSubstr("is not a class index"));
  EXPECT_EQ(LoadDataset("csv:none.csv", dirs).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DataTest, ACsvPathCannotLeaveTheDataDirectories) {
  Write("inside.csv", "a,label\n1,0\n2,1\n3,0\n");
  const fs::path data = dir_ / "data";
  fs::create_directories(data / "sub");
  fs::rename(dir_ / "inside.csv", data / "sub" / "inside.csv");
  const std::vector<std::string> dirs = {data.string()};
  EXPECT_TRUE(LoadDataset("csv:sub/inside.csv", dirs).ok());
  // A link that stays inside is followed.
  fs::create_symlink(data / "sub" / "inside.csv", data / "alias.csv");
  EXPECT_TRUE(LoadDataset("csv:alias.csv", dirs).ok());
  Write("outside.csv", "a,label\n1,0\n2,1\n");
  EXPECT_EQ(LoadDataset("csv:" + (dir_ / "outside.csv").string(), dirs).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadDataset("csv:../outside.csv", dirs).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadDataset("csv:sub/../../outside.csv", dirs).status().code(),
            absl::StatusCode::kInvalidArgument);
  fs::create_symlink(dir_ / "outside.csv", data / "out.csv");
  EXPECT_THAT(LoadDataset("csv:out.csv", dirs).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("leads out of")));
  fs::create_symlink("/dev/zero", data / "zero.csv");
  EXPECT_FALSE(LoadDataset("csv:zero.csv", dirs).ok());
  // Nor is a directory inside it.
  EXPECT_FALSE(LoadDataset("csv:sub", dirs).ok());
}

TEST_F(DataTest, CacheLoadsOnce) {
  WriteMnist(true);
  DatasetCache cache({dir_.string()});
  auto a = cache.Get("mnist");
  ASSERT_TRUE(a.ok()) << a.status();
  fs::remove_all(dir_);  // a second Get must not touch the files
  auto b = cache.Get("mnist");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->get(), b->get());
}

}  // namespace
}  // namespace deepevolve::trainer
