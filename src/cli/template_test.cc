// The Go-template subset over JSON: what `--format` and `inspect -f` users write.
#include "cli/template.h"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

std::string run(std::string_view t, const Value& data, bool strict = false) {
  auto tmpl = Template::parse(t);
  if (!tmpl) return "PARSE: " + tmpl.error().message();
  tmpl->set_strict(strict);
  auto r = tmpl->execute(data);
  if (!r) return "EXEC: " + r.error().message();
  return *r;
}

const Value kInspect = Value::parse(R"({
  "Id": "abc", "State": {"Status": "running", "Pid": 42, "Running": true},
  "Config": {"Labels": {"b": "2", "a": "1"}, "Env": ["A=1", "B=2"], "Cmd": null},
  "HostConfig": {"Memory": 67108864, "NanoCpus": 1500000000, "CpuShares": 0.5},
  "Name": "/web"})");

TEST(Template, FieldsAndNestedFields) {
  EXPECT_EQ(run("{{.Id}}", kInspect), "abc");
  EXPECT_EQ(run("{{.State.Status}} {{.State.Pid}}", kInspect), "running 42");
  EXPECT_EQ(run("{{.HostConfig.Memory}}", kInspect), "67108864");
  EXPECT_EQ(run("{{.HostConfig.CpuShares}}", kInspect), "0.5");
}

TEST(Template, MissingFieldPrintsNoValueOrFailsWhenStrict) {
  EXPECT_EQ(run("{{.Nope}}", kInspect), "<no value>");
  EXPECT_EQ(run("{{.Nope.Deeper}}", kInspect), "<no value>");
  EXPECT_NE(run("{{.Nope}}", kInspect, true).find("can't evaluate field Nope"), std::string::npos);
}

TEST(Template, PrintsMapsAndSlicesLikeGo) {
  EXPECT_EQ(run("{{.Config.Labels}}", kInspect), "map[a:1 b:2]");
  EXPECT_EQ(run("{{.Config.Env}}", kInspect), "[A=1 B=2]");
  EXPECT_EQ(run("{{.Config.Cmd}}", kInspect), "<nil>");
}

TEST(Template, JsonKeepsDaemonKeyOrder) {
  EXPECT_EQ(run("{{json .Config.Labels}}", kInspect), R"({"b":"2","a":"1"})");
  EXPECT_EQ(run("{{json .State}}", kInspect), R"({"Status":"running","Pid":42,"Running":true})");
  EXPECT_EQ(run("{{json .Name}}", kInspect), R"("/web")");
}

TEST(Template, IndexJoinSplitCase) {
  EXPECT_EQ(run(R"({{index .Config.Labels "a"}})", kInspect), "1");
  EXPECT_EQ(run(R"({{index .Config.Labels "zz"}})", kInspect), "");
  EXPECT_EQ(run(R"({{index .Config.Env 1}})", kInspect), "B=2");
  EXPECT_EQ(run(R"({{join .Config.Env ","}})", kInspect), "A=1,B=2");
  EXPECT_EQ(run(R"({{split "a:b:c" ":"}})", kInspect), "[a b c]");
  EXPECT_EQ(run("{{upper .State.Status}} {{lower \"ABC\"}} {{title \"hello world\"}}", kInspect),
            "RUNNING abc Hello World");
  EXPECT_EQ(run("{{.Name | upper}}", kInspect), "/WEB");
  EXPECT_EQ(run("{{len .Config.Env}}", kInspect), "2");
  EXPECT_EQ(run(R"({{printf "%s-%d" .Id .State.Pid}})", kInspect), "abc-42");
  EXPECT_EQ(run(R"({{pad .Id 1 2}}|{{truncate .Name 2}})", kInspect), " abc  |/w");
}

TEST(Template, IfElseRangeWith) {
  EXPECT_EQ(run("{{if .State.Running}}up{{else}}down{{end}}", kInspect), "up");
  EXPECT_EQ(run("{{if .Config.Cmd}}cmd{{else if .Id}}id{{else}}none{{end}}", kInspect), "id");
  EXPECT_EQ(run("{{range .Config.Env}}[{{.}}]{{end}}", kInspect), "[A=1][B=2]");
  EXPECT_EQ(run("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", kInspect), "a=1;b=2;");
  EXPECT_EQ(run("{{range .Config.Cmd}}x{{else}}empty{{end}}", kInspect), "empty");
  EXPECT_EQ(run("{{with .State}}{{.Pid}}{{end}}", kInspect), "42");
  EXPECT_EQ(run("{{range .Config.Env}}{{$.Id}}{{end}}", kInspect), "abcabc");
  EXPECT_EQ(run(R"({{if eq .State.Status "running"}}yes{{end}})", kInspect), "yes");
  EXPECT_EQ(run(R"({{if and .Id (not .Config.Cmd)}}ok{{end}})", kInspect), "ok");
}

TEST(Template, TrimMarkers) {
  EXPECT_EQ(run("a  {{- .Id -}}  \n b", kInspect), "aabcb");
}

TEST(Template, MethodHookServesLabelCalls) {
  auto t = Template::parse(R"({{.Label "k"}})");
  ASSERT_TRUE(t);
  t->set_method_hook([](const Value& dot, std::string_view name,
                        const std::vector<Value>& args) -> std::optional<Result<Value>> {
    if (name != "Label" || args.size() != 1) return std::nullopt;
    return Result<Value>(dot["labels"].value(args[0].get<std::string>(), ""));
  });
  EXPECT_EQ(t->execute(Value::parse(R"({"labels":{"k":"v"}})")).value(), "v");
}

TEST(Template, UnsupportedAndBadTemplatesAreClearErrors) {
  EXPECT_EQ(run("{{nosuch .}}", kInspect), "PARSE: template: :1: function \"nosuch\" not defined");
  EXPECT_NE(run("{{.Id", kInspect).find("unclosed action"), std::string::npos);
  EXPECT_NE(run("{{if .Id}}x", kInspect).find("unexpected EOF"), std::string::npos);
  EXPECT_NE(run("{{template \"x\"}}", kInspect).find("not supported"), std::string::npos);
  EXPECT_NE(run("{{end}}", kInspect).find("unexpected {{end}}"), std::string::npos);
}

TEST(Preformat, StripsTableAndExpandsEscapes) {
  bool table = false;
  EXPECT_EQ(preformat("table {{.ID}}\\t{{.Names}}", &table), "{{.ID}}\t{{.Names}}");
  EXPECT_TRUE(table);
  EXPECT_EQ(preformat("{{.ID}}\\n", &table), "{{.ID}}\n");
  EXPECT_FALSE(table);
}

}  // namespace
}  // namespace berth::cli

namespace berth::cli {
namespace {

TEST(Template, FieldFallsBackToCaseInsensitiveKey) {
  EXPECT_EQ(run("{{.Server.APIVersion}}", Value::parse(R"({"Server":{"ApiVersion":"1.41"}})")),
            "1.41");
}

}  // namespace
}  // namespace berth::cli
