#pragma once
// Readers of Outlook containers (PST/OST through libpff, .msg through libolecf): each turns one
// file into RFC 5322 messages (see outlook_item.hpp), with an origin that names the PST folder,
// the node id and the item type. MessageSource hands them files it recognises by content.
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "credsift/diagnostic.hpp"
#include "credsift/source.hpp"

namespace credsift::source_detail {

using ItemReport = std::function<void(Diagnostic::Level, uint64_t offset, std::string message)>;

class ItemReader {
 public:
  virtual ~ItemReader() = default;
  virtual std::optional<Message> next() = 0;
  // The next message with the work that may run in the parallel stage left in `complete`.
  virtual std::optional<InputBatch> next_batch() {
    std::optional<Message> message = next();
    if (!message) return std::nullopt;
    return InputBatch{std::move(message), std::nullopt, {}};
  }

 protected:
  // next() of a reader whose work lives in next_batch(): that work done here, in this thread.
  std::optional<Message> next_completed() {
    for (;;) {
      if (!run_.empty()) {
        Message message = std::move(run_.front());
        run_.pop_front();
        return message;
      }
      std::optional<InputBatch> batch = next_batch();
      if (!batch) return std::nullopt;
      if (batch->complete_run) {
        std::vector<Message> run;
        batch->complete_run(run);
        for (Message& message : run) run_.push_back(std::move(message));
        continue;
      }
      if (batch->complete) batch->complete(*batch->message);
      return std::move(batch->message);
    }
  }

 private:
  std::deque<Message> run_;  // the rest of a run of messages (InputBatch::complete_run)
};

// "!BDN": the PST/OST header magic (MS-PST 2.2.2.6).
bool is_pst_magic(std::string_view head);
// The OLE2 compound file magic D0 CF 11 E0 A1 B1 1A E1 (.msg, but also .doc, .xls ...).
bool is_ole2_magic(std::string_view head);

// Opens a PST/OST; nullptr with `error` set when libpff cannot open it.
std::unique_ptr<ItemReader> open_pst(std::shared_ptr<const std::string> file,
                                     const SourceOptions& options, ItemReport report,
                                     std::string& error);

// Opens an OLE2 file as a .msg; nullptr with `error` empty when it is an OLE2 file but no
// Outlook item (a .doc, an .xls), nullptr with `error` set when it cannot be read.
std::unique_ptr<ItemReader> open_msg(std::shared_ptr<const std::string> file,
                                     const SourceOptions& options, ItemReport report,
                                     std::string& error);

}  // namespace credsift::source_detail
