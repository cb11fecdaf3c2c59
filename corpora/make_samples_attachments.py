"""Sample messages for the decoding paths of issue 4, one message per path: archives, OOXML,
PDF, a message inside an archive, RFC 2231 file names, format=flowed, uuencode, undeclared
charsets, UTF-16, HTML entities and URLs, and credential files detected by content.

Called by make_samples.py; everything is built with Python's standard library (zipfile, tarfile,
gzip, bz2, lzma, email), independently of credsift's decoder. Deterministic.
"""
import base64
import bz2
import gzip
import hashlib
import io
import lzma
import os
import tarfile
import zipfile

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _zip(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=(2024, 4, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buffer.getvalue()


def _tar_gz(files):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            t.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def _pdf(text):
    """A one-page PDF with the text in Helvetica; offsets in the xref table are exact."""
    stream = f"BT /F1 11 Tf 40 700 Td ({text}) Tj ET".encode()
    objects = [b"<</Type/Catalog/Pages 2 0 R>>", b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
               b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R"
               b"/Resources<</Font<</F1 5 0 R>>>>>>",
               b"<</Length " + str(len(stream)).encode() + b">>stream\n" + stream + b"\nendstream",
               b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>"]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj".encode() + body + b"endobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer<</Size {len(objects) + 1}/Root 1 0 R>>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def _b64(data):
    encoded = base64.b64encode(data).decode()
    return "\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76)) + "\n"


def _headers(mid, subject, day, content_type):
    return (f"From: ops@acme.test\nTo: partner@outside.test\nSubject: {subject}\n"
            f"Date: {day} Apr 2024 09:00:00 +0000\nMessage-ID: <{mid}>\nMIME-Version: 1.0\n"
            f"Content-Type: {content_type}\n")


def _with_attachments(mid, subject, day, note, attachments):
    """attachments: (content type, Content-Disposition filename parameter(s), bytes)."""
    text = _headers(mid, subject, day, 'multipart/mixed; boundary="att"') + (
        f"\n--att\nContent-Type: text/plain; charset=utf-8\n\n{note}\n")
    for content_type, filename_params, data in attachments:
        text += (f"--att\nContent-Type: {content_type}\nContent-Disposition: attachment;"
                 f" {filename_params}\nContent-Transfer-Encoding: base64\n\n{_b64(data)}")
    return text + "--att--\n"


def _credential_secret(kind, data):
    return f"{kind} sha256={hashlib.sha256(data).hexdigest()}"


def attachment_samples(add, labels, S, fake):
    """Adds the messages (add) and their exact findings (labels); returns {message id: bytes}
    (one message is windows-1252, not UTF-8)."""
    files = {}

    def message(mid, text, raw=None):
        add(mid, text)
        files[mid] = raw if raw is not None else text.encode()

    def expect(mid, rule, secret, part, note):
        labels.append((mid, rule, secret, part, note))

    ghp = "ghp_" + fake("att-zip-ghp", B62, 36)
    message("a01@acme.test", _with_attachments(
        "a01@acme.test", "deploy bundle", "Mon, 01", "The deploy bundle.",
        [("application/zip", 'filename="deploy.zip"',
          _zip([("config/.env", f"GITHUB_TOKEN={ghp}\n"), ("README.md", "# deploy\n")]))]))
    expect("a01@acme.test", "github.pat.classic", ghp, "2:attachment=deploy.zip!config/.env",
           "zip attachment")

    stripe = "sk_live_" + fake("att-tar-stripe", B62, 32)
    message("a02@acme.test", _with_attachments(
        "a02@acme.test", "service config", "Tue, 02", "Config tarball attached.",
        [("application/gzip", 'filename="service.tar.gz"',
          _tar_gz([("etc/billing.conf", f"stripe_key = {stripe}\n".encode())]))]))
    expect("a02@acme.test", "stripe.secret_key.live", stripe,
           "2:attachment=service.tar.gz!etc/billing.conf", "tar.gz attachment")

    npm = "npm_" + fake("att-gz-npm", B62, 36)
    slack = "xoxb-2048361527-4096723185-" + fake("att-bz2-slack", B62, 24)
    gitlab = "glpat-" + fake("att-xz-gitlab", B62 + "-_", 20)
    message("a03@acme.test", _with_attachments(
        "a03@acme.test", "compressed notes", "Wed, 03", "Three compressed notes.",
        [("application/gzip", 'filename="npmrc.txt.gz"',
          gzip.compress(f"//registry.npmjs.org/:_authToken={npm}\n".encode(), mtime=0)),
         ("application/x-bzip2", 'filename="bot.txt.bz2"',
          bz2.compress(f"slack bot token {slack}\n".encode())),
         ("application/x-xz", 'filename="ci.txt.xz"',
          lzma.compress(f"export GITLAB_TOKEN={gitlab}\n".encode()))]))
    expect("a03@acme.test", "npm.access_token", npm, "2:attachment=npmrc.txt.gz!npmrc.txt",
           ".gz attachment")
    expect("a03@acme.test", "slack.bot_token", slack, "3:attachment=bot.txt.bz2!bot.txt",
           ".bz2 attachment")
    expect("a03@acme.test", "gitlab.pat", gitlab, "4:attachment=ci.txt.xz!ci.txt",
           ".xz attachment")

    docx_pw = "Quokka-Lantern-58"
    docx = _zip([
        ("[Content_Types].xml", '<?xml version="1.0"?><Types/>'),
        ("word/document.xml",
         '<?xml version="1.0"?><w:document xmlns:w="urn:w"><w:body><w:p><w:r><w:t>Server '
         'access</w:t></w:r></w:p><w:p><w:r><w:t xml:space="preserve">The password is </w:t>'
         f'</w:r><w:r><w:t>{docx_pw}</w:t></w:r></w:p></w:body></w:document>')])
    message("a04@acme.test", _with_attachments(
        "a04@acme.test", "access document", "Thu, 04", "See the document.",
        [("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
          'filename="access.docx"', docx)]))
    expect("a04@acme.test", "password.prose.en", docx_pw, "2:attachment=access.docx!word/document.xml",
           "docx paragraph text")

    xlsx_pw = "Marmot-Teapot-73"
    xlsx = _zip([
        ("[Content_Types].xml", '<?xml version="1.0"?><Types/>'),
        ("xl/sharedStrings.xml",
         f'<sst><si><t>host</t></si><si><t>password:</t></si><si><t>{xlsx_pw}</t></si></sst>'),
        ("xl/worksheets/sheet1.xml",
         '<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1"><v>10</v></c>'
         '</row><row r="2"><c r="A2" t="s"><v>1</v></c><c r="B2" t="s"><v>2</v></c></row>'
         '</sheetData></worksheet>')])
    message("a05@acme.test", _with_attachments(
        "a05@acme.test", "inventory", "Fri, 05", "Inventory sheet.",
        [("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
          'filename="inventory.xlsx"', xlsx)]))
    expect("a05@acme.test", "password.prose.en", xlsx_pw,
           "2:attachment=inventory.xlsx!xl/worksheets/sheet1.xml", "xlsx cells, shared strings")

    pdf_pw = "Walrus-Compass-26"
    message("a06@acme.test", _with_attachments(
        "a06@acme.test", "handover", "Sat, 06", "Handover PDF attached.",
        [("application/pdf", 'filename="handover.pdf"', _pdf(f"The password is {pdf_pw}"))]))
    expect("a06@acme.test", "password.prose.en", pdf_pw, "2:attachment=handover.pdf", "PDF text")

    inner_pw = "Heron-Anvil-41"
    inner = (f"From: dba@acme.test\nTo: ops@acme.test\nSubject: old creds\nMessage-ID: <in07@acme.test>\n"
             f"Content-Type: text/plain; charset=utf-8\n\npassword: {inner_pw}\n")
    message("a07@acme.test", _with_attachments(
        "a07@acme.test", "mail archive", "Sun, 07", "Old mails, zipped.",
        [("application/zip", 'filename="mails.zip"', _zip([("2023/old.eml", inner)]))]))
    expect("a07@acme.test", "password.prose.en", inner_pw, "2:attachment=mails.zip!2023/old.eml!1",
           ".eml inside a zip, decoded as a message")

    rfc2231_token = "ghp_" + fake("att-2231-ghp", B62, 36)
    long_name = "déploiement-production-configuration.env"
    encoded = "".join(c if c.isascii() and c.isalnum() or c in ".-" else
                      "".join(f"%{b:02X}" for b in c.encode()) for c in long_name)
    params = (f"filename*0*=utf-8''{encoded[:20]};\n filename*1*={encoded[20:40]};\n"
              f" filename*2*={encoded[40:]}")
    message("a08@acme.test", _with_attachments(
        "a08@acme.test", "env file", "Mon, 08", "Env file attached.",
        [("application/octet-stream", params, f"GH_TOKEN={rfc2231_token}\n".encode())]))
    expect("a08@acme.test", "github.pat.classic", rfc2231_token, f"2:attachment={long_name}",
           "RFC 2231 continued, encoded file name")

    flowed_token = "ghp_" + fake("att-flowed-ghp", B62, 36)
    message("a09@acme.test", _headers("a09@acme.test", "token", "Tue, 09",
                                      "text/plain; charset=utf-8; format=flowed; delsp=yes")
            + f"\nThe token for the mirror job is {flowed_token[:20]} \n{flowed_token[20:]}\n")
    expect("a09@acme.test", "github.pat.classic", flowed_token, "1",
           "format=flowed delsp=yes, token across a soft break")

    uu_pw = "Falcon-Ribbon-64"
    import binascii
    data = f"password: {uu_pw}\n".encode()
    uu = "".join(binascii.b2a_uu(data[i:i + 45], backtick=True).decode()
                 for i in range(0, len(data), 45))
    message("a10@acme.test", _headers("a10@acme.test", "uu", "Wed, 10", "text/plain")
            + f"\nAs promised:\n\nbegin 644 creds.txt\n{uu}`\nend\n")
    expect("a10@acme.test", "password.prose.en", uu_pw, "1:uuencoded=creds.txt", "uuencoded block")

    cp_pw = "Baton-Crêpe-19"
    cp1252 = (_headers("a11@acme.test", "acces", "Thu, 11", "text/plain").encode()
              + f"\nVoici l'accès. password: {cp_pw}\n".encode("cp1252"))
    message("a11@acme.test", cp1252.decode("latin-1"), cp1252)
    expect("a11@acme.test", "password.prose.en", cp_pw, "1", "no charset, windows-1252 bytes")

    u16_pw = "Otter-Kettle-35"
    message("a12@acme.test", _with_attachments(
        "a12@acme.test", "notes", "Fri, 12", "Notes from the Windows box.",
        [("text/plain", 'filename="notes.txt"',
          b"\xff\xfe" + f"Admin notes\r\npassword: {u16_pw}\r\n".encode("utf-16-le"))]))
    expect("a12@acme.test", "password.prose.en", u16_pw, "2:attachment=notes.txt",
           "UTF-16 attachment with a byte order mark")

    html_pw = "Bison&Maple-82"
    url_pw = "Pelican-Drum-47"
    message("a13@acme.test", _headers("a13@acme.test", "wiki", "Sat, 13", "text/html; charset=utf-8")
            + "\n<html><head><style>p{color:red}</style><script>var password = 'not-this-one';"
            f"</script></head><body><p>password: Bison&amp;Maple&#45;82</p><p>Sync from "
            f'<a href="https://sync:{url_pw}@files.acme.test/share">the share</a></p></body></html>\n')
    expect("a13@acme.test", "password.prose.en", html_pw, "1", "HTML entities")
    expect("a13@acme.test", "connstr.http_basic", url_pw, "1", "URL in an href")

    pfx = (b"\x30\x82\x0a\x01\x02\x01\x03\x30\x82\x09\xc7\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07"
           b"\x01\xa0\x82\x09\xb8\x04\x82\x09\xb4" + hashlib.sha512(b"pfx").digest() * 4)
    jks = b"\xfe\xed\xfe\xed\x00\x00\x00\x02\x00\x00\x00\x01" + hashlib.sha512(b"jks").digest()
    kdbx = b"\x03\xd9\xa2\x9a\x67\xfb\x4b\xb5\x01\x00\x04\x00" + hashlib.sha512(b"kdbx").digest()
    message("a14@acme.test", _with_attachments(
        "a14@acme.test", "key stores", "Sun, 14", "Key stores for the migration.",
        [("application/x-pkcs12", 'filename="server.pfx"', pfx),
         ("application/octet-stream", 'filename="truststore.bin"', jks),
         ("application/octet-stream", 'filename="team.kdbx"', kdbx)]))
    expect("a14@acme.test", "file.pkcs12", _credential_secret("pkcs12", pfx),
           "2:attachment=server.pfx", "PKCS#12 by content")
    expect("a14@acme.test", "file.jks", _credential_secret("jks", jks),
           "3:attachment=truststore.bin", "Java keystore by content, misleading name")
    expect("a14@acme.test", "file.kdbx", _credential_secret("kdbx", kdbx),
           "4:attachment=team.kdbx", "KeePass database")

    ppk = ("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy\n"
           "Public-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAIGb2\nc2FtcGxl\nPrivate-Lines: 1\n"
           "AAAAIB7" + fake("ppk", B62, 40) + "\nPrivate-MAC: " + fake("ppk-mac", "0123456789abcdef", 64)
           + "\n").encode()
    ovpn = ("client\ndev tun\nremote vpn.acme.test 1194\n<tls-crypt>\n"
            "-----BEGIN OpenVPN Static key V1-----\n" + fake("ovpn", "0123456789abcdef", 64)
            + "\n-----END OpenVPN Static key V1-----\n</tls-crypt>\n").encode()
    rdp = b"\xff\xfe" + ("full address:s:jump.acme.test\r\nusername:s:ops\r\npassword 51:b:"
                         + fake("rdp", "0123456789ABCDEF", 96) + "\r\n").encode("utf-16-le")
    message("a15@acme.test", _with_attachments(
        "a15@acme.test", "remote access", "Mon, 15", "Remote access files.",
        [("application/octet-stream", 'filename="deploy.ppk"', ppk),
         ("application/x-openvpn-profile", 'filename="office.ovpn"', ovpn),
         ("application/x-rdp", 'filename="jump.rdp"', rdp)]))
    expect("a15@acme.test", "file.putty", _credential_secret("putty", ppk),
           "2:attachment=deploy.ppk", "PuTTY key")
    expect("a15@acme.test", "file.openvpn", _credential_secret("openvpn", ovpn),
           "3:attachment=office.ovpn", "OpenVPN profile with an inline key")
    expect("a15@acme.test", "file.rdp", _credential_secret("rdp", rdp),
           "4:attachment=jump.rdp", ".rdp with a saved password (UTF-16)")
    # The text forms are also read by the private-key rules (the key itself, not the file).
    expect("a15@acme.test", "private_key.putty", ppk.decode().rstrip("\n"),
           "2:attachment=deploy.ppk", "PuTTY key, key rule")
    static_key = ovpn.decode()
    static_key = static_key[static_key.index("-----BEGIN"):static_key.index("</tls-crypt>")].rstrip()
    expect("a15@acme.test", "private_key.openvpn_static", static_key, "3:attachment=office.ovpn",
           "OpenVPN static key, key rule")

    # 7z: Python cannot write it, so the archive is a committed fixture (made once with
    # `bsdtar --format 7zip --options 7zip:compression=store`); stored uncompressed, so this
    # script can check that the token it labels is the one inside.
    seven_ghp = "ghp_" + fake("att-7z-ghp", B62, 36)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "ops.7z"),
              "rb") as fixture:
        seven_zip = fixture.read()
    assert seven_ghp.encode() in seven_zip, "corpora/fixtures/ops.7z does not hold the token"
    message("a16@acme.test", _with_attachments(
        "a16@acme.test", "ops archive", "Tue, 16", "The ops archive.",
        [("application/x-7z-compressed", 'filename="ops.7z"', seven_zip)]))
    expect("a16@acme.test", "github.pat.classic", seven_ghp, "2:attachment=ops.7z!ops/token.txt",
           "7z attachment")
    return files
