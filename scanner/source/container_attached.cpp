// A PST/OST attached to a mail (or inside an attached archive): the extract stage finds it but
// must not call into the source stage, so the pipeline hands extract this function as a hook
// (set_attached_mailbox_reader). The bytes go to an unlinked temporary file that the PST reader
// opens by name, and each item comes back rendered as RFC 5322 text, read serially here.
#include <string>
#include <utility>

#include "container.hpp"
#include "credsift/source.hpp"

namespace credsift {

void read_attached_mailbox(
    std::string_view bytes, uint64_t max_item_bytes,
    const std::function<bool(const std::string& label, std::string_view rfc5322)>& item,
    std::vector<std::string>& problems) {
  using namespace source_detail;
  std::string error;
  std::unique_ptr<SpillFile> file = SpillFile::create(error);
  if (!file || !file->write(bytes.data(), bytes.size(), error)) {
    problems.push_back("attached PST/OST not read: " + error);
    return;
  }
  SourceOptions options;
  options.max_message_bytes = max_item_bytes;
  ItemReport report = [&problems](Diagnostic::Level, uint64_t, std::string what) {
    problems.push_back(std::move(what));
  };
  auto path = std::make_shared<const std::string>(file->path());
  std::unique_ptr<ItemReader> items = open_pst(path, options, std::move(report), error);
  if (!items) {
    problems.push_back("attached PST/OST not read: " + error);
    return;
  }
  while (std::optional<Message> message = items->next()) {
    const ItemLocation& where = message->origin.location;
    std::string label = where.folder;
    if (where.node_id)
      label += (label.empty() ? "node=" : ":node=") + std::to_string(*where.node_id);
    if (label.empty()) label = "item=" + std::to_string(message->origin.index);
    if (where.recovered) label += ":recovered";
    if (!message->skip_reason.empty()) {
      problems.push_back(label + ": not scanned: " + message->skip_reason);
      continue;
    }
    if (!item(label, message->bytes)) break;
  }
}

}  // namespace credsift
