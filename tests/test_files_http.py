"""FileServer's HTTP side with the clients people use: curl (-O, -r, -C -, -T, -I), wget -c,
and nc speaking the classic bare commands on the same port."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

import netlab
from conftest import MODEL_OPTIONS, connect, recv_until_closed, wait_until
from test_files import make_file, read_line

pytestmark = pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[netlab.FileServer, Path, str]]:
    """A server whose root holds data.bin (3 MiB + 5 bytes) and sub/note.txt."""
    root = tmp_path / "root"
    root.mkdir()
    sha = make_file(root / "data.bin", (3 << 20) + 5, seed=11)
    (root / "sub").mkdir()
    (root / "sub" / "note.txt").write_text("a note\n")
    with netlab.FileServer(0, root=str(root)) as s:
        yield s, root, sha


def curl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["curl", "-sS", "--max-time", "60", *args], capture_output=True,
                          cwd=cwd, timeout=90)


def file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("options", MODEL_OPTIONS)
def test_curl_get_range_and_put_every_model(tmp_path: Path, options: dict) -> None:
    root = tmp_path / "root"
    root.mkdir()
    sha = make_file(root / "m.bin", 1 << 20, seed=12)
    with netlab.FileServer(0, root=str(root), **options) as s:
        url = f"{s.url}/m.bin"
        full = curl("-o", str(tmp_path / "got.bin"), "-w", "%{http_code}", url)
        assert full.stdout == b"200" and file_sha(tmp_path / "got.bin") == sha
        part = curl("-r", "1000-1999", "-w", "%{http_code}", "-o", str(tmp_path / "r.bin"), url)
        assert part.stdout == b"206"
        assert (tmp_path / "r.bin").read_bytes() == (root / "m.bin").read_bytes()[1000:2000]
        put = curl("-T", str(root / "m.bin"), "-w", "%{http_code}", "-o", os.devnull,
                   f"{s.url}/copy.bin")
        assert put.stdout == b"201"
        assert file_sha(root / "copy.bin") == sha
        assert s.stats()["protocols"]["http"] == 3


def test_curl_download_and_resume(served: tuple[netlab.FileServer, Path, str],
                                  tmp_path: Path) -> None:
    s, root, sha = served
    out = tmp_path / "dl"
    out.mkdir()
    got = curl("-O", f"{s.url}/data.bin", cwd=out)
    assert got.returncode == 0 and file_sha(out / "data.bin") == sha
    (out / "data.bin").write_bytes((root / "data.bin").read_bytes()[: 1 << 20])  # cut
    resumed = curl("-C", "-", "-O", "-w", "%{http_code} %{size_download}", f"{s.url}/data.bin",
                   cwd=out)
    assert resumed.stdout == f"206 {(2 << 20) + 5}".encode(), resumed.stderr
    assert file_sha(out / "data.bin") == sha


@pytest.mark.skipif(not shutil.which("wget"), reason="wget is not installed")
def test_wget_continue(served: tuple[netlab.FileServer, Path, str], tmp_path: Path) -> None:
    s, root, sha = served
    (tmp_path / "data.bin").write_bytes((root / "data.bin").read_bytes()[:12345])
    run = subprocess.run(["wget", "-q", "-c", "-T", "30", f"{s.url}/data.bin"], cwd=tmp_path,
                         capture_output=True, timeout=90)
    assert run.returncode == 0, run.stderr
    assert file_sha(tmp_path / "data.bin") == sha
    assert s.stats()["sendfile_bytes"] == (3 << 20) + 5 - 12345


def test_head_validators_and_conditional_get(
        served: tuple[netlab.FileServer, Path, str]) -> None:
    s, root, _ = served
    head = curl("-I", f"{s.url}/data.bin").stdout.decode()
    fields = dict(line.split(": ", 1) for line in head.strip().splitlines()[1:])
    assert head.startswith("HTTP/1.1 200 OK")
    assert fields["Content-Length"] == str((3 << 20) + 5)
    assert fields["Accept-Ranges"] == "bytes"
    etag, modified = fields["ETag"], fields["Last-Modified"]
    assert etag.startswith('"') and modified.endswith("GMT")
    again = curl("-o", os.devnull, "-w", "%{http_code}", "-H", f"If-None-Match: {etag}",
                 f"{s.url}/data.bin")
    assert again.stdout == b"304"
    since = curl("-o", os.devnull, "-w", "%{http_code}", "-H", f"If-Modified-Since: {modified}",
                 f"{s.url}/data.bin")
    assert since.stdout == b"304"
    stale = curl("-o", os.devnull, "-w", "%{http_code} %{size_download}", "-r", "0-9",
                 "-H", 'If-Range: "other"', f"{s.url}/data.bin")
    assert stale.stdout == f"200 {(3 << 20) + 5}".encode()  # the whole, newer file
    past = curl("-D", "-", "-o", os.devnull, "-r", "99999999-", f"{s.url}/data.bin")
    assert b" 416 " in past.stdout and f"bytes */{(3 << 20) + 5}".encode() in past.stdout
    suffix = curl("-r", "-5", f"{s.url}/data.bin").stdout
    assert suffix == (root / "data.bin").read_bytes()[-5:]
    assert s.stats()["refusals"]["bad_range"] == 1


def test_etag_changes_with_every_upload(served: tuple[netlab.FileServer, Path, str],
                                        tmp_path: Path) -> None:
    """Two versions of one size stored within the same second differ in ETag, so a 304 or an
    If-Range resume never mixes them."""
    s, _, _ = served
    tags = []
    for content in (b"version 1", b"version 2"):
        (tmp_path / "v.txt").write_bytes(content)
        curl("-T", str(tmp_path / "v.txt"), "-o", os.devnull, f"{s.url}/v.txt")
        head = curl("-I", f"{s.url}/v.txt").stdout.decode()
        tags.append(next(l for l in head.splitlines() if l.startswith("ETag: ")))
    assert tags[0] != tags[1]


def test_directory_listing(served: tuple[netlab.FileServer, Path, str]) -> None:
    s, _, _ = served
    (Path(s.root) / "a b&c.txt").write_text("x")
    page = curl(f"{s.url}/").stdout.decode()
    assert '<a href="data.bin">data.bin</a>' in page
    assert '<a href="sub/">sub/</a>' in page
    assert '<a href="a%20b%26c.txt">a b&amp;c.txt</a>' in page
    assert ".netlab" not in page
    moved = curl("-o", os.devnull, "-w", "%{http_code} %{redirect_url}", f"{s.url}/sub")
    assert moved.stdout.decode() == f"301 {s.url}/sub/"
    assert "note.txt" in curl("-L", f"{s.url}/sub").stdout.decode()
    assert curl("-o", os.devnull, "-w", "%{http_code}", f"{s.url}/.netlab/").stdout == b"400"
    assert curl("-o", os.devnull, "-w", "%{http_code}", f"{s.url}/nope").stdout == b"404"


def test_put_replaces_atomically_and_checks_sha(served: tuple[netlab.FileServer, Path, str],
                                               tmp_path: Path) -> None:
    s, root, _ = served
    src = tmp_path / "up.bin"
    sha = make_file(src, 5 << 20, seed=13)
    first = curl("-T", str(src), "-w", "%{http_code}", "-o", os.devnull, f"{s.url}/up.bin")
    again = curl("-T", str(src), "-w", "%{http_code}", "-D", "-", f"{s.url}/up.bin")
    assert first.stdout == b"201" and again.stdout.endswith(b"200")
    assert f"X-Checksum-Sha256: {sha}".encode() in again.stdout
    wrong = curl("-T", str(src), "-w", "%{http_code}", "-o", os.devnull,
                 "-H", "X-Checksum-Sha256: " + "0" * 64, f"{s.url}/other.bin")
    assert wrong.stdout == b"400" and not (root / "other.bin").exists()
    chunked = subprocess.run(["curl", "-sS", "-T", "-", "-w", "%{http_code}", "-o", os.devnull,
                              f"{s.url}/piped.txt"], input=b"from a pipe\n" * 1000,
                             capture_output=True, timeout=60)
    assert chunked.stdout == b"201"
    assert (root / "piped.txt").read_bytes() == b"from a pipe\n" * 1000
    assert s.stats()["files_stored"] == 3


def test_stalled_put_is_cut(tmp_path: Path) -> None:
    with netlab.FileServer(0, root=str(tmp_path / "root"), upload_timeout=0.3) as s:
        with connect(s.port) as sock:
            sock.sendall(b"PUT /slow.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab")
            assert recv_until_closed(sock) == b""
            sock = connect(s.port)
            sock.sendall(b"PUT /piped.bin HTTP/1.1\r\nHost: x\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n")
            assert recv_until_closed(sock) == b""
            sock.close()
        wait_until(lambda: s.stats()["closes"]["idle_timeout"] == 2, what="both closes counted")
        assert s.stats()["refusals"]["stalled"] == 2
        # A sized PUT keeps its partial for a RESUME of that name and size; an unsized one
        # leaves nothing behind.
        assert netlab.FileClient("127.0.0.1", s.port).stat("slow.bin")["partial"] == 2
        partials = list((tmp_path / "root" / ".netlab" / "partial").iterdir())
        assert [p.name.endswith("-1000.part") for p in partials] == [True]


def test_keep_alive_and_pipelining(served: tuple[netlab.FileServer, Path, str]) -> None:
    s, root, _ = served
    with connect(s.port) as sock:
        sock.sendall(b"GET /sub/note.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"HEAD /data.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /sub/note.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        out = recv_until_closed(sock)
    assert out.count(b"HTTP/1.1 200 OK") == 3 and out.count(b"a note\n") == 2


def test_silent_client_gets_the_line_protocol(tmp_path: Path) -> None:
    with netlab.FileServer(0, root=str(tmp_path / "root"), sniff_timeout=0.2) as s:
        with connect(s.port) as sock:
            time.sleep(0.4)
            sock.sendall(b"STAT x\n")
            assert read_line(sock) == b"NOFILE\n"
        assert s.stats()["protocols"] == {"http": 0, "line": 1}


@pytest.mark.skipif(not shutil.which("nc"), reason="nc is not installed")
def test_nc_classic_commands(served: tuple[netlab.FileServer, Path, str],
                             tmp_path: Path) -> None:
    s, root, _ = served
    got = subprocess.run(["nc", "-N", "127.0.0.1", str(s.port)], input=b"DOWNLOAD sub/note.txt\n",
                         capture_output=True, timeout=30)
    assert got.stdout == b"OKa note\n"
    missing = subprocess.run(["nc", "-N", "127.0.0.1", str(s.port)], input=b"DOWNLOAD none\n",
                             capture_output=True, timeout=30)
    assert missing.stdout == b"NOFILE"
    body = os.urandom(200_000)
    up = subprocess.run(["nc", "-N", "127.0.0.1", str(s.port)], input=b"UPLOAD nc.bin\n" + body,
                        capture_output=True, timeout=30)
    assert up.stdout == b"OK"
    deadline = time.monotonic() + 5
    while not (root / "nc.bin").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (root / "nc.bin").read_bytes() == body


def test_client_that_never_reads_costs_no_memory(served: tuple[netlab.FileServer, Path, str],
                                                 tmp_path: Path) -> None:
    """Ten clients ask for the file and read nothing: the server sends what the socket
    takes and keeps file ranges, not copies; a normal client is served meanwhile."""
    s, root, sha = served
    idle = []
    for _ in range(10):
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /data.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        idle.append(sock)
    got = curl("-o", str(tmp_path / "ok.bin"), f"{s.url}/data.bin")
    assert got.returncode == 0 and file_sha(tmp_path / "ok.bin") == sha
    for sock in idle:
        sock.close()
