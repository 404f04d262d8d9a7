#include "netlab/io/result.h"

#include <cstring>

namespace netlab {

Error sysError(const std::string& what) {
  int code = errno;
  return Error{code, what + ": " + std::strerror(code)};
}

}  // namespace netlab
