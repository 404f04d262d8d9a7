#include "netlab/bindings/records.h"

namespace netlab::py_bindings {

std::map<std::string, RecordInfo>& recordRegistry() {
  static std::map<std::string, RecordInfo> records;
  return records;
}

}  // namespace netlab::py_bindings
