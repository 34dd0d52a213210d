#!/usr/bin/env python3
"""tests/integration/golden_normalise.py — make certsync's output comparable
across runs for tests/integration/test_examples_output.sh.

    golden_normalise.py OUTDIR [--subst TEXT=TOKEN]... [--keep HEX]...
                        [--volatile-dates] RAWFILE...

Each RAWFILE is normalised and written to OUTDIR under the same base name.
Only what differs from run to run is replaced, each value by a token numbered
in order of first appearance over all RAWFILEs together (so the serial that
apply prints and the one status prints are the same token, and two different
serials are two tokens):

  --subst TEXT=TOKEN  a literal (a temporary folder, a port) becomes <TOKEN>;
                      a port only where no digit touches it
  PEM blocks          -----BEGIN X----- ... -----END X-----  ->  <PEM X#n>
  fingerprints        AB:CD:...  (16+ colon-separated pairs)  ->  <FP#n>
  hex runs            12+ hex digits with a digit and a letter (serials,
                      thumbprints, SHA sums, digests; a random serial may
                      lose leading zeros, so no fixed length) -> <HEX#n>,
                      <hex#n> for lower case; the same value in either case
                      or without leading zeros shares n.
                      --keep HEX leaves a known fixed value as it is
  durations           the value of *_duration_seconds metrics -> <DURATION>
  --volatile-dates    (a CA that follows the real clock) RFC 3339 times,
                      dates, iCalendar dates and unix seconds -> <TIME#n>,
                      <DATE#n>, <ICSTIME#n>, <ICSDATE#n>, <UNIX#n>, and the
                      calendar's SEQUENCE (made from the expiry) -> <SEQ#n>

Calendar output (file names containing "calendar") is unfolded first (RFC
5545 §3.1: a CRLF followed by a space is no content): where a line folds
depends on the length of the temporary path.
Everything else stays verbatim.
"""
import os
import re
import sys


class Tokens:
    def __init__(self):
        self.seen = {}

    def get(self, cls, key):
        d = self.seen.setdefault(cls, {})
        if key not in d:
            d[key] = len(d) + 1
        return d[key]


HEX = re.compile(r"(?<![0-9A-Za-z_])[0-9A-Fa-f]{12,}(?![0-9A-Za-z_])")
FP = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{2}:){15,}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:])")
PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.S)
DURATION = re.compile(r"^(certsync_[a-z_]*duration_seconds(?:\{[^}]*\})?) [0-9.e+-]+$", re.M)
DATES = [
    ("TIME", re.compile(r"(?<![0-9])\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")),
    ("ICSTIME", re.compile(r"(?<![0-9])\d{8}T\d{6}Z")),
    ("ICSDATE", re.compile(r"(?<=VALUE=DATE:)\d{8}(?![0-9])")),
    ("DATE", re.compile(r"(?<![0-9-])\d{4}-\d{2}-\d{2}(?![0-9])")),
    ("UNIX", re.compile(r"(?<![0-9.])1[6-9]\d{8}(?![0-9])")),
    ("SEQ", re.compile(r"(?<=^SEQUENCE:)\d+", re.M)),  # grows with the expiry
]


def normalise(text, name, tok, substs, keep, volatile_dates):
    if "calendar" in name:
        text = re.sub(r"\r?\n[ \t]", "", text)
    text = PEM.sub(lambda m: "<PEM %s#%d>" % (m.group(1), tok.get("PEM", m.group(0))), text)
    for lit, token in substs:
        if lit.isdigit():
            text = re.sub(r"(?<![0-9])%s(?![0-9])" % lit, "<%s>" % token, text)
        else:
            text = text.replace(lit, "<%s>" % token)
    text = FP.sub(lambda m: "<FP#%d>" % tok.get("FP", m.group(0).upper()), text)

    def hexrun(m):
        s = m.group(0)
        up = s.upper()
        if up in keep or not re.search(r"[0-9]", s) or not re.search(r"[A-Fa-f]", s):
            return s
        # One numbering for all: a serial printed with and without its
        # leading zero, or a thumbprint in either case, is the same value.
        n = tok.get("HEX", up.lstrip("0"))
        return "<%s#%d>" % ("hex" if s == s.lower() else "HEX", n)

    text = HEX.sub(hexrun, text)
    text = DURATION.sub(lambda m: m.group(1) + " <DURATION>", text)
    if volatile_dates:
        for cls, rx in DATES:
            text = rx.sub(lambda m, c=cls: "<%s#%d>" % (c, tok.get(c, m.group(0))), text)
    return text


def main(argv):
    outdir = argv[0]
    substs, keep, files, volatile = [], set(), [], False
    i = 1
    while i < len(argv):
        a = argv[i]
        if a == "--subst":
            lit, _, token = argv[i + 1].rpartition("=")
            if lit:
                substs.append((lit, token))
            i += 2
        elif a == "--keep":
            keep.add(argv[i + 1].upper())
            i += 2
        elif a == "--volatile-dates":
            volatile = True
            i += 1
        else:
            files.append(a)
            i += 1
    # The longest literal first: a folder before the folder it is in.
    substs.sort(key=lambda s: -len(s[0]))
    tok = Tokens()
    os.makedirs(outdir, exist_ok=True)
    for f in files:
        with open(f, encoding="utf-8", errors="surrogateescape", newline="") as fh:
            text = fh.read()
        name = os.path.basename(f)
        out = normalise(text, name, tok, substs, keep, volatile)
        with open(os.path.join(outdir, name), "w", encoding="utf-8", errors="surrogateescape", newline="") as fh:
            fh.write(out)


if __name__ == "__main__":
    main(sys.argv[1:])
