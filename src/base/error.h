// Error and Result: how every berth library reports failure.
// An Error carries a category (mapped exactly once at each boundary: CLI exit code, HTTP status),
// the errno if a syscall failed, and a message whose context is prefixed "outer: inner".
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace berth {

enum class ErrorCode {
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kConflict,
  kPermissionDenied,
  kFailedPrecondition,
  kResourceExhausted,
  kUnavailable,
  kUnimplemented,
  kInternal,
};

std::string_view error_code_name(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message, int sys_errno = 0)
      : code_(code), errno_(sys_errno), message_(std::move(message)) {}

  // An error from a failed syscall: the category follows from errno.
  static Error from_errno(int sys_errno, std::string_view what);
  // Same, reading errno now.
  static Error last(std::string_view what) { return from_errno(errno, what); }

  ErrorCode code() const { return code_; }
  int sys_errno() const { return errno_; }
  const std::string& message() const { return message_; }

  // Prefixes context: Error("x").wrap("loading y") reads "loading y: x".
  Error wrap(std::string_view context) && {
    message_ = std::string(context) + ": " + message_;
    return std::move(*this);
  }
  Error wrap(std::string_view context) const& { return Error(*this).wrap(context); }

 private:
  ErrorCode code_;
  int errno_;
  std::string message_;
};

template <class T = void>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> make_error(ErrorCode code, std::string message, int sys_errno = 0) {
  return std::unexpected<Error>(Error(code, std::move(message), sys_errno));
}
inline std::unexpected<Error> errno_error(std::string_view what) {
  return std::unexpected<Error>(Error::last(what));
}
inline std::unexpected<Error> errno_error(int sys_errno, std::string_view what) {
  return std::unexpected<Error>(Error::from_errno(sys_errno, what));
}

}  // namespace berth

#define BERTH_CONCAT_INNER(a, b) a##b
#define BERTH_CONCAT(a, b) BERTH_CONCAT_INNER(a, b)

// TRY(expr): evaluates a Result<void> (or any Result) and returns its error.
#define TRY(expr)                                                      \
  do {                                                                 \
    auto&& berth_try_result_ = (expr);                                 \
    if (!berth_try_result_) return std::unexpected(std::move(berth_try_result_).error()); \
  } while (0)

// TRY_CTX(expr, context): like TRY, prefixing context to the error message.
#define TRY_CTX(expr, context)                                                          \
  do {                                                                                  \
    auto&& berth_try_result_ = (expr);                                                  \
    if (!berth_try_result_)                                                             \
      return std::unexpected(std::move(berth_try_result_).error().wrap(context));       \
  } while (0)

#define BERTH_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)           \
  auto tmp = (expr);                                          \
  if (!tmp) return std::unexpected(std::move(tmp).error());   \
  lhs = std::move(*tmp)

// ASSIGN_OR_RETURN(auto x, expr): declares/assigns x from a Result or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  BERTH_ASSIGN_OR_RETURN_IMPL(BERTH_CONCAT(berth_aor_, __LINE__), lhs, expr)
