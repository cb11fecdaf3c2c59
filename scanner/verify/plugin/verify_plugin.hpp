#pragma once
// The interface of libcredsift_verify.so, the plugin that holds live verification (scan --verify,
// tickets --verify): libcurl, libpq, libmariadb, hiredis and their ~25 libraries (GnuTLS,
// Kerberos, LDAP, nghttp2 ...) cost every start of credsift-full more than the rest of the
// program, and only a run with --verify uses them. verify_loader.cpp opens it with dlopen.
//
// C linkage, but C++ objects behind the pointers: the plugin is built by the same build, with
// the same compiler, standard library and headers, and the loader refuses any plugin whose
// CREDSIFT_VERIFY_ABI differs. No exception crosses it: the plugin catches everything and
// returns the message.
#include <cstddef>
#include <ostream>
#include <vector>

#include "credsift/ticket.hpp"
#include "credsift/verify.hpp"

// Raised whenever the call below, or a type it points to, changes meaning.
#define CREDSIFT_VERIFY_ABI 1

struct CredsiftVerifyCall {
  std::vector<credsift::Ticket>* tickets;  // verified in place
  const credsift::VerifyOptions* options;
  std::ostream* plan;              // the dry run's endpoint list and warnings
  credsift::VerifyCounts* counts;  // out
  char* error;                     // out when the call fails: NUL-terminated, truncated
  size_t error_size;
};

extern "C" {
typedef int (*credsift_verify_abi_fn)(void);
// credsift::verify_tickets(*tickets, *options, *plan) into *counts: 0, or nonzero with `error`
// filled when it threw (the tickets then keep whatever was verified before).
typedef int (*credsift_verify_run_fn)(const CredsiftVerifyCall* call);

int credsift_verify_abi(void);
int credsift_verify_run(const CredsiftVerifyCall* call);
}
