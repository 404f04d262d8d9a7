// A directory under /tmp for one test, removed with everything in it at the end.
#pragma once

#include <cstdlib>
#include <string>

namespace netlab {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/netlab-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf " + path).c_str()); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace netlab
