#include "verify_options.hpp"

#include <boost/program_options.hpp>
#include <iostream>

#include "credsift/verify.hpp"
#include "verify_loader.hpp"

namespace po = boost::program_options;

namespace credsift::cli {

std::vector<std::string> split_verify_argument(const std::vector<std::string>& arguments) {
  std::vector<std::string> out;
  bool options_ended = false;
  for (const std::string& argument : arguments) {
    if (argument == "--") options_ended = true;
    if (!options_ended && argument.starts_with("--verify=")) {
      out.push_back("--verify");
      out.push_back("--verify-providers");
      out.push_back(argument.substr(9));
    } else {
      out.push_back(argument);
    }
  }
  return out;
}

void add_verify_options(po::options_description& options, VerifySettings& settings) {
  options.add_options()(
      "verify",
      "ask the providers whether each credential still works (sends the secret to the "
      "provider's own endpoint over TLS; off by default); --verify=github,slack,... for some "
      "only")("verify-providers", po::value(&settings.providers),
              "the providers of --verify=LIST (comma separated)")(
      "verify-dry-run", "with --verify: list every endpoint that would be contacted, contact none")(
      "verify-rate", po::value(&settings.rates)->composing(),
      "[PROVIDER=]N/s: contacts per second, all providers (default 5/s) or one (repeatable)")(
      "verify-concurrency", po::value(&settings.concurrency)->default_value(4),
      "contacts in flight at once")("verify-timeout",
                                    po::value(&settings.timeout_seconds)->default_value(15),
                                    "seconds per contact; a timeout is `unknown`, never `revoked`")(
      "verify-hosts", po::value(&settings.hosts),
      "host globs and CIDRs that connection strings may be verified against (none by default)")(
      "verify-endpoint", po::value(&settings.endpoints)->composing(),
      "PROVIDER=https://HOST[:PORT]: another endpoint for a provider (GitHub Enterprise, "
      "self-hosted GitLab, tests)")("verify-ca", po::value(&settings.ca_file),
                                    "extra CA certificates (PEM) to trust, for --verify-endpoint")(
      "verify-skip-aws-accounts", po::value(&settings.skip_aws_accounts),
      "AWS account ids (comma separated) whose keys are never sent, beside the built-in list of "
      "canary-token accounts")(
      "verify-audit", po::value(&settings.audit_path),
      "audit log of every contact (JSON lines, 0600, appended); default: beside the first "
      "output file, or credsift-verify-audit.jsonl");
}

TicketHook make_verify_hook(const po::variables_map& options, const VerifySettings& settings,
                            bool quiet, const VerifyStore& case_store) {
  if (!options.count("verify")) {
    for (const char* name :
         {"verify-providers", "verify-dry-run", "verify-rate", "verify-hosts", "verify-endpoint",
          "verify-ca", "verify-audit", "verify-skip-aws-accounts"})
      if (options.count(name)) throw po::error(std::string("--") + name + " needs --verify");
    return {};
  }
  VerifyOptions verify;
  {
    std::string_view list = settings.providers;
    while (!list.empty()) {
      const size_t comma = list.find(',');
      std::string provider(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      if (!provider.empty()) verify.providers.insert(provider);
    }
  }
  try {
    for (const std::string& rate : settings.rates) {
      const auto [provider, per_second] = parse_provider_rate(rate);
      if (provider.empty())
        verify.global_rate = per_second;
      else
        verify.provider_rates[provider] = per_second;
    }
    for (const std::string& endpoint : settings.endpoints)
      verify.endpoints.insert(parse_provider_endpoint(endpoint));
    HostAllowList::parse(settings.hosts);  // checked now, used by connection-string verifiers
  } catch (const std::invalid_argument& error) {
    throw po::error(error.what());
  }
  if (settings.concurrency == 0) throw po::error("--verify-concurrency must be at least 1");
  if (settings.timeout_seconds <= 0) throw po::error("--verify-timeout must be positive");
  verify.concurrency = settings.concurrency;
  verify.timeout_seconds = settings.timeout_seconds;
  verify.dry_run = options.count("verify-dry-run") > 0;
  verify.hosts = settings.hosts;
  verify.ca_file = settings.ca_file;
  verify.audit_path = settings.audit_path;
  for (std::string_view list = settings.skip_aws_accounts; !list.empty();) {
    const size_t comma = list.find(',');
    const std::string account(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (account.empty()) continue;
    if (account.size() != 12 || account.find_first_not_of("0123456789") != std::string::npos)
      throw po::error("--verify-skip-aws-accounts: '" + account + "' is not a 12-digit account id");
    verify.aws_skip_accounts.insert(account);
  }
  // The verify stage is a plugin (libcurl, libpq ... are mapped only now): opened before the
  // scan, so that a missing plugin stops the run at once, not after the scan.
  load_verify_plugin();
  return [verify, quiet, case_store](std::vector<Ticket>& tickets,
                                     const std::string& report_path) mutable {
    if (verify.audit_path.empty())
      verify.audit_path =
          report_path.empty() ? "credsift-verify-audit.jsonl" : report_path + ".verify-audit.jsonl";
    CaseStore* store = case_store.store ? case_store.store() : nullptr;
    if (store && case_store.reuse_stored) verify.cached = store->verifications();
    const VerifyCounts counts = verify_tickets_in_plugin(tickets, verify, std::cerr);
    if (store && !verify.dry_run) store->record_verifications(tickets);
    if (!quiet && !verify.dry_run) {
      std::cerr << "credsift: verification: " << counts.contacted << " contacted ("
                << verify.audit_path << ")";
      if (counts.cached) std::cerr << ", " << counts.cached << " from the case store";
      std::cerr << ": " << counts.live << " live, " << counts.revoked << " revoked, "
                << counts.unknown << " unknown, " << counts.not_checked << " not checked\n";
    }
  };
}

}  // namespace credsift::cli
