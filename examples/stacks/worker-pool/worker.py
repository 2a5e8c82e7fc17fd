#!/usr/bin/env python3
"""A celery-style worker: takes jobs from a queue and does them, one at a time. Run N of
them (numprocs=N in tend.conf) for a pool; each has its own name (%(process_num)s).

The queue is a spool directory, standard library only: a job is a file in SPOOL/queue/; a
worker claims it by renaming it into SPOOL/claimed/ (rename is atomic: exactly one worker
wins), writes its result to SPOOL/done/ and removes the claim. SIGTERM lets the current job
finish, then the worker exits 0 (a warm shutdown, as celery's).

    worker.py NAME SPOOL
"""
import os
import signal
import sys
import time

stop = False


def on_term(signum, frame):
    global stop
    stop = True


def work(name, spool, job):
    claimed = os.path.join(spool, "claimed", f"{name}-{job}")
    try:
        os.rename(os.path.join(spool, "queue", job), claimed)
    except FileNotFoundError:
        return  # another worker took it
    with open(claimed) as f:
        payload = f.read().strip()
    result = f"{job} {payload.upper()} by {name} pid {os.getpid()}\n"
    tmp = os.path.join(spool, "done", f".{job}.tmp")
    with open(tmp, "w") as f:
        f.write(result)
    os.rename(tmp, os.path.join(spool, "done", job))
    os.unlink(claimed)
    print(f"{name}: did {job}", flush=True)


def main():
    name, spool = sys.argv[1], sys.argv[2]
    for d in ("queue", "claimed", "done"):
        os.makedirs(os.path.join(spool, d), exist_ok=True)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    print(f"{name}: ready, pid {os.getpid()}", flush=True)
    while not stop:
        jobs = sorted(j for j in os.listdir(os.path.join(spool, "queue")) if j.endswith(".job"))
        for job in jobs:
            if stop:
                break
            work(name, spool, job)
        if not jobs:
            time.sleep(0.2)  # an idle worker looks again five times a second
    print(f"{name}: warm shutdown", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
