"""The grading sandbox (issue 16): what a sandboxed program can and cannot do, for each back-end
this machine offers (bubblewrap, unshare).  Each test runs a small Python program in the sandbox,
as grading runs pytest there; none starts a kernel."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from course_utils.env import REPO_ROOT
from course_utils.tools import nbrun
from course_utils.tools import sandbox as sbx

KINDS = [k for k in ("bwrap", "unshare") if sbx.detect(k).isolated]
pytestmark = pytest.mark.skipif(not KINDS, reason=f"no sandbox on this machine: {sbx.detect().why}")


def _run(kind: str, code: str, tmp_path: Path, timeout: float = 60, limits: sbx.Limits = sbx.Limits(),
         env: dict | None = None) -> subprocess.CompletedProcess:
    lib, work = tmp_path / "lib", tmp_path / "work"
    for folder in (lib, work):
        folder.mkdir(exist_ok=True)
    (lib / "from_the_kit.txt").write_text("read-only")
    os.chmod(tmp_path, 0o755)
    cmd = sbx.wrap([sys.executable, "-I", "-c", code], sbx.Sandbox(kind), lib=lib, work=work)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, preexec_fn=limits.apply,
                          env={"PATH": "/usr/bin:/bin", **(env or {})})


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


def test_the_sandbox_sees_only_what_grading_needs(kind, tmp_path):
    code = ("import os, json\n"
            "print(json.dumps({'pid': os.getpid(), 'uid': os.getuid(), 'repo': os.path.exists(%r),\n"
            "  'home': os.listdir('/home'), 'root': os.path.exists('/root/.bashrc'),\n"
            "  'shadow': os.path.exists('/etc/shadow'), 'cwd': os.getcwd(), 'kit': open('/grade/lib/from_the_kit.txt').read(),\n"
            "  'procs': sorted(int(p) for p in os.listdir('/proc') if p.isdigit())}))"
            % str(REPO_ROOT / "course_utils"))
    done = _run(kind, code, tmp_path)
    assert done.returncode == 0, done.stderr
    seen = __import__("json").loads(done.stdout)
    assert seen["pid"] < 10 and max(seen["procs"]) < 10  # its own PID namespace: no grader, no classmate
    assert seen["uid"] >= sbx.FIRST_UID
    assert (seen["repo"], seen["home"], seen["root"], seen["shadow"]) == (False, [], False, False)
    assert (seen["cwd"], seen["kit"]) == (sbx.WORK_MOUNT, "read-only")


def test_the_library_copy_is_read_only_and_the_work_folder_is_writable(kind, tmp_path):
    code = ("import os\n"
            "open('/grade/work/out.txt', 'w').write('ok')\n"
            "for path in ('/grade/lib/from_the_kit.txt', '/grade/lib/new.py', '/usr/evil', '/etc/evil'):\n"
            "    try:\n        open(path, 'a').write('x'); print('WROTE', path)\n"
            "    except OSError as e:\n        print('refused', e.errno)\n")
    done = _run(kind, code, tmp_path)
    assert "WROTE" not in done.stdout and done.stdout.count("refused") == 4, done.stdout + done.stderr
    assert (tmp_path / "work" / "out.txt").read_text() == "ok"
    assert (tmp_path / "lib" / "from_the_kit.txt").read_text() == "read-only"


def test_no_network_not_even_the_graders_loopback(kind, tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    # Nothing is sent off this machine: the grader's own loopback service must be unreachable, and the
    # sandbox must have no interface but its own loopback (so no route out at all).
    code = ("import socket\n"
            "try:\n    socket.create_connection(('127.0.0.1', %d), timeout=2); print('CONNECTED')\n"
            "except OSError as e:\n    print('refused')\n"
            "print(sorted(n for _, n in socket.if_nameindex()))\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); print('loopback ok')\n" % port)
    done = _run(kind, code, tmp_path)
    server.close()
    assert done.stdout.split("\n")[:3] == ["refused", "['lo']", "loopback ok"], done.stdout + done.stderr
    assert accepted == []


def test_limits_stop_memory_file_size_and_process_floods(kind, tmp_path):
    limits = sbx.Limits(memory_bytes=1 << 30, processes=64, file_bytes=16 << 20)
    code = ("import os\n"
            "try:\n    b = bytearray(2 << 30); print('ALLOCATED')\nexcept MemoryError:\n    print('memory refused')\n"
            "try:\n    open('/grade/work/big', 'wb').write(b'x' * (32 << 20)); print('WROTE BIG')\n"
            "except OSError:\n    print('file refused')\n"
            "pids = []\n"
            "try:\n    for i in range(200):\n        pid = os.fork()\n"
            "        if pid == 0:\n            import time; time.sleep(30); os._exit(0)\n"
            "        pids.append(pid)\n    print('FORKED 200')\n"
            "except OSError:\n    print('fork refused after', len(pids))\n")
    done = _run(kind, code, tmp_path, limits=limits)
    lines = done.stdout.splitlines()
    assert lines[:2] == ["memory refused", "file refused"], done.stdout + done.stderr
    assert lines[2].startswith("fork refused after") and int(lines[2].split()[-1]) < 64
    assert (tmp_path / "work" / "big").stat().st_size <= 16 << 20


def test_nothing_outlives_the_sandbox(kind, tmp_path):
    tag = uuid.uuid4().hex
    code = ("import os, subprocess\n"
            "subprocess.Popen(['sleep', '300'], start_new_session=True, env={'TAG': %r})\n"
            "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            "        os.execve('/bin/sleep', ['sleep', '301'], {'TAG': %r})\n    os._exit(0)\n"
            "print('left them running')\n" % (tag, tag))
    started = time.monotonic()
    done = _run(kind, code, tmp_path)
    assert done.stdout.strip() == "left them running", done.stderr
    assert time.monotonic() - started < 30  # the sandbox did not wait for the sleepers: it killed them

    deadline = time.monotonic() + 5
    while nbrun.processes_with("TAG", tag) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert nbrun.processes_with("TAG", tag) == []


def test_detect_says_why_there_is_no_sandbox(monkeypatch):
    monkeypatch.setattr(sbx, "_DETECTED", {})
    monkeypatch.setattr(sbx.shutil, "which", lambda name: None)
    box = sbx.detect()
    assert not box.isolated
    assert "bwrap is not installed" in box.why and "unshare is not installed" in box.why
    assert "apt-get install bubblewrap" in box.why
    assert box.describe().startswith("NOT sandboxed")


@pytest.mark.parametrize("base", ["/tmp", "/home", "/opt"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_python_environment_under_tmp_home_or_opt_runs_in_the_sandbox(kind, base, tmp_path):
    # issue 29: the unshare sandbox mounted its empty /tmp and /home over an environment kept there
    if not os.access(base, os.W_OK):
        pytest.skip(f"{base} is not writable here")
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="course-venv-", dir=base))
    try:
        venv = folder / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
        code = f"from course_utils.tools import sandbox as s; print(s._probe(s.Sandbox({kind!r})) or 'isolated')"
        done = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True,
                              timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)}, cwd=tmp_path)
        assert done.stdout.strip() == "isolated", done.stdout + done.stderr[-600:]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _sandboxed(kind: str, code: str, tmp_path: Path, timeout: float = 120) -> tuple[int, str, str]:
    lib, work = tmp_path / "lib", tmp_path / "work"
    for folder in (lib, work):
        folder.mkdir(exist_ok=True)
    os.chmod(tmp_path, 0o755)
    out = tmp_path / "out.txt"
    with out.open("wb") as f:
        status, error = nbrun.run_sandboxed([sys.executable, "-I", "-c", code], work=work, lib=lib,
                                            sandbox=sbx.Sandbox(kind), env={"PATH": "/usr/bin:/bin"},
                                            timeout=timeout, stdout=f, stderr=subprocess.STDOUT)
    return status, error, out.read_text()


def test_a_run_uses_only_its_workers_cpus(kind, tmp_path):
    # issue 29: CPU burners in their own sessions slowed every classmate; a bulk worker's runs keep to its CPUs
    nbrun.WORKER.cpus = {sorted(os.sched_getaffinity(0))[0]}
    try:
        status, error, out = _sandboxed(kind, "import os, subprocess, sys\n"
                                              "print(sorted(os.sched_getaffinity(0)))\n"
                                              "subprocess.run(['setsid', sys.executable, '-c', "
                                              "'import os; print(sorted(os.sched_getaffinity(0)))'])", tmp_path)
    finally:
        nbrun.WORKER.cpus = None
    first = sorted(os.sched_getaffinity(0))[0]
    assert (status, error) == (0, "") and out.split() == [f"[{first}]", f"[{first}]"], out


def test_a_run_whose_processes_together_hold_too_much_memory_is_stopped(kind, tmp_path, monkeypatch):
    # issue 29: three processes of 1 GiB each stay under the per-process limit; together they are stopped
    monkeypatch.setattr(nbrun, "RUN_MEMORY_BYTES", 2 << 30)
    code = ("import subprocess, sys, time\n"
            "hog = 'import time; b = bytearray(1 << 30); b[::4096] = b\"x\" * len(b[::4096]); time.sleep(60)'\n"
            "kids = [subprocess.Popen(['setsid', sys.executable, '-c', hog]) for _ in range(3)]\n"
            "time.sleep(60)")
    started = time.monotonic()
    status, error, _ = _sandboxed(kind, code, tmp_path)
    assert status == -9 and "together used more than 2 GiB of memory" in error, error
    assert time.monotonic() - started < 45

