// FileServer: files under a root, moved by a line protocol (the classic UPLOAD/DOWNLOAD one,
// made safe: sizes, sha256, resume, STAT, LIST) and by HTTP/1.1 (GET and HEAD with ranges,
// PUT, directory listings) on the same port. A connection's first bytes choose between them
// (ProtocolSniffer). Downloads leave through sendfile(2); uploads are written by disk threads
// and renamed into place whole (upload.h).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "netlab/apps/files/store.h"
#include "netlab/core/handler.h"
#include "netlab/core/options.h"

namespace netlab {

template <>
struct Fields<files::FileOptions> {
  static const std::vector<Field<files::FileOptions>>& fields();
};

/// What stats() adds for the file server.
struct FileSnapshot {
  uint64_t stored = 0, served = 0, sendfileBytes = 0, resumes = 0, hashed = 0;
  int64_t usedBytes = 0;
  std::map<std::string, uint64_t> refusals;   // by reason, those seen at least once
  std::map<std::string, uint64_t> protocols;  // connections by protocol spoken
};

class FileProtocol final : public Protocol {
 public:
  static Result<std::shared_ptr<Protocol>> make(files::FileOptions options);

  std::string_view name() const override { return "files"; }
  std::unique_ptr<Handler> newHandler() override;
  size_t maxPendingInput() const override;
  OptionMap optionValues() const override { return valuesOf(store_->options()); }

  files::FileStore& store() { return *store_; }
  void countProtocol(bool http) { (http ? httpConns_ : lineConns_).fetch_add(1); }
  FileSnapshot snapshot() const;

 private:
  explicit FileProtocol(std::unique_ptr<files::FileStore> store) : store_(std::move(store)) {}

  std::unique_ptr<files::FileStore> store_;
  std::atomic<uint64_t> httpConns_{0}, lineConns_{0};
};

}  // namespace netlab
