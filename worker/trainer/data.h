// Datasets in memory as tensors: MNIST / Fashion-MNIST IDX, CIFAR-10 binary batches,
// and CSV. Torch is visible here; only worker/trainer includes this header.
#ifndef DEEPEVOLVE_WORKER_TRAINER_DATA_H_
#define DEEPEVOLVE_WORKER_TRAINER_DATA_H_

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace deepevolve::trainer {

// A labelled split: images as float NCHW scaled to [0, 1] (or features N x D), labels
// as int64 class indices.
struct Split {
  torch::Tensor x;
  torch::Tensor y;
  int64_t size() const { return y.size(0); }
};

struct Dataset {
  std::string name;
  Split train;
  Split test;
  int64_t num_classes = 10;
  // Per-example shape: {C, H, W} for images, {D} for feature vectors.
  std::vector<int64_t> shape;
};

// Reads an IDX file (plain or gzip). Images come back as uint8 N x rows x cols, labels
// as uint8 N. Errors name the file and what was expected (magic, sizes, truncation).
absl::StatusOr<torch::Tensor> ReadIdx(const std::string& path, int expected_dims);

// The largest CSV dataset read (after gunzipping).
inline constexpr size_t kMaxCsvBytes = size_t{256} << 20;

// Loads "mnist", "fashion_mnist", "cifar10" from the first of `dirs` that holds its
// files, or "csv:<relative path>" from the first of `dirs` that holds it (numeric
// features; the label is the column named "label", or the last column; a header row is
// optional; at most kMaxCsvBytes). NOT_FOUND names the files and the directories
// searched; INVALID_ARGUMENT / DATA_LOSS name the file, the line and what was expected,
// never the file's content; a CSV path that is absolute, holds "..", leads out of its
// directory through a link (PERMISSION_DENIED) or is not a regular file is refused.
absl::StatusOr<std::shared_ptr<const Dataset>> LoadDataset(const std::string& name,
                                                           const std::vector<std::string>& dirs);

// Where datasets are looked for when the caller gives no directory:
// $DEEPEVOLVE_DATA (colon-separated), ~/.deepevolve/data/<name>, /usr/share/datasets/<name>
// (Debian's dataset-fashion-mnist is /usr/share/datasets/fashion-mnist); for CSV files
// $DEEPEVOLVE_DATA and ~/.deepevolve/data themselves.
std::vector<std::string> DefaultDataDirs(const std::string& name);

// Loads each dataset once per process and keeps it in memory. Thread-safe.
class DatasetCache {
 public:
  explicit DatasetCache(std::vector<std::string> dirs) : dirs_(std::move(dirs)) {}
  absl::StatusOr<std::shared_ptr<const Dataset>> Get(const std::string& name)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const std::vector<std::string> dirs_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const Dataset>> loaded_ ABSL_GUARDED_BY(mu_);
};

// The process's cache, made with `dirs` on the first call (every trainer of a worker
// is given the same directories).
DatasetCache& ProcessDatasetCache(const std::vector<std::string>& dirs);

// The first `n` examples of `s`; all of them for n <= 0 or past its end.
Split Head(const Split& s, int64_t n);

}  // namespace deepevolve::trainer

#endif  // DEEPEVOLVE_WORKER_TRAINER_DATA_H_
