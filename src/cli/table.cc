// Go text/tabwriter's column algorithm (recursive column blocks) and docker's formatter
// Context: preformat, execute per row + "\n", header from the same template over title strings.
#include "cli/table.h"

#include "cli/units.h"

namespace berth::cli {

namespace {

struct Cell {
  std::string text;
  size_t width = 0;
};

class TabWriter {
 public:
  TabWriter(size_t minwidth, size_t padding) : minwidth_(minwidth), padding_(padding) {}

  std::string run(std::string_view text) {
    std::vector<Cell> line;
    std::string cur;
    for (char c : text) {
      if (c == '\t') {
        line.push_back({cur, rune_count(cur)});
        cur.clear();
      } else if (c == '\n') {
        line.push_back({cur, rune_count(cur)});
        cur.clear();
        lines_.push_back(std::move(line));
        line.clear();
      } else {
        cur += c;
      }
    }
    line.push_back({cur, rune_count(cur)});
    lines_.push_back(std::move(line));
    format(0, lines_.size());
    // The last line is the text after the final newline (often empty): no newline of its own.
    if (!out_.empty()) out_.pop_back();
    return out_;
  }

 private:
  void write_lines(size_t line0, size_t line1) {
    for (size_t i = line0; i < line1; ++i) {
      const auto& line = lines_[i];
      for (size_t j = 0; j < line.size(); ++j) {
        out_ += line[j].text;
        if (j < widths_.size() && j + 1 < line.size())
          out_.append(widths_[j] > line[j].width ? widths_[j] - line[j].width : 0, ' ');
      }
      out_ += '\n';
    }
  }

  void format(size_t line0, size_t line1) {
    const size_t column = widths_.size();
    for (size_t t = line0; t < line1; ++t) {
      if (column + 1 >= lines_[t].size()) continue;
      write_lines(line0, t);
      line0 = t;
      size_t width = minwidth_;
      for (; t < line1; ++t) {
        if (column + 1 >= lines_[t].size()) break;
        width = std::max(width, lines_[t][column].width + padding_);
      }
      widths_.push_back(width);
      format(line0, t);
      widths_.pop_back();
      line0 = t;
    }
    write_lines(line0, line1);
  }

  size_t minwidth_, padding_;
  std::vector<std::vector<Cell>> lines_;
  std::vector<size_t> widths_;
  std::string out_;
};

}  // namespace

std::string tabwrite(std::string_view text, size_t minwidth, size_t padding) {
  return TabWriter(minwidth, padding).run(text);
}

Result<std::string> render_rows(const RowFormat& f, const std::vector<Value>& rows) {
  bool table = false;
  const std::string body = preformat(f.format, &table);
  auto tmpl = Template::parse(body);
  if (!tmpl) return std::unexpected(tmpl.error().wrap("template parsing error"));
  tmpl->set_strict(f.strict);
  if (f.hook) tmpl->set_method_hook(f.hook);
  std::string buf;
  for (const auto& r : rows) {
    auto s = tmpl->execute(r);
    if (!s) return std::unexpected(s.error().wrap("template parsing error"));
    buf += *s + "\n";
  }
  if (!table) return buf;
  Template h = *tmpl;
  h.set_header_mode(true);
  h.set_strict(false);
  // Header methods ({{.Label "k"}}) print the column title of the method's name.
  const Value header = f.header;
  h.set_method_hook([header](const Value&, std::string_view name,
                             const std::vector<Value>&) -> std::optional<Result<Value>> {
    auto it = header.find(std::string(name));
    if (it != header.end()) return Result<Value>(*it);
    return std::nullopt;
  });
  auto head = h.execute(f.header);
  std::string all = (head ? *head : std::string()) + "\n" + buf;
  return tabwrite(all);
}

}  // namespace berth::cli
