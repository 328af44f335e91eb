#!/usr/bin/env python3
"""Hostile-client measurements against a `framechat serve` process: its memory and time to close.

    python3 benches/hostile.py [path/to/framechat]     (default target/release/framechat)

1. 500 connections each declaring a 4 GiB typed frame: each must be refused from its header alone.
2. 200 connections each declaring a 1 MiB frame (the default limit) and sending 1 KiB of it, then
   stalling: the server holds what arrived, not what was declared, and closes them at the frame
   deadline (set to 2 s here).
3. A slow consumer: one typed client never reads while another sends 64 MiB in 4 KiB messages,
   read by a third; the server's memory stays bounded by the queue bound and socket buffers, the
   slow client is disconnected, and the healthy one gets every message.
Prints the server's resident memory (VmRSS, VmHWM from /proc) at each step.
"""
import os, socket, struct, subprocess, sys, threading, time

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/framechat"
PREFACE = b"\xffFCHAT/1\r\n"


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port


def mem(pid):
    fields = {}
    for line in open(f"/proc/{pid}/status"):
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) // 1024
    return f"RSS {fields['VmRSS']} MiB, peak {fields['VmHWM']} MiB"


def chat(text, sent_at=0):
    body = struct.pack("!Q", sent_at) + text
    return struct.pack("!BI", 0x81, len(body)) + body


class Reader:
    """Counts ECHO/BROADCAST frames on a typed connection, parsing in place (no quadratic copies)."""

    def __init__(self, sock):
        self.sock, self.count, self.cond = sock, 0, threading.Condition()

    def run(self, want, timeout=60):
        self.sock.settimeout(timeout)
        buf, start = bytearray(), 0
        while self.count < want:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
            got = 0
            while len(buf) - start >= 5:
                ftype, length = struct.unpack_from("!BI", buf, start)
                if len(buf) - start < 5 + length:
                    break
                got += ftype in (0x82, 0x83)
                start += 5 + length
            del buf[:start]
            start = 0
            with self.cond:
                self.count += got
                self.cond.notify_all()

    def wait_for(self, n):
        with self.cond:
            self.cond.wait_for(lambda: self.count >= n, timeout=60)


def main():
    port = free_port()
    server = subprocess.Popen([BIN, "serve", "--addr", f"127.0.0.1:{port}", "--frame-deadline", "2s",
                               "--metrics-interval", "0s", "--log-level", "error"])
    try:
        time.sleep(0.5)
        print(f"idle server: {mem(server.pid)}")

        t0 = time.perf_counter(); closed = 0
        for _ in range(500):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(PREFACE + struct.pack("!BI", 0x81, 0xFFFFFFFF))
            s.settimeout(5)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            closed += data[5 + 12:].startswith(b"\x86") or b"\x86" in data
            s.close()
        dt = (time.perf_counter() - t0) / 500
        print(f"1. 500 × declared 4 GiB: {closed} got ERROR and a close, {dt * 1e3:.2f} ms each; {mem(server.pid)}")

        socks = []
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(PREFACE + struct.pack("!BI", 0x81, (1 << 20) - 16) + b"x" * 1024)
            socks.append(s)
        time.sleep(0.5)
        print(f"2. 200 × declared 1 MiB − 16 (the CHAT limit, FC-15), 1 KiB sent: {mem(server.pid)} (declared in all: 200 MiB)")
        t0 = time.perf_counter(); closed = 0
        for s in socks:
            s.settimeout(10)
            try:
                while s.recv(4096):
                    pass
                closed += 1
            except OSError:
                pass
        print(f"   all {closed} closed by the frame deadline within {time.perf_counter() - t0 + 0.5:.1f} s of stalling; {mem(server.pid)}")
        for s in socks:
            s.close()

        slow = socket.create_connection(("127.0.0.1", port)); slow.sendall(PREFACE)
        healthy = socket.create_connection(("127.0.0.1", port)); healthy.sendall(PREFACE)
        sender = socket.create_connection(("127.0.0.1", port)); sender.sendall(PREFACE)
        time.sleep(0.3)
        n = 16384; msg = chat(b"y" * 4096)
        healthy_reader, echo_reader = Reader(healthy), Reader(sender)
        threads = [threading.Thread(target=r.run, args=(n,)) for r in (healthy_reader, echo_reader)]
        for t in threads:
            t.start()
        t0 = time.perf_counter()
        # Windowed, as a healthy sender is: at most 256 messages (1 MiB) not yet echoed.
        for sent in range(0, n, 64):
            echo_reader.wait_for(sent - 256)
            sender.sendall(msg * 64)
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        print(f"3. slow consumer: healthy got {healthy_reader.count}/{n}, the sender's echoes "
              f"{echo_reader.count}/{n}, in {elapsed:.2f} s; {mem(server.pid)}")
        slow.settimeout(10); drained = 0; t1 = time.perf_counter()
        try:
            while True:
                chunk = slow.recv(1 << 20)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass
        print(f"   the slow client, reading at last, got {drained / 2**20:.1f} MiB then the close "
              f"(after {time.perf_counter() - t1:.2f} s of reading)")
    finally:
        server.terminate(); server.wait(timeout=10)


if __name__ == "__main__":
    main()
