#!/usr/bin/env python3
"""A web app served the way gunicorn serves one, with the standard library only.

The master binds the listening socket, forks WORKERS workers that accept on it, and then
only watches them: a worker that dies is replaced; SIGHUP replaces every worker (new code
without dropping the socket); SIGTERM or SIGINT stops the workers and exits 0. Under tend
the master is the program (tend restarts it if it dies) and the workers are its children,
in its process group (stopasgroup/killasgroup in tend.conf reach them too).

    app.py [--bind HOST:PORT] [--workers N]
"""
import argparse
import http.server
import os
import signal
import socket
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"hello from worker {os.getpid()} of master {os.getppid()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print(f"worker {os.getpid()}: {self.address_string()} {fmt % args}", flush=True)


def worker(listener):
    # The master's handlers are not ours: default dispositions, SIGTERM ends the worker.
    for sig in (signal.SIGHUP, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        conn, addr = listener.accept()
        try:
            Handler(conn, addr, None)
        except OSError:
            pass
        finally:
            conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="127.0.0.1:8000")
    ap.add_argument("--workers", type=int, default=3)
    args = ap.parse_args()
    host, port = args.bind.rsplit(":", 1)

    listener = socket.create_server((host, int(port)), backlog=128)
    workers = set()
    stopping = False

    def spawn():
        pid = os.fork()
        if pid == 0:
            try:
                worker(listener)
            finally:
                os._exit(1)
        workers.add(pid)
        print(f"master {os.getpid()}: worker {pid} started", flush=True)

    def signal_workers():
        for pid in list(workers):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass  # already gone (a signal to the whole group reached it first)

    def on_term(signum, frame):
        nonlocal stopping
        stopping = True
        signal_workers()

    def on_hup(signum, frame):
        print(f"master {os.getpid()}: SIGHUP, replacing every worker", flush=True)
        signal_workers()  # each one is replaced when it has exited

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGHUP, on_hup)
    print(f"master {os.getpid()}: listening on {host}:{port}", flush=True)
    for _ in range(args.workers):
        spawn()
    while workers:
        try:
            pid, status = os.wait()
        except InterruptedError:
            continue
        except ChildProcessError:
            break
        workers.discard(pid)
        print(f"master {os.getpid()}: worker {pid} exited ({status})", flush=True)
        if not stopping:
            spawn()
    print(f"master {os.getpid()}: every worker stopped, exiting", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
