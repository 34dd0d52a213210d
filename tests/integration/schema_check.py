#!/usr/bin/python3
"""The JSON Schema (schema/certsync.schema.json) against `certsync validate`,
with Debian's python3-jsonschema (draft 2020-12) and python3-yaml.  Prints TAP.

  schema_check.py SOURCE_ROOT CERTSYNC TMP

1. The schema is a valid draft 2020-12 schema.
2. Every example config (examples/**/certsync.yaml) and the config
   `certsync init` writes are accepted by both, and carry the
   yaml-language-server line; the complete configs of the documentation
   (marked <!-- validate -->, validated by test_doc_examples.sh) are
   accepted by the schema; so is a config with every key in every form
   validate accepts (KITCHEN_SINK), so the schema is never the stricter.
3. Every case of the bad-input corpus (tests/corpus/config, prepared as
   corpus_run.py prepares it) goes through both, and they agree: what
   validate refuses the schema refuses too, except the cases listed in
   SCHEMA_CANNOT below, each with the reason a schema cannot see it; and the
   cases listed in NOT_A_DOCUMENT never reach a schema at all (the file, or
   the YAML under it, is refused first: by certsync's YAML layer, and here by
   the same checks on the event stream).  Both lists are checked both ways:
   a case that leaves its category fails the test, so they stay true.

4. Every key table certsync checks a mapping against (each call of
   cs_yaml_check_keys) holds exactly the keys of the schema's object for
   it: a key added to certsync and not to the schema fails here.

The YAML is read as certsync reads it (YAML 1.2 core schema: `0600` is the
integer 600, `yes` a string, quoted scalars always strings; keys as text),
which is also how yaml-language-server reads it by default."""
import glob, json, os, re, shutil, stat, subprocess, sys

import jsonschema
import yaml

root, certsync, tmp = sys.argv[1:4]
count = failed = 0


def tap(good, name, *details):
    global count, failed
    count += 1
    if not good:
        failed += 1
    print(("ok" if good else "not ok") + " %d - %s" % (count, name))
    if not good:
        for d in details:
            for line in str(d).splitlines()[:20]:
                print("#   " + line)
    sys.stdout.flush()


# ---- what a schema cannot see ----

# Refused by certsync, accepted by the schema by nature.  Keep this short:
# a case belongs here only when no JSON Schema keyword can state the rule.
SCHEMA_CANNOT = {
    # References between sections: a schema checks one value against its
    # rules, never against other names in the same document.
    "acme-http-01-on-an-unknown-host": "http-01 names a host that hosts: lacks",
    "dangling-host-with-did-you-mean": "a binding names a host that hosts: lacks",
    "dangling-issuer-with-did-you-mean": "a certificate names an issuer that issuers: lacks",
    "verify-host-not-bound": "verify names a host the certificate has no binding on",
    "binding-kind-on-the-wrong-platform": "the kind depends on the platform of the host the binding names",
    "files-binding-on-windows": "the kind depends on the platform of the host the binding names",
    "relative-path-on-an-ssh-host": "a relative path depends on the transport of the host the binding names",
    "pfx-relative-path": "a relative path depends on the transport of the host the binding names",
    "tilde-path-on-an-ssh-host": "a relative path depends on the transport of the host the binding names",
    "windows-path-on-a-linux-host": "a relative path depends on the transport of the host the binding names",
    "key-path-equal-to-cert-path-spelt-differently": "two bindings write one file on one host (the same path spelt two ways)",
    "alias-certificate-twice": "two bindings write one file on one host (uniqueness across the document)",
    "duplicate-file-target-across-certificates": "two bindings write one file on one host (uniqueness across the document)",
    "large-fleet-duplicate-target": "two bindings write one file on one host (uniqueness across the document)",
    "renew-before-not-shorter-than-the-ca-validity": "renew_before compared with the issuer's days, in another section",
    "default-renew-before-not-shorter-than-the-ca-validity": "the default renew_before compared with the issuer's days",
    # Case-insensitive uniqueness: uniqueItems compares exactly.
    "duplicate-dns-name-case-insensitive": "uniqueItems is case-sensitive; DNS names are not",
    "exchange-service-twice": "uniqueItems is case-sensitive; service names are not (imap, IMAP)",
    # Arithmetic: the sum of a duration's parts against a bound.
    "duration-dns01-propagation-too-long": "a duration's upper bound is arithmetic (3d > 1d)",
    "duration-local-timeout-too-long": "a duration's upper bound is arithmetic (1w > 1d)",
    "duration-reboot-timeout-too-long": "a duration's upper bound is arithmetic (2d > 1d)",
    "duration-ssh-timeout-too-long": "a duration's upper bound is arithmetic (2d > 1d)",
    "duration-verify-timeout-too-long": "a duration's upper bound is arithmetic (100000h > 1d)",
    "duration-winrm-timeout-too-long": "a duration's upper bound is arithmetic (25h > 1d)",
    "duration-remind-before-200000w": "a duration's upper bound is arithmetic (200000w > 3650d)",
    "duration-renew-before-over-10-years": "a duration's upper bound is arithmetic (3651d > 3650d)",
    "duration-renew-before-overflow-on-multiply": "a duration's upper bound is arithmetic",
    "duration-renew-before-int64-overflow": "a duration's upper bound is arithmetic",
    # JSON's number model: draft 2020-12 counts 1.0 as the integer 1.
    "version-float": "JSON Schema's integer type takes 1.0; certsync wants 1 as written",
    # The file system: whether a path exists and is a regular file.
    "ca-bundle-fifo": "a path that is a FIFO (the file system)",
    "ca-cert-dev-zero": "a path that is a character device (the file system)",
    "ca-cert-folder": "a path that is a folder (the file system)",
    "ca-key-secret-fifo": "a secret's file that is a FIFO (the file system)",
    "dns01-hook-folder": "a path that is a folder (the file system)",
    "identity-folder": "a path that is a folder (the file system)",
    "identity-symlink-loop": "a path that is a symbolic link loop (the file system)",
    "known-hosts-fifo": "a path that is a FIFO (the file system)",
    "script-fifo": "a path that is a FIFO (the file system)",
    "notify-command-missing": "a command that does not exist (the file system)",
    "script-that-does-not-exist": "a script that does not exist (the file system)",
    "verify-ca-bundle-fifo": "a path that is a FIFO (the file system)",
    "winrm-ca-bundle-fifo": "a path that is a FIFO (the file system)",
    "winrm-password-file-fifo": "a secret's file that is a FIFO (the file system)",
}

# Never a document a schema could look at: the file is not a regular file
# (or too large), or its YAML is refused by the reader before any value is
# read (syntax, encoding, tags, the size limits, a second document, keys
# that have no JSON form: duplicate, null or non-scalar keys).
NOT_A_DOCUMENT = """
    config-dangling-symlink config-is-dev-urandom config-is-dev-zero config-is-fifo config-is-fifo-plan
    config-is-folder config-over-128mib config-symlink-loop
    alias-undefined bad-indentation binary-garbage control-char-raw directive-yaml-2 invalid-utf8
    key-very-long tab-indentation unclosed-flow-list unterminated-quote utf16-bom yaml-syntax-error
    second-document second-document-broken third-document-broken tag-in-third-document alias-of-first-document
    anchor-given-twice
    tag-binary tag-int-on-word tag-local tag-map-on-list tag-nonspecific tag-python-name-scalar
    tag-python-object tag-set tag-timestamp tag-verbatim
    alias-bomb alias-bomb-maps alias-bomb-wide anchors-10001 flow-list-100001-entries list-100001-entries
    map-100001-pairs nesting-200000-flow-maps nesting-200000-flow nesting-65-block nesting-65-flow
    nesting-mixed-maps
    duplicate-key duplicate-certificate-name duplicate-host-name script-100000-args
    a-key-that-is-not-a-string null-key
""".split()


# ---- reading YAML as certsync does (providers/base/yaml_value.c) ----

class Refused(Exception):
    pass


CONFIG_MAX = 128 << 20  # reconcile/config.c
MAX_DEPTH, MAX_ITEMS, MAX_NODES, MAX_ANCHORS = 64, 100000, 1000000, 10000
CORE = "tag:yaml.org,2002:"
NULLS = {"", "~", "null", "Null", "NULL"}
BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
SPECIAL_FLOATS = {".inf", ".Inf", ".INF", "+.inf", "-.inf", "+.Inf", "-.Inf", "+.INF", "-.INF",
                  ".nan", ".NaN", ".NAN"}
INT_RE = re.compile(r"[+-]?[0-9]+\Z")
FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")


def plain(style):
    return style in (None, "")  # pure-Python and libyaml spellings of "plain"


def scalar_value(text, style):
    """The value of a scalar under the YAML 1.2 core schema."""
    if not plain(style):
        return text
    if text in NULLS:
        return None
    if text in BOOLS:
        return BOOLS[text]
    if INT_RE.match(text):
        return int(text)
    if text in SPECIAL_FLOATS:
        return float("nan") if "nan" in text.lower() else float(text.lower().replace(".inf", "inf"))
    if FLOAT_RE.match(text) and ("." in text or "e" in text.lower()):
        return float(text)
    return text


def kind(text, style):
    v = scalar_value(text, style)
    return type(v)


def tag_ok(e):
    """Only core tags that change nothing (yaml_value.c: tag_ok)."""
    tag = e.tag
    if tag is None:
        return True
    if not tag.startswith(CORE):
        return False
    t = tag[len(CORE):]
    if isinstance(e, yaml.SequenceStartEvent):
        return t == "seq"
    if isinstance(e, yaml.MappingStartEvent):
        return t == "map"
    as_written = kind(e.value, e.style)
    as_plain = kind(e.value, None)
    return {"str": as_written is str, "int": as_plain is int, "float": as_plain is float,
            "bool": as_plain is bool, "null": as_plain is type(None)}.get(t, False)


def check_shape(text):
    """The limits and tags, on the event stream (never recursive)."""
    frames = []      # [is_map, items, nodes, anchor]
    anchors = {}
    total = 0
    docs = 0

    def add(nodes, fresh):
        nonlocal total
        total += fresh
        if total > MAX_NODES:
            raise Refused("more than %d nodes" % MAX_NODES)
        if frames:
            f = frames[-1]
            f[1] += 1
            f[2] += nodes
            if (f[1] // 2 if f[0] else f[1]) > MAX_ITEMS:
                raise Refused("more than %d entries" % MAX_ITEMS)

    def anchor(name, nodes):
        if name is None:
            return
        if len(anchors) >= MAX_ANCHORS and name not in anchors:
            raise Refused("more than %d anchors" % MAX_ANCHORS)
        anchors[name] = nodes

    for e in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(e, yaml.DocumentStartEvent):
            docs += 1
        if isinstance(e, (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if e.tag is not None and not tag_ok(e):
                raise Refused("YAML tag %s" % e.tag)
            if isinstance(e, yaml.ScalarEvent):
                add(1, 1)
                anchor(e.anchor, 1)
                continue
            if len(frames) == MAX_DEPTH:
                raise Refused("nested more than %d deep" % MAX_DEPTH)
            frames.append([isinstance(e, yaml.MappingStartEvent), 0, 1, e.anchor])
            total += 1
            if total > MAX_NODES:
                raise Refused("more than %d nodes" % MAX_NODES)
        elif isinstance(e, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            f = frames.pop()
            add(f[2], 0)
            anchor(f[3], f[2])
        elif isinstance(e, yaml.AliasEvent):
            n = anchors.get(e.anchor, 1)
            add(n, n)
    if docs > 1:
        raise Refused("a second document")


def to_json(node, lines, path=()):
    """A composed node as a JSON value; keys as their text.  lines[path]
    gets the lines of the node at path (its key's and its own)."""
    lines.setdefault(path, set()).add(node.start_mark.line + 1)
    if isinstance(node, yaml.ScalarNode):
        return scalar_value(node.value, node.style)
    if isinstance(node, yaml.SequenceNode):
        return [to_json(n, lines, path + (i,)) for i, n in enumerate(node.value)]
    out = {}
    for k, v in node.value:
        if not isinstance(k, yaml.ScalarNode) or scalar_value(k.value, k.style) is None:
            raise Refused("a key that is not a string")
        if k.value in out:
            raise Refused("duplicate key %r" % k.value)
        lines.setdefault(path + (k.value,), set()).add(k.start_mark.line + 1)
        out[k.value] = to_json(v, lines, path + (k.value,))
    return out


def read_config(path, lines):
    """The document as JSON, or Refused (before any schema applies)."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise Refused("cannot stat: %s" % e.strerror)
    if not stat.S_ISREG(st.st_mode):
        raise Refused("not a regular file")
    if st.st_size > CONFIG_MAX:
        raise Refused("larger than 128 MiB")
    with open(path, "rb") as f:
        data = f.read()
    try:
        check_shape(data)
        node = yaml.compose(data, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as e:
        raise Refused("YAML: %s" % str(e).splitlines()[0])
    return None if node is None else to_json(node, lines)


# ---- the two judges ----

with open(os.path.join(root, "schema", "certsync.schema.json"), encoding="utf-8") as f:
    schema = json.load(f)
try:
    jsonschema.Draft202012Validator.check_schema(schema)
    tap(True, "the schema is a valid draft 2020-12 schema")
except jsonschema.SchemaError as e:
    tap(False, "the schema is a valid draft 2020-12 schema", e)
validator = jsonschema.Draft202012Validator(schema)


# ---- the schema's keys are the loader's keys ----
# Every key table certsync checks a mapping against (each call of
# cs_yaml_check_keys in reconcile/ and providers/) is read from the source
# and compared with the properties of the schema's object for it, so a key
# added to certsync without the schema (or the other way) fails here.

KEY_TABLES = {
    # (source file, function, key array): the schema object's JSON pointer
    ("reconcile/config.c", "parse_root", "keys"): "",
    ("reconcile/config.c", "parse_settings", "keys"): "/$defs/settings",
    ("reconcile/config.c", "parse_settings", "state_keys"): "/$defs/settings/properties/state",
    ("reconcile/config.c", "parse_settings", "pg_keys"): "/$defs/settings/properties/state/properties/postgres",
    ("reconcile/config.c", "parse_host", "keys"): "/$defs/host",
    ("reconcile/config.c", "parse_issuer", "kinds"): "/$defs/issuer",
    ("reconcile/config.c", "parse_cert", "keys"): "/$defs/certificate",
    ("reconcile/config.c", "parse_key", "keys"): "/$defs/key",
    ("reconcile/config.c", "parse_verify", "keys"): "/$defs/verify",
    ("providers/issuer/ca.c", "ca_parse", "keys"): "/$defs/issuer_ca",
    ("providers/issuer/manual.c", "manual_parse", "keys"): "/$defs/issuer_manual",
    ("providers/issuer/acme.c", "acme_parse", "keys"): "/$defs/issuer_acme",
    ("providers/issuer/acme.c", "acme_parse", "eab_keys"): "/$defs/issuer_acme/properties/eab",
    ("providers/issuer/acme.c", "parse_challenge", "keys"): "/$defs/acme_challenge",
    ("providers/issuer/acme.c", "parse_challenge", "http_keys"): "/$defs/acme_challenge/properties/http-01",
    ("providers/issuer/acme.c", "parse_challenge", "dns_keys"): "/$defs/acme_challenge/properties/dns-01",
    ("providers/transport/local.c", "local_parse", "local_keys"): "/$defs/host/properties/local",
    ("providers/transport/ssh.c", "ssh_parse", "keys"): "/$defs/ssh",
    ("providers/transport/winrm.c", "winrm_parse", "keys"): "/$defs/winrm",
    ("providers/base/yaml_value.c", "cs_yaml_secret", "keys"): "/$defs/secret",
    ("providers/notify/notify_cfg.c", "cs_notify_cfg_parse", "keys"): "/$defs/notifier",
    ("providers/notify/notify_cfg.c", "parse_webhook", "keys"): "/$defs/notify_webhook",
    ("providers/notify/notify_cfg.c", "parse_command", "keys"): "/$defs/notify_command",
    # a binding: host and the kinds of the table (checked below)
    ("reconcile/config.c", "parse_binding", "keys"): None,
}
FUNC_RE = re.compile(r"^[a-z][\w \*]*?\b(\w+)\([^;]*$", re.M)
CALL_RE = re.compile(r"cs_yaml_check_keys\([^,]+,[^,]+,\s*(\w+)\s*,")


def array_words(text, func_start, name):
    m = re.compile(r"static const char \*const %s\[\] = \{([^}]*)\}" % re.escape(name)).search(text, func_start)
    return re.findall(r'"([^"]*)"', m.group(1)) if m else None


def pointer(ptr):
    node = schema
    for part in [p for p in ptr.split("/") if p]:
        node = node[part]
    return node


kind_files = sorted(glob.glob(os.path.join(root, "providers", "platform", "kind_*.c")))
for f in kind_files:
    kname = os.path.basename(f)[len("kind_"):-len(".c")]
    KEY_TABLES[(os.path.relpath(f, root), "parse_" + kname, "keys" if kname != "rdp" else "none")] = \
        "/$defs/bind_" + kname
seen = set()
for f in sorted(glob.glob(os.path.join(root, "reconcile", "*.c")) + glob.glob(os.path.join(root, "providers", "*", "*.c"))):
    with open(f, encoding="utf-8") as fh:
        text = fh.read()
    rel = os.path.relpath(f, root)
    for call in CALL_RE.finditer(text):
        funcs = [m for m in FUNC_RE.finditer(text, 0, call.start())]
        if not funcs or call.group(1) in ("known",):
            continue  # the definition of cs_yaml_check_keys itself
        func = funcs[-1]
        key = (rel, func.group(1), call.group(1))
        seen.add(key)
        if key not in KEY_TABLES:
            tap(False, "%s: %s checks keys against %s: the schema test knows this table" % key,
                "add the object to schema/certsync.schema.json and the table to KEY_TABLES")
            continue
        if KEY_TABLES[key] is None:
            continue
        words = array_words(text, func.start(), call.group(1))
        props = sorted(pointer(KEY_TABLES[key]).get("properties", {}))
        tap(words is not None and sorted(words) == props,
            "%s %s %s: the keys are the schema's at #%s" % (key + (KEY_TABLES[key],)),
            "certsync: %s" % (sorted(words) if words is not None else "(array not found)"), "schema:   %s" % props)
for key in sorted(set(KEY_TABLES) - seen):
    tap(False, "%s: %s checks keys against %s (listed in KEY_TABLES, not found in the source)" % key)
kind_names = []
for f in kind_files:
    with open(f, encoding="utf-8") as fh:
        m = re.search(r'\.name = "([^"]+)"', fh.read())
    kind_names.append(m.group(1) if m else "?")
props = sorted(schema["$defs"]["binding"]["properties"])
tap(props == sorted(["host"] + kind_names), "a binding's keys are host and the binding kinds of the table",
    "kinds: %s" % sorted(kind_names), "schema: %s" % props)


def schema_verdict(path):
    """(stage, [why or errors], {lines of the errors}): stage "yaml" when
    refused before any schema applies, else "schema"."""
    lines = {}
    try:
        doc = read_config(path, lines)
    except Refused as e:
        return "yaml", [str(e)], set()
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path).__repr__())
    at = set()
    for e in errors:
        where = tuple(e.absolute_path)
        at |= lines.get(where, {1})
        # An error about keys of a mapping is also on the lines of those
        # keys, where validate reports it: the unknown ones, or the ones
        # of which only one may be given.
        keys = []
        if e.validator == "additionalProperties" and isinstance(e.instance, dict):
            keys = [k for k in e.instance if k not in e.schema.get("properties", {})]
        elif e.validator == "oneOf" and isinstance(e.instance, dict):
            keys = [k for sub in e.validator_value for k in sub.get("required", []) if k in e.instance]
        for k in keys:
            at |= lines.get(where + (k,), set())
    return "schema", ["%s: %s" % ("/".join(map(str, e.absolute_path)) or "(top)", e.message[:200])
                      for e in errors], at


def validate(path, cwd, env=None, timeout=120):
    r = subprocess.run([certsync, "validate", "-c", path], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace")


# ---- the examples and init: both accept ----

MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")
examples = sorted(glob.glob(os.path.join(root, "examples", "**", "*.yaml"), recursive=True))
examples = [e for e in examples if os.path.basename(e) == "certsync.yaml"]
tap(len(examples) >= 3, "examples found (%d)" % len(examples))
for path in examples:
    name = os.path.relpath(path, root)
    code, out = validate(path, os.path.dirname(path))
    stage, errs, at = schema_verdict(path)
    tap(code == 0 and stage == "schema" and not errs, "%s: accepted by validate and the schema" % name,
        "validate: exit %d" % code, out, "schema: %s" % stage, *errs)
    with open(path, encoding="utf-8") as f:
        first = f.readline().rstrip("\n")
    m = MODELINE.match(first)
    target = m and os.path.normpath(os.path.join(os.path.dirname(path), m.group(1)))
    tap(bool(m) and target == os.path.join(root, "schema", "certsync.schema.json"),
        "%s: its first line points the editor at schema/certsync.schema.json" % name, "first line: " + first)

# The complete configs of the documentation (```yaml blocks marked
# <!-- validate -->, which test_doc_examples.sh has validate accept).
blocks = []
for doc in [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md"))):
    with open(doc, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for i, l in enumerate(lines):
        if l.strip() == "<!-- validate -->" and i + 1 < len(lines) and lines[i + 1].startswith("```yaml"):
            end = next(j for j in range(i + 2, len(lines)) if lines[j].startswith("```"))
            blocks.append(("%s:%d" % (os.path.relpath(doc, root), i + 2), "\n".join(lines[i + 2:end]) + "\n"))
tap(len(blocks) >= 2, "documentation configs found (%d)" % len(blocks))
for where, text in blocks:
    path = os.path.join(tmp, "doc.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    stage, errs, at = schema_verdict(path)
    tap(stage == "schema" and not errs, "the config at %s: accepted by the schema" % where,
        *errs)

# Every key at once, in the forms certsync accepts (empty blocks, numbers
# as text, 3-digit modes, IPv6, durations of several units): the schema
# must not be stricter than validate.
KITCHEN_SINK = r"""
version: 1
settings:
  state_dir: /var/lib/certsync
  parallelism: 1024
  state: { postgres: { dsn: { env: CERTSYNC_PG }, key: { file: pki/state.key } } }
issuers:
  lab: { ca: { cert: pki/ca.crt, key: { env: CA_KEY }, days: 3650 } }
  vendor: { manual: }
  vendor2: { manual: { requests: req/, inbox: in/ } }
  le:
    acme:
      directory: https://acme.example/dir
      contact: [mailto:ops@example.org]
      ca_bundle: pki/acme.pem
      eab: { kid: 12345, hmac: { file: pki/eab.key } }
      challenge: { dns-01: { hook: hooks/dns.sh, propagation: 0s } }
      preferred_chain: ISRG Root X1
  le2: { acme: { directory: "https://[::1]:14000/dir", challenge: { http-01: { standalone: "[::1]:80" } } } }
  le3: { acme: { directory: https://a.example/d, challenge: { http-01: { host: web1, webroot: /var/www } } } }
hosts:
  here: { platform: linux, local: }
  here2: { platform: linux, local: { timeout: 1d }, reboot: never, reboot_timeout: 1h30m }
  web1:
    platform: linux
    ssh: { address: "2001:db8::1", port: 2222, user: 1001, identity: ~/.ssh/id, passphrase: { env: P },
           password: { file: pw }, known_hosts: kh, host_key_policy: accept-new, become: sudo, timeout: 90s }
  win:
    platform: windows
    winrm: { address: 192.0.2.1, port: 5985, auth: negotiate, user: 'D\u', password: { env: W },
             ca_bundle: ca.pem, insecure_http: true, timeout: 2m }
    reboot: after-change
  win2: { platform: windows, ssh: { address: win2.example, user: svc } }
certificates:
  a:
    common_name: "*.example.org"
    dns_names: [a.example.org, "*.example.org", xn--bcher-kva.example]
    key: { type: rsa, bits: 4096 }
    issuer: lab
    renew_before: 2w3d
    remind_before: 0s
    bindings:
      - { host: here, files: { pem: out/a.pem, mode: "640", owner: root, group: 0 } }
      - { host: web1, files: { cert: /etc/a.crt, chain: /etc/a-chain.pem, fullchain: /etc/a-full.pem, mode: "0644",
                               reload: systemctl reload nginx } }
      - { host: web1, script: { path: hooks/deploy.sh, args: { n: 1, f: 1.5, b: true, s: "", name-2: x } } }
    verify:
      - { connect: "[2001:db8::1]:443", servername: a.example.org, timeout: 5s, host: web1 }
      - { connect: "a.example.org:00443" }
  b:
    common_name: b.example.org
    dns_names:
    key: { type: ecdsa }
    issuer: vendor
    bindings:
      - { host: win, store: }
      - { host: win, store: { exportable: false, cleanup: true } }
      - { host: win, iis: { site: 80, port: 8443, ip: "::", hostname: b.example.org, sni: true } }
      - { host: win, iis: { site: Default Web Site, ip: 192.0.2.7, sni: false } }
      - { host: win, httpsys: { ipport: "0.0.0.0:443", appid: "{4dc3e181-e14b-4a21-b022-59fc669b0914}" } }
      - { host: win, httpsys: { hostnameport: "b.example.org:443", appid: 4dc3e181-e14b-4a21-b022-59fc669b0914 } }
      - { host: win, exchange: { services: [pop, IMAP, Smtp, IIS] } }
      - { host: win, rdp: }
      - { host: win2, rdp: {} }
      - { host: win2, script: { path: hooks/deploy.ps1, args: } }
    verify:
      - { connect: "b.example.org:587", starttls: smtp, host: win }
  c: { common_name: c.example.org, issuer: le, key: { type: ecdsa, curve: p384 }, bindings: [], verify: }
"""
sink_dir = os.path.join(tmp, "sink")
os.makedirs(os.path.join(sink_dir, "hooks"))
for name in ("hooks/dns.sh", "hooks/deploy.sh", "hooks/deploy.ps1"):
    open(os.path.join(sink_dir, name), "w").close()
sink = os.path.join(sink_dir, "certsync.yaml")
with open(sink, "w", encoding="utf-8") as f:
    f.write(KITCHEN_SINK)
code, out = validate(sink, sink_dir)
stage, errs, at = schema_verdict(sink)
tap(code == 0 and stage == "schema" and not errs, "every key in every accepted form: accepted by validate and the schema",
    "validate: exit %d" % code, out, "schema: %s" % stage, *errs)

init_dir = os.path.join(tmp, "init")
os.makedirs(init_dir)
r = subprocess.run([certsync, "init"], cwd=init_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
init_cfg = os.path.join(init_dir, "certsync.yaml")
if r.returncode != 0:
    tap(False, "init writes a config", r.stdout.decode(errors="replace"))
else:
    code, out = validate(init_cfg, init_dir)
    stage, errs, at = schema_verdict(init_cfg)
    tap(code == 0 and stage == "schema" and not errs, "init's config: accepted by validate and the schema",
        "validate: exit %d" % code, out, "schema: %s" % stage, *errs)
    with open(init_cfg, encoding="utf-8") as f:
        first = f.readline().rstrip("\n")
    m = MODELINE.match(first)
    tap(bool(m) and m.group(1).endswith("/certsync/certsync.schema.json"),
        "init's config: its first line points the editor at the installed schema", "first line: " + first)

# ---- the corpus: both refuse, or the case says why not ----

def parse_expect(path):
    fields = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                k, _, v = line.partition(": ")
                fields.setdefault(k, []).append(v)
    return fields


def prepare(case_dir, fields, env):
    """As corpus_run.py prepares a case: setup lines, then gen commands."""
    for s in fields.get("setup", []):
        parts = s.split()
        p = os.path.join(case_dir, parts[1])
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if os.path.lexists(p) and parts[0] != "rm":
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.unlink(p)
        if parts[0] == "fifo":
            os.mkfifo(p)
        elif parts[0] == "dir":
            os.mkdir(p)
        elif parts[0] == "symlink":
            os.symlink(parts[2], p)
        elif parts[0] == "rm" and os.path.lexists(p):
            os.unlink(p)
    for g in fields.get("gen", []):
        subprocess.run(["bash", "-c", "set -e; " + g], cwd=case_dir, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


folder = os.path.join(root, "tests", "corpus", "config")
names = sorted(f[:-len(".expect")] for f in os.listdir(folder) if f.endswith(".expect"))
for listed in sorted(set(SCHEMA_CANNOT) | set(NOT_A_DOCUMENT)):
    if listed not in names:
        tap(False, "listed case %s is in the corpus" % listed)
agreed = cannot = before = 0
for name in names:
    fields = parse_expect(os.path.join(folder, name + ".expect"))
    case_dir = os.path.join(tmp, "corpus", name)
    os.makedirs(case_dir)
    cfg = name + ".yaml"
    if os.path.exists(os.path.join(folder, cfg)):
        shutil.copyfile(os.path.join(folder, cfg), os.path.join(case_dir, cfg))
    env = dict(os.environ)
    env.pop("CERTSYNC_CONFIG", None)
    try:
        prepare(case_dir, fields, env)
    except (OSError, subprocess.CalledProcessError) as e:
        tap(False, "corpus %s: prepared" % name, e)
        continue
    for e in fields.get("env", []):
        k, _, v = e.partition("=")
        env[k] = v
    code, out = validate(cfg, case_dir, env)
    stage, errs, at = schema_verdict(os.path.join(case_dir, cfg))
    refused_by_schema = stage != "schema" or bool(errs)
    label = "corpus %s" % name
    if name in NOT_A_DOCUMENT:
        before += 1
        tap(code == 1 and stage == "yaml", "%s: refused before any schema (%s), and by validate" % (label, "; ".join(errs)
            if stage == "yaml" else "reached the schema"), "validate: exit %d" % code, out)
    elif name in SCHEMA_CANNOT:
        cannot += 1
        tap(code == 1 and stage == "schema" and not errs,
            "%s: refused by validate; the schema cannot tell (%s)" % (label, SCHEMA_CANNOT[name]),
            "validate: exit %d" % code, out, "schema: %s" % stage,
            *(["the schema refuses it now: take it off SCHEMA_CANNOT"] + errs if errs else []))
    else:
        agreed += 1
        # The schema must refuse it where validate does: one of its errors
        # is about a value on the line of validate's first diagnostic.
        diag = fields.get("diag", ["0:0: "])[0]
        line = int(diag.split(":", 1)[0])
        tap(code == 1 and stage == "schema" and refused_by_schema and line in at,
            "%s: refused by validate and by the schema, on line %d" % (label, line),
            "validate: exit %d" % code, out, "schema: %s" % stage,
            *(errs if errs else ["the schema accepts it"]), "schema errors on lines %s" % sorted(at))
print("# corpus: %d cases; %d refused by both validate and the schema, %d never a document, "
      "%d the schema cannot tell" % (len(names), agreed, before, cannot))
print("1..%d" % count)
sys.exit(1 if failed else 0)
