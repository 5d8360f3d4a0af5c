// v1 → v2 conversions against the values runc's and crun's own tests publish.
#include "runtime/cgroups/convert.h"

#include <gtest/gtest.h>

namespace berth::runtime::cgroups {
namespace {

// opencontainers/cgroups utils_test.go (v0.0.5), TestConvertCPUSharesToCgroupV2Value.
TEST(CgroupConvert, SharesToWeightMatchesOpencontainersCgroups) {
  EXPECT_EQ(cpu_shares_to_weight(0), 0u);           // unset
  EXPECT_EQ(cpu_shares_to_weight(1), 1u);           // below the minimum
  EXPECT_EQ(cpu_shares_to_weight(2), 1u);           // minimum
  EXPECT_EQ(cpu_shares_to_weight(3), 2u);           // just above the minimum
  EXPECT_EQ(cpu_shares_to_weight(1024), 100u);      // the v1 default is the v2 default
  EXPECT_EQ(cpu_shares_to_weight(262143), 10000u);  // just below the maximum
  EXPECT_EQ(cpu_shares_to_weight(262144), 10000u);  // maximum
  EXPECT_EQ(cpu_shares_to_weight(262145), 10000u);  // above the maximum
}

TEST(CgroupConvert, SharesToWeightIsMonotonic) {
  uint64_t prev = 0;
  for (uint64_t s = 2; s <= 262144; s += 97) {
    uint64_t w = cpu_shares_to_weight(s);
    EXPECT_GE(w, prev) << s;
    EXPECT_GE(w, 1u);
    EXPECT_LE(w, 10000u);
    prev = w;
  }
}

// The older linear form (runc 1.1, older crun): 1024 gave 39, not the v2 default 100.
TEST(CgroupConvert, SharesToWeightLinearFormForComparison) {
  EXPECT_EQ(cpu_shares_to_weight_linear(0), 0u);
  EXPECT_EQ(cpu_shares_to_weight_linear(2), 1u);
  EXPECT_EQ(cpu_shares_to_weight_linear(1024), 39u);
  EXPECT_EQ(cpu_shares_to_weight_linear(262144), 10000u);
}

// runc fs2 TestConvertBlkIOToIOWeightValue plus a mid value.
TEST(CgroupConvert, BlkioWeightToIoWeight) {
  EXPECT_EQ(blkio_weight_to_io_weight(0), 0u);
  EXPECT_EQ(blkio_weight_to_io_weight(10), 1u);
  EXPECT_EQ(blkio_weight_to_io_weight(500), 4950u);
  EXPECT_EQ(blkio_weight_to_io_weight(1000), 10000u);
}

// runc TestConvertMemorySwapToCgroupV2Value.
TEST(CgroupConvert, MemorySwapToV2) {
  struct Case {
    int64_t swap, limit, want;
    bool err;
  };
  const Case cases[] = {
      {0, 0, 0, false},      {-1, 0, -1, false},     {-1, -1, -1, false},    {-2, 0, 0, true},
      {-1, 1000, -1, false}, {1000, 1000, 0, false}, {500, 200, 300, false}, {300, 400, 0, true},
      {300, 0, 0, true},     {300, -300, 0, true},   {300, -1, 300, false},  {0, -1, -1, false},
  };
  for (const auto& c : cases) {
    auto got = memory_swap_to_v2(c.swap, c.limit);
    if (c.err) {
      EXPECT_FALSE(got) << c.swap << " " << c.limit;
    } else {
      ASSERT_TRUE(got) << c.swap << " " << c.limit << ": " << got.error().message();
      EXPECT_EQ(*got, c.want) << c.swap << " " << c.limit;
    }
  }
}

TEST(CgroupConvert, V2LimitStrings) {
  EXPECT_EQ(v2_limit(0), "");
  EXPECT_EQ(v2_limit(-1), "max");
  EXPECT_EQ(v2_limit(4096), "4096");
}

TEST(CgroupConvert, CpuMax) {
  EXPECT_EQ(cpu_max(std::nullopt, std::nullopt), "");
  EXPECT_EQ(cpu_max(0, 0), "");
  EXPECT_EQ(cpu_max(50000, 100000), "50000 100000");
  EXPECT_EQ(cpu_max(50000, std::nullopt), "50000 100000");
  EXPECT_EQ(cpu_max(-1, 20000), "max 20000");
  EXPECT_EQ(cpu_max(std::nullopt, 20000), "max 20000");
}

}  // namespace
}  // namespace berth::runtime::cgroups
