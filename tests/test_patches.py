"""Each intervention of course_utils/patches.py, twice: a test that fails when the patch no longer applies to the
installed upstream (what it replaces is gone, renamed or behaves otherwise), and one that shows it is still needed
(without it, the noise, the Python-level calls or the hang it removes are there).  The one intervention dropped
for a public setting has the test that shows the setting does the job."""
from __future__ import annotations

import importlib.metadata
import inspect
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from course_utils import patches
from course_utils.config import REPO_ROOT
from course_utils.tools import nbrun


def _python(code: str, **environ: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (native start-up lines and once-per-process notices are seen only there),
    with the TensorFlow settings given and none inherited."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**env, "PYTHONPATH": str(REPO_ROOT), **environ}, cwd=REPO_ROOT)


def _installed(packages: tuple[str, ...]) -> tuple[str, str] | None:
    for name in packages:
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def test_installed_versions_are_those_the_patches_were_checked_against():
    # A new upstream version may have moved what a patch touches: this fails until someone has run this file
    # against it and widened TARGETS (or changed the patch).
    from packaging.specifiers import SpecifierSet

    assert set(patches.TARGETS) == {"tensorflow_start_up_lines", "litert_xnnpack_notice", "mtcnn_graphs",
                                    "mtcnn_closed_files", "nbval_fail_fast"}
    for name, target in patches.TARGETS.items():
        found = _installed(target.packages)
        assert found is not None, f"{name}: none of {target.packages} is installed"
        assert found[1] in SpecifierSet(target.versions), \
            f"{name} was checked on {target.packages[0]} {target.versions}, {found[0]} {found[1]} is installed"
        assert target.upstream  # the upstream file/function it touches


def test_every_test_the_module_docstring_names_is_here():
    import re

    named = set(re.findall(r"``(test_\w+)``", patches.__doc__))
    assert len(named) == 13
    assert named <= set(globals()), sorted(named - set(globals()))


# 1. TensorFlow's native start-up lines ----------------------------------------------------------------------

ONEDNN_NOTICE = "oneDNN custom operations are on"


@pytest.mark.slow
def test_tensorflow_import_under_the_hook_writes_nothing_to_stderr():
    # Applies: with oneDNN on (as on CPUs with AVX-512 VNNI) the hook's filter ran during the import, matched
    # TensorFlow's lines and dropped them; the real loader is back on the module afterwards.
    code = ("import json, sys\n"
            "from course_utils import patches\n"
            "dropped = []\n"
            "keep = patches.filter_start_up_noise\n"
            "def recording(text):\n"
            "    kept = keep(text)\n"
            "    dropped.append(text[:len(text) - len(kept)] if text.endswith(kept) else text)\n"
            "    return kept\n"
            "patches.filter_start_up_noise = recording\n"
            "patches.install_quiet_imports()\n"
            "import tensorflow\n"
            "print(json.dumps({'dropped': ''.join(dropped), "
            "'loader': type(tensorflow.__spec__.loader).__name__}))")
    out = _python(code, TF_ENABLE_ONEDNN_OPTS="1", TF_CPP_MIN_LOG_LEVEL="3")
    found = json.loads(out.stdout)
    assert ONEDNN_NOTICE in found["dropped"]
    assert found["loader"] != "_QuietLoader"
    assert out.stderr == ""


@pytest.mark.slow
def test_tensorflow_writes_its_start_up_lines_whatever_tf_cpp_min_log_level_says():
    # Still needed: without the hook the lines are there, TF_CPP_MIN_LOG_LEVEL=3 (the public setting) or not.
    out = _python("import tensorflow", TF_ENABLE_ONEDNN_OPTS="1", TF_CPP_MIN_LOG_LEVEL="3")
    assert ONEDNN_NOTICE in out.stderr
    assert patches.filter_start_up_noise(out.stderr) == ""  # and they are all lines the filter knows


def test_filtered_stderr_passes_on_what_is_not_start_up_noise():
    code = ("import os; from course_utils.patches import filtered_stderr\n"
            "with filtered_stderr():\n"
            "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
            "    os.write(2, b'I0000 00:00:1796134105.687317    3077 port.cc:153] oneDNN custom operations are on.\\n')\n"
            "    os.write(2, b'E0000 00:00:1.5    12 loader.cc:9] a real problem\\n')\n"
            "print('done')")
    out = _python(code)
    assert out.stdout == "done\n"
    assert out.stderr == "E0000 00:00:1.5    12 loader.cc:9] a real problem\n"


# 2. LiteRT: the XNNPACK notice (filtered) and the converter's log (public setting) ------------------------------

LITERT_NOTICE = "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
TINY_MODEL = ("import keras\n"
              "model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(), "
              "keras.layers.Dense(3)])\n")


def _stderr_by_step(level: str) -> dict[str, str]:
    """What a fresh process writes to file descriptor 2 while it converts a model (``to_litert``) and then builds
    and allocates the first LiteRT interpreter with no filter, under ``TF_CPP_MIN_LOG_LEVEL=level``."""
    code = ("import os\n"
            "from course_utils import env, runtime\n"
            "env.quiet_tensorflow()\n" + TINY_MODEL +
            "os.write(2, b'<convert>\\n')\n"
            "content = runtime.to_litert(model)\n"
            "os.write(2, b'<interpreter>\\n')\n"
            "from ai_edge_litert.interpreter import Interpreter\n"
            "it = Interpreter(model_content=content, num_threads=1)\n"
            "it.allocate_tensors()\n"
            "os.write(2, b'<end>\\n')\n")
    err = _python(code, TF_CPP_MIN_LOG_LEVEL=level).stderr
    before, convert = err.split("<convert>\n")
    convert, interpreter = convert.split("<interpreter>\n")
    interpreter, after = interpreter.split("<end>\n")
    return {"convert": convert, "interpreter": interpreter}


@pytest.mark.slow
def test_litert_filter_drops_the_xnnpack_notice_and_passes_real_errors():
    # Applies: LiteRTRunner builds the process's first interpreter (the notice is printed once per process) and
    # nothing reaches stderr; inside the same filter a real error line is passed on, the notice is not.
    code = ("import os\n"
            "import numpy as np\n"
            "from course_utils import env, patches, runtime\n"
            "env.quiet_tensorflow()\n" + TINY_MODEL +
            "runner = runtime.LiteRTRunner(model)\n"
            "assert runner(np.ones((2, 8, 8, 1), np.float32)).shape == (2, 3)\n"
            "with patches.litert_notice_filtered():\n"
            f"    os.write(2, {LITERT_NOTICE.encode()!r} + b'E0000 00:00:1.5    12 interpreter.cc:9] a real error\\n')\n")
    out = _python(code, TF_CPP_MIN_LOG_LEVEL="3")
    assert out.stderr == "E0000 00:00:1.5    12 interpreter.cc:9] a real error\n"


@pytest.mark.slow
def test_litert_prints_the_xnnpack_notice_whatever_tf_cpp_min_log_level_says():
    # Still needed: the first interpreter of a process prints the notice, TF_CPP_MIN_LOG_LEVEL=3 or not.
    assert _stderr_by_step("3")["interpreter"] == LITERT_NOTICE


@pytest.mark.slow
def test_tf_cpp_min_log_level_hides_the_litert_converter_log():
    # Dropped patch: the converter's log needs no filter, quiet_tensorflow's TF_CPP_MIN_LOG_LEVEL=3 hides it
    # (with TF_CPP_MIN_LOG_LEVEL=0 it is there: the setting is what hides it).
    assert _stderr_by_step("3")["convert"] == ""
    assert "Ignored output_format." in _stderr_by_step("0")["convert"]


# 3. ipazc mtcnn's networks as graphs ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_face(astronaut) -> np.ndarray:
    return np.ascontiguousarray(astronaut[::4, ::4])  # 128 x 128: a few pyramid levels, quick


@pytest.mark.slow
def test_mtcnn_stages_still_hold_keras_models_called_through_model():
    # Applies: MTCNN's three stages keep their Keras network in _model and call it as self._model(...) in
    # __call__; the patch replaces those three and only those.
    import keras
    from mtcnn import MTCNN
    from mtcnn.stages import StageONet, StagePNet, StageRNet

    det = MTCNN(device="CPU:0")
    assert [type(s) for s in det.stages] == [StagePNet, StageRNet, StageONet]
    for stage in det.stages:
        assert isinstance(stage._model, keras.Model)
        assert "self._model(" in inspect.getsource(type(stage).__call__)
    assert patches.mtcnn_stages_as_graphs(det) is det
    assert all(hasattr(stage._model, "get_concrete_function") for stage in det.stages)


def _pnet_calls_on_second_detection(det, image, monkeypatch) -> tuple[int, int]:
    """How often P-Net's Python ``call`` runs while ``det`` detects ``image`` a second time, and the number of
    pyramid levels: eagerly once per level, as a traced graph never."""
    from mtcnn.network.pnet import PNet
    from mtcnn.utils.images import build_scale_pyramid

    det.detect_faces(image)  # the first detection traces the graphs
    calls = []
    original = PNet.call

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PNet, "call", counting)
    det.detect_faces(image)
    return len(calls), len(build_scale_pyramid(image.shape[1], image.shape[0], min_face_size=20, scale_factor=0.709))


@pytest.mark.slow
def test_mtcnn_alone_runs_pnet_in_python_at_every_pyramid_level(small_face, monkeypatch):
    # Still needed: mtcnn alone runs its P-Net eagerly, through Python, at each pyramid level of every detection
    # (that per-call overhead: 235 ms per 250x250 LFW image eagerly, 55 ms as graphs); patched, never again.
    from mtcnn import MTCNN

    eager_calls, levels = _pnet_calls_on_second_detection(MTCNN(device="CPU:0"), small_face, monkeypatch)
    assert levels >= 3 and eager_calls == levels
    graph = patches.mtcnn_stages_as_graphs(MTCNN(device="CPU:0"))
    graph_calls, _ = _pnet_calls_on_second_detection(graph, small_face, monkeypatch)
    assert graph_calls == 0


# 4. nbval: a dead kernel fails its cell at once; a cell's output is capped ------------------------------------

CELL_TIMEOUT = 10


def test_nbval_methods_the_patch_replaces_keep_their_signatures():
    # Applies: the methods nbval_fail_fast wraps exist with the arguments it passes, and nbval still waits for a
    # cell's reply through await_reply (with the cell timeout) and reads its output through get_message.
    from nbval.kernel import RunningKernel
    from nbval.plugin import IPyNbCell, IPyNbFile

    assert not getattr(RunningKernel, "_course_patched", False)  # this process reads nbval's own code

    def params(fn):
        return list(inspect.signature(fn).parameters)

    assert params(RunningKernel.await_reply) == ["self", "msg_id", "timeout"]
    assert params(RunningKernel.get_message) == ["self", "stream", "timeout"]
    assert params(RunningKernel.is_alive) == ["self"]
    assert params(IPyNbCell.runtest) == ["self"]
    assert params(IPyNbCell.raise_cell_error)[:2] == ["self", "message"]
    runtest = inspect.getsource(IPyNbCell.runtest)
    assert "kernel.await_reply(msg_id, timeout=timeout)" in runtest and "except Empty" in runtest
    assert "self.parent.get_kernel_message(" in runtest
    assert "self.kernel.get_message(stream" in inspect.getsource(IPyNbFile.get_kernel_message)
    assert "self.get_message(stream='shell', timeout=timeout)" in inspect.getsource(RunningKernel.await_reply)


def _nbval(tmp_path, *plugin: str) -> dict[int, tuple[bool, str, float]]:
    """Run nbval on a notebook whose cell 0 prints 300,000 characters (an answer cell: its output is not
    compared) and whose cell 1 kills its kernel; per cell: passed, nbval's message, seconds."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('x' * 300_000)"),
                nbformat.v4.new_code_cell("import os\nos._exit(1)"),
                nbformat.v4.new_code_cell("print('after')")]
    nbformat.write(nb, str(tmp_path / "nb.ipynb"))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    cmd = [sys.executable, "-m", "pytest", "nb.ipynb", "--nbval", "--nbval-current-env", "--nbval-cell-timeout",
           str(CELL_TIMEOUT), "-p", "no:cacheprovider", *plugin, "-c", "pytest.ini", "--rootdir", ".",
           "--junitxml", "junit.xml", "-q"]
    subprocess.run(cmd, cwd=tmp_path, capture_output=True, timeout=180,
                   env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    out = {}
    for case in ET.parse(tmp_path / "junit.xml").getroot().iter("testcase"):
        bad = next((c for c in case if c.tag in ("failure", "error", "skipped")), None)
        text = "" if bad is None else (bad.get("message") or "") + "\n" + (bad.text or "")
        out[int(case.get("name").rsplit(" ", 1)[1])] = (bad is None, text, float(case.get("time")))
    return out


@pytest.mark.slow
def test_with_the_patch_a_dead_kernel_fails_its_cell_at_once_and_a_flood_is_cut(tmp_path):
    # Applies: under the grader's plugin (which calls nbval_fail_fast) the flood fails its cell by name, and the
    # cell whose kernel died fails as such within seconds, not after the cell timeout.
    cells = _nbval(tmp_path, "-p", "course_utils.tools.nbrun")
    assert cells[0][0] is False and "printed more than 200,000 characters" in cells[0][1]
    assert cells[1][0] is False and nbrun.KERNEL_DIED in cells[1][1]
    assert cells[1][2] < CELL_TIMEOUT / 2


@pytest.mark.slow
def test_nbval_alone_waits_out_the_cell_timeout_for_a_dead_kernel_and_keeps_a_flood(tmp_path):
    # Still needed: nbval's public options (--nbval-cell-timeout) bound the wait but do not shorten it: the dead
    # kernel costs the whole timeout and is reported as a timeout; 300,000 characters pass unnoticed.
    started = time.monotonic()
    cells = _nbval(tmp_path)
    assert cells[0][0] is True
    assert cells[1][0] is False and nbrun.KERNEL_DIED not in cells[1][1] and "Timeout" in cells[1][1]
    assert cells[1][2] >= CELL_TIMEOUT
    assert time.monotonic() - started >= CELL_TIMEOUT


# 5. mtcnn's closed lz4 files on Python 3.13 -------------------------------------------------------------------

def test_the_closed_file_hook_drops_that_message_only():
    """Inside the block that one ValueError goes nowhere, anything else still reaches the hook, which is
    restored afterwards."""
    seen = []

    class Finalizer:
        def __init__(self, exc):
            self.exc = exc

        def __del__(self):
            raise self.exc

    before = sys.unraisablehook
    sys.unraisablehook = lambda u: seen.append(str(u.exc_value))
    try:
        with patches.closed_file_finalizers_dropped():
            Finalizer(ValueError(patches.CLOSED_FILE_MESSAGE))
            Finalizer(RuntimeError("a real problem"))
        Finalizer(ValueError(patches.CLOSED_FILE_MESSAGE))  # outside: reported as usual
        assert seen == ["a real problem", patches.CLOSED_FILE_MESSAGE]
    finally:
        sys.unraisablehook = before


def test_mtcnn_still_reads_its_weights_from_lz4_files_with_joblib():
    """The cause is still there: mtcnn's load_weights hands joblib its .lz4 files."""
    import importlib.resources

    from mtcnn.utils import tensorflow as mtcnn_tf

    assert "joblib.load(" in inspect.getsource(mtcnn_tf.load_weights)
    weights = [p.name for p in importlib.resources.files("mtcnn.assets.weights").iterdir()]
    assert any(name.endswith(".lz4") for name in weights), weights


@pytest.mark.skipif(sys.version_info < (3, 13), reason="the lz4 reader's finalizer reports closed files on 3.13+")
def test_building_mtcnn_reports_closed_files_without_the_hook():
    code = ("import gc, sys\nseen = []\nsys.unraisablehook = lambda u: seen.append(str(u.exc_value))\n"
            "from mtcnn import MTCNN\nMTCNN(device='CPU:0')\ngc.collect()\n"
            f"print(sum(s == {patches.CLOSED_FILE_MESSAGE!r} for s in seen))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert int(out.stdout.strip().splitlines()[-1]) > 0, out.stderr[-1000:]
