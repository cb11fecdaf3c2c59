// Request signatures of the verify stage against the providers' published examples.
#include <gtest/gtest.h>

#include "../../scanner/verify/request_signing.hpp"

namespace credsift {
namespace {

constexpr const char* kExampleSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

TEST(VerifySigning, AwsSigningKeyMatchesTheDocumentedDerivation) {
  // AWS General Reference, "Examples of how to derive a signing key for Signature Version 4".
  EXPECT_EQ(to_hex(aws_signing_key(kExampleSecret, "20120215", "us-east-1", "iam")),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST(VerifySigning, AwsSigV4MatchesTheDocumentedListUsersExample) {
  // The IAM ListUsers request of AWS's Signature Version 4 walk-through.
  AwsRequest request;
  request.method = "GET";
  request.host = "iam.amazonaws.com";
  request.path = "/";
  request.query = "Action=ListUsers&Version=2010-05-08";
  request.content_type = "application/x-www-form-urlencoded; charset=utf-8";
  request.amz_date = "20150830T123600Z";
  request.region = "us-east-1";
  request.service = "iam";
  EXPECT_EQ(aws_sigv4_authorization(request, "AKIDEXAMPLE", kExampleSecret),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, "
            "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

TEST(VerifySigning, HashesAndHmac) {
  EXPECT_EQ(hex_sha256(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // RFC 4231 test case 2.
  EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(VerifySigning, AzureSharedKeyNeedsABase64Key) {
  EXPECT_EQ(azure_shared_key_authorization("acct", "not base64!", "GET", "/", "comp=list", {}), "");
  for (const char* bad : {"====", "A===", "", "AB=C"})
    EXPECT_EQ(azure_shared_key_authorization("acct", bad, "GET", "/", "", {}), "") << bad;
  const std::string header = azure_shared_key_authorization(
      "acct",
      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
      "GET", "/", "comp=list&maxresults=1", {"x-ms-version:2021-08-06", "x-ms-date:x"});
  ASSERT_TRUE(header.starts_with("SharedKey acct:")) << header;
  EXPECT_EQ(header.size(), std::string("SharedKey acct:").size() + 44);  // base64 of 32 bytes
}

}  // namespace
}  // namespace credsift
