#!/usr/bin/env python3
"""The single-stream loopback floor for bench/s3/run_s3_bench.sh: the least an HTTP server can do
to move a big body over loopback TCP, so that curl's own cost and the kernel's are measured apart
from the emulator's.

    loopback_floor.py --file FILE --port-file PATH

Listens on 127.0.0.1 (a free port, written to --port-file), one connection at a time:
  GET  anything -> 200 with FILE as the body, sent by sendfile(2) (no copy through user space)
  PUT  anything -> the body is received into one reused 1 MiB buffer and thrown away; 200
Content-Length bodies only; every connection is closed after its response. Stops on SIGTERM.
"""
import argparse
import os
import signal
import socket
import sys


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > 65536:
            return None, b""
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method = lines[0].split(" ", 1)[0]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return (method, headers), rest


def serve(conn, path, buffer):
    request, rest = read_head(conn)
    if request is None:
        return
    method, headers = request
    if method == "PUT":
        remaining = int(headers.get("content-length", "0")) - len(rest)
        view = memoryview(buffer)
        while remaining > 0:
            n = conn.recv_into(view, min(len(buffer), remaining))
            if n == 0:
                return
            remaining -= n
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    else:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n" % size)
            conn.sendfile(f)  # os.sendfile underneath, waiting for the socket as it fills


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", required=True)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(listener.getsockname()[1]))
    os.rename(tmp, args.port_file)
    buffer = bytearray(1 << 20)
    while True:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(300)
            try:
                serve(conn, args.file, buffer)
            except OSError:
                pass


if __name__ == "__main__":
    main()
