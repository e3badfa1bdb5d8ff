"""A stand-in tool inside the emulated node: `standin.py <tool> [args...]`.

Forwards its argv (and the transient-unit marker from its environment) to the node's tools
socket, writes the files the answer carries (e.g. `ethtool -w ... data /dev/stdout`), prints its
stdout and stderr and exits with its code. Started as `python -S` on every call, so it imports
nothing but builtin modules (a few ms instead of tens).

Wire format (see `tools.encode_answer`): the request is NUL-terminated fields (tool, unit, argv...)
up to EOF; the answer is a header line "rc stdout-len stderr-len file-count", then per file a
line "path-len data-len" and the path and data bytes, then stdout and stderr.
"""

import _socket
import os
import sys

SOCKET = "/run/agilio-emu/tools.sock"


def ask(fields: list[str]) -> bytes:
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    conn.connect(SOCKET)
    conn.sendall(b"".join(field.encode() + b"\0" for field in fields))
    conn.shutdown(_socket.SHUT_WR)
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    conn.close()
    return b"".join(chunks)


def take_line(data: bytes, at: int) -> tuple[list[int], int]:
    end = data.index(b"\n", at)
    return [int(value) for value in data[at:end].split()], end + 1


def main(argv: list[str]) -> int:
    tool = os.path.basename(argv[1])
    data = ask([tool, os.environ.get("AGILIO_EMU_UNIT", ""), *argv[2:]])
    (rc, out_len, err_len, files), at = take_line(data, 0)
    sys.stdout.flush()
    for _ in range(files):
        (path_len, data_len), at = take_line(data, at)
        path = data[at : at + path_len].decode()
        at += path_len
        with open(path, "wb") as out:
            out.write(data[at : at + data_len])
        at += data_len
    os.write(1, data[at : at + out_len])
    os.write(2, data[at + out_len : at + out_len + err_len])
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
