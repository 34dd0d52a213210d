#!/usr/bin/env python3
"""Readers for the fault matrix (tests/reliability/fault-matrix.sh), one
process for what would otherwise be dozens of openssl calls per trial.

  matrix_tool.py serials STATE CERT...
      "CERT SERIAL" for every certificate the state folder has held for
      CERT (cert.pem, archive/*/cert.pem) and every serial its issuance
      ledger STATE/certs/CERT/issued.jsonl names
  matrix_tool.py pebble-issued LOG MARK MGMT_URL TLS_CA CERT=CN...
      "CERT SERIAL" for every "Issued certificate serial S" line of Pebble's
      log after line MARK, the lineage told by the certificate's CN (asked
      from Pebble's management port)
  matrix_tool.py file-serial FILE...
      the serial of the first certificate in each FILE ("none" when absent)
  matrix_tool.py facts STATE LOG MARK MGMT_URL TLS_CA WIN_STATE CERTS CNS FILE...
      all of a trial's at once (one process): "state CERT SERIAL" lines as
      serials prints, "pebble CERT SERIAL" as pebble-issued, "file FILE
      SERIAL" per FILE, "reboots N" from the Windows model's state;
      CERTS is "site,api,...", CNS "site=site.test,..."

Serials are upper-case hex without leading zeros.  Standard library only.
"""
import glob
import json
import os
import re
import ssl
import sys
import tempfile
import urllib.request

PEM_CERT = re.compile(r'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----', re.S)


def norm(serial):
    s = serial.upper().replace(':', '').lstrip('0')
    return s or '0'


def decode_pem(pem):
    """The first certificate of pem as ssl's decoder sees it, or None."""
    m = PEM_CERT.search(pem)
    if not m:
        return None
    with tempfile.NamedTemporaryFile('w', suffix='.pem', delete=False) as fh:
        fh.write(m.group(0) + '\n')
        path = fh.name
    try:
        return ssl._ssl._test_decode_cert(path)
    except (ssl.SSLError, ValueError):
        return None
    finally:
        os.unlink(path)


def file_serial(path):
    try:
        with open(path, encoding='ascii', errors='replace') as fh:
            d = decode_pem(fh.read())
    except OSError:
        return None
    return norm(d['serialNumber']) if d else None


def ledger_serials(text):
    for m in re.finditer(r'"serial"\s*:\s*"([0-9A-Fa-f:]+)"', text):
        yield norm(m.group(1))


def cmd_serials(state, certs, prefix=''):
    out = set()
    for c in certs:
        d = os.path.join(state, 'certs', c)
        for p in [os.path.join(d, 'cert.pem')] + glob.glob(os.path.join(d, 'archive', '*', 'cert.pem')):
            s = file_serial(p)
            if s:
                out.add((c, s))
        # The per-lineage ledger of issued serials (docs/fault-points.md:
        # certs/NAME/issued.jsonl, written before the certificate is saved).
        for p in glob.glob(os.path.join(d, 'issued*.json*')):
            try:
                with open(p, encoding='utf-8', errors='replace') as fh:
                    for s in ledger_serials(fh.read()):
                        out.add((c, s))
            except OSError:
                pass
    for c, s in sorted(out):
        print(prefix + c, s)


def cmd_pebble_issued(log, mark, mgmt, tls_ca, pairs, prefix=''):
    by_cn = dict(p.split('=', 1)[::-1] for p in pairs)
    ctx = ssl.create_default_context(cafile=tls_ca)
    with open(log, encoding='utf-8', errors='replace') as fh:
        lines = fh.readlines()[int(mark):]
    for line in lines:
        m = re.search(r'Issued certificate serial ([0-9a-fA-F]+) for order', line)
        if not m:
            continue
        serial = m.group(1)
        cert = 'unknown'
        try:
            with urllib.request.urlopen(f'{mgmt}/cert-status-by-serial/{serial}', context=ctx, timeout=10) as r:
                d = decode_pem(json.load(r).get('Certificate', ''))
            for rdn in (d or {}).get('subject', ()):
                for k, v in rdn:
                    if k == 'commonName':
                        cert = by_cn.get(v, 'unknown')
        except (OSError, ValueError):
            pass
        print(prefix + cert, norm(serial))


def cmd_facts(state, log, mark, mgmt, tls_ca, win_state, certs, cns, files):
    cmd_serials(state, certs.split(','), 'state ')
    cmd_pebble_issued(log, mark, mgmt, tls_ca, cns.split(','), 'pebble ')
    for p in files:
        print('file', p, file_serial(p) or 'none')
    try:
        with open(win_state, encoding='utf-8') as fh:
            print('reboots', int(json.load(fh).get('reboot_count', 0)))
    except (OSError, ValueError):
        print('reboots 0')


def main(argv):
    if len(argv) >= 2 and argv[1] == 'serials':
        cmd_serials(argv[2], argv[3:])
    elif len(argv) >= 6 and argv[1] == 'pebble-issued':
        cmd_pebble_issued(argv[2], argv[3], argv[4], argv[5], argv[6:])
    elif len(argv) >= 10 and argv[1] == 'facts':
        cmd_facts(*argv[2:10], argv[10:])
    elif len(argv) >= 2 and argv[1] == 'file-serial':
        for p in argv[2:]:
            print(file_serial(p) or 'none')
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
