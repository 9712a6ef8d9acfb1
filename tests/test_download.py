"""course_utils.download against a local HTTP server on 127.0.0.1 that the tests start.

The server serves bytes the tests make, and misbehaves on purpose: 404, a wrong file (checksum),
a body shorter than its Content-Length, a connection reset mid-transfer, a flaky first try, and
no answer at all.  "No server" is a port that was just closed.  Nothing here needs the internet.
"""
from __future__ import annotations

import hashlib
import http.server
import io
import socket
import struct
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

from course_utils import download as dl
from course_utils.download import DownloadError, RegistryEntry, UnsafeArchiveError

pytestmark = pytest.mark.network

PAYLOAD = bytes(range(256)) * 400          # 102,400 bytes
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    hits: dict[str, int] = {}

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _head(self, status: int, length: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def do_GET(self):  # noqa: N802 - http.server's naming
        kind = self.path.strip("/").split("/")[0]
        n = self.hits[kind] = self.hits.get(kind, 0) + 1
        if kind == "ok" or (kind == "flaky" and n > 1):
            self._head(200, len(PAYLOAD))
            self.wfile.write(PAYLOAD)
        elif kind == "wrong":
            body = PAYLOAD[::-1]
            self._head(200, len(body))
            self.wfile.write(body)
        elif kind == "truncated":          # says 102,400 bytes, sends 40,000, closes cleanly
            self._head(200, len(PAYLOAD))
            self.wfile.write(PAYLOAD[:40_000])
            self.wfile.flush()
        elif kind in ("drop", "flaky"):   # sends part of the body, then resets the connection
            self._head(200, len(PAYLOAD))
            self.wfile.write(PAYLOAD[:30_000])
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        elif kind == "silent":            # never answers: the client must time out
            time.sleep(2.0)
        else:
            self.send_error(404, "Not Found")


@pytest.fixture()
def server():
    _Handler.hits = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def closed_port_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def _fetch(tmp_path, *urls, known_hash=PAYLOAD_SHA, **kwargs):
    reg = {"data.bin": RegistryEntry("data.bin", known_hash, tuple(urls))}
    kwargs = {"progressbar": False, "retries": 0, "timeout": 1.0, **kwargs}
    return dl.fetch("data.bin", registry=reg, data_dir=tmp_path / "cache", **kwargs)


def _leftovers(tmp_path) -> list[str]:
    folder = tmp_path / "cache"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---------------------------------------------------------------------------------- registry

def test_course_registry_has_a_sha256_and_https_url_for_every_lfw_file():
    reg = dl.load_registry()
    lfw = {"lfw.tgz", "lfw-funneled.tgz", "pairs.txt", "pairsDevTrain.txt", "pairsDevTest.txt"}
    weights = {"20180402-114759-vggface2.pt", "20180408-102900-casia-webface.pt"}
    assert set(reg) == lfw | weights
    for name, entry in reg.items():
        assert all(u.startswith("https://") for u in entry.urls)
        if name != "20180408-102900-casia-webface.pt":  # no published hash found: documented as unverified
            assert entry.known_hash is not None and len(entry.known_hash) == 64, name
    assert reg["20180408-102900-casia-webface.pt"].known_hash is None
    # the value recomputed from a byte-identical copy of the official pairs.txt
    assert reg["pairs.txt"].known_hash == "ea42330c62c92989f9d7c03237ed5d591365e89b3e649747777b70e692dc1592"


def test_parse_registry_reads_mirrors_unknown_hashes_and_rejects_bad_lines():
    reg = dl.parse_registry("# comment\n\na.bin " + "ab" * 32 + " http://x/a http://y/a\nb.bin - http://x/b\n")
    assert reg["a.bin"].urls == ("http://x/a", "http://y/a")
    assert reg["b.bin"].known_hash is None
    with pytest.raises(ValueError, match="line 1: expected 'name sha256 url"):
        dl.parse_registry("a.bin http://x/a")
    with pytest.raises(ValueError, match="not a sha256 hex digest"):
        dl.parse_registry("a.bin 1234 http://x/a")
    with pytest.raises(ValueError, match="listed twice"):
        dl.parse_registry("a - http://x\na - http://y")


def test_fetch_rejects_a_name_that_is_not_in_the_registry(tmp_path):
    with pytest.raises(ValueError, match="choose one of data.bin"):
        dl.fetch("nope.bin", registry={"data.bin": RegistryEntry("data.bin", None, ("http://x",))},
                 data_dir=tmp_path)


# ---------------------------------------------------------------------------------- fetch

def test_fetch_downloads_verifies_and_then_serves_from_cache_without_network(server, tmp_path):
    path = _fetch(tmp_path, f"{server}/ok/data.bin")
    assert path == tmp_path / "cache" / "data.bin"
    assert path.read_bytes() == PAYLOAD
    assert _leftovers(tmp_path) == ["data.bin"]          # no temporary file left behind
    assert _Handler.hits == {"ok": 1}
    again = _fetch(tmp_path, f"{server}/ok/data.bin")     # cached and verified: no request
    assert again == path and _Handler.hits == {"ok": 1}


def test_fetch_shows_a_progress_bar_on_stderr(server, tmp_path, capsys):
    _fetch(tmp_path, f"{server}/ok/data.bin", progressbar=True)
    err = capsys.readouterr().err
    assert "100%" in err and "102k" in err


def test_http_404_is_not_retried_and_the_message_names_file_url_and_manual_route(server, tmp_path):
    with pytest.raises(DownloadError) as info:
        _fetch(tmp_path, f"{server}/missing/data.bin", retries=3, manual="get it from the course page")
    msg = str(info.value)
    assert "'data.bin'" in msg and f"{server}/missing/data.bin (1 try): HTTP 404 Not Found" in msg
    assert _Handler.hits == {"missing": 1}
    assert "Manual route: get it from the course page; save it as" in msg and str(tmp_path / "cache" / "data.bin") in msg
    assert PAYLOAD_SHA in msg                        # the student can check a manual download
    assert _leftovers(tmp_path) == []


def test_wrong_checksum_is_rejected_and_nothing_is_kept(server, tmp_path):
    wrong_sha = hashlib.sha256(PAYLOAD[::-1]).hexdigest()
    with pytest.raises(DownloadError) as info:        # pooch's message, with expected and got
        _fetch(tmp_path, f"{server}/wrong/data.bin")
    assert f"does not match the known hash: expected {PAYLOAD_SHA} but got {wrong_sha}" in str(info.value)
    assert _leftovers(tmp_path) == []


def test_truncated_body_is_an_error_even_without_a_known_hash(server, tmp_path):
    with pytest.raises(DownloadError, match="connection dropped mid-transfer") as info:
        _fetch(tmp_path, f"{server}/truncated/data.bin", known_hash=None)
    assert "IncompleteRead(40000 bytes read, 62400 more expected)" in str(info.value)
    assert _leftovers(tmp_path) == []


def test_connection_reset_mid_transfer_is_reported_and_no_half_file_remains(server, tmp_path):
    with pytest.raises(DownloadError, match="connection dropped mid-transfer"):
        _fetch(tmp_path, f"{server}/drop/data.bin")
    assert _leftovers(tmp_path) == []


def test_a_retry_after_a_dropped_connection_starts_clean_and_succeeds(server, tmp_path):
    path = _fetch(tmp_path, f"{server}/flaky/data.bin", retries=1)
    assert path.read_bytes() == PAYLOAD and _Handler.hits == {"flaky": 2}
    assert _leftovers(tmp_path) == ["data.bin"]


def test_a_half_file_from_a_killed_run_is_never_taken_for_the_file(server, tmp_path):
    # pooch writes into a fresh temporary name each time, so a file a killed run left is
    # neither resumed nor moved into place (pooch does not delete it either)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "tmpk1lled").write_bytes(PAYLOAD[:1000])
    path = _fetch(tmp_path, f"{server}/ok/data.bin")
    assert path.read_bytes() == PAYLOAD
    assert _leftovers(tmp_path) == ["data.bin", "tmpk1lled"]


def test_an_interrupt_during_the_transfer_leaves_neither_part_nor_final_file(tmp_path, monkeypatch):
    import pooch

    def interrupted(self, url, output_file, pooch_, check_only=False):
        Path(output_file).write_bytes(PAYLOAD[:1000])
        raise KeyboardInterrupt

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _fetch(tmp_path, "http://127.0.0.1:9/data.bin")
    assert _leftovers(tmp_path) == []


def test_a_corrupted_cached_file_is_replaced(server, tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "data.bin").write_bytes(b"not the file")
    with pytest.warns(UserWarning, match="does not match its registry checksum"):
        path = _fetch(tmp_path, f"{server}/ok/data.bin")
    assert path.read_bytes() == PAYLOAD


def test_the_next_mirror_is_tried_when_the_first_fails(server, tmp_path):
    path = _fetch(tmp_path, f"{server}/missing/data.bin", f"{server}/ok/data.bin")
    assert path.read_bytes() == PAYLOAD and _Handler.hits == {"missing": 1, "ok": 1}


def test_a_bad_checksum_from_the_first_mirror_falls_over_to_the_second(server, tmp_path):
    path = _fetch(tmp_path, f"{server}/wrong/data.bin", f"{server}/ok/data.bin")
    assert path.read_bytes() == PAYLOAD and _Handler.hits == {"wrong": 1, "ok": 1}
    assert _leftovers(tmp_path) == ["data.bin"]       # the wrong bytes were deleted, not kept aside


def test_retries_are_pooch_s_and_a_failed_download_leaves_no_partial_file(server, tmp_path):
    with pytest.raises(DownloadError):
        _fetch(tmp_path, f"{server}/drop/data.bin", f"{server}/truncated/data.bin", retries=1)
    assert _Handler.hits == {"drop": 2, "truncated": 2}   # 1 + retry_if_failed tries per mirror
    assert _leftovers(tmp_path) == []                      # 30,000 and 40,000 bytes arrived: none kept


def test_the_message_names_every_url_tried_with_its_reason_and_the_manual_route(server, tmp_path):
    urls = [f"{server}/missing/data.bin", f"{server}/wrong/data.bin", f"{server}/drop/data.bin"]
    with pytest.raises(DownloadError) as info:
        _fetch(tmp_path, *urls, manual="ask the teacher for a USB stick")
    lines = str(info.value).splitlines()
    assert lines[0] == f"could not download 'data.bin' into {tmp_path / 'cache'}."
    assert lines[1] == "Tried:"
    assert lines[2] == f"  {urls[0]} (1 try): HTTP 404 Not Found"
    assert lines[3].startswith(f"  {urls[1]} (1 try): SHA256 hash of downloaded file (data.bin) does not match")
    assert lines[4].startswith(f"  {urls[2]} (1 try): connection dropped mid-transfer")
    assert lines[5] == (f"Manual route: ask the teacher for a USB stick; save it as {tmp_path / 'cache' / 'data.bin'}"
                        " (or put it in a folder and set COURSE_DATA_DIR to that folder), then run this again."
                        f" Its sha256 must be {PAYLOAD_SHA}.")
    assert len(lines) == 6                           # not offline: no Kaggle hint


def test_unknown_hash_downloads_with_a_warning_that_gives_the_sha256(server, tmp_path):
    with pytest.warns(UserWarning, match=f"NOT verified; its sha256 is {PAYLOAD_SHA}"):
        path = _fetch(tmp_path, f"{server}/ok/data.bin", known_hash=None)
    assert path.read_bytes() == PAYLOAD


def test_md5_hashes_are_accepted_like_pooch(server, tmp_path):
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    assert _fetch(tmp_path, f"{server}/ok/data.bin", known_hash=f"md5:{md5}").read_bytes() == PAYLOAD


def test_no_server_at_all_says_offline_and_lists_every_url_tried(closed_port_url, tmp_path):
    started = time.perf_counter()
    with pytest.raises(DownloadError) as info:
        _fetch(tmp_path, f"{closed_port_url}/a/data.bin", f"{closed_port_url}/b/data.bin", retries=1)
    msg = str(info.value)
    assert time.perf_counter() - started < 5
    for mirror in ("a", "b"):                        # pooch's retry_if_failed=1: two tries each
        assert f"{closed_port_url}/{mirror}/data.bin (2 tries): no connection" in msg
    assert "Are you offline?" in msg and "Manual route: download" in msg
    assert _leftovers(tmp_path) == []


def test_a_server_that_never_answers_times_out(server, tmp_path):
    started = time.perf_counter()
    with pytest.raises(DownloadError, match=r"no answer within 0.3 s \(timeout\)"):
        _fetch(tmp_path, f"{server}/silent/data.bin", timeout=0.3)
    assert time.perf_counter() - started < 1.5


# ---------------------------------------------------------------------------------- archives

def _tar(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> Path:
    data = data or {}
    with tarfile.open(path, "w:gz") as tf:
        for m in members:
            body = data.get(m.name)
            if body is not None:
                m.size = len(body)
            tf.addfile(m, io.BytesIO(body) if body is not None else None)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    m = tarfile.TarInfo(name)
    m.type, m.linkname = kind, link
    if kind == tarfile.DIRTYPE:
        m.mode = 0o755
    return m


def test_safe_extract_unpacks_a_good_archive_once_and_marks_it_done(tmp_path):
    archive = _tar(tmp_path / "good.tgz", [_member("lfw", tarfile.DIRTYPE), _member("lfw/A/A_0001.jpg"),
                                           _member("lfw/latest.jpg", tarfile.SYMTYPE, "A/A_0001.jpg")],
                   {"lfw/A/A_0001.jpg": b"jpeg bytes"})
    dest = tmp_path / "out"
    assert dl.safe_extract(archive, dest) == dest
    assert (dest / "lfw" / "A" / "A_0001.jpg").read_bytes() == b"jpeg bytes"
    assert (dest / "lfw" / "latest.jpg").read_bytes() == b"jpeg bytes"     # an inside link is fine
    assert sorted(p.name for p in dest.iterdir()) == [".good.tgz.extracted", "lfw"]
    (dest / "lfw" / "A" / "A_0001.jpg").write_bytes(b"edited")
    dl.safe_extract(archive, dest)                                           # marker: nothing redone
    assert (dest / "lfw" / "A" / "A_0001.jpg").read_bytes() == b"edited"


@pytest.mark.parametrize("members, why", [
    ([_member("../evil.txt")], "outside the target folder"),
    ([_member("lfw/../../evil.txt")], "outside the target folder"),
    ([_member("/etc/evil.txt")], "absolute path"),
    ([_member("lfw/passwd", tarfile.SYMTYPE, "/etc/passwd")], "points to the absolute path"),
    ([_member("lfw/up", tarfile.SYMTYPE, "../../secret")], "points outside the target folder"),
    ([_member("lfw/hard", tarfile.LNKTYPE, "../secret")], "hard link 'lfw/hard' -> '../secret'"),
    ([_member("lfw/tty", tarfile.CHRTYPE)], "device or FIFO"),
])
def test_safe_extract_refuses_members_that_escape_and_writes_nothing(tmp_path, members, why):
    archive = _tar(tmp_path / "bad.tgz", [_member("lfw/ok.txt")] + members, {"lfw/ok.txt": b"ok"})
    dest = tmp_path / "out" / "inner"
    with pytest.raises(UnsafeArchiveError, match=why):
        dl.safe_extract(archive, dest)
    assert not dest.exists()
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out" / "evil.txt").exists()


def test_safe_extract_checks_zip_archives_too(tmp_path):
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("Train/WithMask/1.png", b"png")
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../../evil.txt", b"x")
    assert (dl.safe_extract(good, tmp_path / "g") / "Train" / "WithMask" / "1.png").read_bytes() == b"png"
    with pytest.raises(UnsafeArchiveError, match="outside the target folder"):
        dl.safe_extract(bad, tmp_path / "b")
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as zf:
        info = zipfile.ZipInfo("data/escape")
        info.external_attr = (0o120777 << 16)               # a symlink entry
        zf.writestr(info, "../../../etc/passwd")
    with pytest.raises(UnsafeArchiveError, match="symlink 'data/escape'"):
        dl.safe_extract(link, tmp_path / "l")


def test_safe_extract_restarts_cleanly_after_an_interrupted_run(tmp_path):
    archive = _tar(tmp_path / "a.tgz", [_member("top/x.txt")], {"top/x.txt": b"x"})
    dest = tmp_path / "out"
    (dest / ".a.tgz.partial" / "top").mkdir(parents=True)          # left by a killed run
    (dest / ".a.tgz.partial" / "top" / "junk").write_bytes(b"junk")
    dl.safe_extract(archive, dest)
    assert sorted(p.name for p in dest.iterdir()) == [".a.tgz.extracted", "top"]
    assert sorted(p.name for p in (dest / "top").iterdir()) == ["x.txt"]


def test_safe_extract_never_overwrites_an_existing_folder(tmp_path):
    archive = _tar(tmp_path / "a.tgz", [_member("top/x.txt")], {"top/x.txt": b"x"})
    (tmp_path / "out" / "top").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="top already exists"):
        dl.safe_extract(archive, tmp_path / "out")
    assert list((tmp_path / "out" / "top").iterdir()) == []


def test_safe_extract_rejects_a_file_that_is_not_an_archive(tmp_path):
    (tmp_path / "x.tgz").write_bytes(b"<html>quota exceeded</html>")
    with pytest.raises(ValueError, match="neither a tar nor a zip archive"):
        dl.safe_extract(tmp_path / "x.tgz", tmp_path / "out")
