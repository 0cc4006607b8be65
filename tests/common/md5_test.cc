#include "common/md5.h"

#include "gtest/gtest.h"

namespace deepevolve {
namespace {

TEST(Md5Test, KnownDigests) {
  EXPECT_EQ(Md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Md5Hex("The quick brown fox jumps over the lazy dog"),
            "9e107d9d372bb6826bd81d3542a419d6");
}

}  // namespace
}  // namespace deepevolve
