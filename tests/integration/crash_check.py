#!/usr/bin/env python3
"""Checker for test-crash.sh: after a kill -9 and a restart, is every acknowledged operation
present, and nothing half-done?

Usage: crash_check.py MOUNT LOGDIR CYCLE STATEFILE [SAMPLE]

LOGDIR holds one log per writer and cycle, w<K>.c<CYCLE>, with lines appended in order:
    a M SVC            before mkdir MOUNT/c/SVC          A M SVC            after it succeeded
    a D SVC SEQ        before a data write of seq SEQ    A D SVC SEQ        after it succeeded
    a Q SVC N ACTION   before an enqueue with args n=N   A Q SVC N ACTION   after it succeeded
A data write of seq SEQ to SVC is {"seq":SEQ,"w":SVC,"pad":("SVC.SEQ." * 48)}; each service is
written by one writer only.

This cycle's operations are checked in full:
  - an acknowledged mkdir: the service exists;
  - data: one whole object we wrote, the last acknowledged one or one attempted after it (in
    flight at the kill); the defaults when no write was acknowledged and none applied;
  - an acknowledged enqueue: exactly one task with args {"n": N}, of that action, in state
    queued, running, ok or interrupted;
  - nothing we did not attempt: no unknown service, no task with an unknown n, no duplicate.
Services of earlier cycles (recorded in STATEFILE, a JSON file this script keeps) must still
exist with the data seen then and every task id seen then (the test runs with a history bound
larger than any service's task count): all of them, or a random SAMPLE of them when given (the
test samples after most cycles and checks all of them after the last one).

Prints "cycle C: acknowledged N (M mkdir, D data, Q enqueue), lost L, bad B" and one line per
problem; exits 1 when L or B is not 0.
"""
import json
import os
import random
import sys

GOOD_STATES = {"queued", "running", "ok", "interrupted"}


def read(path):
    with open(path, "rb") as f:
        return f.read().decode()


def main():
    mnt, logdir, cycle, statefile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    sample = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    tdir = os.path.join(mnt, "c")
    state = {"services": {}}
    if os.path.exists(statefile):
        with open(statefile) as f:
            state = json.load(f)
    problems = []
    lost = bad = 0

    def lose(msg):
        nonlocal lost
        lost += 1
        problems.append("LOST: " + msg)

    def wrong(msg):
        nonlocal bad
        bad += 1
        problems.append("BAD: " + msg)

    # ---- this cycle's logs ----
    mk_att, mk_ack = set(), set()
    data_att = {}   # svc -> [seq...] in order
    data_ack = {}   # svc -> last acknowledged seq
    q_att = {}      # n -> (svc, action)
    q_ack = {}      # n -> (svc, action)
    n_data_ack = 0  # acknowledged data writes (each superseded by the next one)
    for name in sorted(os.listdir(logdir)):
        if not name.endswith(".c%d" % cycle):
            continue
        with open(os.path.join(logdir, name)) as f:
            for line in f:
                w = line.split()
                if not line.endswith("\n") or len(w) < 3:
                    wrong("%s: malformed log line %r" % (name, line))
                    continue
                kind, op, svc = w[0], w[1], w[2]
                if op == "M":
                    (mk_ack if kind == "A" else mk_att).add(svc)
                elif op == "D":
                    seq = int(w[3])
                    if kind == "a":
                        data_att.setdefault(svc, []).append(seq)
                    else:
                        data_ack[svc] = seq
                        n_data_ack += 1
                elif op == "Q":
                    n, action = int(w[3]), w[4]
                    (q_ack if kind == "A" else q_att)[n] = (svc, action)
    n_ack = len(mk_ack) + n_data_ack + len(q_ack)

    # ---- what the robot shows ----
    try:
        present = set(os.listdir(tdir))
    except OSError as e:
        print("cycle %d: cannot list %s: %s" % (cycle, tdir, e))
        return 1
    known = set(state["services"]) | mk_att
    for svc in sorted(present - known):
        wrong("service %s exists but was never created" % svc)
    for svc in sorted(mk_ack - present):
        lose("mkdir %s acknowledged, service missing" % svc)

    def expected_pad(svc, seq):
        return ("%s.%d." % (svc, seq)) * 48

    def read_data(svc):
        try:
            text = read(os.path.join(tdir, svc, "data"))
        except OSError as e:
            wrong("%s/data unreadable: %s" % (svc, e))
            return None
        try:
            d = json.loads(text)
        except ValueError:
            wrong("%s/data is not one whole JSON object: %r" % (svc, text[:200]))
            return None
        if not isinstance(d, dict) or set(d) != {"seq", "w", "pad"}:
            wrong("%s/data has the wrong shape: %r" % (svc, text[:200]))
            return None
        if d["seq"] == 0:
            if d["w"] != "" or d["pad"] != "":
                wrong("%s/data: defaults mixed with a write: %r" % (svc, text[:200]))
                return None
            return 0
        if d["w"] != svc or d["pad"] != expected_pad(svc, d["seq"]):
            wrong("%s/data is not an object we wrote (partial or mixed): %r" % (svc, text[:200]))
            return None
        return d["seq"]

    def list_tasks(svc):
        try:
            return sorted(int(x) for x in os.listdir(os.path.join(tdir, svc, "tasks")) if x.isdigit())
        except OSError as e:
            wrong("%s/tasks unreadable: %s" % (svc, e))
            return []

    new_state = {}
    by_n = {}
    for svc in sorted(mk_att & present):
        seq = read_data(svc)
        att = data_att.get(svc, [])
        if seq is not None:
            if svc in data_ack:
                a = data_ack[svc]
                allowed = {a} | {s for s in att if s > a}
                if seq not in allowed:
                    lose("%s/data has seq %d, the last acknowledged write was %d (allowed %s)"
                         % (svc, seq, a, sorted(allowed)))
            elif seq != 0 and seq not in att:
                wrong("%s/data has seq %d, never written" % (svc, seq))
        ids = list_tasks(svc)
        for tid in ids:
            base = os.path.join(tdir, svc, "tasks", str(tid))
            try:
                args = json.loads(read(base + "/args"))
                tstate = read(base + "/state").strip()
                action = read(base + "/action").strip()
            except (OSError, ValueError) as e:
                wrong("task %s/%d unreadable: %s" % (svc, tid, e))
                continue
            n = args.get("n") if isinstance(args, dict) else None
            if n not in q_att or q_att[n][0] != svc:
                wrong("task %s/%d has args %r: never enqueued there" % (svc, tid, args))
                continue
            if n in by_n:
                wrong("n=%d is in two tasks: %s and %s/%d" % (n, by_n[n], svc, tid))
            by_n[n] = "%s/%d" % (svc, tid)
            if action != q_att[n][1]:
                wrong("task %s/%d is action %s, enqueued as %s" % (svc, tid, action, q_att[n][1]))
            if tstate not in GOOD_STATES:
                wrong("task %s/%d (n=%d) is %s" % (svc, tid, n, tstate))
        new_state[svc] = {"seq": seq, "tasks": ids}
    for n, (svc, action) in sorted(q_ack.items()):
        if n not in by_n:
            lose("enqueue n=%d (%s on %s) acknowledged, no task has it" % (n, action, svc))

    # ---- earlier cycles: nothing that was there may go ----
    older = sorted(state["services"].items())
    if sample and len(older) > sample:
        older = random.sample(older, sample)
    for svc, old in older:
        if svc not in present:
            lose("service %s (an earlier cycle) is gone" % svc)
            continue
        seq = read_data(svc)
        if old["seq"] is not None and seq is not None and seq != old["seq"]:
            lose("%s/data changed from seq %d to %d without a write" % (svc, old["seq"], seq))
        ids = set(list_tasks(svc))
        gone = sorted(set(old["tasks"]) - ids)
        if gone:
            lose("%s: tasks %s (an earlier cycle) are gone" % (svc, gone[:10]))
    state["services"].update(new_state)
    with open(statefile + ".new", "w") as f:
        json.dump(state, f)
    os.replace(statefile + ".new", statefile)

    print("cycle %d: acknowledged %d (%d mkdir, %d data, %d enqueue), lost %d, bad %d;"
          " %d earlier services rechecked"
          % (cycle, n_ack, len(mk_ack), n_data_ack, len(q_ack), lost, bad, len(older)))
    for p in problems[:40]:
        print("  " + p)
    # For the test to sum: every acknowledged syscall, and what was lost or wrong.
    print("TOTALS %d %d %d" % (n_ack, lost, bad))
    return 1 if lost or bad else 0


if __name__ == "__main__":
    sys.exit(main())
