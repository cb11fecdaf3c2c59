#!/usr/bin/env python3
"""Writes corpora/samples: hand-made mailboxes with planted (fake) credentials, and
corpora/samples.labels.tsv,
the exact list of findings credsift must report on them.

Encodings are done here with Python's email and codecs modules, not with credsift's decoder, so
the end-to-end test checks credsift against an independent encoder. The secrets are fake values
in the right format; the RSA key was generated for this corpus and protects nothing.
Run: python3 corpora/make_samples.py   (rewrites corpora/samples; deterministic)
"""
import base64
import codecs
import gzip
import hashlib
import io
import json
import os
import quopri
import shutil
from email.header import Header

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "samples")
LABELS = os.path.join(HERE, "samples.labels.tsv")


def fake(seed, alphabet, length):
    """Deterministic pseudo-random string: the same corpus on every run."""
    out, counter = "", 0
    while len(out) < length:
        digest = hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        out += "".join(alphabet[b % len(alphabet)] for b in digest)
        counter += 1
    return out[:length]


B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
B64URL = B62 + "-_"
HEX = "0123456789abcdef"
UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

S = {
    "en_temp": "Tr0ub4dor&3xQ",
    "aws_id": "AKIA" + fake("aws-id", UPPER_DIGITS, 16),
    "aws_secret": fake("aws-secret", B62 + "+/", 40),
    "ghp": "ghp_" + fake("ghp", B62, 36),
    "html_pw": "s3cr3t-Plum42",
    "slack": "xoxb-2048361527-4096723185-" + fake("slack", B62, 24),
    "pg_pw": "Gx4!mR8qZt2w",
    "fr_pw": "Soleil#2024Lyon",
    "id_pw": "Merdeka!45Jkt",
    "de_pw": "Bergsee.Fichte.77",
    "es_pw": "Girasol_2024x",
    "stripe": "sk_live_" + fake("stripe", B62, 32),
    "jwt": None,  # built below
    "ado_pw": "Xy7pQ2zLm9Rt",
    "azure_key": base64.b64encode(hashlib.sha512(b"azure-storage").digest()).decode(),
    "mongo_pw": "Vq8Lw3Zr5Tn1",
    "sendgrid": "SG." + fake("sg1", B64URL, 22) + "." + fake("sg2", B64URL, 43),
    "google": "AIza" + fake("google", B64URL, 35),
    "npm": "npm_" + fake("npm", B62, 36),
    "twilio": "SK" + fake("twilio", HEX, 32),
    "gitlab": "glpat-" + fake("gitlab", B64URL, 20),
    "rsa": open(os.path.join(HERE, "fixtures", "sample_rsa.pem")).read().strip(),
    "fwd_pw": "Fjord-Otter-93",
    "ghp_shared": None,  # built below: a checksum-valid GitHub token sent in three messages
}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


S["jwt"] = ".".join([
    b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode()),
    b64url(json.dumps({"sub": "svc-deploy", "iss": "auth.acme.test", "exp": 1893456000},
                      separators=(",", ":")).encode()),
    b64url(hashlib.sha256(b"jwt-signature").digest()),
])


def base62_crc32(body):
    """GitHub's token checksum: CRC32 of the 30-character body, base62, 6 characters."""
    import zlib
    number, out = zlib.crc32(body.encode()), ""
    while number:
        number, digit = divmod(number, 62)
        out = B62[digit] + out
    return out.rjust(6, "0")


_ghp_body = fake("ghp-shared", B62, 30)
S["ghp_shared"] = "ghp_" + _ghp_body + base62_crc32(_ghp_body)

labels = []  # (message_id, rule_id, secret, part_path, note)


def expect(message_id, rule, secret_key, part_path, note):
    labels.append((message_id, rule, S[secret_key], part_path, note))


def headers(message_id, subject, sender, to, date, extra=()):
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}",
             f"Date: {date}", f"Message-ID: <{message_id}>", "MIME-Version: 1.0"]
    lines.extend(extra)
    return "\n".join(lines) + "\n"


def b64_body(data):
    encoded = base64.b64encode(data).decode()
    return "\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76)) + "\n"


def qp_body(text, charset="utf-8"):
    return quopri.encodestring(text.encode(charset)).decode("ascii")


messages = {}  # message_id -> text


def add(message_id, text):
    messages[message_id] = text


# 1. Plain English, temporary password in prose.
add("s01@acme.test", headers("s01@acme.test", "Your new account", "it-help@acme.test",
                             "dana@partner.test", "Mon, 04 Mar 2024 09:12:00 +0000",
                             ["Content-Type: text/plain; charset=us-ascii"]) + f"""
Hi Dana,

your account on the VPN portal is ready. Your temporary password is {S['en_temp']}
Please change it at first login.

IT help desk
""")
expect("s01@acme.test", "password.prose.en", "en_temp", "1", "plain text, English prose")

# 2. AWS key pair in a base64 .env attachment.
env_file = (f"# deploy settings\nAWS_ACCESS_KEY_ID={S['aws_id']}\n"
            f"AWS_SECRET_ACCESS_KEY={S['aws_secret']}\nAWS_REGION=eu-west-1\n")
add("s02@acme.test", headers("s02@acme.test", "deploy config", "ops@acme.test",
                             "contractor@outside.test", "Tue, 05 Mar 2024 10:00:00 +0000",
                             ['Content-Type: multipart/mixed; boundary="b02"']) + f"""
This is a multi-part message in MIME format.
--b02
Content-Type: text/plain; charset=utf-8

Attached is the env file for the staging deploy.
--b02
Content-Type: application/octet-stream; name="deploy.env"
Content-Disposition: attachment; filename="deploy.env"
Content-Transfer-Encoding: base64

{b64_body(env_file.encode())}--b02--
""")
expect("s02@acme.test", "aws.access_key_id", "aws_id", "2:attachment=deploy.env", "base64 attachment")
expect("s02@acme.test", "aws.secret_access_key", "aws_secret", "2:attachment=deploy.env",
       "base64 attachment")

# 3. GitHub token split by a quoted-printable soft line break.
# The token starts at column 50, so the encoder's soft line break (at 76) falls inside it.
qp_text = f"Here is the CI token you asked for (repo scope): {S['ghp']} thanks\n"
add("s03@acme.test", headers("s03@acme.test", "CI token", "dev@acme.test", "ci@acme.test",
                             "Wed, 06 Mar 2024 11:30:00 +0000",
                             ["Content-Type: text/plain; charset=utf-8",
                              "Content-Transfer-Encoding: quoted-printable"]) + "\n" + qp_body(qp_text))
expect("s03@acme.test", "github.pat.classic", "ghp", "1", "quoted-printable soft line break")

# 4. HTML-only mail: the password sits inside markup.
add("s04@acme.test", headers("s04@acme.test", "Wiki access", "wiki-admin@acme.test",
                             "new.hire@acme.test", "Thu, 07 Mar 2024 08:45:00 +0000",
                             ["Content-Type: text/html; charset=utf-8"]) + f"""
<html><body><p>Welcome!</p><p>User: new.hire<br>password: <b>{S['html_pw']}</b></p>
<p>See you&nbsp;soon &amp; welcome.</p></body></html>
""")
expect("s04@acme.test", "password.prose.en", "html_pw", "1", "HTML markup")

# 5. Slack token in an RFC 2047 encoded subject.
subject = Header(f"Bot token {S['slack']} for #deploys", "utf-8").encode()
add("s05@acme.test", headers("s05@acme.test", subject, "chatops@acme.test", "sre@acme.test",
                             "Fri, 08 Mar 2024 16:20:00 +0000",
                             ["Content-Type: text/plain; charset=utf-8"]) + """
See subject. Do not forward.
""")
expect("s05@acme.test", "slack.bot_token", "slack", "headers", "RFC 2047 encoded subject")

# 6. A forwarded message (message/rfc822) holding a postgres URI.
inner = headers("inner06@acme.test", "db for billing", "dba@acme.test", "billing@acme.test",
                "Sat, 09 Mar 2024 07:00:00 +0000", ["Content-Type: text/plain; charset=utf-8"]) + f"""
Use postgres://billing_svc:{S['pg_pw']}@db01.acme.test:5432/billing from the app servers.
"""
add("s06@acme.test", headers("s06@acme.test", "Fwd: db for billing", "billing@acme.test",
                             "vendor@outside.test", "Sat, 09 Mar 2024 09:00:00 +0000",
                             ['Content-Type: multipart/mixed; boundary="b06"']) + f"""
--b06
Content-Type: text/plain; charset=utf-8

Forwarding as discussed.
--b06
Content-Type: message/rfc822

{inner}
--b06--
""")
expect("s06@acme.test", "connstr.postgres", "pg_pw", "2.1", "message/rfc822 forward")

# 7. French, ISO-8859-1, quoted-printable.
fr = (f"Bonjour Amélie,\n\nVoici vos accès à l'extranet.\nLe mot de passe est : {S['fr_pw']}\n"
      "Merci de le changer après la première connexion.\n\nCordialement,\nLe service informatique\n")
add("s07@acme.test", headers("s07@acme.test", "=?ISO-8859-1?Q?Acc=E8s_extranet?=", "dsi@acme.test",
                             "amelie@client.test", "Mon, 11 Mar 2024 10:10:00 +0100",
                             ["Content-Type: text/plain; charset=ISO-8859-1",
                              "Content-Transfer-Encoding: quoted-printable"]) + "\n"
    + qp_body(fr, "iso-8859-1"))
expect("s07@acme.test", "password.prose.fr", "fr_pw", "1", "French, ISO-8859-1 quoted-printable")

# 8. Indonesian, base64 UTF-8.
idn = (f"Halo Budi,\n\nAkun Anda sudah aktif.\nNama pengguna: budi.santoso\n"
       f"Kata sandi: {S['id_pw']}\n\nTerima kasih,\nTim TI\n")
add("s08@acme.test", headers("s08@acme.test", "Akun baru", "ti@acme.test", "budi@mitra.test",
                             "Tue, 12 Mar 2024 14:00:00 +0700",
                             ["Content-Type: text/plain; charset=utf-8",
                              "Content-Transfer-Encoding: base64"]) + "\n" + b64_body(idn.encode()))
expect("s08@acme.test", "password.prose.id", "id_pw", "1", "Indonesian, base64")

# 9. German.
add("s09@acme.test", headers("s09@acme.test", "Zugang Testserver", "admin@acme.test",
                             "jens@partner.test", "Wed, 13 Mar 2024 09:00:00 +0100",
                             ["Content-Type: text/plain; charset=utf-8",
                              "Content-Transfer-Encoding: 8bit"]) + f"""
Hallo Jens,

hier der Zugang für den Testserver.
Benutzer: jens
Passwort: {S['de_pw']}

Grüße
""")
expect("s09@acme.test", "password.prose.de", "de_pw", "1", "German, 8bit UTF-8")

# 10. Spanish, windows-1252.
es = f"Hola Lucía,\n\nla contraseña es {S['es_pw']} — cámbiala pronto.\n"
add("s10@acme.test", headers("s10@acme.test", "Acceso", "soporte@acme.test", "lucia@cliente.test",
                             "Thu, 14 Mar 2024 12:00:00 +0100",
                             ["Content-Type: text/plain; charset=windows-1252",
                              "Content-Transfer-Encoding: quoted-printable"]) + "\n"
    + qp_body(es, "cp1252"))
expect("s10@acme.test", "password.prose.es", "es_pw", "1", "Spanish, windows-1252")

# 11. Stripe key in both parts of multipart/alternative.
add("s11@acme.test", headers("s11@acme.test", "payments key", "finance@acme.test",
                             "shop@acme.test", "Fri, 15 Mar 2024 15:00:00 +0000",
                             ['Content-Type: multipart/alternative; boundary="b11"']) + f"""
--b11
Content-Type: text/plain; charset=utf-8

Live key: {S['stripe']}
--b11
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

{qp_body(f'<div>Live key: <code>{S["stripe"]}</code></div>')}
--b11--
""")
expect("s11@acme.test", "stripe.secret_key.live", "stripe", "1", "multipart/alternative text part")
expect("s11@acme.test", "stripe.secret_key.live", "stripe", "2", "multipart/alternative HTML part")

# 12. RSA private key as a base64 attachment.
add("s12@acme.test", headers("s12@acme.test", "server key", "ops@acme.test",
                             "hosting@outside.test", "Sat, 16 Mar 2024 18:00:00 +0000",
                             ['Content-Type: multipart/mixed; boundary="b12"']) + f"""
--b12
Content-Type: text/plain; charset=utf-8

Key for the jump host attached.
--b12
Content-Type: application/x-pem-file; name="jump.key"
Content-Disposition: attachment; filename="jump.key"
Content-Transfer-Encoding: base64

{b64_body((S['rsa'] + chr(10)).encode())}--b12--
""")
expect("s12@acme.test", "private_key.rsa", "rsa", "2:attachment=jump.key", "PEM key in base64 attachment")

# 13. Only placeholders and password prose that is not a credential: no finding.
add("s13@acme.test", headers("s13@acme.test", "Forgot your password?", "noreply@acme.test",
                             "dana@partner.test", "Sun, 17 Mar 2024 08:00:00 +0000",
                             ["Content-Type: text/plain; charset=utf-8"]) + """
Forgot your password? Use the password reset link below.
Enter your password on the next page. Your password must be at least 12 characters.
Example config:  password: changeme
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
DB_PASSWORD=${DB_PASSWORD}
""")

# 14. A clean message.
add("s14@acme.test", headers("s14@acme.test", "Lunch", "dana@partner.test", "it-help@acme.test",
                             "Mon, 18 Mar 2024 12:00:00 +0000",
                             ["Content-Type: text/plain; charset=utf-8"]) + """
Lunch on Thursday?

From what I heard the new place is good.
>From the archive: nothing to see here.
""")

# 15. JWT bearer token and ADO.NET connection string.
add("s15@acme.test", headers("s15@acme.test", "API access", "api@acme.test", "partner@outside.test",
                             "Tue, 19 Mar 2024 09:30:00 +0000",
                             ["Content-Type: text/plain; charset=utf-8"]) + f"""
curl -H "Authorization: Bearer {S['jwt']}" https://api.acme.test/v1/orders

And the reporting DB:
Server=sql01.acme.test;Database=crm;User ID=crm_app;Password={S['ado_pw']};Encrypt=true;
""")
expect("s15@acme.test", "jwt.token", "jwt", "1", "JWT in a curl command")
expect("s15@acme.test", "connstr.ado_net", "ado_pw", "1", "ADO.NET connection string")
# "Password=" is also what the English prose rule reads; tickets merge the two by fingerprint.
expect("s15@acme.test", "password.prose.en", "ado_pw", "1", "ADO.NET connection string")

# 16. Azure Storage connection string.
add("s16@acme.test", headers("s16@acme.test", "backup storage", "cloud@acme.test",
                             "backup@acme.test", "Wed, 20 Mar 2024 10:00:00 +0000",
                             ["Content-Type: text/plain; charset=utf-8"]) + f"""
DefaultEndpointsProtocol=https;AccountName=acmebackups;AccountKey={S['azure_key']};EndpointSuffix=core.windows.net
""")
expect("s16@acme.test", "azure.storage.account_key", "azure_key", "1", "Azure Storage")

# 17. MongoDB SRV URI.
add("s17@acme.test", headers("s17@acme.test", "reporting db", "data@acme.test", "bi@acme.test",
                             "Thu, 21 Mar 2024 11:00:00 +0000",
                             ["Content-Type: text/plain; charset=utf-8"]) + f"""
Connect with mongodb+srv://reporting:{S['mongo_pw']}@cluster0.ab1cd.mongodb.net/reports
""")
expect("s17@acme.test", "connstr.mongodb", "mongo_pw", "1", "mongodb+srv URI")

# 18-20. gzip mbox: SendGrid, Google, npm, Twilio, GitLab.
add("s18@acme.test", headers("s18@acme.test", "mail relay", "web@acme.test", "mkt@acme.test",
                             "Fri, 22 Mar 2024 08:00:00 +0000",
                             ["Content-Type: text/plain; charset=utf-8"]) + f"""
SENDGRID_API_KEY={S['sendgrid']}
GOOGLE_MAPS_KEY={S['google']}
""")
expect("s18@acme.test", "sendgrid.api_key", "sendgrid", "1", "gzip mbox")
expect("s18@acme.test", "google.api_key", "google", "1", "gzip mbox")
add("s19@acme.test", headers("s19@acme.test", "publish", "dev@acme.test", "release@acme.test",
                             "Sat, 23 Mar 2024 08:00:00 +0000",
                             ["Content-Type: text/plain; charset=utf-8"]) + f"""
//registry.npmjs.org/:_authToken={S['npm']}
twilio key {S['twilio']}
""")
expect("s19@acme.test", "npm.access_token", "npm", "1", "gzip mbox")
expect("s19@acme.test", "twilio.api_key", "twilio", "1", "gzip mbox")
add("s20@acme.test", headers("s20@acme.test", "gitlab", "dev@acme.test", "release@acme.test",
                             "Sun, 24 Mar 2024 08:00:00 +0000",
                             ["Content-Type: text/plain; charset=utf-8"]) + f"""
export GITLAB_TOKEN={S['gitlab']}
""")
expect("s20@acme.test", "gitlab.pat", "gitlab", "1", "gzip mbox")

# 21. A forward with the password in the forwarded message's quoted-printable body.
add("s21@acme.test", headers("s21@acme.test", "Fwd: vpn", "sam@acme.test", "it-help@acme.test",
                             "Mon, 25 Mar 2024 08:00:00 +0000",
                             ["Content-Type: text/plain; charset=utf-8"]) + f"""
> From: vpn-admin@acme.test
> password: {S['fwd_pw']}
""")
expect("s21@acme.test", "password.prose.en", "fwd_pw", "1", "quoted reply")

# 22-24. One GitHub token sent in three messages to two outside domains: one ticket.
for number, sender, to, day in [(22, "dev@acme.test", "contractor@outside.test", "01"),
                                (23, "dev@acme.test", "Pat Lee <pat@outside.test>", "02"),
                                (24, "dev@acme.test", '"CI, Partner" <ci@partner.test>', "03")]:
    mid = f"s{number}@acme.test"
    add(mid, headers(mid, "mirror job", sender, to, f"Mon, {day} Apr 2024 10:00:00 +0000",
                     ["Content-Type: text/plain; charset=utf-8"]) + f"""
The mirror job pushes with {S['ghp_shared']} until we move it to the vault.
""")
    expect(mid, "github.pat.classic", "ghp_shared", "1", "one token, three messages, two domains")


def mbox_of(ids):
    out = []
    for mid in ids:
        text = messages[mid]
        # mboxrd: lines starting with "From " (after any '>') gain one '>'.
        escaped = []
        for line in text.split("\n"):
            stripped = line.lstrip(">")
            escaped.append(">" + line if stripped.startswith("From ") else line)
        out.append(f"From {mid.split('@')[0]}@acme.test Mon Mar  4 09:12:00 2024\n"
                   + "\n".join(escaped).rstrip("\n") + "\n\n")
    return "".join(out)


def write(path, data, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": "\n"})) as f:
        f.write(data)


# Issue 4: one message per decoding path (archives, documents, credential files, ...).
from make_samples_attachments import attachment_samples  # noqa: E402

attachment_files = attachment_samples(add, labels, S, fake)

shutil.rmtree(OUT, ignore_errors=True)
write(os.path.join(OUT, "inbox.mbox"), mbox_of(["s01@acme.test", "s02@acme.test", "s03@acme.test",
                                               "s04@acme.test", "s13@acme.test", "s14@acme.test",
                                               "s21@acme.test", "s22@acme.test", "s23@acme.test"]))
for name, mid in [("1710000001.M1P1.host:2,S", "s07@acme.test"),
                  ("1710000002.M2P1.host:2,S", "s08@acme.test")]:
    write(os.path.join(OUT, "maildir", "cur", name), messages[mid])
write(os.path.join(OUT, "maildir", "new", "1710000003.M3P1.host"), messages["s17@acme.test"])
os.makedirs(os.path.join(OUT, "maildir", "tmp"), exist_ok=True)
write(os.path.join(OUT, "maildir", "tmp", ".keep"), "")
for mid in ["s05@acme.test", "s06@acme.test", "s09@acme.test", "s10@acme.test", "s11@acme.test",
            "s12@acme.test", "s15@acme.test", "s16@acme.test", "s24@acme.test"]:
    write(os.path.join(OUT, "eml", mid.split("@")[0] + ".eml"), messages[mid])
for mid, data in attachment_files.items():
    write(os.path.join(OUT, "attachments", mid.split("@")[0] + ".eml"), data, "wb")
buffer = io.BytesIO()
with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
    gz.write(mbox_of(["s18@acme.test", "s19@acme.test", "s20@acme.test"]).encode())
write(os.path.join(OUT, "archive.mbox.gz"), buffer.getvalue(), "wb")

with open(LABELS, "w", encoding="utf-8", newline="\n") as f:
    f.write("# message_id\trule_id\tfingerprint\tpart_path\tnote\n")
    f.write(f"# messages\t{len(messages)}\n")
    for mid, rule, secret, part, note in labels:
        fp = "sha256:" + hashlib.sha256(secret.encode()).hexdigest()
        f.write(f"{mid}\t{rule}\t{fp}\t{part}\t{note}\n")
print(f"{len(messages)} messages, {len(labels)} labelled findings in {OUT}")
