"""The hidden checks' runner, inside the sandbox (issue 28): ``python -m course_utils.tools.probe``.

It runs in a folder of its own after the student's notebook has been run and its kernel killed, so nothing
of the notebook's process is left.  It reads ``probe_in.json`` (the homework's hidden-check file, the
student's answer cells by id, the run's secret seed) from its working folder and, for each hidden check
(:class:`course_utils.tools.hidden.Probe`), in a **child process of its own**:

1. makes the check's inputs from the seed (inputs the notebook never saw), before any student code runs;
2. turns the library functions the question asks the student to write into tripwires (calling one is
   recorded and raises :class:`ForbiddenCall`);
3. runs the answer cells the check names, as plain Python, in a fresh namespace that holds the inputs;
4. evaluates the check's expression there and sends the value (plain JSON) to this process through a pipe.

This process never runs student code: it only forks, reads the pipes (bounded, with a deadline) and prints
one JSON line per check.  The grader (:mod:`course_utils.tools.hidden`) compares those values, in its own
process, with the reference solution's values on the same inputs.
"""
from __future__ import annotations

import ast
import importlib
import json
import os
import select
import signal
import sys
import time
import traceback
import types

#: Longest a child may write back (a flood is cut and counted as no answer).
MAX_RESULT_BYTES = 4_000_000
IN_NAME = "probe_in.json"


class ForbiddenCall(RuntimeError):
    """A library function that the question asks the student to write was called."""


def _resolve(target: str):
    """``"module:attr.attr"`` -> (the object holding the last attribute, its name, the object)."""
    module, _, path = target.partition(":")
    holder = importlib.import_module(module)
    parts = path.split(".")
    for part in parts[:-1]:
        holder = getattr(holder, part)
    return holder, parts[-1], getattr(holder, parts[-1])


def install_tripwires(targets: list[str], report) -> list[str]:
    """Make every function of ``targets`` (``"module:attr"``) raise :class:`ForbiddenCall` and call
    ``report(target)`` when called, under every name it is reachable by (its code object is replaced where it is a
    Python function, and every module attribute bound to it is rebound).  Returns the targets that could not be
    found (a library without that function)."""
    missing = []
    for target in targets:
        try:
            holder, name, obj = _resolve(target)
        except (ImportError, AttributeError):
            missing.append(target)
            continue

        def trip(*_args, _target=target, **_kwargs):
            report(_target)
            raise ForbiddenCall(f"{_target} is what this question asks you to write")

        if isinstance(obj, types.FunctionType) and not obj.__code__.co_freevars:
            code = compile(f"def _trip(*args, **kwargs):\n    _report({target!r})\n"
                           f"    raise _Forbidden({target!r} + ' is what this question asks you to write')\n",
                           "<tripwire>", "exec")
            space = {"_report": report, "_Forbidden": ForbiddenCall}
            exec(code, space)  # noqa: S102 - a fixed function made here, not student code
            obj.__globals__.setdefault("_report", report)
            obj.__globals__.setdefault("_Forbidden", ForbiddenCall)
            obj.__code__ = space["_trip"].__code__
        for module in list(sys.modules.values()):
            try:
                for key, value in list(vars(module).items()):
                    if value is obj:
                        setattr(module, key, trip)
            except TypeError:  # a module without __dict__
                continue
        setattr(holder, name, trip)
    return missing


def _send(fd: int, record: dict) -> None:
    data = (json.dumps(record) + "\n").encode()
    try:
        os.write(fd, data[:MAX_RESULT_BYTES])
    except OSError:
        pass


def run_one(probe: dict, answers: dict[str, str], seed: int, spec, fd: int) -> None:
    """In the child: inputs, tripwires, the answer cells, the value (sent to ``fd``)."""
    from course_utils import homework as hw

    name = probe["name"]
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # first of all: the child holds nothing of the runner's output, and what it prints is lost
    os.dup2(devnull, 2)
    try:
        made = getattr(spec, probe["inputs"])(_rng(seed, name)) if probe["inputs"] else {}
    except Exception as exc:  # the instructor's spec failed: say so, it is not the student's fault
        _send(fd, {"name": name, "setup_error": f"{type(exc).__name__}: {exc}"[:300]})
        return
    space: dict = {"__name__": "__main__"}
    exec(compile(probe["setup"], "<setup>", "exec"), space)  # noqa: S102 - the instructor's setup code
    space.update(made)
    _send(fd, {"name": name, "started": True})
    install_tripwires(probe["forbid"], lambda target: _send(fd, {"name": name, "forbidden": target}))
    try:
        *earlier, own = probe["cells"]
        for cell_id in earlier:  # what the answer may use (question 2's iou for question 4): its errors are not
            try:                 # this question's (they cost the question they belong to)
                exec(compile(_plain_python(answers.get(cell_id) or ""), f"<answer {cell_id}>", "exec"), space)  # noqa
            except Exception:  # noqa: BLE001
                pass
        source = answers.get(own)
        if source is None:
            raise LookupError(f"answer cell {own} is missing")
        exec(compile(_plain_python(source), f"<answer {own}>", "exec"), space)  # noqa: S102
        value = eval(compile(probe["call"], "<hidden check>", "eval"), space)  # noqa: S307
        _send(fd, {"name": name, "value": hw.exportable(value)})
    except BaseException as exc:  # noqa: BLE001 - whatever the answer did is this check's result
        _send(fd, {"name": name, "error": f"{type(exc).__name__}: {exc}"[:300]})


def _plain_python(source: str) -> str:
    """Answer code as plain Python: IPython's magics and shell lines (``%``, ``!``) are left out."""
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    text = "\n".join(lines)
    ast.parse(text)  # a syntax error is the check's error, with its line
    return text


def _rng(seed: int, name: str):
    import numpy as np

    return np.random.default_rng([seed, *name.encode()])


def _not_dumpable() -> None:
    """Make this process non-dumpable (``PR_SET_DUMPABLE`` 0): its children, which run student code as the same
    user, can then neither attach to it nor open its ``/proc/<pid>/fd`` to write records in its name."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    except (OSError, AttributeError):  # not Linux: nothing to do
        pass


def main() -> int:
    _not_dumpable()
    with open(IN_NAME, encoding="utf-8") as f:
        job = json.load(f)
    sys.path.insert(0, os.getcwd())
    spec = importlib.import_module(job["module"])
    for module in job.get("preload", []):  # imported once here, shared by every child
        try:
            importlib.import_module(module)
        except ImportError:
            pass
    found: list[dict] = []  # written at the end, when no child is left: none can write into this output
    for probe in job["probes"]:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.setpgid(0, 0)  # its own process group: what it starts is killed with it
            os.close(read_end)
            try:
                run_one(probe, job["answers"], int(job["seed"]), spec, write_end)
            except BaseException:  # noqa: BLE001
                _send(write_end, {"name": probe["name"], "error": traceback.format_exc(limit=1)[-300:]})
            os._exit(0)
        os.close(write_end)
        data, deadline = b"", time.monotonic() + float(probe["timeout"])
        while len(data) <= MAX_RESULT_BYTES:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                break
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            data += chunk
        timed_out = time.monotonic() >= deadline
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass
        os.waitpid(pid, 0)
        os.close(read_end)
        records = []
        for line in data[:MAX_RESULT_BYTES].decode("utf-8", "replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and rec.get("name") == probe["name"]:
                records.append(rec)
        if timed_out and not any("value" in r or "error" in r for r in records):
            records.append({"name": probe["name"], "error": f"timed out after {probe['timeout']:g} s"})
        found += records
    sys.stdout.write("".join(json.dumps(rec) + "\n" for rec in found))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
