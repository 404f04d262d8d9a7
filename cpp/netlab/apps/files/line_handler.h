// The file server's line protocol, one command per line:
//   UPLOAD <name> <size> [<sha256>]  then size bytes       -> OK <size> <sha256> | ERR <reason>
//   RESUME <name> <size> [<sha256>]  -> OFFSET <n>, then size-n bytes -> OK ... | ERR ...
//   DOWNLOAD <name> <offset>         -> SIZE <size> <sha256>, then the bytes from offset
//   STAT <name>   -> FILE <size> <sha256> | PARTIAL <have> <size> | NOFILE
//   LIST [<dir>]  -> FILE <size> <name> | DIR <name> lines, then END <count>
//   QUIT
// and the classic C example's two commands, byte for byte: `UPLOAD <name>` answered with a
// bare "OK" and its bytes read until the client closes, `DOWNLOAD <name>` answered "OK" and
// the bytes until the server closes; any refusal of either is a bare "NOFILE" and a close.
#pragma once

#include <memory>
#include <string>

#include "netlab/apps/files/file_server.h"
#include "netlab/apps/files/opened.h"
#include "netlab/apps/files/upload.h"
#include "netlab/core/deadline.h"

namespace netlab::files {

class LineHandler final : public Handler {
 public:
  static constexpr size_t kMaxLine = 4096;
  static constexpr size_t kMaxList = 10000;

  explicit LineHandler(FileProtocol& protocol);

  void onOpen(Conn& conn) override;
  size_t onData(Conn& conn, Buffer& input) override;
  bool onEof(Conn& conn) override;
  void onClose(Conn& conn, const CloseReason& reason) override;

 private:
  void command(Conn& conn, std::string_view line);
  void startUpload(Conn& conn, const std::vector<std::string_view>& args, bool resume);
  void classicUpload(Conn& conn, std::string_view name);
  void receive(Conn& conn, Buffer& input);
  void onUploadEvent(Conn& conn, Upload& upload, Upload::Event event);
  void download(Conn& conn, std::string_view name, std::string_view offset);
  void classicDownload(Conn& conn, std::string_view name);
  void stat(Conn& conn, std::string_view name);
  void list(Conn& conn, std::string_view dir);
  /// Runs `then` once the sha256 of `file` is known (at once when it is).
  void withSha(Conn& conn, Opened file,
               std::function<void(Conn&, Opened&, const std::string&)> then);
  void refuse(Conn& conn, Refusal r, std::string_view why = {}, bool close = false);
  void wait(Conn& conn);
  void done(Conn& conn);

  FileStore& store_;
  std::shared_ptr<Upload> upload_;
  int64_t uploadLeft_ = 0;  // bytes still to come; -1: until EOF (classic)
  bool receiving_ = false, classic_ = false, waiting_ = false, closing_ = false;
  bool diskBehind_ = false, peerDone_ = false;
  uint64_t serial_ = 0;  // of the command a posted result belongs to
  Deadline stall_;
  Conn* conn_ = nullptr;
};

}  // namespace netlab::files
