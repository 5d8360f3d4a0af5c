// Tests for docker top: parsing ps output like moby, and real ps runs against a child process.
#include "engine/top.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace berth::engine {
namespace {

TEST(ParsePsOutput, KeepsOnlyGivenPidsAndJoinsCommandWords) {
  std::string out =
      "UID        PID  PPID  C STIME TTY          TIME CMD\n"
      "root         1     0  0 Nov26 ?        00:00:51 /sbin/init splash\n"
      "root       100     1  0 02:37 ?        00:00:00 sh -c sleep 100\n"
      "root       101   100  0 02:37 ?        00:00:00 sleep 100\n";
  auto r = parse_ps_output(out, {100, 101});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ((*r)["Titles"].size(), 8u);
  EXPECT_EQ((*r)["Titles"][1], "PID");
  ASSERT_EQ((*r)["Processes"].size(), 2u);
  EXPECT_EQ((*r)["Processes"][0].size(), 8u);
  EXPECT_EQ((*r)["Processes"][0][1], "100");
  EXPECT_EQ((*r)["Processes"][0][7], "sh -c sleep 100");
  EXPECT_EQ((*r)["Processes"][1][7], "sleep 100");
}

TEST(ParsePsOutput, ThreadRowsFollowTheirProcess) {
  std::string out =
      "USER PID TID CMD\n"
      "root 5 - app\n"
      "root - 5 -\n"
      "root - 6 -\n"
      "root 7 - other\n"
      "root - 7 -\n";
  auto r = parse_ps_output(out, {5});
  ASSERT_TRUE(r);
  ASSERT_EQ((*r)["Processes"].size(), 3u);
  EXPECT_EQ((*r)["Processes"][2][2], "6");
}

TEST(ParsePsOutput, NoPidColumnIsAnError) {
  auto r = parse_ps_output("USER CMD\nroot sh\n", {1});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "Couldn't find PID field in ps output");
  auto bad = parse_ps_output("PID CMD\nabc sh\n", {1});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "Unexpected pid 'abc'");
}

class TopReal : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/ps", X_OK) != 0 && ::access("/bin/ps", X_OK) != 0)
      GTEST_SKIP() << "no ps";
    child_ = ::fork();
    ASSERT_GE(child_, 0);
    if (child_ == 0) {
      ::execl("/bin/sleep", "sleep", "30", nullptr);
      ::_exit(127);
    }
    ::usleep(50000);  // let it exec, so ps shows "sleep 30"
  }
  void TearDown() override {
    if (child_ > 0) {
      ::kill(child_, SIGKILL);
      ::waitpid(child_, nullptr, 0);
    }
  }
  pid_t child_ = -1;
};

TEST_F(TopReal, DefaultArgsListOnlyTheContainerProcess) {
  auto r = top_processes({child_}, "");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ((*r)["Titles"][0], "UID");
  ASSERT_EQ((*r)["Processes"].size(), 1u);
  EXPECT_EQ((*r)["Processes"][0][1], std::to_string(child_));
  EXPECT_EQ((*r)["Processes"][0].back(), "sleep 30");
}

TEST_F(TopReal, CustomArgsAndForestFallback) {
  auto aux = top_processes({child_}, "aux");
  ASSERT_TRUE(aux) << aux.error().message();
  EXPECT_EQ((*aux)["Titles"][1], "PID");
  ASSERT_EQ((*aux)["Processes"].size(), 1u);
  // "f" (forest) cannot be combined with -q: the full listing is filtered instead.
  auto forest = top_processes({child_}, "axf -o pid,args");
  ASSERT_TRUE(forest) << forest.error().message();
  ASSERT_EQ((*forest)["Processes"].size(), 1u);
  EXPECT_EQ((*forest)["Processes"][0][0], std::to_string(child_));
}

TEST_F(TopReal, RejectsRenamedPidAndMissingPidColumn) {
  auto renamed = top_processes({child_}, "-o user=PID");
  ASSERT_FALSE(renamed);
  EXPECT_EQ(renamed.error().code(), ErrorCode::kInvalidArgument);
  auto nopid = top_processes({child_}, "-o comm");
  ASSERT_FALSE(nopid);
  EXPECT_EQ(nopid.error().message(), "Couldn't find PID field in ps output");
  auto bad = top_processes({child_}, "--no-such-option");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message().rfind("ps: ", 0), 0u);
}

}  // namespace
}  // namespace berth::engine
