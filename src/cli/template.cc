// Go text/template subset: a lexer for {{ }} actions, a recursive-descent parser building a
// small tree (text, action, if, range, with), and an evaluator over ordered JSON values. Values
// print as Go's fmt would print the decoded value, so `inspect -f` output matches docker's.
#include "cli/template.h"

#include <strings.h>
#include <algorithm>
#include <cctype>
#include <map>

#include <fmt/format.h>

#include "cli/template_internal.h"
#include "cli/units.h"

namespace berth::cli {

namespace {

struct Pipeline;

struct Operand {
  enum Kind { kField, kDot, kLiteral, kIdent, kVar, kSub } kind = kDot;
  std::string name;                 // function or variable name
  std::vector<std::string> fields;  // .A.B chain after the operand
  Value literal;
  std::shared_ptr<Pipeline> sub;
};

struct Command {
  std::vector<Operand> args;
};

struct Pipeline {
  std::vector<std::string> decl;  // $k, $v :=
  std::vector<Command> cmds;
};

}  // namespace

struct TemplateNode {
  enum Kind { kText, kAction, kIf, kRange, kWith } kind = kText;
  std::string text;
  Pipeline pipe;
  std::vector<std::shared_ptr<TemplateNode>> body, else_body;
};

namespace {

using NodeList = std::vector<std::shared_ptr<TemplateNode>>;

Error tmpl_error(std::string msg) {
  return Error(ErrorCode::kInvalidArgument, "template: :1: " + std::move(msg));
}

// ---- action lexer ---------------------------------------------------------------------------

struct Token {
  enum Kind {
    kField,
    kDot,
    kVar,
    kString,
    kNumber,
    kIdent,
    kPipe,
    kLParen,
    kRParen,
    kDeclare,
    kAssign,
    kComma,
    kEnd
  } kind = kEnd;
  std::string text;
};

Result<std::vector<Token>> lex_action(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  auto ident_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '|') {
      out.push_back({Token::kPipe, "|"}), ++i;
    } else if (c == '(') {
      out.push_back({Token::kLParen, "("}), ++i;
    } else if (c == ')') {
      out.push_back({Token::kRParen, ")"}), ++i;
    } else if (c == ',') {
      out.push_back({Token::kComma, ","}), ++i;
    } else if (c == ':' && i + 1 < s.size() && s[i + 1] == '=') {
      out.push_back({Token::kDeclare, ":="}), i += 2;
    } else if (c == '=') {
      out.push_back({Token::kAssign, "="}), ++i;
    } else if (c == '"') {
      std::string v;
      ++i;
      for (; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) {
          const char e = s[++i];
          switch (e) {
            case 'n':
              v += '\n';
              break;
            case 't':
              v += '\t';
              break;
            case 'r':
              v += '\r';
              break;
            case '\\':
              v += '\\';
              break;
            case '"':
              v += '"';
              break;
            default:
              v += '\\', v += e;
          }
        } else {
          v += s[i];
        }
      }
      if (i >= s.size()) return std::unexpected(tmpl_error("unterminated quoted string"));
      ++i;
      out.push_back({Token::kString, v});
    } else if (c == '`') {
      const auto end = s.find('`', i + 1);
      if (end == std::string_view::npos)
        return std::unexpected(tmpl_error("unterminated raw quoted string"));
      out.push_back({Token::kString, std::string(s.substr(i + 1, end - i - 1))});
      i = end + 1;
    } else if (c == '.' || c == '$') {
      size_t j = i + 1;
      while (j < s.size() && (ident_char(s[j]) || s[j] == '.')) ++j;
      const std::string t(s.substr(i, j - i));
      if (c == '$') {
        out.push_back({Token::kVar, t});
      } else if (t == ".") {
        out.push_back({Token::kDot, t});
      } else if (std::isdigit(static_cast<unsigned char>(t[1]))) {
        out.push_back({Token::kNumber, t});
      } else {
        out.push_back({Token::kField, t});
      }
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+') {
      size_t j = i + 1;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
      out.push_back({Token::kNumber, std::string(s.substr(i, j - i))});
      i = j;
    } else if (ident_char(c)) {
      size_t j = i;
      while (j < s.size() && ident_char(s[j])) ++j;
      // An identifier may be followed by a field chain only via (...), so stop here.
      out.push_back({Token::kIdent, std::string(s.substr(i, j - i))});
      i = j;
    } else {
      return std::unexpected(tmpl_error(fmt::format("unexpected \"{}\" in command", c)));
    }
  }
  out.push_back({Token::kEnd, ""});
  return out;
}

std::vector<std::string> split_fields(std::string_view chain) {
  // ".A.B" -> {A, B}; "$x.A" -> {A} (the caller strips the variable).
  std::vector<std::string> out;
  size_t i = 0;
  while (i < chain.size()) {
    if (chain[i] == '.') ++i;
    size_t j = chain.find('.', i);
    if (j == std::string_view::npos) j = chain.size();
    if (j > i) out.emplace_back(chain.substr(i, j - i));
    i = j;
  }
  return out;
}

class PipelineParser {
 public:
  explicit PipelineParser(std::vector<Token> toks) : toks_(std::move(toks)) {}

  Result<Pipeline> parse_pipeline(bool allow_decl) {
    Pipeline p;
    if (allow_decl) {
      // $v := or $k, $v :=
      size_t j = pos_;
      std::vector<std::string> vars;
      while (toks_[j].kind == Token::kVar) {
        vars.push_back(toks_[j].text);
        ++j;
        if (toks_[j].kind == Token::kComma) {
          ++j;
          continue;
        }
        break;
      }
      if (!vars.empty() && (toks_[j].kind == Token::kDeclare || toks_[j].kind == Token::kAssign)) {
        p.decl = vars;
        pos_ = j + 1;
      }
    }
    while (true) {
      Command cmd;
      while (true) {
        const Token& t = toks_[pos_];
        if (t.kind == Token::kEnd || t.kind == Token::kPipe || t.kind == Token::kRParen) break;
        ASSIGN_OR_RETURN(Operand op, parse_operand());
        cmd.args.push_back(std::move(op));
      }
      if (cmd.args.empty()) return std::unexpected(tmpl_error("missing value for command"));
      p.cmds.push_back(std::move(cmd));
      if (toks_[pos_].kind == Token::kPipe) {
        ++pos_;
        continue;
      }
      break;
    }
    return p;
  }

  bool at_end() const { return toks_[pos_].kind == Token::kEnd; }
  const Token& peek() const { return toks_[pos_]; }

 private:
  Result<Operand> parse_operand() {
    const Token t = toks_[pos_++];
    Operand op;
    switch (t.kind) {
      case Token::kDot:
        op.kind = Operand::kDot;
        break;
      case Token::kField:
        op.kind = Operand::kField;
        op.fields = split_fields(t.text);
        break;
      case Token::kVar: {
        op.kind = Operand::kVar;
        const auto dot = t.text.find('.');
        op.name = t.text.substr(0, dot);
        if (dot != std::string::npos) op.fields = split_fields(t.text.substr(dot));
        break;
      }
      case Token::kString:
        op.kind = Operand::kLiteral;
        op.literal = t.text;
        break;
      case Token::kNumber: {
        op.kind = Operand::kLiteral;
        try {
          size_t used = 0;
          if (t.text.find_first_of(".eE") != std::string::npos) {
            op.literal = std::stod(t.text, &used);
          } else {
            op.literal = static_cast<int64_t>(std::stoll(t.text, &used, 0));
          }
          if (used != t.text.size()) throw std::invalid_argument(t.text);
        } catch (...) {
          return std::unexpected(tmpl_error("bad number syntax: \"" + t.text + "\""));
        }
        break;
      }
      case Token::kIdent:
        op.kind = Operand::kLiteral;
        if (t.text == "true") {
          op.literal = true;
        } else if (t.text == "false") {
          op.literal = false;
        } else if (t.text == "nil") {
          op.literal = nullptr;
        } else {
          op.kind = Operand::kIdent;
          op.name = t.text;
        }
        break;
      case Token::kLParen: {
        op.kind = Operand::kSub;
        ASSIGN_OR_RETURN(Pipeline sub, parse_pipeline(false));
        if (toks_[pos_].kind != Token::kRParen)
          return std::unexpected(tmpl_error("unclosed left paren"));
        ++pos_;
        op.sub = std::make_shared<Pipeline>(std::move(sub));
        // (pipeline).Field
        if (toks_[pos_].kind == Token::kField) op.fields = split_fields(toks_[pos_++].text);
        break;
      }
      default:
        return std::unexpected(tmpl_error("unexpected \"" + t.text + "\" in operand"));
    }
    return op;
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
};

const std::vector<std::string>& known_functions() {
  static const std::vector<std::string> f = {
      "json",     "join",    "split", "upper",  "lower", "title", "index",    "len", "pad",
      "truncate", "println", "print", "printf", "eq",    "ne",    "lt",       "le",  "gt",
      "ge",       "and",     "or",    "not",    "slice", "html",  "urlquery", "js",  "call"};
  return f;
}

Result<void> check_functions(const Pipeline& p) {
  for (const auto& c : p.cmds) {
    for (const auto& a : c.args) {
      if (a.kind == Operand::kIdent && std::find(known_functions().begin(), known_functions().end(),
                                                 a.name) == known_functions().end())
        return std::unexpected(tmpl_error("function \"" + a.name + "\" not defined"));
      if (a.kind == Operand::kSub) TRY(check_functions(*a.sub));
    }
  }
  return {};
}

// ---- tree parser ----------------------------------------------------------------------------

struct Piece {
  bool action = false;
  std::string text;
};

Result<std::vector<Piece>> split_pieces(std::string_view s) {
  std::vector<Piece> out;
  size_t i = 0;
  bool trim_next = false;
  while (i < s.size()) {
    const auto open = s.find("{{", i);
    std::string text(
        s.substr(i, open == std::string_view::npos ? std::string_view::npos : open - i));
    if (trim_next) {
      const auto p = text.find_first_not_of(" \t\r\n");
      text = p == std::string::npos ? "" : text.substr(p);
    }
    if (open == std::string_view::npos) {
      if (!text.empty()) out.push_back({false, text});
      break;
    }
    size_t start = open + 2;
    if (start + 1 < s.size() && s[start] == '-' &&
        std::isspace(static_cast<unsigned char>(s[start + 1]))) {
      const auto p = text.find_last_not_of(" \t\r\n");
      text = p == std::string::npos ? "" : text.substr(0, p + 1);
      start += 1;
    }
    if (!text.empty()) out.push_back({false, text});
    // Find the closing braces, skipping quoted strings.
    size_t j = start;
    char quote = 0;
    for (; j + 1 < s.size(); ++j) {
      if (quote) {
        if (s[j] == '\\' && quote == '"') {
          ++j;
        } else if (s[j] == quote) {
          quote = 0;
        }
      } else if (s[j] == '"' || s[j] == '`') {
        quote = s[j];
      } else if (s[j] == '}' && s[j + 1] == '}') {
        break;
      }
    }
    if (j + 1 >= s.size()) return std::unexpected(tmpl_error("unclosed action"));
    size_t end = j;
    trim_next = false;
    if (end >= start + 2 && s[end - 1] == '-' &&
        std::isspace(static_cast<unsigned char>(s[end - 2]))) {
      trim_next = true;
      end -= 1;
    }
    out.push_back({true, std::string(s.substr(start, end - start))});
    i = j + 2;
  }
  return out;
}

class TreeParser {
 public:
  explicit TreeParser(std::vector<Piece> pieces) : pieces_(std::move(pieces)) {}

  // Parses until {{end}} / {{else}} (returned through *stop) or the end of input.
  Result<NodeList> parse_list(std::string* stop, std::string* stop_rest) {
    NodeList out;
    while (pos_ < pieces_.size()) {
      const Piece& p = pieces_[pos_++];
      if (!p.action) {
        auto n = std::make_shared<TemplateNode>();
        n->kind = TemplateNode::kText;
        n->text = p.text;
        out.push_back(n);
        continue;
      }
      std::string_view a = trim_sv(p.text);
      if (a.starts_with("/*")) continue;  // comment
      const std::string word = first_word(a);
      std::string_view rest = trim_sv(a.substr(word.size()));
      if (word == "end" || word == "else") {
        if (!stop) return std::unexpected(tmpl_error("unexpected {{" + word + "}}"));
        *stop = word;
        *stop_rest = std::string(rest);
        return out;
      }
      if (word == "if" || word == "range" || word == "with") {
        ASSIGN_OR_RETURN(auto node, parse_control(word, rest));
        out.push_back(node);
        continue;
      }
      if (word == "define" || word == "template" || word == "block" || word == "break" ||
          word == "continue")
        return std::unexpected(tmpl_error("{{" + word + "}} is not supported by berth"));
      auto n = std::make_shared<TemplateNode>();
      n->kind = TemplateNode::kAction;
      ASSIGN_OR_RETURN(n->pipe, parse_pipe(a, true));
      out.push_back(n);
    }
    if (stop) return std::unexpected(tmpl_error("unexpected EOF"));
    return out;
  }

 private:
  static std::string_view trim_sv(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
  }
  static std::string first_word(std::string_view a) {
    size_t i = 0;
    while (i < a.size() && (std::isalnum(static_cast<unsigned char>(a[i])) || a[i] == '_')) ++i;
    return std::string(a.substr(0, i));
  }

  Result<Pipeline> parse_pipe(std::string_view text, bool allow_decl) {
    ASSIGN_OR_RETURN(auto toks, lex_action(text));
    PipelineParser pp(std::move(toks));
    ASSIGN_OR_RETURN(Pipeline p, pp.parse_pipeline(allow_decl));
    if (!pp.at_end())
      return std::unexpected(tmpl_error("unexpected \"" + pp.peek().text + "\" in command"));
    TRY(check_functions(p));
    return p;
  }

  Result<std::shared_ptr<TemplateNode>> parse_control(const std::string& word,
                                                      std::string_view rest) {
    auto n = std::make_shared<TemplateNode>();
    n->kind = word == "if"      ? TemplateNode::kIf
              : word == "range" ? TemplateNode::kRange
                                : TemplateNode::kWith;
    if (rest.empty()) return std::unexpected(tmpl_error("missing value for " + word));
    ASSIGN_OR_RETURN(n->pipe, parse_pipe(rest, true));
    std::string stop, stop_rest;
    ASSIGN_OR_RETURN(n->body, parse_list(&stop, &stop_rest));
    if (stop == "else") {
      std::string_view r = trim_sv(stop_rest);
      if (r.starts_with("if ") || r.starts_with("with ")) {
        // else if / else with: a nested node that consumes the shared {{end}}.
        const std::string w = first_word(r);
        ASSIGN_OR_RETURN(auto nested, parse_control(w, trim_sv(r.substr(w.size()))));
        n->else_body.push_back(nested);
        return n;
      }
      ASSIGN_OR_RETURN(n->else_body, parse_list(&stop, &stop_rest));
      if (stop != "end") return std::unexpected(tmpl_error("expected end; found {{else}}"));
    }
    return n;
  }

  std::vector<Piece> pieces_;
  size_t pos_ = 0;
};

}  // namespace

// ---- evaluation -----------------------------------------------------------------------------

std::string go_print(const Value& v) {
  switch (v.type()) {
    case Value::value_t::null:
      return "<nil>";
    case Value::value_t::string:
      return v.get<std::string>();
    case Value::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case Value::value_t::number_integer:
      return std::to_string(v.get<int64_t>());
    case Value::value_t::number_unsigned:
      return std::to_string(v.get<uint64_t>());
    case Value::value_t::number_float:
      return go_float(v.get<double>());
    case Value::value_t::array: {
      std::string out = "[";
      bool first = true;
      for (const auto& e : v) {
        if (!first) out += ' ';
        first = false;
        out += go_print(e);
      }
      return out + "]";
    }
    case Value::value_t::object: {
      std::map<std::string, const Value*> sorted;
      for (auto it = v.begin(); it != v.end(); ++it) sorted[it.key()] = &it.value();
      std::string out = "map[";
      bool first = true;
      for (const auto& [k, e] : sorted) {
        if (!first) out += ' ';
        first = false;
        out += k + ":" + go_print(*e);
      }
      return out + "]";
    }
    default:
      return "";
  }
}

std::string preformat(std::string_view format, bool* is_table) {
  std::string f(format);
  const bool table = f.starts_with("table");
  if (table) f.erase(0, 5);
  if (is_table) *is_table = table;
  const auto b = f.find_first_not_of(' ');
  const auto e = f.find_last_not_of(' ');
  f = b == std::string::npos ? "" : f.substr(b, e - b + 1);
  std::string out;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == '\\' && i + 1 < f.size() && (f[i + 1] == 't' || f[i + 1] == 'n')) {
      out += f[i + 1] == 't' ? '\t' : '\n';
      ++i;
    } else {
      out += f[i];
    }
  }
  return out;
}

class TemplateExec {
 public:
  TemplateExec(const Template& t, const Value& root) : t_(t), root_(root) {
    vars_.push_back({"$", Val{root, false}});
  }

  Result<void> run(const NodeList& nodes, const Val& dot, std::string& out) {
    for (const auto& n : nodes) {
      switch (n->kind) {
        case TemplateNode::kText:
          out += n->text;
          break;
        case TemplateNode::kAction: {
          ASSIGN_OR_RETURN(Val v, eval_pipe(n->pipe, dot));
          if (n->pipe.decl.empty()) out += print_val(v);
          break;
        }
        case TemplateNode::kIf:
        case TemplateNode::kWith: {
          const size_t mark = vars_.size();
          ASSIGN_OR_RETURN(Val v, eval_pipe(n->pipe, dot));
          if (truthy(v)) {
            TRY(run(n->body, n->kind == TemplateNode::kWith ? v : dot, out));
          } else {
            TRY(run(n->else_body, dot, out));
          }
          vars_.resize(mark);
          break;
        }
        case TemplateNode::kRange: {
          const size_t mark = vars_.size();
          Pipeline p = n->pipe;
          std::vector<std::string> decl = p.decl;
          p.decl.clear();
          ASSIGN_OR_RETURN(Val v, eval_pipe(p, dot));
          bool any = false;
          auto iterate = [&](const Val& key, const Val& elem) -> Result<void> {
            any = true;
            if (decl.size() == 1) set_var(decl[0], elem);
            if (decl.size() == 2) set_var(decl[0], key), set_var(decl[1], elem);
            return run(n->body, elem, out);
          };
          if (v.v.is_array()) {
            int64_t i = 0;
            for (const auto& e : v.v) TRY(iterate(Val{Value(i++)}, Val{e}));
          } else if (v.v.is_object()) {
            std::map<std::string, const Value*> sorted;
            for (auto it = v.v.begin(); it != v.v.end(); ++it) sorted[it.key()] = &it.value();
            for (const auto& [k, e] : sorted) TRY(iterate(Val{Value(k)}, Val{*e}));
          } else if (v.v.is_number_integer()) {
            for (int64_t i = 0; i < v.v.get<int64_t>(); ++i)
              TRY(iterate(Val{Value(i)}, Val{Value(i)}));
          } else if (!v.missing && !v.v.is_null()) {
            return std::unexpected(Error(ErrorCode::kInvalidArgument,
                                         "template: :1: range can't iterate over " + print_val(v)));
          }
          if (!any) TRY(run(n->else_body, dot, out));
          vars_.resize(mark);
          break;
        }
      }
    }
    return {};
  }

 private:
  void set_var(const std::string& name, const Val& v) {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
      if (it->first == name) {
        it->second = v;
        return;
      }
    }
    vars_.push_back({name, v});
  }

  Result<Val> field(const Val& base, const std::vector<std::string>& fields, size_t upto,
                    const std::vector<Val>* args) {
    Val cur = base;
    for (size_t i = 0; i < upto; ++i) {
      const std::string& f = fields[i];
      const bool last = i + 1 == upto;
      if (last && args && !args->empty()) {
        std::vector<Value> a;
        for (const auto& x : *args) a.push_back(x.v);
        if (t_.hook_) {
          if (auto r = t_.hook_(cur.v, f, a)) {
            if (!*r) return std::unexpected(r->error());
            return Val{**r};
          }
        }
        return std::unexpected(Error(ErrorCode::kInvalidArgument,
                                     "template: :1: can't give argument to non-function ." + f));
      }
      if (cur.missing || cur.v.is_null()) {
        if (t_.strict_)
          return std::unexpected(
              Error(ErrorCode::kInvalidArgument, "template: :1: nil pointer evaluating ." + f));
        cur = Val{Value(), true};
        continue;
      }
      if (!cur.v.is_object()) {
        return std::unexpected(
            Error(ErrorCode::kInvalidArgument, "template: :1: can't evaluate field " + f +
                                                   " in type " + std::string(cur.v.type_name())));
      }
      auto it = cur.v.find(f);
      if (it == cur.v.end()) {
        // Go field names and JSON keys differ only in case here and there (APIVersion vs
        // ApiVersion): accept a key that matches ignoring case.
        for (auto k = cur.v.begin(); k != cur.v.end(); ++k) {
          if (strcasecmp(k.key().c_str(), f.c_str()) == 0) {
            it = k;
            break;
          }
        }
      }
      if (it == cur.v.end()) {
        if (t_.hook_) {
          if (auto r = t_.hook_(cur.v, f, {})) {
            if (!*r) return std::unexpected(r->error());
            cur = Val{**r};
            continue;
          }
        }
        if (t_.strict_)
          return std::unexpected(
              Error(ErrorCode::kInvalidArgument, "template: :1: can't evaluate field " + f));
        cur = Val{Value(), true};
        continue;
      }
      cur = Val{*it};
    }
    return cur;
  }

  Result<Val> eval_operand(const Operand& op, const Val& dot, const std::vector<Val>* args) {
    switch (op.kind) {
      case Operand::kDot:
        return dot;
      case Operand::kLiteral:
        return Val{op.literal};
      case Operand::kField:
        return field(dot, op.fields, op.fields.size(), args);
      case Operand::kVar: {
        for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
          if (it->first == op.name) return field(it->second, op.fields, op.fields.size(), args);
        }
        return std::unexpected(Error(ErrorCode::kInvalidArgument,
                                     "template: :1: undefined variable \"" + op.name + "\""));
      }
      case Operand::kSub: {
        ASSIGN_OR_RETURN(Val v, eval_pipe(*op.sub, dot));
        return field(v, op.fields, op.fields.size(), args);
      }
      case Operand::kIdent:
        break;
    }
    return std::unexpected(Error(ErrorCode::kInternal, "template: bad operand"));
  }

  Result<Val> eval_command(const Command& c, const Val& dot, const std::optional<Val>& piped) {
    const Operand& head = c.args[0];
    std::vector<Val> args;
    for (size_t i = 1; i < c.args.size(); ++i) {
      ASSIGN_OR_RETURN(Val a, eval_operand(c.args[i], dot, nullptr));
      args.push_back(std::move(a));
    }
    if (piped) args.push_back(*piped);
    if (head.kind == Operand::kIdent) return call(head.name, args);
    if (!args.empty() && head.kind != Operand::kField && head.kind != Operand::kVar)
      return std::unexpected(
          Error(ErrorCode::kInvalidArgument, "template: :1: can't give argument to non-function"));
    return eval_operand(head, dot, &args);
  }

  Result<Val> eval_pipe(const Pipeline& p, const Val& dot) {
    std::optional<Val> v;
    for (const auto& c : p.cmds) {
      ASSIGN_OR_RETURN(Val r, eval_command(c, dot, v));
      v = std::move(r);
    }
    if (!p.decl.empty() && v) set_var(p.decl.back(), *v);
    return v ? *v : Val{};
  }

  Result<Val> call(const std::string& name, std::vector<Val>& args) {
    return call_function(name, args, t_.header_);
  }

  const Template& t_;
  const Value& root_;
  std::vector<std::pair<std::string, Val>> vars_;
};

Result<Template> Template::parse(std::string_view text) {
  ASSIGN_OR_RETURN(auto pieces, split_pieces(text));
  TreeParser p(std::move(pieces));
  ASSIGN_OR_RETURN(auto nodes, p.parse_list(nullptr, nullptr));
  Template t;
  t.root_ = std::make_shared<NodeList>(std::move(nodes));
  return t;
}

Result<std::string> Template::execute(const Value& data) const {
  std::string out;
  TemplateExec exec(*this, data);
  TRY(exec.run(*root_, Val{data}, out));
  return out;
}

}  // namespace berth::cli
