// The blocking file client behind netlab.FileClient: every transfer runs with the GIL
// released; the progress callback takes it back at most every FileClient::kTick, and checks
// for Ctrl+C there, so a long transfer can always be interrupted.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "netlab/bindings/errors.h"
#include "netlab/bindings/options_py.h"
#include "netlab/bindings/records.h"
#include "netlab/client/file_client.h"

namespace py = pybind11;

namespace netlab::py_bindings {
namespace {

const Columns<FileClient::Transfer>& transferColumns() {
  using T = FileClient::Transfer;
  static const Columns<T> columns = {
      {"name", "str", "the file's name on the server", [](const T& t) { return py::cast(t.name); }},
      {"size", "int", "its size in bytes", [](const T& t) { return py::cast(t.size); }},
      {"sha256", "str", "its sha256, checked on both ends",
       [](const T& t) { return py::cast(t.sha256); }},
      {"resumed_from", "int", "bytes already in place before this call (a resume)",
       [](const T& t) { return py::cast(t.resumedFrom); }},
      {"seconds", "float", "the call's duration, hashing included",
       [](const T& t) { return py::cast(t.seconds); }},
  };
  return columns;
}

// Runs a transfer without the GIL; `progress` (a callable or None) is called with it held.
template <class Call>
py::dict transfer(Call call, const py::object& progress) {
  std::optional<py::error_already_set> pending;
  FileClient::Progress tick = [&](int64_t done, int64_t total) {
    py::gil_scoped_acquire held;
    try {
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (!progress.is_none()) progress(done, total);
      return true;
    } catch (py::error_already_set& e) {
      pending.emplace(std::move(e));
      return false;
    }
  };
  Result<FileClient::Transfer> result = [&] {
    py::gil_scoped_release release;
    return call(tick);
  }();
  if (pending) throw std::move(*pending);
  if (!result.ok()) raise(result.error());
  return toDict(transferColumns(), result.value());
}

}  // namespace

void registerFileClient(py::module_& m) {
  recordRegistry()["FileTransfer"] = describeRecord(
      transferColumns(), "One upload or download by FileClient: what moved and how long it took.");
  m.def(
      "file_client_options", [] { return describeOptions(describe<FileClientOptions>()); },
      "Every FileClient option: name, type, default, range, unit and help.");
  m.def(
      "sha256_file",
      [](const std::string& path) {
        Result<std::string> sha = [&] {
          py::gil_scoped_release release;
          return sha256OfFile(path);
        }();
        if (!sha.ok()) raise(sha.error());
        return sha.value();
      },
      py::arg("path"), "The sha256 of a local file (SHA extensions where the CPU has them).");
  py::class_<FileClient>(m, "FileClient")
      .def(py::init([](const py::kwargs& kwargs) {
        FileClientOptions options;
        applyKwargs(options, kwargs, "FileClient");
        auto client = FileClient::make(options);
        if (!client.ok()) raise(client.error());
        return std::make_unique<FileClient>(std::move(client.value()));
      }))
      .def(
          "upload",
          [](FileClient& c, const std::string& path, const std::string& name, bool resume,
             const py::object& progress) {
            return transfer(
                [&](const FileClient::Progress& p) { return c.upload(path, name, resume, p); },
                progress);
          },
          py::arg("path"), py::arg("name"), py::arg("resume"), py::arg("progress"))
      .def(
          "download",
          [](FileClient& c, const std::string& name, const std::string& path, bool resume,
             const py::object& progress) {
            return transfer(
                [&](const FileClient::Progress& p) { return c.download(name, path, resume, p); },
                progress);
          },
          py::arg("name"), py::arg("path"), py::arg("resume"), py::arg("progress"))
      .def(
          "stat",
          [](FileClient& c, const std::string& name) -> py::object {
            Result<FileClient::RemoteStat> r = [&] {
              py::gil_scoped_release release;
              return c.stat(name);
            }();
            if (!r.ok()) raise(r.error());
            const auto& s = r.value();
            py::dict d;
            d["exists"] = s.exists;
            d["size"] = s.size;
            d["sha256"] = s.exists ? py::object(py::cast(s.sha256)) : py::none();
            d["partial"] = s.partial >= 0 ? py::object(py::cast(s.partial)) : py::none();
            return std::move(d);
          },
          py::arg("name"))
      .def(
          "list",
          [](FileClient& c, const std::string& dir) {
            Result<std::vector<FileClient::Entry>> r = [&] {
              py::gil_scoped_release release;
              return c.list(dir);
            }();
            if (!r.ok()) raise(r.error());
            py::list out;
            for (const auto& e : r.value()) {
              py::dict d;
              d["name"] = e.name;
              d["dir"] = e.dir;
              d["size"] = e.dir ? py::object(py::none()) : py::object(py::cast(e.size));
              out.append(d);
            }
            return out;
          },
          py::arg("dir"));
}

}  // namespace netlab::py_bindings
