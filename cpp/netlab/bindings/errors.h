// The binding edge: where C++ Error values become Python exceptions.
#pragma once

#include <pybind11/pybind11.h>

#include "netlab/io/result.h"

namespace netlab::py_bindings {

/// Raises ValueError for EINVAL (bad arguments), RuntimeError for EALREADY (wrong state) and OSError(errno, message) otherwise, which
/// Python narrows to its subclass (ConnectionRefusedError, TimeoutError, ...). Needs the GIL.
[[noreturn]] void raise(const Error& error);

inline void check(const Status& status) {
  if (!status.ok()) raise(status.error());
}

void registerServers(pybind11::module_& m);
void registerCodecs(pybind11::module_& m);
void registerLoad(pybind11::module_& m);
void registerClient(pybind11::module_& m);
void registerFileClient(pybind11::module_& m);
void registerLogClient(pybind11::module_& m);
void registerAsync(pybind11::module_& m);
void registerHttp(pybind11::module_& m);

}  // namespace netlab::py_bindings
