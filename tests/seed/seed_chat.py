"""The seed notebook's framing, server and client (../shared/seed/), unchanged, behind a small CLI.

framechat's legacy profile must interoperate with this code byte for byte:
  python3 seed_chat.py server PORT [SECONDS]   run the seed's ChatServer on 127.0.0.1:PORT (0: any;
                                               prints "listening PORT" first)
  python3 seed_chat.py client PORT MSG...      run the seed's demo_client, print what it receives
"""
import socket, struct, sys, threading, time
from contextlib import closing


def send_msg(sock: socket.socket, text: str):
    data = text.encode('utf-8')
    header = struct.pack('!I', len(data))
    sock.sendall(header + data)


def recv_all(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError('socket closed')
        buf.extend(chunk)
    return bytes(buf)


def recv_msg(sock: socket.socket) -> str:
    header = recv_all(sock, 4)
    (length,) = struct.unpack('!I', header)
    data = recv_all(sock, length)
    return data.decode('utf-8')


class ChatServer:
    def __init__(self, host='127.0.0.1', port=50555):
        self.host = host
        self.port = port
        self.sock = None
        self.clients = set()
        self.lock = threading.Lock()
        self.running = threading.Event()
        self.msg_count = 0
        self.total_service_time = 0.0

    def start(self):
        self.running.set()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((self.host, self.port))
        self.sock.listen(50)
        threading.Thread(target=self._accept_loop, daemon=True).start()
        threading.Thread(target=self._print_metrics_loop, daemon=True).start()

    def _accept_loop(self):
        while self.running.is_set():
            try:
                client, addr = self.sock.accept()
            except OSError:
                break
            with self.lock:
                self.clients.add(client)
            t = threading.Thread(target=self._client_loop, args=(client,), daemon=True)
            t.start()

    def _client_loop(self, client):
        try:
            while self.running.is_set():
                t0 = time.perf_counter()
                msg = recv_msg(client)
                # Echo back
                send_msg(client, f"echo: {msg}")
                # Broadcast to others
                with self.lock:
                    peers = [c for c in self.clients if c is not client]
                for c in peers:
                    try:
                        send_msg(c, f"peer: {msg}")
                    except Exception:
                        pass
                dt = time.perf_counter() - t0
                self.msg_count += 1
                self.total_service_time += dt
        except Exception:
            pass
        finally:
            with self.lock:
                self.clients.discard(client)
            try:
                client.close()
            except Exception:
                pass

    def _print_metrics_loop(self):
        last = time.time()
        last_count = 0
        while self.running.is_set():
            time.sleep(2)
            now = time.time()
            elapsed = now - last
            count = self.msg_count
            delta = count - last_count
            rps = delta/elapsed if elapsed > 0 else 0
            avg_ms = (self.total_service_time/count)*1e3 if count else 0
            print({"messages_total": count, "rps": round(rps,2), "avg_service_ms": round(avg_ms,3)}, flush=True)
            last = now
            last_count = count

    def stop(self):
        self.running.clear()
        if self.sock:
            try:
                self.sock.close()
            except Exception:
                pass


def demo_client(messages=("hello", "world", "from", "client"), host='127.0.0.1', port=50555):
    with closing(socket.create_connection((host, port), timeout=3)) as s:
        s.settimeout(3)
        for m in messages:
            send_msg(s, m)
            echo = recv_msg(s)
            print('recv:', echo, flush=True)


if __name__ == '__main__':
    role, port = sys.argv[1], int(sys.argv[2])
    if role == 'server':
        seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 3600.0
        server = ChatServer(port=port)
        server.start()
        # Port 0 lets the OS choose; the first line tells which it chose.
        print('listening', server.sock.getsockname()[1], flush=True)
        time.sleep(seconds)
        server.stop()
    elif role == 'client':
        demo_client(tuple(sys.argv[3:]), port=port)
    else:
        sys.exit(f'unknown role {role}')
