// Container state: ids, persistence round trip, liveness by pid and start time.
#include "runtime/state.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"

using namespace berth;
using namespace berth::runtime;

TEST(ContainerId, AcceptsRuncCharacterSet) {
  EXPECT_TRUE(validate_container_id("abc-DEF_1.2+3"));
}

TEST(ContainerId, RejectsSlashesDotsAndEmpty) {
  EXPECT_FALSE(validate_container_id(""));
  EXPECT_FALSE(validate_container_id("."));
  EXPECT_FALSE(validate_container_id(".."));
  EXPECT_FALSE(validate_container_id("a/b"));
  auto r = validate_container_id("../etc");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

TEST(ContainerState, SaveLoadRoundTrip) {
  char tmpl[] = "/tmp/berth-state-test.XXXXXX";
  ASSERT_TRUE(mkdtemp(tmpl));
  std::string root = tmpl;
  ASSERT_EQ(::mkdir((root + "/c1").c_str(), 0700), 0);
  ContainerState s;
  s.id = "c1";
  s.init_pid = getpid();
  s.init_start_time = process_start_time(getpid());
  s.bundle = "/b";
  s.rootfs = "/b/rootfs";
  s.created = "2026-01-01T00:00:00.000000000Z";
  s.annotations = {{"k", "v"}};
  s.config = json::Json{{"ociVersion", "1.2.0"}};
  ASSERT_TRUE(save_state(root, s));
  auto loaded = load_state(root, "c1");
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->init_pid, s.init_pid);
  EXPECT_EQ(loaded->annotations.at("k"), "v");
  EXPECT_EQ(loaded->config["ociVersion"], "1.2.0");
  EXPECT_TRUE(init_alive(*loaded));
  auto missing = load_state(root, "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message(), "container does not exist: nope");
  (void)remove_all(root);
}

TEST(ContainerState, ExitedProcessIsNotAlive) {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  ContainerState s;
  s.init_pid = pid;
  s.init_start_time = process_start_time(pid);
  waitpid(pid, nullptr, 0);
  EXPECT_FALSE(init_alive(s));
}

TEST(ContainerState, StartTimeMismatchMeansReusedPid) {
  ContainerState s;
  s.init_pid = getpid();
  s.init_start_time = process_start_time(getpid()) + 1;
  EXPECT_FALSE(init_alive(s));
}
