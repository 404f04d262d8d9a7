// The file server's HTTP/1.1 side: GET and HEAD of files (a single byte range: 206, 416,
// If-Range; ETag and Last-Modified with 304 to If-None-Match and If-Modified-Since), plain
// directory listings, and PUT to upload (the same Upload path as the line protocol: disk
// threads, fsync, atomic rename). Enough for curl -O, curl -C - and wget -c.
#pragma once

#include <memory>
#include <string>

#include "netlab/apps/files/file_server.h"
#include "netlab/apps/files/opened.h"
#include "netlab/apps/files/upload.h"
#include "netlab/core/deadline.h"
#include "netlab/http/parser.h"

namespace netlab::files {

class HttpFiles final : public Handler {
 public:
  static constexpr size_t kMaxListing = 10000;

  explicit HttpFiles(FileProtocol& protocol);

  void onOpen(Conn& conn) override;
  size_t onData(Conn& conn, Buffer& input) override;
  bool onEof(Conn& conn) override;
  void onClose(Conn& conn, const CloseReason& reason) override;

 private:
  void onHead(Conn& conn);
  void onBody(Conn& conn, std::string_view piece);
  void onEnd(Conn& conn);
  /// The request's path as a name under the root; false (answered) when it cannot be one.
  bool nameOf(Conn& conn, std::string& name, bool& dir);
  void get(Conn& conn);
  void sendFileResponse(Conn& conn, Opened& file);
  void listing(Conn& conn, Opened& dir, const std::string& name);
  void startPut(Conn& conn);
  void onUploadEvent(Conn& conn, Upload& upload, Upload::Event event);
  void refuse(Conn& conn, Refusal r, std::string_view why = {});
  void respond(Conn& conn, int status, std::string_view type, std::string_view body,
               std::string_view extra = {});
  void sendHead(Conn& conn, int status, std::string_view type, int64_t length,
                std::string_view extra);
  void finishResponse(Conn& conn);
  void failParse(Conn& conn);

  FileStore& store_;
  netlab::http::Parser parser_;
  std::shared_ptr<Upload> upload_;
  bool inMessage_ = false, headRequest_ = false, closeAfter_ = false, keepAlive10_ = false;
  bool waiting_ = false, diskBehind_ = false, closing_ = false, peerDone_ = false;
  bool answered_ = false;  // the request was answered at its head (a refused PUT)
  std::string out_;
  Deadline stall_;
  Conn* conn_ = nullptr;
  Buffer* input_ = nullptr;  // the connection's input, which outlives this handler's calls
};

}  // namespace netlab::files
