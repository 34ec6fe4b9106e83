#!/usr/bin/python3
"""Stands in for journald, for tests/lab/test-journal.sh: runs COMMAND with its stderr on a
stream socket connected to journald's stdout socket beside SOCKET, named by JOURNAL_STREAM
(as systemd does for StandardError=journal), receives
the native protocol's datagrams on SOCKET (journald's /run/systemd/journal/socket) and
writes each record as one JSON object per line to RECORDS; what COMMAND writes to stderr
goes to STDERR. Ends when COMMAND ends.

usage: journal-sink.py SOCKET RECORDS STDERR PIDFILE -- COMMAND...
"""
import array
import json
import os
import select
import socket
import struct
import subprocess
import sys


def parse(data):
    """The native protocol: KEY=VALUE\\n, or KEY\\n, a little-endian 64-bit size, the value, \\n."""
    record, i = {}, 0
    while i < len(data):
        nl = data.find(b"\n", i)
        if nl < 0:
            break
        line = data[i:nl]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            i = nl + 1
        else:
            key = line
            (size,) = struct.unpack_from("<Q", data, nl + 1)
            start = nl + 9
            value = data[start:start + size]
            i = start + size + 1
        record[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return record


def receive(sock):
    """One datagram; a record too large for one comes as a memfd (SCM_RIGHTS)."""
    fds = array.array("i")
    data, ancdata, _, _ = sock.recvmsg(1 << 20, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    for fd in fds:
        with os.fdopen(fd, "rb") as f:
            f.seek(0)
            data = f.read()
    return data


def main():
    if len(sys.argv) < 7 or sys.argv[5] != "--":
        sys.exit(__doc__)
    path, records_path, stderr_path, pidfile = sys.argv[1:5]
    command = sys.argv[6:]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        os.unlink(path)
    journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    journal.bind(path)
    # GLib takes stderr for the journal when its peer is journald's stdout socket.
    stdout_path = os.path.join(os.path.dirname(path), "stdout")
    if os.path.exists(stdout_path):
        os.unlink(stdout_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(stdout_path)
    listener.listen(1)
    theirs = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    theirs.connect(stdout_path)
    ours, _ = listener.accept()
    listener.close()
    st = os.fstat(theirs.fileno())
    env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=theirs, stderr=theirs, env=env)
    theirs.close()
    with open(pidfile, "w") as f:
        f.write("%d\n" % child.pid)
    with open(records_path, "a") as records, open(stderr_path, "ab") as stderr:
        stream_open = True
        while stream_open or child.poll() is None:
            readable, _, _ = select.select([journal] + ([ours] if stream_open else []), [], [], 0.2)
            if journal in readable:
                records.write(json.dumps(parse(receive(journal))) + "\n")
                records.flush()
            if ours in readable:
                chunk = ours.recv(65536)
                if chunk:
                    stderr.write(chunk)
                    stderr.flush()
                else:
                    stream_open = False
        # Records sent just before the end.
        while select.select([journal], [], [], 0.2)[0]:
            records.write(json.dumps(parse(receive(journal))) + "\n")
            records.flush()
    os.unlink(path)
    os.unlink(stdout_path)
    sys.exit(child.returncode if child.returncode >= 0 else 128 - child.returncode)


if __name__ == "__main__":
    main()
