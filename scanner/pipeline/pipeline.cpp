#include "credsift/pipeline.hpp"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/global_control.h>
#include <tbb/parallel_pipeline.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "credsift/extract.hpp"
#include "credsift/validate.hpp"

namespace credsift {

namespace {

// A mapped mbox is handed to the workers in spans of about this size (hundreds of messages),
// each read (pread) into a pooled buffer (source_detail::read_span_copy). Every buffer alive at
// once is fresh memory the first time: at 2 threads 4-5 buffers are (a worker runs ahead of the
// in-order output), and with 8 MiB spans the kernel cleared 28-65 ms of fresh huge pages per
// 300 MB scan of the mail profile (perf, clear_page_erms under the pread; 1-2 ms at 1 thread),
// against 1-9 ms with 2 MiB spans. (8 MiB was chosen when workers read the mapping itself and
// each span's madvise flushed the other core's TLB; the spans are copied now, and the mapping
// behind a copied span has no pages to drop.)
constexpr size_t kSpanBytes = 2 << 20;
// Spans handed out while the rules still load (more than one thread): a worker decodes its
// span's messages and then waits for the matcher, so a 2 MiB span left it idle (perf sched:
// the main thread waited 4-10 ms in wait_for_matcher at the start of a -j2 scan).
constexpr size_t kEarlySpanBytes = 8 << 20;

// Counts line breaks incrementally: hits of one segment come in position order, so each
// segment's text is walked once however many hits it holds.
class LineCounter {
 public:
  uint64_t line_at(uint32_t segment, std::string_view text, size_t position) {
    if (segment != segment_ || position < position_) {
      segment_ = segment;
      position_ = 0;
      line_ = 1;
    }
    line_ += static_cast<uint64_t>(std::count(text.begin() + static_cast<std::ptrdiff_t>(position_),
                                              text.begin() + static_cast<std::ptrdiff_t>(position),
                                              '\n'));
    position_ = position;
    return line_;
  }

 private:
  uint32_t segment_ = UINT32_MAX;
  size_t position_ = 0;
  uint64_t line_ = 1;
};

std::string_view slice(std::string_view text, Span span) {
  return text.substr(span.begin, span.end - span.begin);
}

// The match and the rest of its token: rules stop at the part they need (a URI at its host),
// the validators parse the whole thing (port, database).
std::string_view validation_context(std::string_view text, Span match) {
  size_t end = match.end;
  const size_t limit = std::min(text.size(), match.end + 512);
  while (end < limit && std::string_view(" \t\r\n\"'<>").find(text[end]) == std::string_view::npos)
    ++end;
  return text.substr(match.begin, end - match.begin);
}

// A message's decoding, which needs no matcher; a failure marks the result (as scan_message).
std::optional<DecodedMessage> decode_for_scan(const Message& message, const ScanOptions& options,
                                              MessageResult& result) {
  // Extract opens an attached PST through the source stage's reader, handed in here.
  static const bool attached_mailboxes = (set_attached_mailbox_reader(&read_attached_mailbox), 1);
  (void)attached_mailboxes;
  try {
    DecodedMessage decoded = decode_message(message.bytes, options.decode);
    result.problems = std::move(decoded.problems);
    return decoded;
  } catch (const std::exception& error) {
    result.failed = true;
    result.failure = error.what();
    return std::nullopt;
  }
}

// The rest of scan_message: match, validate and make the findings of a decoded message.
void scan_decoded(const Message& message, DecodedMessage& decoded, const Matcher& matcher,
                  Matcher::Scratch& scratch, const ScanOptions& options, MessageResult& result) {
  try {
    if (options.since || options.until) {
      const std::optional<int64_t> date = parse_mail_date(decoded.envelope.date);
      if (!date) {
        result.undated = true;
      } else if ((options.since && *date < *options.since) ||
                 (options.until && *date > *options.until)) {
        result.outside_window = true;
        return;
      }
    }

    std::vector<Hit> hits;
    for (uint32_t i = 0; i < decoded.segments.size(); ++i) {
      if (std::chrono::steady_clock::now() >= options.deadline) {
        result.timed_out = true;
        break;
      }
      matcher.scan(decoded.segments[i].text, i, scratch, hits);
    }

    drop_generic_hits_shadowed_by_provider_rules(matcher.rules(), hits);
    LineCounter lines;
    // Shared by the message's findings; most messages have none and need no copy.
    const SharedEnvelope envelope =
        hits.empty() ? nullptr : std::make_shared<const Envelope>(std::move(decoded.envelope));
    static const std::string kNoFile;
    const std::string& file = message.origin.file ? *message.origin.file : kNoFile;
    for (const Hit& hit : hits) {
      const Rule& rule = matcher.rules().rules[hit.rule];
      const Segment& segment = decoded.segments[hit.segment];
      const std::string_view secret = slice(segment.text, hit.secret);
      std::vector<std::pair<std::string, std::string>> captures;
      for (const NamedSpan& capture : hit.captures)
        captures.emplace_back(std::string(capture.name),
                              std::string(slice(segment.text, capture.span)));
      Validation validation =
          validate(rule, secret, validation_context(segment.text, hit.match), captures);
      if (validation.status == ValidationStatus::Rejected) {
        ++result.rejected;
        ++result.rejected_by_reason[validation.reason];
        if (!options.include_rejected) continue;
      }
      Finding finding;
      finding.rule = &rule;
      finding.secret = std::string(secret);
      finding.fingerprint = fingerprint(secret);
      finding.captures = std::move(captures);
      finding.validation = std::move(validation);
      finding.part_path = segment.part_path;
      finding.line = lines.line_at(hit.segment, segment.text, hit.secret.begin);
      finding.file = file;
      finding.offset = message.origin.offset;
      finding.index = message.origin.index;
      finding.location = message.origin.location;
      finding.envelope = envelope;
      result.findings.push_back(std::move(finding));
    }
  } catch (const std::exception& error) {
    // One message must never stop the scan: it is counted as failed, with the reason.
    result.findings.clear();
    result.failed = true;
    result.failure = error.what();
  }
}

}  // namespace

MessageResult scan_message(const Message& message, const Matcher& matcher,
                           Matcher::Scratch& scratch, const ScanOptions& options) {
  MessageResult result;
  if (std::optional<DecodedMessage> decoded = decode_for_scan(message, options, result))
    scan_decoded(message, *decoded, matcher, scratch, options, result);
  return result;
}

ScanSummary run_scan(const std::vector<std::string>& inputs, const Matcher& matcher,
                     const ScanOptions& options, const FindingSink& on_finding,
                     const DiagnosticSink& on_diagnostic) {
  std::promise<const Matcher*> ready;
  ready.set_value(&matcher);
  return run_scan(inputs, ready.get_future().share(), options, on_finding, on_diagnostic);
}

ScanSummary run_scan(const std::vector<std::string>& inputs,
                     std::shared_future<const Matcher*> pending_matcher, const ScanOptions& options,
                     const FindingSink& on_finding, const DiagnosticSink& on_diagnostic) {
  // The matcher once it is loaded, else null (never waits).
  std::atomic<const Matcher*> loaded{nullptr};
  const auto matcher_if_ready = [&]() -> const Matcher* {
    if (const Matcher* matcher = loaded.load(std::memory_order_acquire)) return matcher;
    if (pending_matcher.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
      return nullptr;
    const Matcher* matcher = pending_matcher.get();  // throws the load's error
    loaded.store(matcher, std::memory_order_release);
    return matcher;
  };
  // True while the rules load (never throws: the load's error comes out of matcher_if_ready).
  const auto matcher_loading = [&] {
    return loaded.load(std::memory_order_acquire) == nullptr &&
           pending_matcher.wait_for(std::chrono::seconds(0)) != std::future_status::ready;
  };
  const auto wait_for_matcher = [&]() -> const Matcher& {
    if (const Matcher* matcher = matcher_if_ready()) return *matcher;
    pending_matcher.wait();
    return *matcher_if_ready();
  };
  const auto started = std::chrono::steady_clock::now();
  const unsigned threads =
      options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  const size_t in_flight = options.messages_in_flight ? options.messages_in_flight : 16 * threads;
  tbb::global_control parallelism(tbb::global_control::max_allowed_parallelism, threads);

  // The read and emit stages run on different threads; diagnostics from both go out in turn.
  std::mutex diagnostic_mutex;
  const DiagnosticSink report = [&](const Diagnostic& diagnostic) {
    std::lock_guard lock(diagnostic_mutex);
    if (on_diagnostic) on_diagnostic(diagnostic);
  };

  ScanSummary summary;
  uint64_t bytes_done = 0, messages_done = 0;  // touched by the serial emit stage only
  MessageSource source(inputs, options.source, report);
  tbb::enumerable_thread_specific<std::unique_ptr<Matcher::Scratch>> scratches(
      [&] { return wait_for_matcher().make_scratch(); });

  // One token: a message, or a span of a mapped mbox that the worker splits into messages.
  struct Work {
    InputBatch batch;
    std::vector<Message> messages;
    std::vector<MessageResult> results;
  };
  using WorkPtr = std::shared_ptr<Work>;

  // Messages of a span are numbered within it; the emit stage sees the spans of a file in
  // order and turns that into the index within the file.
  std::shared_ptr<const std::string> span_file;
  uint64_t span_file_messages = 0;
  auto number_span_messages = [&](Work& work) {
    if (!work.batch.span) return;
    if (work.batch.span->file != span_file) {
      span_file = work.batch.span->file;
      span_file_messages = work.batch.span->file_first_index;
    }
    for (size_t i = 0; i < work.messages.size(); ++i) {
      work.messages[i].origin.index += span_file_messages;
      for (Finding& finding : work.results[i].findings)
        finding.index = work.messages[i].origin.index;
    }
    span_file_messages += work.messages.size();
  };

  // A message whose mapped file shrank while it was scanned read zeros where its end was: it
  // fails (its findings so far are kept), and the reader reports the file.
  auto mark_cut_messages = [](Work& work) {
    for (size_t i = 0; i < work.messages.size(); ++i) {
      const Message& message = work.messages[i];
      const size_t intact = message_bytes_intact(message);
      if (intact == message.bytes.size() || !message.skip_reason.empty()) continue;
      work.results[i].failed = true;
      work.results[i].failure = "the file shrank during the scan: only the first " +
                                std::to_string(intact) + " bytes of the message were read";
    }
  };

  auto emit_findings = [&](const MessageResult& result) {
    for (const Finding& finding : result.findings) {
      if (finding.validation.status != ValidationStatus::Rejected) {
        ++summary.findings;
        ++summary.findings_by_rule[finding.rule->id];
      }
      if (on_finding) on_finding(finding);
    }
  };

  auto emit_one = [&](const Message& message, const MessageResult& result) {
    static const std::string kStdin = "-";
    const std::string& file = message.origin.file ? *message.origin.file : kStdin;
    bytes_done += message.bytes.size();
    ++messages_done;
    if (options.on_progress) options.on_progress(bytes_done, messages_done);
    if (!message.origin.location.item_type.empty())
      ++summary.items_by_type[message.origin.location.item_type];
    if (!message.failure.empty()) {
      ++summary.messages_failed;
      report({Diagnostic::Level::Error, file, message.origin.offset,
              "message " + std::to_string(message.origin.index) + " failed: " + message.failure});
      return;
    }
    if (!message.skip_reason.empty()) {
      ++summary.messages_skipped;
      if (message.skip_reason.starts_with("message larger than") ||
          message.skip_reason.starts_with("header block larger than"))
        ++summary.limits_hit;
      ++summary.skip_reasons[message.skip_reason];
      report(
          {Diagnostic::Level::Warning, file, message.origin.offset,
           "message " + std::to_string(message.origin.index) + " skipped: " + message.skip_reason});
      return;
    }
    if (result.known) {
      ++summary.messages_known;
      return;
    }
    for (const DecodeProblem& problem : result.problems)
      report(
          {Diagnostic::Level::Warning, file, message.origin.offset + problem.offset, problem.what});
    summary.decode_problems += result.problems.size();
    if (std::any_of(result.problems.begin(), result.problems.end(), is_limit_problem))
      ++summary.limits_hit;
    if (result.failed) {
      ++summary.messages_failed;
      emit_findings(result);  // none unless the input was cut short under the scan
      report({Diagnostic::Level::Error, file, message.origin.offset,
              "message " + std::to_string(message.origin.index) + " failed: " + result.failure});
      return;
    }
    if (result.outside_window) {
      ++summary.messages_outside_window;
      return;
    }
    if (result.undated) ++summary.messages_undated;
    ++summary.messages_scanned;
    summary.rejected += result.rejected;
    for (const auto& [reason, count] : result.rejected_by_reason)
      summary.rejected_by_reason[reason] += count;
    emit_findings(result);
  };
  auto emit = [&](const Message& message, const MessageResult& result) {
    emit_one(message, result);
    if (options.on_message) options.on_message(message, result);
  };

  tbb::parallel_pipeline(
      in_flight,
      tbb::make_filter<void, WorkPtr>(tbb::filter_mode::serial_in_order,
                                      [&](tbb::flow_control& control) -> WorkPtr {
                                        std::optional<InputBatch> batch = source.next_batch(
                                            matcher_loading() ? kEarlySpanBytes : kSpanBytes);
                                        if (!batch) {
                                          control.stop();
                                          return nullptr;
                                        }
                                        auto work = std::make_shared<Work>();
                                        work->batch = std::move(*batch);
                                        return work;
                                      }) &
          tbb::make_filter<WorkPtr, WorkPtr>(
              tbb::filter_mode::parallel,
              [&](WorkPtr work) {
                if (work->batch.span)
                  work->messages = split_span(*work->batch.span);
                else if (work->batch.complete_run)
                  work->batch.complete_run(work->messages);
                else {
                  if (work->batch.complete) work->batch.complete(*work->batch.message);
                  work->messages.push_back(std::move(*work->batch.message));
                }
                const size_t count = work->messages.size();
                work->results.resize(count);
                const auto skipped = [&](size_t i) {
                  return !work->messages[i].skip_reason.empty() ||
                         !work->messages[i].failure.empty();
                };
                // While the matcher loads (start of a scan on more than one thread), messages
                // are looked up in the case (`known` needs no rules) and decoded and kept; they
                // are matched once it is there.
                std::vector<std::optional<DecodedMessage>> early;
                size_t decoded_early = 0;
                if (!matcher_if_ready()) {
                  early.resize(count);
                  for (; decoded_early < count && !matcher_if_ready(); ++decoded_early) {
                    const size_t i = decoded_early;
                    if (skipped(i)) continue;
                    if (options.known && options.known(work->messages[i], work->results[i])) {
                      work->results[i].known = true;
                      continue;
                    }
                    early[i] = decode_for_scan(work->messages[i], options, work->results[i]);
                  }
                }
                const Matcher& matcher = wait_for_matcher();
                Matcher::Scratch& scratch = *scratches.local();
                for (size_t i = 0; i < count; ++i) {
                  if (skipped(i)) continue;
                  MessageResult& result = work->results[i];
                  if (i < decoded_early) {
                    if (early[i]) {
                      scan_decoded(work->messages[i], *early[i], matcher, scratch, options, result);
                      early[i].reset();
                    }
                    continue;
                  }
                  if (options.known && options.known(work->messages[i], result)) {
                    result.known = true;
                    continue;
                  }
                  std::string case_key = std::move(result.case_key);
                  result = scan_message(work->messages[i], matcher, scratch, options);
                  result.case_key = std::move(case_key);
                }
                mark_cut_messages(*work);
                if (work->batch.span) release_span(*work->batch.span);
                return work;
              }) &
          tbb::make_filter<WorkPtr, void>(tbb::filter_mode::serial_in_order, [&](WorkPtr work) {
            number_span_messages(*work);
            for (size_t i = 0; i < work->messages.size(); ++i)
              emit(work->messages[i], work->results[i]);
          }));

  wait_for_matcher();  // its load error, should no message have needed it
  summary.bytes = source.bytes_read();
  summary.files_failed = source.files_failed();
  summary.files_not_mail = source.files_not_mail();
  summary.not_mail_by_type = source.not_mail_by_type();
  summary.inputs_failed = source.inputs_failed();
  summary.elapsed_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

}  // namespace credsift
