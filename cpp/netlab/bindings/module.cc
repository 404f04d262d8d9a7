// netlab._core: the C++ engine. The Python package wraps it; nothing here is meant to be
// imported directly by users.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "netlab/bindings/errors.h"
#include "netlab/bindings/records.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "netlab's C++ engine: I/O models, protocol handlers, codecs and load generator";
  m.attr("__version__") = NETLAB_VERSION;
  netlab::py_bindings::registerCodecs(m);
  netlab::py_bindings::registerServers(m);
  netlab::py_bindings::registerLoad(m);
  netlab::py_bindings::registerClient(m);
  netlab::py_bindings::registerFileClient(m);
  netlab::py_bindings::registerLogClient(m);
  netlab::py_bindings::registerAsync(m);
  netlab::py_bindings::registerHttp(m);
  m.def(
      "records",
      [] {
        pybind11::dict out;
        for (const auto& [name, info] : netlab::py_bindings::recordRegistry()) {
          pybind11::dict d;
          d["base"] = info.base;
          d["help"] = info.help;
          d["columns"] = info.columns;
          out[name.c_str()] = d;
        }
        return out;
      },
      "Every record that crosses as a dict: its base, help and columns (name, type, help).");
}
