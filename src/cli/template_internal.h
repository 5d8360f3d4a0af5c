// Pieces of the template engine shared by the evaluator (template.cc) and the function library
// (template_funcs.cc); not for use outside the engine.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "cli/template.h"

namespace berth::cli {

// A value during evaluation: missing map keys print "<no value>" like Go's zero interface.
struct Val {
  Value v;
  bool missing = false;
};

bool truthy(const Val& x);
std::string print_val(const Val& x);
// Calls a template function; header_mode makes docker's formatting functions pass through.
Result<Val> call_function(const std::string& name, std::vector<Val>& args, bool header_mode);

}  // namespace berth::cli
