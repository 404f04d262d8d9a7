// netlab._core: the C++ engine. The Python package wraps it; nothing here is meant to be
// imported directly by users.
#include <pybind11/pybind11.h>

#include "netlab/bindings/errors.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "netlab's C++ engine: I/O models, protocol handlers, codecs and load generator";
  netlab::py_bindings::registerCodecs(m);
  netlab::py_bindings::registerServers(m);
  netlab::py_bindings::registerLoad(m);
  netlab::py_bindings::registerClient(m);
  netlab::py_bindings::registerAsync(m);
}
