// libFuzzer target: the worker's dataset readers on a file's bytes. The first byte
// picks the reader: an IDX file of images (3 dimensions), of labels (1), or a CSV
// dataset; the rest is the file, written where the reader looks for it.
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "worker/trainer/data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = [] {
    std::string d = "/tmp/deepevolve-dataset-fuzz-" + std::to_string(getpid());
    mkdir(d.c_str(), 0700);
    return d;
  }();
  if (size == 0) return 0;
  const int kind = data[0] % 3;
  const std::string path = dir + (kind == 2 ? "/data.csv" : "/data.idx");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  }
  if (kind == 2) {
    (void)deepevolve::trainer::LoadDataset("csv:data.csv", {dir});
  } else {
    (void)deepevolve::trainer::ReadIdx(path, kind == 0 ? 3 : 1);
  }
  return 0;
}
