#!/usr/bin/env python3
"""bench/measure.py - time one command and everything it starts.

    measure.py RESULT_FILE CMD [ARG...]

Runs CMD as a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so processes
that daemonize under it (ansible's ControlPersist ssh masters) come back to
this process instead of init and their CPU time is counted too.  Wall time
runs from the start until CMD exits.  Whatever CMD leaves running is then
sent SIGTERM (SIGKILL after 5 s) and reaped, so one run cannot help the next.
Writes "WALL USER SYS STATUS MAXRSS" (seconds; user and sys of the whole
process tree, from getrusage(RUSAGE_CHILDREN); MAXRSS in KiB is the peak
resident size of the largest single process in that tree) to RESULT_FILE.
"""
import ctypes
import os
import resource
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def children():
    pids = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return pids


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: measure.py RESULT_FILE CMD [ARG...]")
    result, cmd = sys.argv[1], sys.argv[2:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("measure.py: prctl(PR_SET_CHILD_SUBREAPER) failed")
    # Whatever started this interpreter may have left children's time here
    # already (a pyenv shim runs several processes before exec'ing python).
    base = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status = os.waitpid(pid, 0)
    wall = time.monotonic() - t0
    rc = os.waitstatus_to_exitcode(status)

    left = children()
    for p in left:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while True:
        try:
            got, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if got == 0:
            if time.monotonic() > deadline:
                for p in children():
                    os.kill(p, signal.SIGKILL)
                deadline = time.monotonic() + 60
            time.sleep(0.01)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(result, "w") as f:
        f.write(f"{wall:.4f} {ru.ru_utime - base.ru_utime:.4f} "
                f"{ru.ru_stime - base.ru_stime:.4f} {rc} {ru.ru_maxrss}\n")


main()
