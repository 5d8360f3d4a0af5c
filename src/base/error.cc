// Error categories from errno, and their names.
#include "base/error.h"

#include <cstring>

namespace berth {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "InvalidArgument";
    case ErrorCode::kNotFound: return "NotFound";
    case ErrorCode::kAlreadyExists: return "AlreadyExists";
    case ErrorCode::kConflict: return "Conflict";
    case ErrorCode::kPermissionDenied: return "PermissionDenied";
    case ErrorCode::kFailedPrecondition: return "FailedPrecondition";
    case ErrorCode::kResourceExhausted: return "ResourceExhausted";
    case ErrorCode::kUnavailable: return "Unavailable";
    case ErrorCode::kUnimplemented: return "Unimplemented";
    case ErrorCode::kInternal: return "Internal";
  }
  return "Unknown";
}

Error Error::from_errno(int sys_errno, std::string_view what) {
  ErrorCode code = ErrorCode::kInternal;
  switch (sys_errno) {
    case ENOENT: case ESRCH: code = ErrorCode::kNotFound; break;
    case EEXIST: code = ErrorCode::kAlreadyExists; break;
    case EACCES: case EPERM: code = ErrorCode::kPermissionDenied; break;
    case EINVAL: case ENAMETOOLONG: case ELOOP: case ENOTDIR: case EXDEV:
      code = ErrorCode::kInvalidArgument; break;
    case EBUSY: code = ErrorCode::kConflict; break;
    case ENOMEM: case ENOSPC: case EMFILE: case ENFILE: case EAGAIN:
      code = ErrorCode::kResourceExhausted; break;
    case ENOSYS: case EOPNOTSUPP: code = ErrorCode::kUnimplemented; break;
    default: break;
  }
  std::string msg(what);
  msg += ": ";
  // Go-style lowercase text ("no such process"): callers such as containerd match it.
  std::string text = std::strerror(sys_errno);
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z' && (text.size() < 2 || !(text[1] >= 'A' && text[1] <= 'Z')))
    text[0] = static_cast<char>(text[0] - 'A' + 'a');
  msg += text;
  return Error(code, std::move(msg), sys_errno);
}

}  // namespace berth
