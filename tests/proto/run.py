#!/usr/bin/env python3
"""run.py — runs every tests/proto/test_*.py function named test_*.

Usage: run.py [-j N] [--build plain|asan|tsan] [substring ...]
  (only tests whose module:function contains one of the substrings)

Each test drives the real build/tern binary with real clients on loopback.
Exit status 1 when any test failed.

Test modules run in N worker processes at once (default: TERN_TEST_JOBS,
else twice the cores plus one): most of a protocol test's time is spent
waiting on sockets, timers and peers starting, not on the CPU, so the suite
is I/O-bound and overlapping modules shortens it without changing what each
asserts. Each worker gets its own slice of the test port range
(TERN_TEST_PORT_SLOT, read by harness.free_port), so two modules never pick
the same port. A module that measures the server under load, or loads the
machine itself, sets EXCLUSIVE = True and runs alone after the others, so
its figures are not the neighbours' noise (EXCLUSIVE = "plain": only in
the plain run, the sanitized one asserting no such figures). A module's output is printed
whole when it ends, so logs read as they did when the run was serial.

--build names the server the tests drive (BUILDS below; plain by
default). One build a run: two builds' runs of one module at once would
share what a module holds for itself (a mount, a peer's directory).
Measured, too: on two cores both runs in one pool took longer (1,524 s)
than one after the other (611 + 870 s), the processor being the bound.
"""
import importlib
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


ROOT = os.path.dirname(os.path.dirname(HERE))

# The servers a run can drive: the binary, and for a sanitized build the
# directory its reports go to (emptied when the run starts) and the
# sanitizer options that send them there. harness.py reads TERN_TEST_BIN
# and TERN_SANITIZER_LOGS; a sanitized build's tests skip what only the
# product binary can show (the empty chroot, a static ELF).
BUILDS = {
    "plain": {},
    "asan": {"bin": "build/tern-asan", "logs": "build/asan-logs",
             "env": {"ASAN_OPTIONS": "detect_leaks=1:log_path={logs}/asan",
                     "UBSAN_OPTIONS": "print_stacktrace=1:log_path={logs}/ubsan"}},
    "tsan": {"bin": "build/tern-tsan", "logs": "build/tsan-logs",
             "env": {"TSAN_OPTIONS": "halt_on_error=0:log_path={logs}/tsan"}},
}


def build_env(build):
    """The environment a worker testing BUILD runs with."""
    b = BUILDS[build]
    env = dict(os.environ, TERN_TEST_BUILD=build)
    if b:
        logs = os.path.join(ROOT, b["logs"])
        env["TERN_TEST_BIN"] = os.path.join(ROOT, b["bin"])
        env["TERN_SANITIZER_LOGS"] = logs
        for k, v in b["env"].items():
            env[k] = v.format(logs=logs)
    return env


def fresh_logs(build):
    if BUILDS[build]:
        d = os.path.join(ROOT, BUILDS[build]["logs"])
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)


def sanitizer_reports(build):
    """After a sanitized build's run: every report it wrote (a memory
    error, a leak at exit, undefined behaviour), printed, each one a
    failure, whether or not a test noticed the process go."""
    if not BUILDS[build]:
        return []
    d = os.path.join(ROOT, BUILDS[build]["logs"])
    found = []
    for f in sorted(os.listdir(d)):
        with open(os.path.join(d, f), errors="replace") as fh:
            print("---- sanitizer report %s/%s ----\n%s" % (build, f, fh.read()))
        found.append("sanitizer report %s/%s" % (build, f))
    return found


def run_module(name, filters):
    """Runs one module's tests in this process; prints one line per test
    and a last machine-readable line: RESULT passed skipped failed..."""
    mod = importlib.import_module(name)
    failed, passed, skipped = [], 0, 0
    build = os.environ.get("TERN_TEST_BUILD", "plain")
    # Only the module's own functions: a helper it imports (mailpeers'
    # test_ca) is not a test.
    for fn in [getattr(mod, a) for a in dir(mod) if a.startswith("test_") and
               callable(getattr(mod, a)) and getattr(getattr(mod, a), "__module__", "") == name]:
        full = "%s:%s" % (name, fn.__name__)
        if filters and not any(f in full for f in filters):
            continue
        full = item_name(full, build)
        if "harness" in sys.modules:  # names the sanitizer reports (harness.name_report)
            sys.modules["harness"].current_test = full
        t0 = time.time()
        try:
            r = fn()
            if r == "skip":
                skipped += 1
                print("SKIP %s" % full, flush=True)
                continue
            passed += 1
            print("ok   %s (%.1fs)" % (full, time.time() - t0), flush=True)
        except Exception:
            failed.append(full)
            print("FAIL %s (%.1fs)" % (full, time.time() - t0), flush=True)
            traceback.print_exc()
            sys.stdout.flush()
    print("RESULT %d %d %s" % (passed, skipped, " ".join(failed)), flush=True)


def selected(name, filters):
    """Whether any test of the module matches the filters, from its source,
    so a filtered run starts no worker for unrelated modules."""
    if not filters:
        return True
    src = open(os.path.join(HERE, name + ".py")).read()
    fulls = ["%s:%s" % (name, f) for f in re.findall(r"^def (test_\w+)", src, re.M)]
    return any(f in full for f in filters for full in fulls)


def exclusive(name, build):
    """Whether the module runs alone, after the pool: EXCLUSIVE = True in
    every run, EXCLUSIVE = "plain" only in the plain one, for a module
    whose sanitized run measures nothing that load changes (the memory
    bounds it skips, a kill -9's consistency) and so joins the pool: alone,
    each kept one of the two cores mostly idle."""
    src = open(os.path.join(HERE, name + ".py")).read()
    return "\nEXCLUSIVE = True" in src or (not BUILDS[build] and '\nEXCLUSIVE = "plain"' in src)


# Each module's wall time in the last run that ran it (module seconds, a
# line each): the plain run of `make test` orders the sanitizer runs after
# it. A fresh clone starts from the figures committed beside this file.
DURATIONS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "build", "proto-durations")


def read_durations(path, into):
    try:
        for line in open(path):
            name, secs = line.split()
            into[name] = float(secs)
    except (OSError, ValueError):
        pass
    return into


def durations():
    return read_durations(DURATIONS, read_durations(os.path.join(HERE, "durations"), {}))


def save_durations(new):
    took = read_durations(DURATIONS, {})
    took.update(new)
    try:
        with open(DURATIONS + ".tmp", "w") as f:
            for name in sorted(took):
                f.write("%s %.1f\n" % (name, took[name]))
        os.replace(DURATIONS + ".tmp", DURATIONS)
    except OSError:
        pass  # no build/ directory: nothing to remember


def default_jobs():
    if os.environ.get("TERN_TEST_JOBS"):
        return max(1, int(os.environ["TERN_TEST_JOBS"]))
    return 2 * (os.cpu_count() or 1) + 1


def item_name(name, build):
    """A module or a test run against one build, as the output, the
    durations file and the CPU summary name it: test_smtp,
    test_smtp[asan], test_smtp:test_ehlo[asan]."""
    return name if build == "plain" else "%s[%s]" % (name, build)


def main():
    args = sys.argv[1:]
    if args[:1] == ["--one"]:
        run_module(args[1], args[2:])
        return
    jobs = default_jobs()
    builds = ["plain"]
    while args[:1] in (["-j"], ["--build"]):
        if args[0] == "-j":
            jobs = max(1, int(args[1]))
        elif args[1] in BUILDS:
            builds = [args[1]]
        else:
            sys.exit("run.py: no build %r (%s)" % (args[1], ", ".join(BUILDS)))
        args = args[2:]
    filters = args
    mods = sorted(f[:-3] for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py"))
    mods = [m for m in mods if selected(m, filters)]
    # Longest first, so the run does not end waiting on one long module
    # started last: by the seconds each took when last run here (a
    # sanitized run never seen here: its plain run's seconds, times the
    # 1.6 a sanitized run takes over all), else by the size of its file
    # (unknown modules first).
    took = durations()

    def order(item):
        mod, build = item
        name = item_name(mod, build)
        if name in took:
            return (True, -took[name])
        if mod in took:
            return (True, -1.6 * took[mod])
        return (False, -os.path.getsize(os.path.join(HERE, mod + ".py")))
    items = sorted([(m, b) for b in builds for m in mods], key=order)
    shared = [i for i in items if not exclusive(*i)]
    alone = [i for i in items if exclusive(*i)]
    for b in builds:
        fresh_logs(b)
    # The seeded stores the modules share (harness._template).
    templates = tempfile.mkdtemp(prefix="tern-templates-run-")
    envs = {b: dict(build_env(b), TERN_TEST_TEMPLATES=templates) for b in builds}

    failed, passed, skipped = [], 0, 0
    start = time.time()

    def finish(name, proc, out):
        nonlocal passed, skipped
        lines = out.splitlines()
        result = [l for l in lines if l.startswith("RESULT ")]
        body = [l for l in lines if not l.startswith("RESULT ")]
        if body:
            print("\n".join(body), flush=True)
        if proc.returncode != 0 or not result:
            failed.append("%s (module exited %d)" % (name, proc.returncode))
            return
        parts = result[-1].split()
        passed += int(parts[1])
        skipped += int(parts[2])
        failed.extend(parts[3:])

    # Each module's CPU seconds, user and system, its worker and every
    # process the worker waited for (servers, clients, peers; not those
    # that daemonized away): the processor, not the clock, bounds the suite
    # on 2 cores, so this is what to look at to make it shorter. Workers
    # are reaped one at a time, so the growth of this process's children's
    # usage across one reaping is that worker's.
    def children_cpu():
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    # Workers write to files, not pipes: a pipe read only when the worker
    # ends would block a module whose output outgrew the pipe buffer.
    def run_pool(queue, width):
        running = {}
        while queue or running:
            while queue and len(running) < width:
                slot = next(s for s in range(width) if s not in running)
                mod, build = queue.pop(0)
                name = item_name(mod, build)
                out = tempfile.TemporaryFile("w+")
                env = dict(envs[build], TERN_TEST_PORT_SLOT="%d/%d" % (slot, width),
                           PYTHONUNBUFFERED="1")
                proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--one", mod] + filters,
                                        stdout=out, stderr=subprocess.STDOUT, env=env, text=True)
                running[slot] = (name, proc, out, time.time())
            done = []
            for s, (name, p, _, _) in running.items():
                before = children_cpu()
                if p.poll() is not None:
                    done.append(s)
                    cpu[name] = children_cpu() - before
            if not done:
                time.sleep(0.1)
                continue
            for slot in done:
                name, proc, out, began = running.pop(slot)
                ran[name] = time.time() - began
                out.seek(0)
                finish(name, proc, out.read())
                out.close()

    ran, cpu = {}, {}
    try:
        run_pool(shared, jobs)
        run_pool(alone, 1)
    finally:
        shutil.rmtree(templates, ignore_errors=True)
    if not filters:
        save_durations(ran)
    for b in builds:
        failed += sanitizer_reports(b)
    top = sorted(cpu, key=lambda m: -cpu[m])[:15]
    print("\nCPU seconds of the modules (%.0f in all); the most:" % sum(cpu.values()))
    for m in top:
        print("  %7.1f cpu %7.1f wall  %s" % (cpu[m], ran.get(m, 0), m))
    print("\nprotocol tests: %d passed, %d failed, %d skipped in %.0fs (%d at once)" %
          (passed, len(failed), skipped, time.time() - start, jobs))
    for f in failed:
        print("  failed: " + f)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
