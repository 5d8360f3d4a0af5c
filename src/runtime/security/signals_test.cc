// Signal table: every form runc's kill accepts.
#include "runtime/security/signals.h"

#include <gtest/gtest.h>
#include <signal.h>

using berth::runtime::security::parse_signal;
using berth::runtime::security::signal_name;

TEST(Signals, ParsesNumbersNamesAndSigPrefix) {
  EXPECT_EQ(parse_signal("9"), SIGKILL);
  EXPECT_EQ(parse_signal("KILL"), SIGKILL);
  EXPECT_EQ(parse_signal("SIGKILL"), SIGKILL);
  EXPECT_EQ(parse_signal("term"), SIGTERM);
  EXPECT_EQ(parse_signal("SIGWINCH"), SIGWINCH);
}

TEST(Signals, ParsesRealtimeOffsets) {
  EXPECT_EQ(parse_signal("SIGRTMIN"), SIGRTMIN);
  EXPECT_EQ(parse_signal("RTMIN+3"), SIGRTMIN + 3);
  EXPECT_EQ(parse_signal("SIGRTMAX-1"), SIGRTMAX - 1);
}

TEST(Signals, RejectsUnknownAndOutOfRange) {
  EXPECT_FALSE(parse_signal(""));
  EXPECT_FALSE(parse_signal("NOPE"));
  EXPECT_FALSE(parse_signal("0"));
  EXPECT_FALSE(parse_signal("99"));
  EXPECT_FALSE(parse_signal("RTMIN+100"));
}

TEST(Signals, NamesNumbers) {
  EXPECT_EQ(signal_name(SIGKILL), "SIGKILL");
  EXPECT_EQ(signal_name(SIGRTMIN + 2), "SIGRTMIN+2");
}
