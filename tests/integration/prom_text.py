#!/usr/bin/env python3
"""A strict reader of the Prometheus text exposition format (0.0.4), for
tests/integration/test_metrics.sh.

  prom_text.py check FILE                 exit 0 when FILE is valid, else print why
  prom_text.py get FILE NAME [LABEL=VALUE]...
                                          print the value of the one sample of NAME whose
                                          labels include these (values unescaped), or
                                          "absent"; exit 1 when more than one matches
  prom_text.py series FILE                print every sample as NAME{labels} VALUE with the
                                          label values unescaped, one per line (for diffs)

Strict means what a scraper may reject or silently mangle: every family has
# HELP and # TYPE before its samples, its samples are together, names and
label names are valid, label values use only the escapes \\\\ \\" \\n, no
label appears twice, no series appears twice, values are floats."""
import re
import sys

METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class Bad(Exception):
    pass


def parse_value(text, where):
    if text in ("NaN", "+Inf", "-Inf"):
        return float(text.replace("+", ""))
    if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?", text):
        raise Bad(f"{where}: bad value {text!r}")
    return float(text)


def parse_labels(s, i, where):
    """s[i] is just after '{'; returns (labels dict, index after '}')."""
    labels = {}
    while True:
        if s.startswith("}", i):
            return labels, i + 1
        m = LABEL.match(s, i)
        if not m:
            raise Bad(f"{where}: bad label name at column {i + 1}")
        name = m.group(0)
        if name.startswith("__"):
            raise Bad(f"{where}: reserved label name {name}")
        i = m.end()
        if not s.startswith('="', i):
            raise Bad(f"{where}: expected =\" after label {name}")
        i += 2
        value = []
        while True:
            if i >= len(s):
                raise Bad(f"{where}: unterminated value of label {name}")
            c = s[i]
            if c == "\\":
                nxt = s[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    raise Bad(f"{where}: bad escape \\{nxt} in label {name}")
                value.append("\n" if nxt == "n" else nxt)
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                value.append(c)
                i += 1
        if name in labels:
            raise Bad(f"{where}: label {name} twice")
        labels[name] = "".join(value)
        if s.startswith(",", i):
            i += 1
        elif not s.startswith("}", i):
            raise Bad(f"{where}: expected , or }} after label {name}")


def parse(text):
    """Returns [(name, labels, value)]; raises Bad."""
    if text and not text.endswith("\n"):
        raise Bad("the last line does not end with a newline")
    help_, type_, done, samples, seen = {}, {}, set(), [], set()
    current = None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {n}"
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, rest = line[2:6], line[7:]
            name, _, arg = rest.partition(" ")
            if not METRIC.fullmatch(name):
                raise Bad(f"{where}: bad metric name {name!r}")
            if name in done or (current and current != name and name in help_):
                raise Bad(f"{where}: family {name} is not together")
            table = help_ if kind == "HELP" else type_
            if name in table:
                raise Bad(f"{where}: second {kind} for {name}")
            if kind == "TYPE" and arg not in TYPES:
                raise Bad(f"{where}: bad type {arg!r}")
            if kind == "HELP" and re.search(r"\\[^\\n]", arg.replace("\\\\", "")):
                raise Bad(f"{where}: bad escape in HELP")
            if current and current != name:
                done.add(current)
            current = name
            table[name] = arg
            continue
        if not line or line.startswith("#"):
            raise Bad(f"{where}: empty line or stray comment")
        m = METRIC.match(line)
        if not m:
            raise Bad(f"{where}: bad metric name")
        name, i = m.group(0), m.end()
        if name != current:
            raise Bad(f"{where}: sample of {name} outside its family (HELP/TYPE first, samples together)")
        if name not in help_ or name not in type_:
            raise Bad(f"{where}: {name} lacks HELP or TYPE")
        labels = {}
        if line.startswith("{", i):
            labels, i = parse_labels(line, i + 1, where)
        if not line.startswith(" ", i):
            raise Bad(f"{where}: expected a space before the value")
        parts = line[i + 1:].split(" ")
        if len(parts) > 2:
            raise Bad(f"{where}: too many fields")
        value = parse_value(parts[0], where)
        if len(parts) == 2 and not re.fullmatch(r"-?[0-9]+", parts[1]):
            raise Bad(f"{where}: bad timestamp")
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            raise Bad(f"{where}: series twice: {line}")
        seen.add(key)
        samples.append((name, labels, value))
    return samples


def fmt(v):
    return str(int(v)) if v == int(v) else repr(v)


def main(argv):
    if len(argv) < 3 or argv[1] not in ("check", "get", "series"):
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[2], encoding="utf-8") as f:
        text = f.read()
    try:
        samples = parse(text)
    except Bad as e:
        print(f"invalid exposition: {e}")
        return 1
    if argv[1] == "check":
        print(f"valid: {len(samples)} samples")
        return 0
    if argv[1] == "series":
        for name, labels, value in samples:
            print(name + "{" + ",".join(f"{k}={v!r}" for k, v in labels.items()) + "} " + fmt(value))
        return 0
    want = dict(a.split("=", 1) for a in argv[4:])
    hits = [v for name, labels, v in samples
            if name == argv[3] and all(labels.get(k) == v for k, v in want.items())]
    if len(hits) > 1:
        print(f"{len(hits)} samples match")
        return 1
    print(fmt(hits[0]) if hits else "absent")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
