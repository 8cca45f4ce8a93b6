// Message data in memory or mapped from spool/bodies/. See message_data.h.
#include "queue/message_data.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "queue/db.h"

namespace tern::queue {
namespace {

Error io_error(const std::string& what, int err) {
  // ENOSPC/EDQUOT are the disk filling up: transient, as for queue.db.
  std::string text = what + ": " + std::strerror(err);
  return (err == ENOSPC || err == EDQUOT || err == EIO) ? Error::transient(text) : Error::permanent(text);
}

Status sync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return io_error("open " + path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return io_error("fsync " + path, err);
  return {};
}

}  // namespace

std::string bodies_dir(const std::string& spool_dir) { return spool_dir + "/bodies"; }
std::string body_path(const std::string& spool_dir, std::string_view id) {
  return bodies_dir(spool_dir) + "/" + std::string(id);
}

std::string_view header_section(std::string_view message) {
  if (message.starts_with("\r\n")) return {};
  auto end = message.find("\r\n\r\n");
  if (end == std::string_view::npos) return message;
  return message.substr(0, end + 2);
}

Result<std::shared_ptr<const MessageData>> MessageData::map(std::string head, const std::string& path,
                                                            std::uint64_t size) {
  std::shared_ptr<MessageData> data(new MessageData());
  data->head_ = std::move(head);
  if (size == 0) return std::shared_ptr<const MessageData>(std::move(data));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("message body " + path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return io_error("message body " + path, err);
  }
  if (static_cast<std::uint64_t>(st.st_size) != size) {
    ::close(fd);
    return Error::permanent("message body " + path + " holds " + std::to_string(st.st_size) + " octets, not " +
                            std::to_string(size));
  }
  void* p = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_SHARED, fd, 0);
  int err = errno;
  ::close(fd);  // the mapping keeps the file
  if (p == MAP_FAILED) return io_error("mmap " + path, err);
  ::madvise(p, static_cast<std::size_t>(size), MADV_SEQUENTIAL);
  data->map_ = static_cast<const char*>(p);
  data->map_size_ = static_cast<std::size_t>(size);
  return std::shared_ptr<const MessageData>(std::move(data));
}

MessageData::~MessageData() {
  if (map_ != nullptr) ::munmap(const_cast<char*>(map_), map_size_);
}

std::string_view MessageData::body() const {
  return map_ != nullptr ? std::string_view(map_, map_size_) : std::string_view(inline_);
}

Result<std::shared_ptr<const MessageData>> load_message_data(const std::string& spool_dir, std::string_view id,
                                                             std::string data,
                                                             std::optional<std::uint64_t> file_size) {
  if (file_size) return MessageData::map(std::move(data), body_path(spool_dir, id), *file_size);
  return std::make_shared<const MessageData>(std::move(data));
}

std::string MessageData::headers() const {
  // The head is whole header fields; the body may start with more of them.
  return head_ + std::string(header_section(body()));
}

Result<std::unique_ptr<BodyFile>> BodyFile::create(const std::string& spool_dir, std::string id) {
  std::unique_ptr<BodyFile> f(new BodyFile());
  f->dir_ = bodies_dir(spool_dir);
  if (::mkdir(f->dir_.c_str(), 0700) != 0 && errno != EEXIST) return io_error("mkdir " + f->dir_, errno);
  const std::string path = f->dir_ + "/" + id;
  f->fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (f->fd_ < 0) return io_error("create " + path, errno);  // not ours: the destructor must not unlink it
  f->path_ = path;
  f->id_ = std::move(id);
  return f;
}

BodyFile::~BodyFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!keep_ && !path_.empty()) ::unlink(path_.c_str());
}

Status BodyFile::append(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write " + path_, errno);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
    size_ += static_cast<std::uint64_t>(n);
  }
  return {};
}

Status BodyFile::sync() {
  if (::fsync(fd_) != 0) return io_error("fsync " + path_, errno);
  return sync_path(dir_, O_RDONLY | O_DIRECTORY);
}

Result<int> sweep_body_files(sqlite3* db, const std::string& spool_dir) {
  const std::string dir = bodies_dir(spool_dir);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return 0;
    return io_error("opendir " + dir, errno);
  }
  auto owned = Stmt::prepare(db,
                             "SELECT 1 FROM messages AS m JOIN bodies AS b ON b.mid = m.mid"
                             " WHERE m.id = ?1 AND b.file_size IS NOT NULL");
  if (!owned) {
    ::closedir(d);
    return owned.error();
  }
  int removed = 0;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    StmtReset guard(*owned);
    owned->bind(1, std::string_view(name));
    auto row = owned->step();
    if (!row) {
      ::closedir(d);
      return row.error();
    }
    if (*row) continue;
    if (::unlink((dir + "/" + name).c_str()) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

}  // namespace tern::queue
