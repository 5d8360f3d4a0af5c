// The template function library (docker's FuncMap plus Go's builtins) and the value rules
// shared with the evaluator: truthiness and printing as Go's fmt would.
#include <algorithm>
#include <cctype>
#include <cstdio>

#include <fmt/format.h>

#include "cli/template_internal.h"
#include "cli/units.h"

namespace berth::cli {

bool truthy(const Val& x) {
  if (x.missing) return false;
  const Value& v = x.v;
  switch (v.type()) {
    case Value::value_t::null:
      return false;
    case Value::value_t::boolean:
      return v.get<bool>();
    case Value::value_t::string:
      return !v.get_ref<const std::string&>().empty();
    case Value::value_t::array:
    case Value::value_t::object:
      return !v.empty();
    case Value::value_t::number_integer:
      return v.get<int64_t>() != 0;
    case Value::value_t::number_unsigned:
      return v.get<uint64_t>() != 0;
    case Value::value_t::number_float:
      return v.get<double>() != 0;
    default:
      return false;
  }
}

std::string print_val(const Val& x) {
  return x.missing ? "<no value>" : go_print(x.v);
}

namespace {

int compare(const Val& a, const Val& b, bool* ok) {
  *ok = true;
  if (a.v.is_number() && b.v.is_number()) {
    const double x = a.v.get<double>(), y = b.v.get<double>();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.v.is_string() && b.v.is_string())
    return a.v.get<std::string>().compare(b.v.get<std::string>());
  if (a.v.is_boolean() && b.v.is_boolean()) return a.v.get<bool>() == b.v.get<bool>() ? 0 : 1;
  if (a.v.is_null() && b.v.is_null()) return 0;
  *ok = false;
  return 1;
}

std::string title_case(std::string s) {
  bool start = true;
  for (char& c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      if (start) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      start = false;
    } else {
      start = true;
    }
  }
  return s;
}

std::string go_sprintf(const std::string& f, const std::vector<Val>& args) {
  std::string out;
  size_t ai = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%' || i + 1 >= f.size()) {
      out += f[i];
      continue;
    }
    // Flags and width are kept simple: %-10s, %5d.
    size_t j = i + 1;
    std::string spec;
    while (j < f.size() && std::string_view("-+ #0123456789.").find(f[j]) != std::string_view::npos)
      spec += f[j++];
    if (j >= f.size()) break;
    const char verb = f[j];
    i = j;
    if (verb == '%') {
      out += '%';
      continue;
    }
    if (ai >= args.size()) {
      out += fmt::format("%!{}(MISSING)", verb);
      continue;
    }
    const Val& a = args[ai++];
    std::string s;
    if (verb == 'q') {
      s = go_quote(print_val(a));
    } else if (verb == 'd' && a.v.is_number()) {
      s = std::to_string(a.v.get<int64_t>());
    } else if ((verb == 'f' || verb == 'g' || verb == 'e') && a.v.is_number()) {
      char buf[128];
      std::snprintf(buf, sizeof buf, ("%" + spec + verb).c_str(), a.v.get<double>());
      out += buf;
      continue;
    } else {
      s = print_val(a);
    }
    char buf[4096];
    std::snprintf(buf, sizeof buf, ("%" + spec + "s").c_str(), s.c_str());
    out += buf;
  }
  return out;
}

}  // namespace

Result<Val> call_function(const std::string& name, std::vector<Val>& args, bool header_mode) {
  auto need = [&](size_t n) -> Result<void> {
    if (args.size() != n)
      return std::unexpected(
          Error(ErrorCode::kInvalidArgument,
                fmt::format("template: :1: wrong number of args for {}: want {} got {}", name, n,
                            args.size())));
    return {};
  };
  auto str = [&](size_t i) { return print_val(args[i]); };
  static const std::vector<std::string> header_passthrough = {"json",  "split", "join", "title",
                                                              "lower", "upper", "pad",  "truncate"};
  if (header_mode && !args.empty() &&
      std::find(header_passthrough.begin(), header_passthrough.end(), name) !=
          header_passthrough.end())
    return args[0];
  if (name == "json") {
    TRY(need(1));
    if (args[0].missing) return Val{Value("null")};
    return Val{Value(args[0].v.dump(-1, ' ', false, Value::error_handler_t::replace))};
  }
  if (name == "upper" || name == "lower") {
    TRY(need(1));
    std::string s = str(0);
    for (char& ch : s)
      ch = static_cast<char>(name == "upper" ? std::toupper(static_cast<unsigned char>(ch))
                                             : std::tolower(static_cast<unsigned char>(ch)));
    return Val{Value(s)};
  }
  if (name == "title") {
    TRY(need(1));
    return Val{Value(title_case(str(0)))};
  }
  if (name == "join") {
    TRY(need(2));
    std::string out;
    const std::string sep = str(1);
    if (args[0].v.is_array()) {
      bool first = true;
      for (const auto& e : args[0].v) {
        if (!first) out += sep;
        first = false;
        out += go_print(e);
      }
    } else {
      out = str(0);
    }
    return Val{Value(out)};
  }
  if (name == "split") {
    TRY(need(2));
    const std::string s = str(0), sep = str(1);
    Value arr = Value::array();
    if (sep.empty()) {
      for (char ch : s) arr.push_back(std::string(1, ch));
    } else {
      size_t i = 0;
      while (true) {
        const auto p = s.find(sep, i);
        arr.push_back(s.substr(i, p == std::string::npos ? std::string::npos : p - i));
        if (p == std::string::npos) break;
        i = p + sep.size();
      }
    }
    return Val{arr};
  }
  if (name == "pad") {
    TRY(need(3));
    if (!args[1].v.is_number_integer() || !args[2].v.is_number_integer())
      return std::unexpected(
          Error(ErrorCode::kInvalidArgument, "template: :1: pad wants integer widths"));
    return Val{Value(std::string(args[1].v.get<size_t>(), ' ') + str(0) +
                     std::string(args[2].v.get<size_t>(), ' '))};
  }
  if (name == "truncate") {
    TRY(need(2));
    const std::string s = str(0);
    const auto n = args[1].v.is_number() ? args[1].v.get<size_t>() : 0;
    if (rune_count(s) <= n) return Val{Value(s)};
    size_t runes = 0, i = 0;
    for (; i < s.size(); ++i)
      if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && runes++ == n) break;
    return Val{Value(s.substr(0, i))};
  }
  if (name == "len") {
    TRY(need(1));
    const Value& v = args[0].v;
    if (v.is_string())
      return Val{Value(static_cast<int64_t>(v.get_ref<const std::string&>().size()))};
    if (v.is_array() || v.is_object()) return Val{Value(static_cast<int64_t>(v.size()))};
    return std::unexpected(
        Error(ErrorCode::kInvalidArgument, "template: :1: len of " + std::string(v.type_name())));
  }
  if (name == "index") {
    if (args.empty()) TRY(need(1));
    Val cur = args[0];
    for (size_t i = 1; i < args.size(); ++i) {
      if (cur.v.is_object() && args[i].v.is_string()) {
        auto it = cur.v.find(args[i].v.get<std::string>());
        cur = it == cur.v.end() ? Val{Value("")} : Val{*it};
      } else if (cur.v.is_array() && args[i].v.is_number_integer()) {
        const auto k = args[i].v.get<int64_t>();
        if (k < 0 || static_cast<size_t>(k) >= cur.v.size())
          return std::unexpected(
              Error(ErrorCode::kInvalidArgument,
                    fmt::format("template: :1: error calling index: index out of range: {}", k)));
        cur = Val{cur.v[static_cast<size_t>(k)]};
      } else if (cur.missing || cur.v.is_null()) {
        cur = Val{Value(""), false};
      } else {
        return std::unexpected(Error(
            ErrorCode::kInvalidArgument,
            "template: :1: error calling index: cannot index " + std::string(cur.v.type_name())));
      }
    }
    return cur;
  }
  if (name == "print" || name == "println") {
    std::string out;
    for (size_t i = 0; i < args.size(); ++i) {
      // Sprint adds spaces between operands when neither is a string; Sprintln always does.
      if (i > 0 && (name == "println" || (!args[i].v.is_string() && !args[i - 1].v.is_string())))
        out += ' ';
      out += str(i);
    }
    if (name == "println") out += '\n';
    return Val{Value(out)};
  }
  if (name == "printf") {
    if (args.empty()) TRY(need(1));
    std::vector<Val> rest(args.begin() + 1, args.end());
    return Val{Value(go_sprintf(str(0), rest))};
  }
  if (name == "not") {
    TRY(need(1));
    return Val{Value(!truthy(args[0]))};
  }
  if (name == "and" || name == "or") {
    if (args.empty()) TRY(need(1));
    for (const auto& a : args) {
      if (name == "and" ? !truthy(a) : truthy(a)) return a;
    }
    return args.back();
  }
  if (name == "eq" || name == "ne" || name == "lt" || name == "le" || name == "gt" ||
      name == "ge") {
    if (name == "eq") {
      if (args.size() < 2) TRY(need(2));
      for (size_t i = 1; i < args.size(); ++i) {
        bool ok;
        if (compare(args[0], args[i], &ok) == 0 && ok) return Val{Value(true)};
      }
      return Val{Value(false)};
    }
    TRY(need(2));
    bool ok;
    const int c = compare(args[0], args[1], &ok);
    if (!ok && name != "ne")
      return std::unexpected(
          Error(ErrorCode::kInvalidArgument,
                "template: :1: error calling " + name + ": incompatible types for comparison"));
    const bool r = name == "ne"   ? (c != 0 || !ok)
                   : name == "lt" ? c < 0
                   : name == "le" ? c <= 0
                   : name == "gt" ? c > 0
                                  : c >= 0;
    return Val{Value(r)};
  }
  return std::unexpected(Error(ErrorCode::kInvalidArgument, "template: :1: function \"" + name +
                                                                "\" is not supported by berth"));
}

}  // namespace berth::cli
