// Records that cross to Python as dicts (stats, load results), each written once as a table
// of columns: the same table builds the dict and describes it, and netlab/_types.py is
// generated from the description (python -m netlab._schema), so a column added here shows
// up in Python's types or fails the test that compares them.
#pragma once

#include <pybind11/pybind11.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace netlab::py_bindings {

template <class T>
struct Column {
  std::string name;
  std::string type;  // as Python's typing writes it: "int", "dict[str, int]", "list[X]"
  std::string help;
  std::function<pybind11::object(const T&)> get;
};

template <class T>
using Columns = std::vector<Column<T>>;

template <class T>
pybind11::dict toDict(const Columns<T>& columns, const T& value) {
  pybind11::dict d;
  for (const auto& c : columns) d[c.name.c_str()] = c.get(value);
  return d;
}

/// A record's description: its base record (or "") and its columns as (name, type, help).
struct RecordInfo {
  std::string base;
  std::string help;
  std::vector<std::vector<std::string>> columns;
};

template <class T>
RecordInfo describeRecord(const Columns<T>& columns, std::string help, std::string base = "") {
  RecordInfo info{std::move(base), std::move(help), {}};
  for (const auto& c : columns) info.columns.push_back({c.name, c.type, c.help});
  return info;
}

/// Every record by name, for _core.records(); each register function adds its own.
std::map<std::string, RecordInfo>& recordRegistry();

inline double ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

}  // namespace netlab::py_bindings
