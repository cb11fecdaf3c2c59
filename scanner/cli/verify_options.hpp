#pragma once
// `credsift scan --verify ...`: the options of live verification, turned into a hook that
// verifies the built tickets before they are written.
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>
#include <string>
#include <vector>

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
// Empty when --verify was not given; throws boost::program_options::error on bad values.
TicketHook make_verify_hook(const boost::program_options::variables_map& options,
                            const VerifySettings& settings, bool quiet);

}  // namespace credsift::cli
