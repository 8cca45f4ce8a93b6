#pragma once
// A queued message's data as delivery sends it. Small messages are one string
// in memory, stored whole as a blob in queue.db. A large one (over
// kSpillThreshold) never is: while it arrives the submission server writes
// its body to spool/bodies/<queue id> (BodyFile), queue.db keeps only tern's
// trace header fields (the "head") and the body's size, and delivery maps the
// file read-only, so the body is page cache the kernel can drop, not heap.
// Either way the message on the wire is head() then body().
//
// Body files are created before the message's row is committed and removed
// after its deletion is committed; sweep_body_files() removes what a crash
// left between the two (a file without a row). A row whose file is missing or
// short is reported as an error, never mapped past the end (SIGBUS).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "smtp/result.h"

struct sqlite3;

namespace tern::queue {

// Bodies larger than this go to a file while they arrive.
inline constexpr std::size_t kSpillThreshold = 1u << 20;

std::string bodies_dir(const std::string& spool_dir);                      // spool_dir + "/bodies"
std::string body_path(const std::string& spool_dir, std::string_view id);  // bodies_dir + "/" + id

// The header section of a message: up to, not including, the empty line.
std::string_view header_section(std::string_view message);

class MessageData {
 public:
  explicit MessageData(std::string whole) : head_(), inline_(std::move(whole)) {}
  // `head` in memory, the body mapped from `path`, which must hold exactly `size` octets.
  static Result<std::shared_ptr<const MessageData>> map(std::string head, const std::string& path,
                                                       std::uint64_t size);
  ~MessageData();
  MessageData(const MessageData&) = delete;
  MessageData& operator=(const MessageData&) = delete;

  std::string_view head() const { return head_; }
  std::string_view body() const;
  std::uint64_t size() const { return head_.size() + body().size(); }
  // Heap octets held (the mapped file is not counted): what the scheduler's
  // in-flight budget charges for this message.
  std::size_t resident() const { return head_.size() + inline_.size(); }
  // The message's header section (head and the body's own header fields).
  std::string headers() const;
  std::string str() const { return std::string(head_) + std::string(body()); }  // a copy of the whole: tests, CLI

 private:
  MessageData() = default;
  std::string head_;
  std::string inline_;
  const char* map_ = nullptr;
  std::size_t map_size_ = 0;
};

// The data of message `id` as stored: `data` whole, or, with `file_size`,
// `data` as the head and spool/bodies/<id> (that many octets) mapped as the body.
Result<std::shared_ptr<const MessageData>> load_message_data(const std::string& spool_dir, std::string_view id,
                                                             std::string data,
                                                             std::optional<std::uint64_t> file_size);

// A body being written while it arrives. Blocking file I/O: call it off the
// event loop (the submission server uses libuv's thread pool). Removes the
// file on destruction unless keep() was called after a successful sync().
class BodyFile {
 public:
  // Creates spool/bodies/<id> (0600, O_EXCL), creating bodies/ when missing.
  static Result<std::unique_ptr<BodyFile>> create(const std::string& spool_dir, std::string id);
  ~BodyFile();
  BodyFile(const BodyFile&) = delete;
  BodyFile& operator=(const BodyFile&) = delete;

  Status append(std::string_view bytes);
  // fsync of the file and of bodies/ (its name): durable before the row commits.
  Status sync();
  void keep() { keep_ = true; }  // the committed row owns the file now

  const std::string& id() const { return id_; }
  const std::string& path() const { return path_; }
  std::uint64_t size() const { return size_; }

 private:
  BodyFile() = default;
  std::string id_;
  std::string path_;
  std::string dir_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  bool keep_ = false;
};

// Removes files in spool/bodies/ that no committed message owns (left by a
// crash between writing a body and committing its row, or between deleting a
// row and its file). Only while nothing is being submitted: at start-up,
// before the listeners open. Returns how many were removed.
Result<int> sweep_body_files(sqlite3* db, const std::string& spool_dir);

}  // namespace tern::queue
