// run/create flags -> create request body, the conversions docker users rely on.
#include "cli/container_options.h"

#include <gtest/gtest.h>

#include <fstream>

namespace berth::cli {
namespace {

// Parses a docker-style command line for `run` into options.
ContainerOptions parse(std::vector<std::string> argv) {
  ContainerOptions o;
  CLI::App app("run");
  app.set_help_flag("--help");
  add_container_flags(app, o, true);
  auto [flags, cmd] = split_command_args(app, argv, 1);
  std::reverse(flags.begin(), flags.end());
  app.parse(flags);
  o.command = cmd;
  return o;
}

Value body(std::vector<std::string> argv) {
  auto b = build_create_body(parse(std::move(argv)));
  EXPECT_TRUE(b) << (b ? "" : b.error().message());
  return b ? *b : Value();
}

TEST(CreateBody, ResourceFlagsConvertLikeDocker) {
  Value b = body({"--cpus", "1.5", "-m", "64m", "--memory-swap", "-1", "--cpu-shares", "512",
                  "--pids-limit", "100", "busybox"});
  EXPECT_EQ(b["HostConfig"]["NanoCpus"], 1500000000);
  EXPECT_EQ(b["HostConfig"]["Memory"], 67108864);
  EXPECT_EQ(b["HostConfig"]["MemorySwap"], -1);
  EXPECT_EQ(b["HostConfig"]["CpuShares"], 512);
  EXPECT_EQ(b["HostConfig"]["PidsLimit"], 100);
  EXPECT_EQ(b["Image"], "busybox");
  EXPECT_FALSE(b.contains("Cmd"));
}

TEST(CreateBody, CommandAfterImageIsNotParsedAsFlags) {
  Value b = body({"-e", "A=1", "-l", "x=y", "busybox", "ls", "-l", "-e", "/"});
  EXPECT_EQ(b["Cmd"], Value::array({"ls", "-l", "-e", "/"}));
  EXPECT_EQ(b["Env"], Value::array({"A=1"}));
  EXPECT_EQ(b["Labels"], Value::parse(R"({"x":"y"})"));
  Value c = body({"-it", "--rm", "-wfoo", "busybox", "sh"});
  EXPECT_EQ(c["Tty"], true);
  EXPECT_EQ(c["OpenStdin"], true);
  EXPECT_EQ(c["AttachStdin"], true);
  EXPECT_EQ(c["StdinOnce"], true);
  EXPECT_EQ(c["WorkingDir"], "foo");
  EXPECT_EQ(c["HostConfig"]["AutoRemove"], true);
  EXPECT_EQ(c["Cmd"], Value::array({"sh"}));
}

TEST(CreateBody, DetachedDoesNotAttach) {
  Value b = body({"-d", "-i", "busybox"});
  EXPECT_EQ(b["AttachStdin"], false);
  EXPECT_EQ(b["AttachStdout"], false);
  EXPECT_EQ(b["OpenStdin"], true);
  EXPECT_EQ(b["StdinOnce"], false);
}

TEST(CreateBody, UlimitForms) {
  EXPECT_EQ(parse_ulimit("nofile=1024:2048").value(),
            Value::parse(R"({"Name":"nofile","Hard":2048,"Soft":1024})"));
  EXPECT_EQ(parse_ulimit("nproc=10").value(),
            Value::parse(R"({"Name":"nproc","Hard":10,"Soft":10})"));
  EXPECT_FALSE(parse_ulimit("nofile"));
  EXPECT_FALSE(parse_ulimit("nofile=20:10"));
  Value b = body({"--ulimit", "nofile=1024:2048", "busybox"});
  EXPECT_EQ(b["HostConfig"]["Ulimits"][0]["Soft"], 1024);
}

TEST(CreateBody, VolumeForms) {
  Value b = body({"-v", "/host:/ctr:ro", "-v", "named:/data", "-v", "/anon", "busybox"});
  EXPECT_EQ(b["HostConfig"]["Binds"], Value::array({"/host:/ctr:ro", "named:/data"}));
  EXPECT_EQ(b["Volumes"], Value::parse(R"({"/anon":{}})"));
}

TEST(CreateBody, MountForms) {
  EXPECT_EQ(parse_mount("type=bind,source=/a,target=/b,readonly").value(),
            Value::parse(R"({"Type":"bind","Source":"/a","Target":"/b","ReadOnly":true})"));
  EXPECT_EQ(
      parse_mount("src=v1,dst=/data,volume-nocopy").value(),
      Value::parse(
          R"({"Type":"volume","Source":"v1","Target":"/data","VolumeOptions":{"NoCopy":true}})"));
  EXPECT_EQ(
      parse_mount("type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1777").value(),
      Value::parse(
          R"({"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":1048576,"Mode":1023}})"));
  EXPECT_EQ(
      parse_mount("type=bind,src=/a,dst=/b,bind-propagation=rshared,ro=false").value(),
      Value::parse(
          R"({"Type":"bind","Source":"/a","Target":"/b","BindOptions":{"Propagation":"rshared"}})"));
  auto no_target = parse_mount("type=bind,src=/a");
  ASSERT_FALSE(no_target);
  EXPECT_EQ(no_target.error().message(),
            "invalid argument \"type=bind,src=/a\" for \"--mount\" flag: target is required");
  EXPECT_FALSE(parse_mount("type=volume,target=/x,bind-propagation=shared"));
  EXPECT_FALSE(parse_mount("target=/x,bogus=1"));
}

TEST(CreateBody, RestartPolicies) {
  EXPECT_EQ(parse_restart("on-failure:3").value(),
            Value::parse(R"({"Name":"on-failure","MaximumRetryCount":3})"));
  EXPECT_EQ(parse_restart("always").value(),
            Value::parse(R"({"Name":"always","MaximumRetryCount":0})"));
  EXPECT_FALSE(parse_restart("always:3"));
  EXPECT_FALSE(parse_restart("on-failure:x"));
  auto conflict = build_create_body(parse({"--rm", "--restart", "always", "busybox"}));
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().message(), "Conflicting options: --restart and --rm");
}

TEST(CreateBody, TmpfsAndMiscHostConfig) {
  Value b = body({"--tmpfs",
                  "/x:size=1m",
                  "--tmpfs",
                  "/y",
                  "--cap-add",
                  "NET_ADMIN",
                  "--cap-drop",
                  "ALL",
                  "--privileged",
                  "--read-only",
                  "--init",
                  "--network",
                  "none",
                  "--stop-signal",
                  "SIGUSR1",
                  "--stop-timeout",
                  "5",
                  "--log-opt",
                  "max-size=1m",
                  "-h",
                  "box",
                  "-u",
                  "1000:1000",
                  "--entrypoint",
                  "",
                  "busybox"});
  EXPECT_EQ(b["HostConfig"]["Tmpfs"], Value::parse(R"({"/x":"size=1m","/y":""})"));
  EXPECT_EQ(b["HostConfig"]["CapAdd"], Value::array({"NET_ADMIN"}));
  EXPECT_EQ(b["HostConfig"]["CapDrop"], Value::array({"ALL"}));
  EXPECT_EQ(b["HostConfig"]["Privileged"], true);
  EXPECT_EQ(b["HostConfig"]["ReadonlyRootfs"], true);
  EXPECT_EQ(b["HostConfig"]["Init"], true);
  EXPECT_EQ(b["HostConfig"]["NetworkMode"], "none");
  EXPECT_EQ(b["HostConfig"]["LogConfig"]["Config"], Value::parse(R"({"max-size":"1m"})"));
  EXPECT_EQ(b["StopSignal"], "SIGUSR1");
  EXPECT_EQ(b["StopTimeout"], 5);
  EXPECT_EQ(b["Hostname"], "box");
  EXPECT_EQ(b["User"], "1000:1000");
  EXPECT_EQ(b["Entrypoint"], Value::array({""}));
  Value d = body({"busybox"});
  EXPECT_FALSE(d["HostConfig"].contains("Init"));
  EXPECT_EQ(d["HostConfig"]["NetworkMode"], "default");
}

TEST(CreateBody, PublishBecomesPortBindings) {
  Value b = body({"-p", "8080:80", "-p", "127.0.0.1::53/udp", "-p", "9000-9001:90-91", "busybox"});
  EXPECT_EQ(b["ExposedPorts"],
            Value::parse(R"({"80/tcp":{},"53/udp":{},"90/tcp":{},"91/tcp":{}})"));
  EXPECT_EQ(b["HostConfig"]["PortBindings"]["80/tcp"],
            Value::parse(R"([{"HostIp":"","HostPort":"8080"}])"));
  EXPECT_EQ(b["HostConfig"]["PortBindings"]["53/udp"],
            Value::parse(R"([{"HostIp":"127.0.0.1","HostPort":""}])"));
  EXPECT_EQ(b["HostConfig"]["PortBindings"]["91/tcp"][0]["HostPort"], "9001");
  Value e, p;
  EXPECT_FALSE(parse_publish("80/foo", e, p));
}

TEST(CreateBody, BadValuesAreFlagErrors) {
  EXPECT_EQ(parse_cpus("1.5").value(), 1500000000);
  EXPECT_FALSE(parse_cpus("abc"));
  auto m = build_create_body(parse({"-m", "lots", "busybox"}));
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message().find("invalid argument \"lots\""), std::string::npos);
}

TEST(CreateBody, EnvFileThenEnvFlags) {
  const std::string path = ::testing::TempDir() + "/berth-envfile";
  {
    std::ofstream f(path);
    f << "# comment\n\nFROM_FILE=1\n  SPACED=a b\n";
  }
  Value b = body({"--env-file", path, "-e", "B=2", "busybox"});
  EXPECT_EQ(b["Env"], Value::array({"FROM_FILE=1", "SPACED=a b", "B=2"}));
  std::remove(path.c_str());
}

TEST(SplitCommandArgs, HandlesClustersInlineValuesAndDoubleDash) {
  ContainerOptions o;
  CLI::App app("run");
  app.set_help_flag("--help");
  add_container_flags(app, o, true);
  auto [f1, c1] = split_command_args(app, {"-dit", "--name=x", "-e", "K=V", "img", "a", "-b"}, 1);
  EXPECT_EQ(f1, (std::vector<std::string>{"-dit", "--name=x", "-e", "K=V", "img"}));
  EXPECT_EQ(c1, (std::vector<std::string>{"a", "-b"}));
  auto [f2, c2] = split_command_args(app, {"-eK=V", "img"}, 1);
  EXPECT_EQ(f2.size(), 2u);
  EXPECT_TRUE(c2.empty());
  auto [f3, c3] = split_command_args(app, {"--rm", "--", "img", "--x"}, 1);
  EXPECT_EQ(f3, (std::vector<std::string>{"--rm", "--", "img"}));
  EXPECT_EQ(c3, (std::vector<std::string>{"--x"}));
}

}  // namespace
}  // namespace berth::cli
