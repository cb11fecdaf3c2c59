#include "guarded_map.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>

namespace credsift::source_detail {
namespace {

// The handler may only touch lock-free state: a fixed table of slots, claimed with a CAS.
constexpr int kSlots = 64;
struct Slot {
  std::atomic<uintptr_t> begin{0};  // 0: free
  std::atomic<size_t> length{0};
  std::atomic<int> fd{-1};
  std::atomic<uint64_t> intact{0};  // bytes from begin still backed by the file
};
Slot slots[kSlots];
std::atomic<int> slots_used{0};  // high-water mark, so lookups scan only what was ever used
struct sigaction previous_action;
uintptr_t page_size = 4096;  // read once, before the handler can run

void restore_and_return(int signal, siginfo_t* info, void* context) {
  // Not ours: behave as if we were never installed (the faulting access repeats and, under
  // the default action, kills the process as before).
  if (previous_action.sa_flags & SA_SIGINFO) {
    if (previous_action.sa_sigaction) return previous_action.sa_sigaction(signal, info, context);
  } else if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN) {
    return previous_action.sa_handler(signal);
  }
  ::signal(signal, SIG_DFL);
}

void on_sigbus(int signal, siginfo_t* info, void* context) {
  const auto address = reinterpret_cast<uintptr_t>(info->si_addr);
  const int used = slots_used.load(std::memory_order_acquire);
  for (int i = 0; i < used; ++i) {
    const uintptr_t begin = slots[i].begin.load(std::memory_order_acquire);
    const size_t length = slots[i].length.load(std::memory_order_acquire);
    if (begin == 0 || address < begin || address >= begin + length) continue;
    const uintptr_t fault_page = address / page_size * page_size;
    // Zero pages from the faulting page to the end: nothing past it is backed any more.
    void* zeros = ::mmap(reinterpret_cast<void*>(fault_page), begin + length - fault_page,
                         PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (zeros == MAP_FAILED) break;
    uint64_t intact = fault_page - begin;
    struct stat st {};
    if (::fstat(slots[i].fd.load(), &st) == 0 && st.st_size >= 0)
      intact = std::min<uint64_t>(intact, static_cast<uint64_t>(st.st_size));
    uint64_t current = slots[i].intact.load();
    while (intact < current && !slots[i].intact.compare_exchange_weak(current, intact)) {
    }
    return;
  }
  restore_and_return(signal, info, context);
}

void install_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    page_size = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    struct sigaction action {};
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGBUS, &action, &previous_action);
  });
}

}  // namespace

GuardedMapping::GuardedMapping(int fd, size_t length) {
  install_handler();
  for (int i = 0; i < kSlots; ++i) {
    uintptr_t expected = 0;
    // A placeholder address claims the slot until the mapping exists.
    if (!slots[i].begin.compare_exchange_strong(expected, 1)) continue;
    slot_ = i;
    int used = slots_used.load();
    while (used < i + 1 && !slots_used.compare_exchange_weak(used, i + 1)) {
    }
    break;
  }
  if (slot_ < 0) return;
  fd_ = ::dup(fd);
  void* addr = fd_ < 0 ? MAP_FAILED : ::mmap(nullptr, length, PROT_READ, MAP_PRIVATE, fd, 0);
  if (addr == MAP_FAILED) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    slots[slot_].begin.store(0);
    slot_ = -1;
    return;
  }
  addr_ = addr;
  length_ = length;
  Slot& slot = slots[slot_];
  slot.fd.store(fd_);
  slot.length.store(length);
  slot.intact.store(length);
  slot.begin.store(reinterpret_cast<uintptr_t>(addr), std::memory_order_release);
}

GuardedMapping::~GuardedMapping() {
  if (!addr_) return;
  // Unregistered first: no one can fault on it any more (its keepalive is gone).
  slots[slot_].begin.store(0, std::memory_order_release);
  ::munmap(addr_, length_);
  ::close(fd_);
}

uint64_t GuardedMapping::intact_bytes() const {
  return slot_ < 0 ? length_ : slots[slot_].intact.load(std::memory_order_acquire);
}

size_t mapped_bytes_intact(std::string_view bytes) {
  const auto address = reinterpret_cast<uintptr_t>(bytes.data());
  const int used = slots_used.load(std::memory_order_acquire);
  for (int i = 0; i < used; ++i) {
    const uintptr_t begin = slots[i].begin.load(std::memory_order_acquire);
    if (begin <= 1 || address < begin || address >= begin + slots[i].length.load()) continue;
    const uint64_t intact = slots[i].intact.load(std::memory_order_acquire);
    const uint64_t offset = address - begin;
    return offset >= intact
               ? 0
               : static_cast<size_t>(std::min<uint64_t>(bytes.size(), intact - offset));
  }
  return bytes.size();
}

bool read_mapped(std::string_view bytes, char* out) {
  const auto address = reinterpret_cast<uintptr_t>(bytes.data());
  const int used = slots_used.load(std::memory_order_acquire);
  for (int i = 0; i < used; ++i) {
    const uintptr_t begin = slots[i].begin.load(std::memory_order_acquire);
    if (begin <= 1 || address < begin || address >= begin + slots[i].length.load()) continue;
    if (address + bytes.size() > begin + slots[i].length.load()) return false;
    // The mapping starts at the file's start, so the address gives the file offset.
    const int fd = slots[i].fd.load();
    const auto offset = static_cast<off_t>(address - begin);
    size_t have = 0;
    while (have < bytes.size()) {
      const ssize_t got =
          ::pread(fd, out + have, bytes.size() - have, offset + static_cast<off_t>(have));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      have += static_cast<size_t>(got);
    }
    return true;
  }
  return false;
}

}  // namespace credsift::source_detail
