// The SARIF output checked against the SARIF 2.1.0 JSON schema. The schema (as shipped by the npm
// package @microsoft/jest-sarif) and the validator (ajv 6, which reads draft-04 schemas) are
// installed from the npm registry into the build tree at test time; without npm the test skips.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "support.hpp"

namespace fs = std::filesystem;
using namespace credsift::e2e;

namespace {

const fs::path kNpmDir = fs::path(CREDSIFT_BINARY).parent_path() / "npm-sarif";
const fs::path kSchema = kNpmDir / "package/lib/schemas/sarif-2.1.0-rtm.5.json";

int shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Installs the validator and the schema once per build tree; returns an error text or "".
std::string install_validator() {
  if (fs::exists(kSchema) && fs::exists(kNpmDir / "node_modules/ajv/package.json") &&
      fs::exists(kNpmDir / "validate.js"))
    return "";
  fs::create_directories(kNpmDir);
  const std::string dir = "'" + kNpmDir.string() + "'";
  if (shell("npm install --prefix " + dir + " --no-audit --no-fund --silent ajv@6.12.6 >" + dir +
            "/install.log 2>&1") != 0)
    return "npm install ajv failed: " + slurp(kNpmDir / "install.log");
  if (shell("cd " + dir +
            " && npm pack --silent @microsoft/jest-sarif@1.0.0-beta.0 >pack.log 2>&1 && " +
            "tar xzf microsoft-jest-sarif-1.0.0-beta.0.tgz "
            "package/lib/schemas/sarif-2.1.0-rtm.5.json") != 0)
    return "npm pack @microsoft/jest-sarif failed: " + slurp(kNpmDir / "pack.log");
  std::ofstream(kNpmDir / "validate.js") << R"(
const fs = require('fs');
const Ajv = require('ajv');
const ajv = new Ajv({schemaId: 'id', allErrors: true, format: 'full', logger: false});
ajv.addMetaSchema(require('ajv/lib/refs/json-schema-draft-04.json'));
const schema = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const data = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
if (ajv.validate(schema, data)) { console.log('valid'); process.exit(0); }
console.log(JSON.stringify(ajv.errors, null, 1));
process.exit(1);
)";
  return "";
}

int validate(const fs::path& sarif, const fs::path& report) {
  return shell("node '" + (kNpmDir / "validate.js").string() + "' '" + kSchema.string() + "' '" +
               sarif.string() + "' >'" + report.string() + "' 2>&1");
}

TEST(Sarif, OutputValidatesAgainstTheSarif210Schema) {
  if (shell("command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "npm or node is not installed: the SARIF schema check installs its "
                    "validator from the npm registry";
  const std::string problem = install_validator();
  ASSERT_EQ(problem, "");

  TempDir temp;
  const fs::path sarif = temp.path() / "scan.sarif", report = temp.path() / "report";
  const ScanRun run =
      run_credsift("scan --internal-domain acme.test --output 'sarif=" + sarif.string() + "' '" +
                   kSamples.string() + "'");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(validate(sarif, report), 0) << slurp(report);

  // The check can fail: a log without its version is refused.
  std::string broken = slurp(sarif);
  const size_t version = broken.find("\"version\":\"2.1.0\",");
  ASSERT_NE(version, std::string::npos);
  broken.erase(version, std::string("\"version\":\"2.1.0\",").size());
  const fs::path invalid = temp.path() / "broken.sarif";
  std::ofstream(invalid) << broken;
  EXPECT_NE(validate(invalid, report), 0) << slurp(report);

  // An empty scan is a valid log too.
  const fs::path clean = temp.path() / "clean.eml", empty = temp.path() / "empty.sarif";
  std::ofstream(clean) << "From: a@acme.test\nTo: b@acme.test\nSubject: hi\n\nNothing.\n";
  ASSERT_EQ(
      run_credsift("scan --format sarif --output '" + empty.string() + "' '" + clean.string() + "'")
          .exit_code,
      0);
  EXPECT_EQ(validate(empty, report), 0) << slurp(report);
}

}  // namespace
