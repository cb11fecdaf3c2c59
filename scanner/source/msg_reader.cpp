// .msg files as inputs: the shared Outlook unit reads the file into an OutlookItem and renders
// it; this reader hands it out as the file's one message.
#include "../outlook/msg.hpp"
#include "../outlook/outlook_item.hpp"
#include "outlook.hpp"

namespace credsift::source_detail {
namespace {

using namespace outlook_detail;
using Level = Diagnostic::Level;

class MsgReader : public ItemReader {
 public:
  MsgReader(std::shared_ptr<const std::string> file, const SourceOptions& options,
            ItemReport report, OutlookItem item)
      : file_(std::move(file)),
        options_(options),
        report_(std::move(report)),
        item_(std::move(item)) {}

  std::optional<Message> next() override {
    if (done_) return std::nullopt;
    done_ = true;
    std::vector<std::string> problems = std::move(item_.problems);
    auto text =
        std::make_shared<std::string>(render_rfc5322(item_, options_.max_message_bytes, problems));
    for (const std::string& p : problems) report_(Level::Warning, 0, p);
    Message m;
    m.origin.file = file_;
    m.origin.location.item_type =
        item_type_of(string_property(item_.props, kPidMessageClass).value_or(""));
    if (text->size() > options_.max_message_bytes) {
      m.skip_reason =
          "message larger than " + std::to_string(options_.max_message_bytes) + " bytes";
      return m;
    }
    m.bytes = *text;
    m.keepalive = std::move(text);
    return m;
  }

 private:
  std::shared_ptr<const std::string> file_;
  SourceOptions options_;
  ItemReport report_;
  OutlookItem item_;
  bool done_ = false;
};

}  // namespace

std::unique_ptr<ItemReader> open_msg(std::shared_ptr<const std::string> file,
                                     const SourceOptions& options, ItemReport report,
                                     std::string& error) {
  std::optional<OutlookItem> item = read_msg_file(*file, options.max_message_bytes, error);
  if (!item) return nullptr;
  return std::make_unique<MsgReader>(std::move(file), options, std::move(report), std::move(*item));
}

}  // namespace credsift::source_detail
