// ps row fields, port display, jsonmessage lines, --since parsing and detach keys: the pieces
// of output and input handling that docker users see directly.
#include <gtest/gtest.h>

#include "cli/jsonmessage.h"
#include "cli/ps_format.h"
#include "cli/stream.h"
#include "cli/timestamp.h"

namespace berth::cli {
namespace {

TEST(ContainerRow, TruncatesQuotesAndHumanizesLikeDocker) {
  const Value c = Value::parse(R"({
    "Id": "21a45cea22aed908c8a06632ba55fbdf7cad9dd24f5dc2fc27f4d3036df88ccc",
    "Names": ["/web"], "Image": "busybox@sha256:abc", "ImageID": "sha256:e6e3f2a704a8",
    "Command": "sh -c 'while true; do sleep 1; done'", "Created": 1000, "State": "running",
    "Status": "Up 2 minutes", "Labels": {"b": "2", "a": "1"}, "SizeRw": 1500,
    "SizeRootFs": 1982000, "Ports": [], "Mounts": [{"Name": "vol", "Driver": "local"}],
    "NetworkSettings": {"Networks": {"none": {}, "bridge": {}}}})");
  const Value r = container_row(c, true, 1000 + 150);
  EXPECT_EQ(r["ID"], "21a45cea22ae");
  EXPECT_EQ(r["Names"], "web");
  EXPECT_EQ(r["Image"], "busybox");
  EXPECT_EQ(r["Command"], "\"sh -c 'while true; …\"");
  EXPECT_EQ(r["RunningFor"], "2 minutes ago");
  EXPECT_EQ(r["Labels"], "a=1,b=2");
  EXPECT_EQ(r["Size"], "1.5kB (virtual 1.98MB)");
  EXPECT_EQ(r["Mounts"], "vol");
  EXPECT_EQ(r["LocalVolumes"], "1");
  EXPECT_EQ(r["Networks"], "bridge,none");
  const Value full = container_row(c, false, 1150);
  EXPECT_EQ(full["ID"].get<std::string>().size(), 64u);
  EXPECT_EQ(full["Command"], "\"sh -c 'while true; do sleep 1; done'\"");
  // Keys sorted, as {{json .}} prints them.
  EXPECT_EQ(r.begin().key(), "Command");
}

TEST(DisplayablePorts, GroupsRangesAndShowsMappings) {
  EXPECT_EQ(displayable_ports(Value::parse(R"([
    {"PrivatePort": 80, "Type": "tcp", "IP": "0.0.0.0", "PublicPort": 8080},
    {"PrivatePort": 9000, "Type": "udp"}, {"PrivatePort": 9001, "Type": "udp"},
    {"PrivatePort": 443, "Type": "tcp"}])")),
            "443/tcp, 9000-9001/udp, 0.0.0.0:8080->80/tcp");
  EXPECT_EQ(displayable_ports(Value::array()), "");
}

TEST(JsonMessage, PlainLinesWithoutTerminal) {
  EXPECT_EQ(render_json_message(Value::parse(R"({"status":"Pulling fs layer","id":"abc"})"), false),
            "abc: Pulling fs layer\n");
  EXPECT_EQ(render_json_message(Value::parse(R"({"stream":"Loaded image: x:y\n"})"), false),
            "Loaded image: x:y\n");
  // Progress bars are only drawn on a terminal.
  EXPECT_EQ(
      render_json_message(
          Value::parse(
              R"({"status":"Downloading","id":"a","progressDetail":{"current":5,"total":10}})"),
          false),
      "");
  const std::string tty = render_json_message(
      Value::parse(
          R"({"status":"Downloading","id":"a","progressDetail":{"current":500,"total":1000}})"),
      true);
  EXPECT_NE(tty.find("a: Downloading"), std::string::npos);
  EXPECT_NE(tty.find("500B/1kB"), std::string::npos);
}

TEST(Timestamp, DurationsDatesAndUnixTimes) {
  EXPECT_EQ(parse_go_duration("1h30m").value(), 5400LL * 1000000000);
  EXPECT_EQ(parse_go_duration("10s").value(), 10LL * 1000000000);
  EXPECT_FALSE(parse_go_duration("10x"));
  EXPECT_EQ(get_timestamp("10m", 100000).value(), "99400");
  EXPECT_EQ(get_timestamp("2026-11-27T02:00:00Z", 0).value(), "1795744800.000000000");
  EXPECT_EQ(get_timestamp("2026-11-27T02:00:00.5+01:00", 0).value(), "1795741200.500000000");
  EXPECT_EQ(get_timestamp("1700000000", 0).value(), "1700000000");
  EXPECT_FALSE(get_timestamp("yesterday", 0));
}

TEST(DetachKeys, ParsesDockerNotation) {
  EXPECT_EQ(parse_detach_keys("ctrl-p,ctrl-q").value(), "\x10\x11");
  EXPECT_EQ(parse_detach_keys("ctrl-@,a").value(), std::string("\0a", 2));
  EXPECT_EQ(parse_detach_keys("ctrl-[").value(), "\x1b");
  EXPECT_FALSE(parse_detach_keys("ctrl-"));
  EXPECT_FALSE(parse_detach_keys("alt-x"));
}

}  // namespace
}  // namespace berth::cli
