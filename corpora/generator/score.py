#!/usr/bin/env python3
"""Scores a scanner's findings against the labels written by credsift-gen.

A label is (message id, rule, family, fingerprint, encoding, secret). A finding matches a label
when both name the same message and the same secret: credsift findings by fingerprint (sha256 of
the secret), peers that report the matched text (gitleaks, secretlint) by that text containing
the planted secret or lying inside it. Rule ids may differ between scanners: the family and
the encoding of a match come from the label. Prints recall and precision overall, per rule
family and per encoding, as Markdown, or one JSON object with --json.

Findings formats (auto-detected per line or document):
  credsift  JSON lines or a JSON array; any object holding "fingerprint" and "message_id" (also
            nested: tickets that list occurrences under a secret are walked recursively).
  gitleaks  JSON array of {"Secret", "StartLine", ...}: lines are mapped to messages with --mbox.
  secretlint JSON array of {"messages": [{"loc": {"start": {"line"}}, "range": [a, b]}]}: the
            matched text is read from the archive (--mbox).
"""
import argparse
import bisect
import collections
import hashlib
import json
import re
import sys


def unescape(text):
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}.get(m.group(1), m.group(1)), text)


def read_labels(path):
    labels = []
    with open(path, encoding="utf-8", newline="") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            labels.append({"message_id": fields[0].strip("<>"), "rule_id": fields[1], "family": fields[2],
                           "fingerprint": fields[3], "encoding": fields[4],
                           "secret": unescape(fields[6]) if len(fields) > 6 else None})
    return labels


def walk_credsift(node, context, out):
    """Collects (message_id, fingerprint, rule_id) from any nesting of objects and lists."""
    if isinstance(node, list):
        for item in node:
            walk_credsift(item, context, out)
        return
    if not isinstance(node, dict):
        return
    context = dict(context)
    for key in ("message_id", "fingerprint", "rule_id"):
        if isinstance(node.get(key), str):
            context[key] = node[key]
    nested = [v for v in node.values() if isinstance(v, (list, dict))]
    emitted_below = len(out)
    for value in nested:
        walk_credsift(value, context, out)
    if len(out) == emitted_below and "message_id" in context and "fingerprint" in context:
        out.append((context["message_id"].strip("<>"), context["fingerprint"], context.get("rule_id", "")))


def load_json_documents(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    try:
        return [json.loads(text)] if text.strip() else []
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


class MboxIndex:
    """Maps 1-based line numbers and byte offsets of a raw mbox to the message's Message-ID."""

    def __init__(self, path):
        self.line_starts, self.byte_starts, self.ids = [], [], []
        self.data = open(path, "rb").read()
        line_number, offset, previous_blank = 0, 0, True
        current = None
        for raw in self.data.splitlines(keepends=True):
            line_number += 1
            if raw.startswith(b"From ") and previous_blank:
                self.line_starts.append(line_number)
                self.byte_starts.append(offset)
                self.ids.append("")
                current = len(self.ids) - 1
            elif current is not None and not self.ids[current] and raw[:11].lower() == b"message-id:":
                self.ids[current] = raw[11:].strip().decode("ascii", "replace").strip("<>")
            previous_blank = raw.strip() == b""
            offset += len(raw)

    def by_line(self, line):
        i = bisect.bisect_right(self.line_starts, line) - 1
        return self.ids[i] if i >= 0 else ""

    def by_offset(self, offset):
        i = bisect.bisect_right(self.byte_starts, offset) - 1
        return self.ids[i] if i >= 0 else ""


def peer_findings(documents, mbox):
    """(message_id, matched text) from gitleaks or secretlint JSON reports."""
    out = []
    for document in documents:
        items = document if isinstance(document, list) else [document]
        for item in items:
            if not isinstance(item, dict):
                continue
            if "Secret" in item or "StartLine" in item:  # gitleaks
                text = item.get("Secret") or item.get("Match") or ""
                out.append((mbox.by_line(int(item.get("StartLine", 0))), text))
            for message in item.get("messages", []) or []:  # secretlint
                start, end = (message.get("range") or [0, 0])[:2]
                # secretlint ranges count UTF-16 code units of the decoded file; the archive's
                # non-ASCII text shifts them, so the line is used to find the message and the
                # text is taken from the report's own data when present.
                line = ((message.get("loc") or {}).get("start") or {}).get("line", 0)
                text = ""
                data = message.get("data") or {}
                # Run with --no-maskSecrets, the rule's data holds the secret (key names vary).
                values = [v for v in data.values() if isinstance(v, str) and v.strip("*")]
                if values:
                    text = max(values, key=len)
                if not text:
                    text = mbox.data[start:end].decode("utf-8", "replace")
                out.append((mbox.by_line(int(line)), text))
    return out


def ratio(a, b):
    return a / b if b else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", required=True)
    parser.add_argument("--findings", required=True)
    parser.add_argument("--peer", action="store_true", help="gitleaks or secretlint report (needs --mbox)")
    parser.add_argument("--mbox", help="the scanned mbox, to map peers' lines to messages")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of Markdown")
    parser.add_argument("--name", default="credsift")
    args = parser.parse_args()

    labels = read_labels(args.labels)
    documents = load_json_documents(args.findings)
    by_message = collections.defaultdict(list)
    for label in labels:
        by_message[label["message_id"]].append(label)

    found = set()  # label indices recalled
    true_positives = false_positives = 0
    index_of = {id(label): i for i, label in enumerate(labels)}
    if args.peer:
        if not args.mbox:
            parser.error("--peer needs --mbox")
        findings = peer_findings(documents, MboxIndex(args.mbox))
        for message_id, text in findings:
            hit = False
            for label in by_message.get(message_id, []):
                secret = label["secret"] or ""
                if secret and text and (secret in text or (len(text) >= 8 and text in secret)):
                    found.add(index_of[id(label)])
                    hit = True
            true_positives += hit
            false_positives += not hit
    else:
        raw = []
        walk_credsift(documents, {}, raw)
        by_key = collections.defaultdict(list)  # one secret may carry labels of several rules
        for label in labels:
            by_key[(label["message_id"], label["fingerprint"])].append(label)
        for key in set((m, f) for m, f, _ in raw):  # a secret twice in one message counts once
            if key in by_key:
                found.update(index_of[id(label)] for label in by_key[key])
                true_positives += 1
            else:
                false_positives += 1
        findings = raw

    def table(key):
        rows = collections.OrderedDict()
        groups = collections.defaultdict(lambda: [0, 0])
        for i, label in enumerate(labels):
            groups[label[key]][0] += 1
            groups[label[key]][1] += i in found
        for name in sorted(groups):
            rows[name] = {"labels": groups[name][0], "found": groups[name][1],
                          "recall": ratio(groups[name][1], groups[name][0])}
        return rows

    result = {
        "scanner": args.name,
        "labels": len(labels),
        "found": len(found),
        "recall": ratio(len(found), len(labels)),
        "findings": true_positives + false_positives,
        "true_positives": true_positives,
        "false_positives": false_positives,
        "precision": ratio(true_positives, true_positives + false_positives),
        "by_family": table("family"),
        "by_encoding": table("encoding"),
    }
    if args.json:
        json.dump(result, sys.stdout, indent=1)
        print()
        return
    print(f"## {args.name}: recall {result['recall']:.3f} ({len(found)}/{len(labels)}), "
          f"precision {result['precision']:.3f} ({true_positives} of {true_positives + false_positives} findings)\n")
    for key, title in (("by_encoding", "encoding"), ("by_family", "family")):
        print(f"| {title} | planted | found | recall |\n|---|---:|---:|---:|")
        for name, row in result[key].items():
            print(f"| {name} | {row['labels']} | {row['found']} | {row['recall']:.3f} |")
        print()


if __name__ == "__main__":
    main()
