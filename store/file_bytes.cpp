#include "store/file_bytes.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace im::files_on_disk {

namespace {

namespace fs = std::filesystem;

// Writes `bytes` to `path` completely (fsync'd when `sync`). Returns an error text or "".
std::string write_file(const fs::path& path, const std::string& bytes, bool sync) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return std::strerror(errno);
  size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string why = std::strerror(errno);
      ::close(fd);
      return why;
    }
    done += static_cast<size_t>(n);
  }
  if (sync && ::fsync(fd) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    return why;
  }
  if (::close(fd) != 0) return std::strerror(errno);
  return "";
}

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::string write(const FileStorage& where, const std::string& id, const std::string& bytes) {
  fs::path dir(where.directory);
  std::error_code ec;
  fs::create_directories(dir, ec);
  auto final_path = dir / id;
  auto temp_path = dir / (id + ".tmp");
  auto failure = write_file(temp_path, bytes, where.fsync);
  if (failure.empty()) {
    fs::rename(temp_path, final_path, ec);
    if (ec) failure = ec.message();
  }
  if (!failure.empty()) {
    fs::remove(temp_path, ec);
    return temp_path.string() + ": " + failure;
  }
  if (where.fsync) fsync_dir(dir);
  return "";
}

std::optional<std::string> read(const FileStorage& where, const std::string& id, uint64_t size) {
  std::ifstream in(fs::path(where.directory) / id, std::ios::binary);
  if (!in) return std::nullopt;
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!in || static_cast<uint64_t>(in.gcount()) != size) return std::nullopt;
  return bytes;
}

void remove(const FileStorage& where, const std::string& id) {
  std::error_code ec;
  fs::remove(fs::path(where.directory) / id, ec);
}

}  // namespace im::files_on_disk
