#include "worker/trainer/data.h"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace deepevolve::trainer {
namespace {

namespace fs = std::filesystem;

// Reads a whole file, gunzipping it when it is gzip (zlib passes plain files through).
// INVALID_ARGUMENT past `max_bytes` of content.
absl::StatusOr<std::string> ReadMaybeGzip(const std::string& path,
                                          size_t max_bytes = std::string().max_size()) {
  if (!fs::exists(path)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::string out;
  char buffer[1 << 16];
  int n;
  while ((n = gzread(f, buffer, sizeof(buffer))) > 0) {
    out.append(buffer, n);
    if (out.size() > max_bytes) {
      gzclose(f);
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": more than ", max_bytes >> 20, " MiB (the limit for this file)"));
    }
  }
  int err = 0;
  const char* message = gzerror(f, &err);
  const bool failed = n < 0 || (err != Z_OK && err != Z_STREAM_END);
  const std::string why = failed ? message : "";
  gzclose(f);
  if (failed) return absl::DataLossError(absl::StrCat(path, ": corrupt gzip data: ", why));
  return out;
}

uint32_t BigEndian32(const std::string& data, size_t at) {
  return (uint32_t{static_cast<uint8_t>(data[at])} << 24) |
         (uint32_t{static_cast<uint8_t>(data[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(data[at + 2])} << 8) |
         uint32_t{static_cast<uint8_t>(data[at + 3])};
}

absl::Status CheckLabels(const torch::Tensor& labels, int64_t classes, const std::string& path) {
  if (labels.numel() > 0 && labels.max().item<int64_t>() >= classes) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": label ", labels.max().item<int64_t>(),
                                                   " out of range (expected 0..", classes - 1,
                                                   ")"));
  }
  return absl::OkStatus();
}

std::string FindFile(const std::vector<std::string>& dirs, const std::vector<std::string>& names) {
  for (const std::string& dir : dirs) {
    for (const std::string& name : names) {
      const fs::path p = fs::path(dir) / name;
      if (fs::exists(p)) return p.string();
    }
  }
  return "";
}

absl::StatusOr<std::string> Locate(const std::string& dataset, const std::vector<std::string>& dirs,
                                   const std::string& stem) {
  // MNIST mirrors name these with dots or dashes; accept plain and gzip.
  std::vector<std::string> names = {stem, stem + ".gz"};
  std::string dotted = stem;
  const size_t dash = dotted.rfind("-idx");
  if (dash != std::string::npos) {
    dotted[dash] = '.';
    names.push_back(dotted);
    names.push_back(dotted + ".gz");
  }
  std::string found = FindFile(dirs, names);
  if (found.empty()) {
    return absl::NotFoundError(absl::StrCat("dataset '", dataset, "': ", stem,
                                            "[.gz] not found in ", absl::StrJoin(dirs, ", ")));
  }
  return found;
}

absl::StatusOr<Dataset> LoadIdxDataset(const std::string& name,
                                       const std::vector<std::string>& dirs) {
  Dataset d;
  d.name = name;
  Split* splits[2] = {&d.train, &d.test};
  const char* prefixes[2] = {"train", "t10k"};
  for (int s = 0; s < 2; ++s) {
    ASSIGN_OR_RETURN(std::string images_path,
                     Locate(name, dirs, absl::StrCat(prefixes[s], "-images-idx3-ubyte")));
    ASSIGN_OR_RETURN(std::string labels_path,
                     Locate(name, dirs, absl::StrCat(prefixes[s], "-labels-idx1-ubyte")));
    ASSIGN_OR_RETURN(torch::Tensor images, ReadIdx(images_path, 3));
    ASSIGN_OR_RETURN(torch::Tensor labels, ReadIdx(labels_path, 1));
    if (images.size(0) != labels.size(0)) {
      return absl::InvalidArgumentError(absl::StrCat(images_path, ": ", images.size(0),
                                                     " images but ", labels_path, " has ",
                                                     labels.size(0), " labels"));
    }
    splits[s]->x = images.unsqueeze(1).to(torch::kFloat32).div_(255.0f).contiguous();
    splits[s]->y = labels.to(torch::kInt64);
    RETURN_IF_ERROR(CheckLabels(splits[s]->y, 10, labels_path));
  }
  d.shape = {1, d.train.x.size(2), d.train.x.size(3)};
  return d;
}

absl::StatusOr<Split> ReadCifarBatches(const std::vector<std::string>& paths) {
  constexpr int64_t kRecord = 1 + 3 * 32 * 32;
  std::vector<torch::Tensor> xs, ys;
  for (const std::string& path : paths) {
    ASSIGN_OR_RETURN(std::string data, ReadMaybeGzip(path));
    if (data.empty() || data.size() % kRecord != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": ", data.size(), " bytes is not a whole number of CIFAR-10 records (", kRecord,
          " bytes each: 1 label byte, 3072 pixel bytes)"));
    }
    const int64_t n = static_cast<int64_t>(data.size()) / kRecord;
    auto raw = torch::from_blob(data.data(), {n, kRecord}, torch::kUInt8).clone();
    torch::Tensor labels = raw.select(1, 0).to(torch::kInt64);
    RETURN_IF_ERROR(CheckLabels(labels, 10, path));
    xs.push_back(raw.slice(1, 1).reshape({n, 3, 32, 32}).to(torch::kFloat32).div_(255.0f));
    ys.push_back(labels);
  }
  return Split{torch::cat(xs).contiguous(), torch::cat(ys)};
}

absl::StatusOr<Dataset> LoadCifar10(const std::vector<std::string>& dirs) {
  std::vector<std::string> search = dirs;
  for (const std::string& dir : dirs)
    search.push_back((fs::path(dir) / "cifar-10-batches-bin").string());
  std::vector<std::string> train_paths;
  for (int b = 1; b <= 5; ++b) {
    const std::string file = absl::StrCat("data_batch_", b, ".bin");
    std::string found = FindFile(search, {file, file + ".gz"});
    if (found.empty()) {
      return absl::NotFoundError(
          absl::StrCat("dataset 'cifar10': ", file, " not found in ", absl::StrJoin(search, ", ")));
    }
    train_paths.push_back(found);
  }
  std::string test = FindFile(search, {"test_batch.bin", "test_batch.bin.gz"});
  if (test.empty()) {
    return absl::NotFoundError(absl::StrCat("dataset 'cifar10': test_batch.bin not found in ",
                                            absl::StrJoin(search, ", ")));
  }
  Dataset d;
  d.name = "cifar10";
  ASSIGN_OR_RETURN(d.train, ReadCifarBatches(train_paths));
  ASSIGN_OR_RETURN(d.test, ReadCifarBatches({test}));
  d.shape = {3, 32, 32};
  return d;
}

// The file a "csv:<relative>" dataset names: inside one of `dirs` once every link is
// followed, and a regular file (never a device such as /dev/zero).
absl::StatusOr<std::string> ResolveCsv(const std::string& relative,
                                       const std::vector<std::string>& dirs) {
  const fs::path rel(relative);
  bool escapes = relative.empty() || rel.is_absolute();
  for (const fs::path& part : rel) escapes |= part == "..";
  if (escapes) {
    return absl::InvalidArgumentError(
        absl::StrCat("csv:", relative.substr(0, 256),
                     ": a CSV dataset is a relative path inside the data directories"));
  }
  for (const std::string& dir : dirs) {
    std::error_code ec;
    const fs::path root = fs::canonical(dir, ec);
    if (ec) continue;
    const fs::path file = fs::canonical(root / rel, ec);
    if (ec) continue;
    const auto [r, f] = std::mismatch(root.begin(), root.end(), file.begin(), file.end());
    if (r != root.end()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "csv:", relative, ": leads out of the data directory ", root.string(), " (a link)"));
    }
    if (!fs::is_regular_file(file, ec)) {
      return absl::InvalidArgumentError(absl::StrCat("csv:", relative, ": not a regular file"));
    }
    return file.string();
  }
  return absl::NotFoundError(
      absl::StrCat("csv:", relative, ": no such file in ",
                   dirs.empty() ? "(no data directories)" : absl::StrJoin(dirs, ", ")));
}

absl::StatusOr<Dataset> LoadCsv(const std::string& relative, const std::vector<std::string>& dirs) {
  ASSIGN_OR_RETURN(const std::string path, ResolveCsv(relative, dirs));
  ASSIGN_OR_RETURN(std::string text, ReadMaybeGzip(path, kMaxCsvBytes));
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipWhitespace());
  if (lines.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": empty CSV"));
  std::vector<absl::string_view> header = absl::StrSplit(lines[0], ',');
  double probe;
  const bool has_header = !absl::SimpleAtod(absl::StripAsciiWhitespace(header[0]), &probe);
  const size_t columns = header.size();
  if (columns < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": line 1: expected features and a label, got one column"));
  }
  size_t label_col = columns - 1;
  if (has_header) {
    for (size_t c = 0; c < columns; ++c) {
      if (absl::StripAsciiWhitespace(header[c]) == "label") label_col = c;
    }
  }
  std::vector<float> features;
  std::vector<int64_t> labels;
  for (size_t l = has_header ? 1 : 0; l < lines.size(); ++l) {
    std::vector<absl::string_view> cells = absl::StrSplit(lines[l], ',');
    if (cells.size() != columns) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": line ", l + 1, ": ", cells.size(), " columns, expected ", columns));
    }
    for (size_t c = 0; c < columns; ++c) {
      const absl::string_view cell = absl::StripAsciiWhitespace(cells[c]);
      if (c == label_col) {
        int64_t label;
        if (!absl::SimpleAtoi(cell, &label) || label < 0) {
          // The file's content is never echoed: errors reach every client.
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": line ", l + 1, ", column ", c + 1,
                           ": the label is not a class index (0, 1, ...)"));
        }
        labels.push_back(label);
      } else {
        double v;
        if (!absl::SimpleAtod(cell, &v) || !std::isfinite(v)) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": line ", l + 1, ", column ", c + 1, ": not a number"));
        }
        features.push_back(static_cast<float>(v));
      }
    }
  }
  const int64_t n = static_cast<int64_t>(labels.size());
  if (n < 2) return absl::InvalidArgumentError(absl::StrCat(path, ": needs at least 2 rows"));
  const int64_t dims = static_cast<int64_t>(columns) - 1;
  torch::Tensor x = torch::from_blob(features.data(), {n, dims}, torch::kFloat32).clone();
  torch::Tensor y = torch::from_blob(labels.data(), {n}, torch::kInt64).clone();
  Dataset d;
  d.name = "csv:" + relative;
  d.num_classes = *std::max_element(labels.begin(), labels.end()) + 1;
  d.shape = {dims};
  // A CSV has no test split of its own: the last 20 % of rows is the test set.
  const int64_t test = std::max<int64_t>(1, n / 5);
  d.train = Split{x.slice(0, 0, n - test), y.slice(0, 0, n - test)};
  d.test = Split{x.slice(0, n - test), y.slice(0, n - test)};
  return d;
}

}  // namespace

absl::StatusOr<torch::Tensor> ReadIdx(const std::string& path, int expected_dims) {
  ASSIGN_OR_RETURN(std::string data, ReadMaybeGzip(path));
  if (data.size() < 4) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": truncated: ", data.size(), " bytes, no IDX header"));
  }
  const uint32_t magic = BigEndian32(data, 0);
  const uint32_t expected_magic = 0x0800u | static_cast<uint32_t>(expected_dims);
  if (magic != expected_magic) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: wrong magic 0x%08x, expected 0x%08x (IDX unsigned bytes, %d dimensions)", path, magic,
        expected_magic, expected_dims));
  }
  const size_t header = 4 + 4 * static_cast<size_t>(expected_dims);
  if (data.size() < header) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated header"));
  }
  std::vector<int64_t> dims;
  size_t count = 1;
  for (int d = 0; d < expected_dims; ++d) {
    dims.push_back(BigEndian32(data, 4 + 4 * d));
    count *= static_cast<size_t>(dims.back());
  }
  if (data.size() != header + count) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", data.size() - header, " data bytes, expected ", count, " for dimensions ",
        absl::StrJoin(dims, "x"), data.size() < header + count ? " (truncated)" : ""));
  }
  return torch::from_blob(data.data() + header, dims, torch::kUInt8).clone();
}

std::vector<std::string> DefaultDataDirs(const std::string& name) {
  std::vector<std::string> dirs;
  if (absl::StartsWith(name, "csv:")) {
    // CSV paths are relative to the data directories themselves.
    if (const char* env = std::getenv("DEEPEVOLVE_DATA"); env != nullptr && *env) {
      for (absl::string_view d : absl::StrSplit(env, ':', absl::SkipEmpty())) {
        dirs.push_back(std::string(d));
      }
    }
    if (const char* home = std::getenv("HOME"); home != nullptr && *home) {
      dirs.push_back((fs::path(home) / ".deepevolve" / "data").string());
    }
    return dirs;
  }
  if (const char* env = std::getenv("DEEPEVOLVE_DATA"); env != nullptr && *env) {
    for (absl::string_view d : absl::StrSplit(env, ':', absl::SkipEmpty())) {
      dirs.push_back(std::string(d));
      dirs.push_back((fs::path(std::string(d)) / name).string());
    }
  }
  std::string dashed = name;
  std::replace(dashed.begin(), dashed.end(), '_', '-');
  if (const char* home = std::getenv("HOME"); home != nullptr && *home) {
    dirs.push_back((fs::path(home) / ".deepevolve" / "data" / name).string());
  }
  dirs.push_back((fs::path("/usr/share/datasets") / dashed).string());
  return dirs;
}

absl::StatusOr<std::shared_ptr<const Dataset>> LoadDataset(const std::string& name,
                                                           const std::vector<std::string>& dirs) {
  try {
    absl::StatusOr<Dataset> d;
    if (name == "mnist" || name == "fashion_mnist") {
      d = LoadIdxDataset(name, dirs);
    } else if (name == "cifar10") {
      d = LoadCifar10(dirs);
    } else if (absl::StartsWith(name, "csv:")) {
      d = LoadCsv(name.substr(4), dirs);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown dataset '", name, "'"));
    }
    if (!d.ok()) return d.status();
    return std::make_shared<const Dataset>(*std::move(d));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("dataset '", name, "': ", e.what()));
  }
}

absl::StatusOr<std::shared_ptr<const Dataset>> DatasetCache::Get(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = loaded_.find(name);
  if (it != loaded_.end()) return it->second;
  std::vector<std::string> dirs = dirs_;
  for (std::string& d : DefaultDataDirs(name)) dirs.push_back(std::move(d));
  ASSIGN_OR_RETURN(std::shared_ptr<const Dataset> d, LoadDataset(name, dirs));
  loaded_[name] = d;
  return d;
}

DatasetCache& ProcessDatasetCache(const std::vector<std::string>& dirs) {
  static DatasetCache* cache = new DatasetCache(dirs);
  return *cache;
}

Split Head(const Split& s, int64_t n) {
  if (n <= 0 || n >= s.size()) return s;
  return Split{s.x.slice(0, 0, n), s.y.slice(0, 0, n)};
}

}  // namespace deepevolve::trainer
