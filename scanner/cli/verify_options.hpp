#pragma once
// `credsift scan --verify ...`: the options of live verification, turned into a hook that
// verifies the built tickets before they are written.
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>
#include <functional>
#include <string>
#include <vector>

#include "credsift/store.hpp"
#include "scan_report.hpp"

namespace credsift::cli {

struct VerifySettings {
  std::vector<std::string> rates, endpoints;
  std::string providers, hosts, ca_file, audit_path, skip_aws_accounts;
  unsigned concurrency = 4;
  long timeout_seconds = 15;
};

// `--verify=LIST` becomes `--verify --verify-providers LIST`: a bare `--verify` must not take
// the next argument (an input) as its value.
std::vector<std::string> split_verify_argument(const std::vector<std::string>& arguments);

void add_verify_options(boost::program_options::options_description& options,
                        VerifySettings& settings);
// With a case store (scan --store, tickets --store): the results are recorded there, and with
// reuse_stored a live or revoked result already there is used instead of a new contact.
struct VerifyStore {
  std::function<CaseStore*()> store;  // the store once open; empty or null: none
  bool reuse_stored = false;
};

// Empty when --verify was not given; throws boost::program_options::error on bad values.
TicketHook make_verify_hook(const boost::program_options::variables_map& options,
                            const VerifySettings& settings, bool quiet,
                            const VerifyStore& case_store = {});

}  // namespace credsift::cli
