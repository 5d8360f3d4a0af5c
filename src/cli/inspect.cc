// inspect (any object), container/image/volume inspect: raw daemon JSON printed as docker's
// IndentedInspector does (an array, 4-space indent, daemon key order), or each object through
// an -f template. Objects not found print an error line each; the array still closes.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/template.h"

namespace berth::cli {

namespace {

struct Kind {
  const char* type;
  std::string (*path)(const std::string&);
};

const Kind kKinds[] = {
    {"container",
     [](const std::string& n) { return "/containers/" + http::url_encode(n) + "/json"; }},
    {"image", [](const std::string& n) { return "/images/" + n + "/json"; }},
    {"volume", [](const std::string& n) { return "/volumes/" + http::url_encode(n); }},
    {"network", [](const std::string& n) { return "/networks/" + http::url_encode(n); }},
};

bool skippable(const Error& e) {
  const std::string& m = e.message();
  return e.code() == ErrorCode::kNotFound || m.find("not supported") != std::string::npos ||
         m.find("invalid reference format") != std::string::npos ||
         e.code() == ErrorCode::kInvalidArgument;
}

// Looks names up as the given types in order; type "" tries all (docker's inspectAll).
Status inspect_objects(Cli& cli, const std::vector<std::string>& names, const std::string& type,
                       const std::string& format, bool size) {
  std::optional<Template> tmpl;
  if (!format.empty()) {
    bool table = false;
    const std::string body = preformat(format == "json" ? "{{json .}}" : format, &table);
    auto t = Template::parse(body);
    if (!t) return fail(1, "template parsing error: " + t.error().message());
    tmpl = std::move(*t);
  }
  Value found = Value::array();
  std::string text, errors;
  for (const auto& n : names) {
    std::optional<Value> obj;
    std::optional<Error> last;
    for (const auto& k : kKinds) {
      if (!type.empty() && type != k.type) continue;
      std::string path = k.path(n);
      if (size && std::string_view(k.type) == "container") path += "?size=1";
      auto r = cli.get_json(path);
      if (r) {
        obj = std::move(*r);
        break;
      }
      if (!skippable(r.error())) {
        last = r.error();
        break;
      }
      if (!type.empty()) last = r.error();
    }
    if (!obj) {
      std::string msg = last && !type.empty() ? last->message()
                        : last                ? last->message()
                                              : "Error: No such object: " + n;
      errors += (errors.empty() ? "" : "\n") + msg;
      continue;
    }
    if (tmpl) {
      auto s = tmpl->execute(*obj);
      if (!s) return fail(1, "template parsing error: " + s.error().message());
      text += *s + "\n";
    } else {
      found.push_back(std::move(*obj));
    }
  }
  if (!tmpl)
    text =
        found.empty() ? "[]\n" : found.dump(4, ' ', false, Value::error_handler_t::replace) + "\n";
  out(text);
  if (!errors.empty()) return fail(1, errors);
  return ok();
}

Status typed_inspect(Cli& cli, const Args& args, const char* type, const char* desc) {
  std::vector<std::string> names;
  std::string format;
  bool size = false;
  CLI::App app(desc, "inspect");
  setup_app(app);
  app.add_option("-f,--format", format, "Format output using a custom template");
  if (std::string_view(type) == "container")
    app.add_flag("-s,--size", size, "Display total file sizes");
  app.add_option("names", names)->required();
  if (auto st = parse_args(app, args)) return *st;
  return inspect_objects(cli, names, type, format, size);
}

}  // namespace

Status cmd_inspect(Cli& cli, const Args& args) {
  std::vector<std::string> names;
  std::string format, type;
  bool size = false;
  CLI::App app("Return low-level information on Docker objects", "inspect");
  setup_app(app);
  app.add_option("-f,--format", format, "Format output using a custom template");
  app.add_option("--type", type, "Only inspect objects of the given type");
  app.add_flag("-s,--size", size, "Display total file sizes if the type is container");
  app.add_option("names", names)->required();
  if (auto st = parse_args(app, args)) return *st;
  if (!type.empty() && type != "container" && type != "image" && type != "volume" &&
      type != "network")
    return fail(1, "\"" + type + "\" is not a valid value for --type");
  // Errors of a typed lookup keep the daemon's wording; untyped ones say "No such object".
  return inspect_objects(cli, names, type, format, size);
}

Status cmd_container_inspect(Cli& cli, const Args& args) {
  return typed_inspect(cli, args, "container",
                       "Display detailed information on one or more containers");
}

Status cmd_image_inspect(Cli& cli, const Args& args) {
  return typed_inspect(cli, args, "image", "Display detailed information on one or more images");
}

Status cmd_volume_inspect(Cli& cli, const Args& args) {
  return typed_inspect(cli, args, "volume", "Display detailed information on one or more volumes");
}

}  // namespace berth::cli
