// Tests for the event ring (history, cursors, live delivery) and docker's /events filters.
#include "engine/events.h"

#include <gtest/gtest.h>

#include <thread>

#include "engine/event_filter.h"

namespace berth::engine {
namespace {

using Filters = std::map<std::string, std::vector<std::string>>;

TEST(Events, PublishFillsDockerShapeAndLegacyFields) {
  Events ev;
  ev.publish("container", "start", "abc123", {{"image", "busybox"}, {"name", "web"}});
  uint64_t cursor = 0;
  auto h = ev.history(0, 0, &cursor);
  ASSERT_EQ(h.size(), 1u);
  const auto& e = h[0];
  EXPECT_EQ(e["Type"], "container");
  EXPECT_EQ(e["Action"], "start");
  EXPECT_EQ(e["Actor"]["ID"], "abc123");
  EXPECT_EQ(e["Actor"]["Attributes"]["name"], "web");
  EXPECT_EQ(e["scope"], "local");
  EXPECT_EQ(e["status"], "start");
  EXPECT_EQ(e["id"], "abc123");
  EXPECT_EQ(e["from"], "busybox");
  EXPECT_EQ(e["time"].get<int64_t>(), e["timeNano"].get<int64_t>() / 1000000000);
  EXPECT_EQ(cursor, 1u);
}

TEST(Events, VolumeEventsHaveNoLegacyFields) {
  Events ev;
  ev.publish("volume", "create", "v1", {{"driver", "local"}});
  uint64_t cursor = 0;
  auto h = ev.history(0, 0, &cursor);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_FALSE(h[0].contains("status"));
  EXPECT_FALSE(h[0].contains("from"));
  EXPECT_TRUE(h[0]["Actor"]["Attributes"].is_object());
}

TEST(Events, RingKeepsLast1024) {
  Events ev;
  for (int i = 0; i < 1100; ++i) ev.publish("container", "start", std::to_string(i), {});
  uint64_t cursor = 0;
  auto h = ev.history(0, 0, &cursor);
  ASSERT_EQ(h.size(), 1024u);
  EXPECT_EQ(h.front()["id"], "76");
  EXPECT_EQ(h.back()["id"], "1099");
  EXPECT_EQ(cursor, 1100u);
}

TEST(Events, HistoryHonoursSinceAndUntil) {
  Events ev;
  ev.publish("container", "create", "a", {});
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  uint64_t c = 0;
  int64_t mid = ev.history(0, 0, &c)[0]["timeNano"].get<int64_t>() + 1;
  ev.publish("container", "start", "a", {});
  auto after = ev.history(mid, 0, &c);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0]["Action"], "start");
  auto before = ev.history(0, mid, &c);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0]["Action"], "create");
}

TEST(Events, NextDeliversLiveEventsInOrderAndTimesOut) {
  Events ev;
  uint64_t cursor = ev.cursor_now();
  json::Json got;
  EXPECT_FALSE(ev.next(&cursor, &got, 20));
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ev.publish("container", "die", "x", {{"exitCode", "3"}});
    ev.publish("container", "destroy", "x", {});
  });
  ASSERT_TRUE(ev.next(&cursor, &got, 5000));
  EXPECT_EQ(got["Action"], "die");
  EXPECT_EQ(got["Actor"]["Attributes"]["exitCode"], "3");
  ASSERT_TRUE(ev.next(&cursor, &got, 5000));
  EXPECT_EQ(got["Action"], "destroy");
  t.join();
  EXPECT_FALSE(ev.next(&cursor, &got, 10));
}

TEST(Events, NextSkipsToOldestKeptWhenCursorFellOffTheRing) {
  Events ev;
  uint64_t cursor = 0;
  for (int i = 0; i < 1030; ++i) ev.publish("container", "start", std::to_string(i), {});
  json::Json got;
  ASSERT_TRUE(ev.next(&cursor, &got, 10));
  EXPECT_EQ(got["id"], "6");
  EXPECT_EQ(cursor, 7u);
}

json::Json sample(const std::string& type, const std::string& action, const std::string& id,
                  std::map<std::string, std::string> attrs) {
  Events ev;
  ev.publish(type, action, id, std::move(attrs));
  uint64_t c;
  return ev.history(0, 0, &c).at(0);
}

TEST(EventFilter, EmptyFiltersMatchEverything) {
  EXPECT_TRUE(event_matches(sample("container", "start", "abc", {}), {}));
}

TEST(EventFilter, TypeAndEventAreExactAndOred) {
  auto e = sample("container", "start", "abc", {});
  EXPECT_TRUE(event_matches(e, Filters{{"type", {"container"}}}));
  EXPECT_FALSE(event_matches(e, Filters{{"type", {"image"}}}));
  EXPECT_TRUE(event_matches(e, Filters{{"event", {"die", "start"}}}));
  EXPECT_FALSE(event_matches(e, Filters{{"event", {"stop"}}}));
  EXPECT_FALSE(event_matches(e, Filters{{"event", {"sta"}}}));
  EXPECT_TRUE(event_matches(e, Filters{{"action", {"start"}}}));
  EXPECT_FALSE(event_matches(e, Filters{{"type", {"container"}}, {"event", {"die"}}}));
}

TEST(EventFilter, ExecStartMatchesItsSuffixedForm) {
  auto e = sample("container", "exec_start: sh -c true", "abc", {});
  EXPECT_TRUE(event_matches(e, Filters{{"event", {"exec_start"}}}));
  EXPECT_FALSE(event_matches(e, Filters{{"event", {"exec_create"}}}));
}

TEST(EventFilter, ContainerMatchesIdPrefixOrName) {
  auto e = sample("container", "start", "abcdef0123", {{"name", "web"}});
  EXPECT_TRUE(event_matches(e, Filters{{"container", {"abcdef"}}}));
  EXPECT_TRUE(event_matches(e, Filters{{"container", {"web"}}}));
  EXPECT_FALSE(event_matches(e, Filters{{"container", {"db"}}}));
  EXPECT_FALSE(event_matches(sample("image", "pull", "busybox:latest", {}),
                             Filters{{"container", {"web"}}}));
}

TEST(EventFilter, ImageMatchesContainerImageAttributeWithOrWithoutTag) {
  auto e = sample("container", "start", "c1", {{"image", "busybox:latest"}});
  EXPECT_TRUE(event_matches(e, Filters{{"image", {"busybox"}}}));
  EXPECT_TRUE(event_matches(e, Filters{{"image", {"busybox:latest"}}}));
  EXPECT_FALSE(event_matches(e, Filters{{"image", {"alpine"}}}));
  auto img = sample("image", "tag", "sha256:1234", {{"name", "reg:5000/app:v1"}});
  EXPECT_TRUE(event_matches(img, Filters{{"image", {"reg:5000/app"}}}));
  EXPECT_TRUE(event_matches(img, Filters{{"image", {"sha256:1234"}}}));
}

TEST(EventFilter, LabelsMustAllHold) {
  auto e = sample("container", "start", "c1", {{"com.example.a", "1"}, {"b", "x=y"}});
  EXPECT_TRUE(event_matches(e, Filters{{"label", {"com.example.a"}}}));
  EXPECT_TRUE(event_matches(e, Filters{{"label", {"com.example.a=1", "b=x=y"}}}));
  EXPECT_FALSE(event_matches(e, Filters{{"label", {"com.example.a=2"}}}));
  EXPECT_FALSE(event_matches(e, Filters{{"label", {"com.example.a", "missing"}}}));
  EXPECT_FALSE(event_matches(sample("container", "start", "c1", {}), Filters{{"label", {"a"}}}));
}

TEST(EventFilter, VolumeMatchesName) {
  auto e = sample("volume", "mount", "data", {{"container", "c1"}});
  EXPECT_TRUE(event_matches(e, Filters{{"volume", {"data"}}, {"type", {"volume"}}}));
  EXPECT_FALSE(event_matches(e, Filters{{"volume", {"other"}}}));
}

}  // namespace
}  // namespace berth::engine
