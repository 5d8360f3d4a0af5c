// Table output as docker prints it: Go's text/tabwriter with the CLI's settings (minwidth 10,
// tabwidth 1, padding 3, spaces), and the formatter that runs a --format template per row, with
// a header row for "table ..." formats.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "cli/template.h"

namespace berth::cli {

// Aligns tab-terminated cells into columns exactly like Go's tabwriter (column blocks end at a
// line with fewer cells; text after a line's last tab is not a cell).
std::string tabwrite(std::string_view text, size_t minwidth = 10, size_t padding = 3);

struct RowFormat {
  std::string format;         // "table {{.ID}}\t{{.Names}}", "{{json .}}", ...
  Value header;               // field -> column title ("ID" -> "CONTAINER ID")
  Template::MethodHook hook;  // e.g. {{.Label "k"}}
  bool strict = true;         // unknown fields are errors (docker's typed row contexts)
};

// Renders all rows; errors are template parse/exec errors, already worded as docker's
// ("template parsing error: ...").
Result<std::string> render_rows(const RowFormat& f, const std::vector<Value>& rows);

}  // namespace berth::cli
