// go-units and Go formatting reproductions: the strings docker prints for sizes and durations.
#include "cli/units.h"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

TEST(HumanDuration, MatchesGoUnitsThresholds) {
  EXPECT_EQ(human_duration(0), "Less than a second");
  EXPECT_EQ(human_duration(1), "1 second");
  EXPECT_EQ(human_duration(59), "59 seconds");
  EXPECT_EQ(human_duration(60), "About a minute");
  EXPECT_EQ(human_duration(119), "About a minute");
  EXPECT_EQ(human_duration(120), "2 minutes");
  EXPECT_EQ(human_duration(3599), "59 minutes");
  EXPECT_EQ(human_duration(3600), "About an hour");
  EXPECT_EQ(human_duration(5400), "2 hours");  // hours round to nearest
  EXPECT_EQ(human_duration(47 * 3600), "47 hours");
  EXPECT_EQ(human_duration(3 * 86400), "3 days");
  EXPECT_EQ(human_duration(20 * 86400), "2 weeks");
  EXPECT_EQ(human_duration(90 * 86400), "3 months");
  EXPECT_EQ(human_duration(800 * 86400), "2 years");
}

TEST(HumanSize, DecimalUnitsWithPrecision) {
  EXPECT_EQ(human_size(1982000, 3), "1.98MB");
  EXPECT_EQ(human_size(0, 3), "0B");
  EXPECT_EQ(human_size(999, 3), "999B");
  EXPECT_EQ(human_size(1000, 3), "1kB");
  EXPECT_EQ(human_size(1234567890), "1.235GB");
  EXPECT_EQ(bytes_size(1536 * 1024), "1.5MiB");
  EXPECT_EQ(bytes_size(0), "0B");
}

TEST(RamInBytes, ParsesBinaryMultipliers) {
  EXPECT_EQ(ram_in_bytes("64m").value(), 67108864);
  EXPECT_EQ(ram_in_bytes("1g").value(), 1073741824);
  EXPECT_EQ(ram_in_bytes("512k").value(), 524288);
  EXPECT_EQ(ram_in_bytes("1.5GiB").value(), 1610612736);
  EXPECT_EQ(ram_in_bytes("100").value(), 100);
  EXPECT_EQ(from_human_size("1m").value(), 1000000);
  EXPECT_FALSE(ram_in_bytes("abc"));
  EXPECT_FALSE(ram_in_bytes("12x"));
  EXPECT_FALSE(ram_in_bytes(""));
}

TEST(GoFloat, PrintsLikeFmtV) {
  EXPECT_EQ(go_float(1234), "1234");
  EXPECT_EQ(go_float(123456), "123456");
  EXPECT_EQ(go_float(1234567), "1.234567e+06");
  EXPECT_EQ(go_float(1.5e9), "1.5e+09");
  EXPECT_EQ(go_float(67108864), "6.7108864e+07");
  EXPECT_EQ(go_float(0.5), "0.5");
  EXPECT_EQ(go_float(0.00001), "1e-05");
  EXPECT_EQ(go_float(-2.25), "-2.25");
}

TEST(GoQuote, EscapesLikeStrconvQuote) {
  EXPECT_EQ(go_quote("sleep 1000"), "\"sleep 1000\"");
  EXPECT_EQ(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
  EXPECT_EQ(go_quote(std::string("\x01", 1)), "\"\\x01\"");
  EXPECT_EQ(go_quote("héllo…"), "\"héllo…\"");
}

TEST(Ellipsis, CutsAtRunesWithEllipsis) {
  EXPECT_EQ(ellipsis("short", 20), "short");
  EXPECT_EQ(ellipsis("sh -c 'while true; do sleep 1; done'", 20), "sh -c 'while true; …");
  EXPECT_EQ(rune_count(ellipsis("ééééééééééééééééééééééé", 20)), 20u);
}

TEST(TruncateId, StripsAlgorithmAndKeeps12) {
  EXPECT_EQ(truncate_id("sha256:e6e3f2a704a866d611ace229f7a2"), "e6e3f2a704a8");
  EXPECT_EQ(truncate_id("21a45cea22aed908c8a06632ba55fbdf"), "21a45cea22ae");
}

TEST(GoTime, PrintsUtcLikeTimeString) {
  EXPECT_EQ(go_time_string(0), "1970-01-01 00:00:00 +0000 UTC");
  EXPECT_EQ(go_time_string(1795747500), "2026-11-27 02:45:00 +0000 UTC");
}

}  // namespace
}  // namespace berth::cli
