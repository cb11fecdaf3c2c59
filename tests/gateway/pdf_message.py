#!/usr/bin/env python3
"""Writes an RFC 5322 message with a one-page PDF attachment to stdout, for the gateway tests and
bench/gateway_figures.sh. --fallback adds a marked-content span with /ActualText, which
credsift's own PDF reader declines, so that poppler (the plugin) reads the page; without it the PDF is the
simple kind our reader handles. --text sets the page's text."""
import argparse, base64, sys, zlib


def make_pdf(objects):
    out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)


def stream(entries, data):
    return b"<< " + entries + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def pdf(text, fallback):
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    content = b"BT /F1 12 Tf 72 720 Td (" + text.encode() + b") Tj ET"
    if fallback:
        content = b"/Span << /ActualText (-) >> BDC EMC " + content
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               stream(b"/Filter /FlateDecode", zlib.compress(content))]
    return make_pdf(objects + [font])


parser = argparse.ArgumentParser()
parser.add_argument("--fallback", action="store_true")
parser.add_argument("--text", default="quarterly figures attached")
args = parser.parse_args()
encoded = base64.encodebytes(pdf(args.text, args.fallback)).decode()
sys.stdout.write(
    "From: alice@corp.test\nTo: bob@example.test\nSubject: report\nMessage-ID: <pdf@corp.test>\n"
    "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\n"
    "Content-Type: text/plain\n\nSee the attached report.\n--b1\n"
    "Content-Type: application/pdf; name=\"report.pdf\"\n"
    "Content-Disposition: attachment; filename=\"report.pdf\"\n"
    "Content-Transfer-Encoding: base64\n\n" + encoded + "--b1--\n")
