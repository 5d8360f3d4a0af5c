// A small Go text/template engine for --format and inspect -f: the subset people use with docker
// ({{.A.B}}, {{json .}}, {{index .Labels "k"}}, {{join .X ","}}, upper/lower/title/split/pad/
// truncate/len/printf/println, eq/ne/lt/gt/and/or/not, if/else if/else, range (with $k, $v :=),
// with, $ and variables, {{- -}} trimming), evaluated over JSON values. Anything else is a parse
// error naming what is not supported, in Go's wording where Go has one.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace berth::cli {

// Key order is kept: the daemon's field order is what docker prints.
using Value = nlohmann::ordered_json;

struct TemplateNode;

class Template {
 public:
  // Called for a field that takes arguments (docker's {{.Label "k"}} on ps rows), or a field
  // missing from an object when strict. Return nullopt when the name is unknown.
  using MethodHook = std::function<std::optional<Result<Value>>(
      const Value& dot, std::string_view name, const std::vector<Value>& args)>;

  static Result<Template> parse(std::string_view text);

  // Strict: a missing field is an error (typed docker contexts such as ps rows); otherwise it
  // prints "<no value>" (raw maps, as inspect -f on JSON).
  void set_strict(bool strict) { strict_ = strict; }
  void set_method_hook(MethodHook hook) { hook_ = std::move(hook); }
  // Header mode (docker's HeaderFunctions): json/join/upper/... return their first argument
  // unchanged, so "table {{upper .Names}}" prints the header "NAMES".
  void set_header_mode(bool header) { header_ = header; }

  Result<std::string> execute(const Value& data) const;

 private:
  std::shared_ptr<std::vector<std::shared_ptr<TemplateNode>>> root_;
  bool strict_ = false;
  bool header_ = false;
  MethodHook hook_;
  friend class TemplateExec;
};

// Go's fmt %v of a decoded JSON value: map[a:b c:d], [x y], <nil>, 6.7108864e+07.
std::string go_print(const Value& v);

// docker's formatter pre-processing: "table" prefix stripped (reported through is_table),
// surrounding spaces trimmed, literal \t and \n turned into tab and newline.
std::string preformat(std::string_view format, bool* is_table);

}  // namespace berth::cli
