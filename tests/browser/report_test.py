#!/usr/bin/env python3
"""Browser test of the HTML report (ctest label "browser"): a generated archive plus hostile
mail is scanned to JSON and HTML; headless Chromium opens the report over the DevTools protocol
and the test checks that the summary counts equal the JSON output's, that filtering by severity
shows only those tickets, that no request left the page and no console error was logged, that
the hostile subject is shown as text, and that the page's own self-test (#selftest) passes.
On failure a screenshot is kept in ARTIFACTS.

usage: report_test.py CREDSIFT CREDSIFT_GEN ARTIFACTS   (exit 77: no browser, skipped)"""

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

TOKEN = "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"
HOSTILE_SUBJECT = "<script>alert(1)</script> <img src=x onerror=alert(2)>"
HOSTILE = (
    "From eve@evil.example Mon Jan  1 10:00:00 2024\n"
    "From: \"Eve \x1b[31mRED\x1b[0m\" <eve@evil.example>\n"
    "To: ops@acme.test, \"\x1b]0;pwned\x07\" <victim@partner.example>\n"
    f"Subject: {HOSTILE_SUBJECT} \u202egnp.exe\n"
    "Date: Mon, 01 Jan 2024 10:00:00 +0000\n"
    "Message-ID: <hostile-1@evil.example>\n"
    "\n"
    f"the token is {TOKEN}\n\n")

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def main():
    credsift, generator, artifacts = sys.argv[1:4]
    if not cdp.find_browser():
        print("no headless Chromium: skipped")
        return 77
    work = tempfile.mkdtemp(prefix="credsift-browser-")
    archive = os.path.join(work, "archive.mbox")
    subprocess.run([generator, "--output", archive, "--size", "2M", "--seed", "16"], check=True,
                   stdout=subprocess.DEVNULL)
    with open(archive, "a", encoding="utf-8") as out:
        out.write("\n" + HOSTILE)
    report, document = os.path.join(work, "report.html"), os.path.join(work, "tickets.json")
    scan = subprocess.run([credsift, "scan", "--quiet", "--internal-domain", "acme.test",
                           "--output", "html=" + report, "--output", "json=" + document, archive])
    check(scan.returncode == 1, f"credsift found credentials (exit {scan.returncode})")
    expected = json.load(open(document))
    summary = expected["summary"]
    hostile_ticket = next(t["id"] for t in expected["tickets"]
                          if any("hostile-1" in o["message_id"] for o in t["occurrences"]))

    browser = cdp.Browser()
    try:
        for domain in ("Runtime", "Page", "Network", "Log"):
            browser.call(domain + ".enable")
        url = "file://" + report + "#selftest"
        browser.open_report(url)

        selftest = browser.evaluate(
            "(() => { const r = document.getElementById('selftest-result');"
            " return r ? [r.dataset.result, r.textContent] : ['missing', '']; })()")
        check(selftest[0] == "pass", "in-page self-test:\n" + selftest[1])

        shown = browser.evaluate(
            "Object.fromEntries([...document.querySelectorAll('[data-count][data-value]')]"
            ".map((n) => [n.dataset.count, n.dataset.value]))")
        check(int(shown["tickets"]) == summary["tickets"],
              f"tickets {shown['tickets']} = JSON {summary['tickets']}")
        check(int(shown["messages_scanned"]) == summary["messages_scanned"],
              f"messages scanned {shown['messages_scanned']} = JSON {summary['messages_scanned']}")
        for severity in ("critical", "high", "medium", "low"):
            want = summary["tickets_by_severity"].get(severity, 0)
            check(int(shown["severity-" + severity]) == want,
                  f"{severity} {shown['severity-' + severity]} = JSON {want}")

        # Filtering by severity, through the page's own control as a user would.
        for severity, want in summary["tickets_by_severity"].items():
            rows = browser.evaluate(
                "(() => { const s = document.getElementById('filter-severity');"
                f" s.value = {json.dumps(severity)}; s.dispatchEvent(new Event('change'));"
                " return [document.getElementById('ticket-count').dataset.shown,"
                " [...document.querySelectorAll('#ticket-body tr.ticket')].map((r) => r.dataset.sev)]; })()")
            check(int(rows[0]) == want and rows[1] and set(rows[1]) == {severity},
                  f"severity={severity}: {rows[0]} tickets, rows {sorted(set(rows[1]))}")

        # The hostile ticket, found by its id and opened by a click: its subject is text.
        opened = browser.evaluate(
            "(() => { document.getElementById('filter-reset').click();"
            " const q = document.getElementById('filter-q');"
            f" q.value = {json.dumps(hostile_ticket)}; window.credsiftReport.applyFilters();"
            " document.querySelector('#ticket-body tr.ticket').click();"
            " return [...document.querySelectorAll('td.subject')].map((c) =>"
            " [c.textContent, c.childElementCount]); })()")
        check(any(HOSTILE_SUBJECT in text and children == 0 for text, children in opened),
              f"hostile subject shown as text: {opened[:3]}")
        check(browser.evaluate("document.querySelectorAll('img, iframe, object, embed').length") == 0,
              "no element made from mail markup")
        check(browser.evaluate("document.querySelectorAll('script').length") == 4,
              "only the report's four script elements (data, tickets, script, occurrences)")

        # Nothing but the report itself was fetched (data: URLs are the browser's own icons).
        requests = [e["params"]["request"]["url"] for e in browser.events
                    if e.get("method") == "Network.requestWillBeSent"]
        outside = [u for u in requests if not u.startswith("data:") and u != "file://" + report]
        check(not outside, f"no request left the page ({len(requests)} seen): {outside}")
        errors = [e for e in browser.events
                  if e.get("method") == "Runtime.exceptionThrown"
                  or (e.get("method") == "Runtime.consoleAPICalled"
                      and e["params"]["type"] in ("error", "warning", "assert"))
                  or (e.get("method") == "Log.entryAdded"
                      and e["params"]["entry"]["level"] in ("error", "warning"))]
        check(not errors, "no console error: " + json.dumps(errors)[:1500])
        dialogs = [e for e in browser.events if e.get("method") == "Page.javascriptDialogOpening"]
        check(not dialogs, "no alert() ran")
        # The same report with its data gzip+base64 (as large reports are): same self-test.
        packed = os.path.join(work, "packed.html")
        subprocess.run([credsift, "scan", "--quiet", "--internal-domain", "acme.test", "--output",
                        "html=" + packed, archive], env=dict(os.environ, CREDSIFT_HTML_COMPRESS_BYTES="1"))
        check(open(packed).read().count('data-encoding="gzip-base64"') == 3, "packed report")
        browser.open_report("file://" + packed + "#selftest")
        selftest = browser.evaluate(
            "(() => { const r = document.getElementById('selftest-result');"
            " return r ? [r.dataset.result, r.textContent] : ['missing', '']; })()")
        check(selftest[0] == "pass", "in-page self-test of the packed report:\n" + selftest[1])
        if failures:
            os.makedirs(artifacts, exist_ok=True)
            shot = os.path.join(artifacts, "report-failure.png")
            browser.screenshot(shot)
            print("screenshot kept: " + shot)
    finally:
        browser.close()
        subprocess.run(["rm", "-rf", work])
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
