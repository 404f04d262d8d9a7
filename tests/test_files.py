"""FileServer and FileClient on loopback: the line protocol (sized, resumed, classic), under
every I/O model, and the server's promises: nothing torn, nothing escapes the root, every
limit answered with its reason."""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

import netlab
from conftest import MODEL_OPTIONS, connect, recv_until_closed, wait_until
import classic_file_client as classic


def make_file(path: Path, size: int, seed: int = 1) -> str:
    """A file of `size` bytes that is not one byte repeated; returns its sha256."""
    block = hashlib.sha256(str(seed).encode()).digest() * 32768  # 1 MiB
    sha = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            piece = block[: min(left, len(block))]
            f.write(piece)
            sha.update(piece)
            left -= len(piece)
    return sha.hexdigest()


def sha_of(path: Path) -> str:
    return netlab.sha256_file(path)


def reply(port: int, data: bytes, shut: bool = True) -> bytes:
    with connect(port) as sock:
        sock.sendall(data)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        return recv_until_closed(sock)


def read_line(sock: socket.socket) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        line += chunk
    return line


@pytest.fixture(params=MODEL_OPTIONS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[netlab.FileServer]:
    with netlab.FileServer(0, root=str(tmp_path / "root"), **request.param) as s:
        yield s


@pytest.fixture
def root(server: netlab.FileServer) -> Path:
    return Path(server.root)


def client(server: netlab.Server) -> netlab.FileClient:
    return netlab.FileClient("127.0.0.1", server.port, timeout=20)


@pytest.mark.parametrize("size", [0, 1, 100_000])
def test_upload_then_download_every_model(server: netlab.FileServer, root: Path,
                                          tmp_path: Path, size: int) -> None:
    src = tmp_path / "src.bin"
    sha = make_file(src, size)
    up = client(server).upload(src, "f.bin")
    assert (up["size"], up["sha256"], up["resumed_from"]) == (size, sha, 0)
    assert sha_of(root / "f.bin") == sha
    down = client(server).download("f.bin", tmp_path / "copy.bin")
    assert (down["size"], down["sha256"]) == (size, sha)
    assert sha_of(tmp_path / "copy.bin") == sha
    assert not (tmp_path / "copy.bin.part").exists()
    stats = server.stats()
    assert stats["files_stored"] == 1 and stats["files_served"] == (1 if size else 1)
    assert stats["protocols"]["line"] == 2
    assert stats["files_hashed"] == 0  # the upload's own hash was kept


def test_large_file_every_model(server: netlab.FileServer, tmp_path: Path) -> None:
    """64 MiB each way (1 GiB under epoll: test_gigabyte_with_flat_memory)."""
    src = tmp_path / "big.bin"
    sha = make_file(src, 64 << 20, seed=2)
    assert client(server).upload(src)["sha256"] == sha
    client(server).download("big.bin", tmp_path / "back.bin")
    assert sha_of(tmp_path / "back.bin") == sha
    assert server.stats()["sendfile_bytes"] == 64 << 20


def test_classic_client_unchanged(server: netlab.FileServer, root: Path) -> None:
    data = os.urandom(300_000)
    assert classic.upload(server.port, "classic.bin", data) == b"OK"
    wait_until(lambda: (root / "classic.bin").exists(), what="the classic upload stored")
    assert (root / "classic.bin").read_bytes() == data
    assert classic.download(server.port, "classic.bin") == (b"OK", data)
    assert classic.download(server.port, "missing.bin") == (b"NOFILE", b"")
    assert classic.download(server.port, "../etc/passwd") == (b"NOFILE", b"")
    assert classic.upload(server.port, "../escape.bin", b"x") == b"NOFILE"
    # The classic upload's end is the client's close; its size is whatever came.
    assert classic.upload(server.port, "empty.bin", b"") == b"OK"
    wait_until(lambda: (root / "empty.bin").exists(), what="the empty upload stored")
    assert (root / "empty.bin").read_bytes() == b""


def test_hundred_concurrent_downloads(server: netlab.FileServer, tmp_path: Path) -> None:
    src = tmp_path / "shared.bin"
    sha = make_file(src, 1 << 20, seed=3)
    client(server).upload(src)
    errors: list[BaseException] = []

    def fetch(i: int) -> None:
        try:
            out = tmp_path / f"d{i}.bin"
            assert client(server).download("shared.bin", out)["sha256"] == sha
            assert sha_of(out) == sha
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors[:3]
    assert server.stats()["files_served"] == 100


def test_upload_cut_at_half_then_resumed(server: netlab.FileServer, root: Path,
                                         tmp_path: Path) -> None:
    src = tmp_path / "r.bin"
    size = 4 << 20
    sha = make_file(src, size, seed=4)
    data = src.read_bytes()
    with connect(server.port) as sock:
        sock.sendall(f"UPLOAD r.bin {size} {sha}\n".encode() + data[: size // 2])
        time.sleep(0.2)
    c = client(server)
    wait_until(lambda: c.stat("r.bin") == {"exists": False, "size": size, "sha256": None,
                                           "partial": size // 2},
               what="the partial upload kept")
    assert not (root / "r.bin").exists()  # never renamed into place half-written
    # The name stays busy until the cut connection's last write is on disk (a moment).
    resumed: list[dict[str, object]] = []

    def resume() -> bool:
        try:
            resumed.append(dict(c.upload(src)))
            return True
        except OSError as e:
            assert e.errno == errno.EBUSY, e
            return False

    wait_until(resume, what="the resume admitted")
    up = resumed[0]
    assert up["resumed_from"] == size // 2 and up["sha256"] == sha
    assert sha_of(root / "r.bin") == sha
    assert server.stats()["resumes"] == 1
    assert list((root / ".netlab" / "partial").iterdir()) == []


def test_download_broken_then_resumed(server: netlab.FileServer, tmp_path: Path) -> None:
    src = tmp_path / "d.bin"
    sha = make_file(src, 2 << 20, seed=5)
    client(server).upload(src)
    out = tmp_path / "out.bin"
    part = Path(str(out) + ".part")
    part.write_bytes(src.read_bytes()[: 1 << 20])  # what a broken call left
    down = client(server).download("d.bin", out)
    assert down["resumed_from"] == 1 << 20 and sha_of(out) == sha
    # A .part of some other file: the mismatch is found and the download starts over.
    part.write_bytes(b"x" * 1000)
    out.unlink()
    down = client(server).download("d.bin", out)
    assert down["resumed_from"] == 0 and sha_of(out) == sha


@pytest.mark.parametrize("options", MODEL_OPTIONS)
def test_stalled_upload_frees_its_slot(tmp_path: Path, options: dict) -> None:
    with netlab.FileServer(0, root=str(tmp_path / "root"), upload_timeout=0.5,
                           max_uploads=1, **options) as s:
        with connect(s.port) as stalled:
            stalled.sendall(b"UPLOAD slow.bin 1000\n" + b"a" * 400)
            wait_until(lambda: client(s).stat("slow.bin")["partial"] == 400,
                       what="the upload admitted")
            with connect(s.port) as other:  # the one slot is taken
                other.sendall(b"UPLOAD other.bin 1 \n")
                assert read_line(other) == b"ERR too_many_uploads\n"
            assert recv_until_closed(stalled) == b""  # cut after upload_timeout
        assert s.stats()["refusals"]["stalled"] == 1
        wait_until(lambda: s.stats()["closes"]["idle_timeout"] == 1, what="the close counted")
        c = client(s)
        assert c.stat("slow.bin")["partial"] == 400  # kept for a resume
        src = tmp_path / "o.bin"
        src.write_bytes(b"o")
        assert c.upload(src, "other.bin")["size"] == 1  # the slot is free again


def test_two_uploads_of_one_name(server: netlab.FileServer, root: Path) -> None:
    first = b"1" * 100_000
    sha1 = hashlib.sha256(first).hexdigest()
    with connect(server.port) as a:
        a.sendall(f"UPLOAD same.bin {len(first)} {sha1}\n".encode() + first[:50_000])
        wait_until(lambda: client(server).stat("same.bin")["partial"] is not None
                   or server.stats()["bytes_in"] > 50_000, what="the first upload under way")
        with connect(server.port) as b:
            b.sendall(b"UPLOAD same.bin 5\nhello")
            assert read_line(b) == b"ERR busy\n"
        status = reply(server.port, b"PUT /same.bin HTTP/1.1\r\nHost: x\r\n"
                                    b"Content-Length: 5\r\n\r\nhello")
        assert status.startswith(b"HTTP/1.1 409 ")
        assert not (root / "same.bin").exists()
        a.sendall(first[50_000:])
        assert read_line(a) == f"OK {len(first)} {sha1}\n".encode()
    assert (root / "same.bin").read_bytes() == first
    assert server.stats()["refusals"]["busy"] == 2


def test_reader_sees_old_file_until_new_one_is_whole(server: netlab.FileServer,
                                                     root: Path) -> None:
    (root / "doc.txt").write_bytes(b"old version\n")
    new = b"new version " * 10000
    with connect(server.port) as up:
        up.sendall(f"UPLOAD doc.txt {len(new)}\n".encode() + new[:60_000])
        time.sleep(0.2)
        assert classic.download(server.port, "doc.txt") == (b"OK", b"old version\n")
        up.sendall(new[60_000:])
        assert read_line(up).startswith(f"OK {len(new)} ".encode())
    assert classic.download(server.port, "doc.txt") == (b"OK", new)


@pytest.mark.parametrize("name", ["../outside.txt", "/etc/passwd", "a/../../outside.txt",
                                  "bad\x01name", ".netlab/sums/x", "link", "dirlink/outside.txt",
                                  "up/outside.txt"])
def test_escape_attempts(tmp_path: Path, name: str) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"secret\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside)  # planted inside the root, pointing out
    (root / "dirlink").symlink_to(tmp_path)
    (root / "up").symlink_to("..")
    with netlab.FileServer(0, root=str(root)) as s:
        got = reply(s.port, f"DOWNLOAD {name} 0\n".encode())
        assert got.startswith(b"ERR bad_name") or got.startswith(b"ERR forbidden"), got
        assert b"secret" not in got
        assert classic.download(s.port, name) == (b"NOFILE", b"")
        path = name.replace("\x01", "%01")
        got = reply(s.port, f"GET /{path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert got.split(b" ")[1] in (b"400", b"403", b"404"), got[:100]
        assert b"secret" not in got
        got = reply(s.port, f"PUT /{path} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n"
                            f"abc".encode())
        line = reply(s.port, f"UPLOAD {name} 3\nabc".encode())
        if name == "link":  # an upload replaces the link itself, never what it points at
            assert got.startswith(b"HTTP/1.1 200 "), got[:100]
            assert line.startswith(b"OK 3 "), line
            assert not (root / "link").is_symlink()
        else:
            assert got.split(b" ")[1] in (b"400", b"403", b"404"), got[:100]
            assert line.startswith(b"ERR "), line
    assert outside.read_bytes() == b"secret\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside.txt", "root"]


def test_symlink_into_the_hidden_area(tmp_path: Path) -> None:
    """A link inside the root that leads into .netlab does not open it: partial uploads and
    checksum records stay out of reach."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "pub").symlink_to(".netlab")
    with netlab.FileServer(0, root=str(root)) as s:
        (root / ".netlab" / "partial" / "secret.part").write_bytes(b"half an upload")
        got = reply(s.port, b"GET /pub/partial/secret.part HTTP/1.1\r\nHost: x\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 403 "), got[:60]
        assert reply(s.port, b"DOWNLOAD pub/partial/secret.part 0\n").startswith(b"ERR forbidden")
        assert reply(s.port, b"LIST pub\n").startswith(b"ERR forbidden")
        got = reply(s.port, b"PUT /pub/sums/1-2 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
        assert got.startswith(b"HTTP/1.1 403 "), got[:60]
    assert not (root / ".netlab" / "sums" / "1-2").exists()


def test_quota_max_file_and_checksum(tmp_path: Path) -> None:
    with netlab.FileServer(0, root=str(tmp_path / "root"), quota=1000, max_file=800) as s:
        c = client(s)
        src = tmp_path / "a.bin"
        src.write_bytes(b"a" * 600)
        c.upload(src)
        with pytest.raises(OSError) as full:
            c.upload(src, "b.bin")
        assert full.value.errno == errno.ENOSPC and "quota" in str(full.value)
        got = reply(s.port, b"PUT /b.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 600\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 507 ")
        big = tmp_path / "big.bin"
        big.write_bytes(b"b" * 900)
        with pytest.raises(OSError) as large:
            c.upload(big)
        assert large.value.errno == errno.EFBIG
        got = reply(s.port, b"PUT /c.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 413 ")
        # Replacing a file frees its old bytes: 600 -> 300 leaves room for 600 more.
        src.write_bytes(b"a" * 300)
        c.upload(src)
        assert s.stats()["used_bytes"] == 300
        wrong = "0" * 64
        got = reply(s.port, f"UPLOAD d.bin 3 {wrong}\nabc".encode())
        assert got.startswith(b"ERR checksum sha256 mismatch"), got
        assert not (Path(s.root) / "d.bin").exists()
        refusals = s.stats()["refusals"]
        assert refusals["quota"] == 2 and refusals["too_large"] == 2
        assert refusals["checksum"] == 1


def test_files_placed_by_hand_are_hashed_once(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    sha = make_file(root / "placed.bin", 8 << 20, seed=6)
    with netlab.FileServer(0, root=str(root)) as s:
        results: list[dict[str, object]] = []
        threads = [threading.Thread(target=lambda: results.append(client(s).stat("placed.bin")))
                   for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert [r["sha256"] for r in results] == [sha] * 10
        assert client(s).download("placed.bin", tmp_path / "p.bin")["sha256"] == sha
        assert s.stats()["files_hashed"] == 1
    with netlab.FileServer(0, root=str(root)) as s:  # the record outlives the process
        assert client(s).stat("placed.bin")["sha256"] == sha
        assert s.stats()["files_hashed"] == 0
    (root / "placed.bin").write_bytes(b"changed")  # a changed file is hashed anew
    with netlab.FileServer(0, root=str(root)) as s:
        assert client(s).stat("placed.bin")["sha256"] == hashlib.sha256(b"changed").hexdigest()


def test_line_commands_and_errors(server: netlab.FileServer, root: Path) -> None:
    (root / "sub").mkdir()
    (root / "sub" / "x.txt").write_bytes(b"x")
    (root / "a.txt").write_bytes(b"hello")
    with connect(server.port) as sock:
        sock.sendall(b"LIST\n")
        lines = [read_line(sock) for _ in range(3)]
        assert lines == [b"FILE 5 a.txt\n", b"DIR sub\n", b"END 2\n"]  # .netlab is hidden
        sock.sendall(b"LIST sub\nSTAT nothing\nDOWNLOAD a.txt 3\n")
        assert [read_line(sock) for _ in range(3)] == [b"FILE 1 x.txt\n", b"END 1\n",
                                                       b"NOFILE\n"]
        size_line = read_line(sock)
        assert size_line == b"SIZE 5 " + hashlib.sha256(b"hello").hexdigest().encode() + b"\n"
        assert sock.recv(2) == b"lo"
        sock.sendall(b"DOWNLOAD a.txt 6\n")
        assert read_line(sock) == b"ERR bad_range offset past the end\n"
        sock.sendall(b"UPLOAD nodir/x.txt 1\nx")
        assert read_line(sock).startswith(b"ERR not_found")
    assert reply(server.port, b"FROB\n") == b"ERR bad_command unknown command\n"
    assert reply(server.port, b"UPLOAD a 12x\n") == b"ERR bad_command size or sha256 malformed\n"
    assert reply(server.port, b"A" * 10000) == b"ERR bad_command line too long\n"


def test_gigabyte_with_flat_memory(tmp_path: Path) -> None:
    """1 GiB up and down under epoll through the CLI's server; its RSS stays under 64 MiB."""
    from conftest import CliServer

    src = tmp_path / "giga.bin"
    sha = make_file(src, 1 << 30, seed=7)
    with CliServer("files", "--root", str(tmp_path / "root")) as s:
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], s.rss_kib())
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            c = netlab.FileClient("127.0.0.1", s.port, timeout=60)
            assert c.upload(src)["sha256"] == sha
            assert c.download("giga.bin", tmp_path / "back.bin")["sha256"] == sha
        finally:
            done.set()
            sampler.join()
        assert peak[0] < 64 * 1024, f"server RSS peaked at {peak[0]} KiB"
    assert sha_of(tmp_path / "back.bin") == sha


def test_cli_put_and_get(tmp_path: Path) -> None:
    import subprocess
    import sys

    src = tmp_path / "cli.bin"
    sha = make_file(src, 3 << 20, seed=8)
    with netlab.FileServer(0, root=str(tmp_path / "root")) as s:
        target = f"127.0.0.1:{s.port}"
        run = [sys.executable, "-m", "netlab"]
        put = subprocess.run(run + ["put", target, str(src), "named.bin"], capture_output=True,
                             text=True, timeout=60)
        assert put.returncode == 0, put.stderr
        assert put.stdout.startswith(f"{sha}  named.bin  (3145728 bytes")
        get = subprocess.run(run + ["get", target, "named.bin", str(tmp_path)],
                             capture_output=True, text=True, timeout=60)
        assert get.returncode == 0, get.stderr
        assert sha_of(tmp_path / "named.bin") == sha
        missing = subprocess.run(run + ["get", target, "nope.bin", str(tmp_path)],
                                 capture_output=True, text=True, timeout=60)
        assert missing.returncode == 1 and "not_found" in missing.stderr


def test_progress_and_cancel(server: netlab.FileServer, tmp_path: Path) -> None:
    """A progress callback that raises (as Ctrl+C does) stops the transfer with its exception;
    what was sent stays on the server for a resume."""
    src = tmp_path / "p.bin"
    sha = make_file(src, 256 << 20, seed=9)
    seen: list[tuple[int, int]] = []

    def stop_midway(done: int, total: int) -> None:
        seen.append((done, total))
        if done > 0:
            raise KeyboardInterrupt

    c = client(server)
    with pytest.raises(KeyboardInterrupt):
        c.upload(src, progress=stop_midway)
    assert seen[-1][1] == 256 << 20 and 0 < seen[-1][0] < 256 << 20

    def finished() -> bool:
        try:
            calls: list[tuple[int, int]] = []
            up = c.upload(src, progress=lambda d, t: calls.append((d, t)))
        except OSError as e:  # the cut connection's last writes are still landing
            assert e.errno == errno.EBUSY
            return False
        assert up["sha256"] == sha and up["resumed_from"] > 0
        assert calls[-1] == (256 << 20, 256 << 20)
        return True

    wait_until(finished, what="the resumed upload")


def test_flood_of_small_downloads_never_read(server: netlab.FileServer, root: Path) -> None:
    """Thousands of pipelined DOWNLOADs of a small file from a client that reads nothing:
    the server stops reading it at the high-water mark (small files are copied, not held as
    open descriptors) and serves everyone else."""
    (root / "tiny.txt").write_bytes(b"t" * 100)
    flood = socket.create_connection(("127.0.0.1", server.port))
    flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    flood.setblocking(False)
    sent = 0
    command = b"DOWNLOAD tiny.txt 0\n" * 1000
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            sent += flood.send(command)
        except BlockingIOError:
            time.sleep(0.05)
    fds = len(os.listdir("/proc/self/fd"))
    assert fds < 200, f"{fds} open descriptors"
    assert classic.download(server.port, "tiny.txt") == (b"OK", b"t" * 100)
    assert sent > 100_000
    flood.close()
