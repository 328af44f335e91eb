#!/usr/bin/env python3
"""Hostile handshakes against the TLS listener of a `framechat serve` process (§10.1).

    python3 benches/hostile_tls.py BIN CERT KEY

1. 500 connections to the TLS port that send nothing (a stalled handshake): the server's memory
   while they are held, and how long after connecting each is closed (handshake deadline: 2 s).
2. 500 connections that send the typed preface to the TLS port (a client that does not speak TLS):
   how fast each is closed.
3. After both, a TLS client still connects and completes its handshake (the listener is not
   starved), checked with Python's own ssl module against the same certificate.
Prints the server's resident memory (VmRSS, VmHWM from /proc) at each step, and the metrics
endpoint's count of failed handshakes.
"""
import socket, ssl, subprocess, sys, time, urllib.request

BIN, CERT, KEY = sys.argv[1:4]
PREFACE = b"\xffFCHAT/1\r\n"
DEADLINE_S = 2.0


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port


def mem(pid):
    fields = {}
    for line in open(f"/proc/{pid}/status"):
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


def failed_handshakes(metrics_port):
    body = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read()
    for line in body.decode().splitlines():
        if line.startswith("framechat_tls_handshakes_failed_total "):
            return int(line.split()[1])
    raise SystemExit("no framechat_tls_handshakes_failed_total in the metrics")


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close(); return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def closed_after(socks, opened_at, limit_s):
    """Seconds from opening until the server closed each socket (None: still open at the limit)."""
    closed = [None] * len(socks)
    for sock in socks:
        sock.setblocking(False)
    end = time.monotonic() + limit_s
    while time.monotonic() < end and None in closed:
        for i, sock in enumerate(socks):
            if closed[i] is not None:
                continue
            try:
                data = sock.recv(4096)
                if not data:
                    closed[i] = time.monotonic() - opened_at[i]
            except BlockingIOError:
                pass
            except OSError:
                closed[i] = time.monotonic() - opened_at[i]
        time.sleep(0.01)
    return closed


def summary(times):
    done = sorted(t for t in times if t is not None)
    if not done:
        return "none closed"
    return (f"{len(done)} of {len(times)} closed; after {done[0]:.2f} s (first), "
            f"{done[len(done) // 2]:.2f} s (median), {done[-1]:.2f} s (last)")


def main():
    port, tls_port, metrics_port = free_port(), free_port(), free_port()
    server = subprocess.Popen([BIN, "serve", "--addr", f"127.0.0.1:{port}", "--tls-cert", CERT,
                               "--tls-key", KEY, "--tls-addr", f"127.0.0.1:{tls_port}",
                               "--tls-handshake-timeout", f"{DEADLINE_S:g}s",
                               "--metrics-addr", f"127.0.0.1:{metrics_port}",
                               "--max-connections", "4096",
                               "--metrics-interval", "0s", "--log-level", "error"])
    try:
        wait_port(tls_port); wait_port(metrics_port)
        base_failed = failed_handshakes(metrics_port)
        idle_rss, idle_peak = mem(server.pid)
        print(f"idle server: RSS {idle_rss} KiB, peak {idle_peak} KiB")

        socks, opened = [], []
        for _ in range(500):
            socks.append(socket.create_connection(("127.0.0.1", tls_port)))
            opened.append(time.monotonic())
        time.sleep(0.5)
        rss_held, _ = mem(server.pid)
        times = closed_after(socks, opened, DEADLINE_S * 5)
        rss, peak = mem(server.pid)
        print(f"1. 500 stalled handshakes: RSS {rss_held} KiB while held "
              f"({(rss_held - idle_rss) / 500:.1f} KiB each); {summary(times)}; "
              f"then RSS {rss} KiB, peak {peak} KiB")
        for sock in socks:
            sock.close()

        socks, opened = [], []
        for _ in range(500):
            sock = socket.create_connection(("127.0.0.1", tls_port))
            sock.sendall(PREFACE)
            socks.append(sock); opened.append(time.monotonic())
        times = closed_after(socks, opened, DEADLINE_S * 5)
        rss, peak = mem(server.pid)
        print(f"2. 500 non-TLS clients (the typed preface): {summary(times)}; RSS {rss} KiB, peak {peak} KiB")
        for sock in socks:
            sock.close()

        context = ssl.create_default_context(cafile=CERT)
        began = time.monotonic()
        with socket.create_connection(("127.0.0.1", tls_port)) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(PREFACE)
                first = tls.recv(5)
        print(f"3. a TLS client afterwards: handshake and WELCOME in {(time.monotonic() - began) * 1000:.1f} ms "
              f"(first frame type {first[0]:#04x})")
        print(f"failed handshakes counted: {failed_handshakes(metrics_port) - base_failed} (of 1000 hostile)")
    finally:
        server.terminate(); server.wait(timeout=30)


if __name__ == "__main__":
    main()
