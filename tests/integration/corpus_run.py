#!/usr/bin/env python3
"""Runs the bad-input corpus (tests/corpus/config and tests/corpus/replies)
against the certsync binary and prints TAP: for each case the exit status,
the expected message, the wall time and the peak RSS, each against the bound
written in the case's NAME.expect.

NAME.expect holds "key: value" lines:
  what:        what the case is (one line)
  diag:        config cases: the first diagnostic, "LINE:COL: message"
               (@DIR@ stands for the case's folder); printed after "NAME.yaml:"
  message:     a substring the output must contain (@DIR@ as above)
  exit:        the exit status
  max_ms:      wall-time bound in milliseconds
  max_rss_kb:  peak resident memory bound in KiB (of the certsync process)
  cmd:         the command (default validate for configs, plan for replies)
  setup:       (repeatable) fifo PATH | dir PATH | symlink PATH TARGET | rm PATH
  gen:         (repeatable) a shell command run in the case folder first,
               with $CSR (the pending request), $CA / $CAKEY (a CA that can
               sign it), $CASE (the case's corpus file, if any) and $CORPUS
               (the corpus folder)
  env:         (repeatable) NAME=VALUE for the certsync run
  absent:      (repeatable) a path that must not exist afterwards
  reply:       replies: where the case's file goes (default inbox/web.EXT)

Under a sanitizer build (CERTSYNC_BIN with AddressSanitizer) the bounds are
scaled: time x5, memory x4 + 256 MiB (the shadow memory)."""
import os, shutil, signal, subprocess, sys, time

root, binary, tmp, base_site = sys.argv[1:5]
show = os.environ.get("CORPUS_SHOW") == "1"

with open(binary, "rb") as f:
    sanitized = b"__asan_init" in f.read()
TIME_SCALE, RSS_SCALE, RSS_ADD = (5, 4, 256 * 1024) if sanitized else (1, 1, 0)

count = failed = 0


def tap(ok, name, *details):
    global count, failed
    count += 1
    if not ok:
        failed += 1
    print(("ok" if ok else "not ok") + " %d - %s" % (count, name))
    if not ok:
        for d in details:
            for line in str(d).splitlines()[:20]:
                print("#   " + line)
    sys.stdout.flush()


def parse(path):
    fields = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            key, _, value = line.partition(": ")
            fields.setdefault(key, []).append(value)
    return fields


TIME = "/usr/bin/time"  # GNU time (Debian package "time")


def run(argv, cwd, env, limit_s):
    """(exit status, output, wall ms, peak RSS KiB); a run past limit_s is
    killed (exit status -9).  The RSS comes from GNU time: the rusage of a
    child forked from Python starts at Python's own RSS, which would hide
    what certsync itself uses."""
    rss_file = os.path.join(cwd, ".peak-rss")
    argv = [TIME, "-f", "%M", "-o", rss_file] + argv
    started = time.monotonic()
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    out = b""
    os.set_blocking(p.stdout.fileno(), False)
    status = None
    while status is None:
        try:
            chunk = p.stdout.read()
            if chunk:
                out += chunk[: max(0, 65536 - len(out))]
        except BlockingIOError:
            pass
        pid, st, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            status, rusage = st, ru
            break
        if time.monotonic() - started > limit_s:
            os.killpg(p.pid, signal.SIGKILL)
            pid, status, rusage = os.wait4(p.pid, 0)
            break
        time.sleep(0.002)
    ms = (time.monotonic() - started) * 1000
    try:
        rest = p.stdout.read()
        if rest:
            out += rest[: max(0, 65536 - len(out))]
    except BlockingIOError:
        pass
    p.stdout.close()
    code = os.waitstatus_to_exitcode(status)
    rss = rusage.ru_maxrss
    try:
        with open(rss_file) as f:
            rss = int(f.read().split()[-1])
        os.unlink(rss_file)
    except (OSError, ValueError, IndexError):
        pass
    out = out.decode("utf-8", "replace")
    # GNU time says so when the command was killed or exited non-zero.
    out = "\n".join(l for l in out.split("\n") if not l.startswith("Command exited with non-zero status"))
    return code, out, ms, rss


def prepare(case_dir, fields, env):
    for s in fields.get("setup", []):
        parts = s.split()
        path = os.path.join(case_dir, parts[1])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.lexists(path) and parts[0] != "rm":
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        if parts[0] == "fifo":
            os.mkfifo(path)
        elif parts[0] == "dir":
            os.mkdir(path)
        elif parts[0] == "symlink":
            os.symlink(parts[2], path)
        elif parts[0] == "rm":
            if os.path.lexists(path):
                os.unlink(path)
        else:
            raise SystemExit("unknown setup %r" % s)
    for g in fields.get("gen", []):
        r = subprocess.run(["bash", "-c", "set -e; " + g], cwd=case_dir, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode:
            return "gen failed: %s: %s" % (g, r.stderr.decode(errors="replace"))
    return None


def one(kind, name, expect, corpus_file):
    fields = parse(expect)
    case_dir = os.path.join(tmp, kind, name)
    env = dict(os.environ)
    env.pop("CERTSYNC_CONFIG", None)
    if kind == "config":
        os.makedirs(case_dir)
        cfg = name + ".yaml"
        if corpus_file:
            shutil.copyfile(corpus_file, os.path.join(case_dir, cfg))
        argv_tail = ["-c", cfg]
        cmd = fields.get("cmd", ["validate"])[0]
    else:
        shutil.copytree(base_site, case_dir, symlinks=True)
        env.update(CSR="requests/web.csr", CA="pki/vendor.crt", CAKEY="pki/vendor.key",
                   CORPUS=os.path.join(root, "tests", "corpus", kind))
        if corpus_file:
            ext = corpus_file.rsplit(".", 1)[1]
            dest = fields.get("reply", ["inbox/web." + ext])[0]
            os.makedirs(os.path.join(case_dir, os.path.dirname(dest)), exist_ok=True)
            shutil.copyfile(corpus_file, os.path.join(case_dir, dest))
            env["CASE"] = corpus_file
        argv_tail = []
        cmd = fields.get("cmd", ["plan"])[0]
    why = prepare(case_dir, fields, env)
    if why:
        tap(False, "%s %s: prepared" % (kind, name), why)
        return
    for e in fields.get("env", []):
        k, _, v = e.partition("=")
        env[k] = v
    want_exit = int(fields.get("exit", ["1"])[0])
    max_ms = int(fields["max_ms"][0]) * TIME_SCALE
    max_rss = int(fields["max_rss_kb"][0]) * RSS_SCALE + RSS_ADD
    argv = [binary] + cmd.split() + argv_tail
    code, out, ms, rss = run(argv, case_dir, env, max(10.0, 4 * max_ms / 1000))
    real_dir = os.path.realpath(case_dir)
    wants = []
    for d in fields.get("diag", []):
        wants.append(name + ".yaml:" + d.replace("@DIR@", real_dir))
    for m in fields.get("message", []):
        wants.append(m.replace("@DIR@", real_dir))
    what = fields.get("what", [""])[0]
    label = "%s %s (%s)" % (kind, name, what)
    if show:
        print("# %s: exit %d, %.0f ms, %d KiB\n#   %s" % (name, code, ms, rss, out.strip().replace("\n", "\n#   ")))
    missing = [w for w in wants if w not in out]
    gone = [a for a in fields.get("absent", []) if os.path.lexists(os.path.join(case_dir, a))]
    problems = []
    if code != want_exit:
        problems.append("exit status %d, want %d" % (code, want_exit))
    if not wants:
        problems.append("the .expect names no diag or message")
    for w in missing:
        problems.append("output lacks: " + w)
    for a in gone:
        problems.append("exists but must not: " + a)
    if ms > max_ms:
        problems.append("took %.0f ms, bound %d ms" % (ms, max_ms))
    if rss > max_rss:
        problems.append("peak RSS %d KiB, bound %d KiB" % (rss, max_rss))
    tap(not problems, label, *(problems + ["output:", out]))
    return ms, rss


def corpus(kind):
    folder = os.path.join(root, "tests", "corpus", kind)
    names = sorted(f[: -len(".expect")] for f in os.listdir(folder) if f.endswith(".expect"))
    worst_ms = worst_rss = 0
    before = failed
    for name in names:
        data = [f for f in os.listdir(folder) if f.startswith(name + ".") and f != name + ".expect"
                and "." not in f[len(name) + 1:]]
        corpus_file = os.path.join(folder, data[0]) if data else None
        r = one(kind, name, os.path.join(folder, name + ".expect"), corpus_file)
        if r:
            worst_ms, worst_rss = max(worst_ms, r[0]), max(worst_rss, r[1])
    print("# %s corpus: %d cases, %d failed; slowest %.0f ms, largest peak RSS %d KiB%s" %
          (kind, len(names), failed - before, worst_ms, worst_rss,
           " (sanitizer build: bounds scaled)" if sanitized else ""))
    return len(names)


n_config = corpus("config")
n_replies = corpus("replies")
tap(n_config >= 100, "at least 100 config cases (%d)" % n_config)
tap(n_replies >= 30, "at least 30 reply cases (%d)" % n_replies)
print("1..%d" % count)
sys.exit(1 if failed else 0)
