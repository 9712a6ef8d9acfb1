"""Every patch of another library's internals and every process-wide change the course makes (issue 31).

Nothing else in ``course_utils`` rewrites another package's private attributes, replaces its methods,
hooks the import system or redirects a file descriptor: it calls a function here.  Each intervention
says what it changes, the measured reason, the upstream code and versions it was written against
(:data:`TARGETS`; ``tests/test_patches.py`` fails when an installed version leaves the range) and two tests:
one that fails when the patch no longer applies, one that shows it is still needed.

1. **TensorFlow's native start-up lines** (:func:`install_quiet_imports`: an import hook, ``sys.meta_path``;
   :func:`filtered_stderr`: file descriptor 2 sent to a temporary file around the import, then written back
   without :data:`TF_START_UP_NOISE`).  Why: on CPUs where oneDNN is on (by default with AVX-512 VNNI, or
   ``TF_ENABLE_ONEDNN_OPTS=1``) ``import tensorflow`` writes "oneDNN custom operations are on ..." and absl's
   "All log messages before absl::InitializeLog() ..." whatever ``TF_CPP_MIN_LOG_LEVEL`` says (absl logs them
   before it reads any setting), so stored notebook outputs changed with the machine.  Targets
   ``tensorflow``/``tensorflow-cpu`` 2.16-2.21: ``tensorflow/__init__.py`` loading ``pywrap_tensorflow``, whose
   ``tensorflow/core/util/port.cc`` and ``cpu_feature_guard.cc`` log the lines.  Tests:
   ``test_tensorflow_import_under_the_hook_writes_nothing_to_stderr`` (applies),
   ``test_tensorflow_writes_its_start_up_lines_whatever_tf_cpp_min_log_level_says`` (still needed).
2. **LiteRT's XNNPACK notice** (:func:`litert_notice_filtered`: file descriptor 2 filtered while an
   interpreter is built; only :data:`LITERT_NOTICE` is dropped, any other line, a real error included, is
   passed on).  Why: the first ``Interpreter.allocate_tensors()`` of a process prints "INFO: Created TensorFlow
   Lite XNNPACK delegate for CPU." through tflite's MinimalLogger, which no setting reaches (not
   ``TF_CPP_MIN_LOG_LEVEL``: tensorflow/tensorflow#58050), and Jupyter shows it under the cell.  Targets
   ``ai-edge-litert`` 2.3: the default XNNPACK delegate applied lazily by ``allocate_tensors``
   (``delegates/xnnpack/xnnpack_delegate.cc``, ``TFLITE_LOG_PROD_ONCE``).  Tests:
   ``test_litert_filter_drops_the_xnnpack_notice_and_passes_real_errors`` (applies),
   ``test_litert_prints_the_xnnpack_notice_whatever_tf_cpp_min_log_level_says`` (still needed).
3. **ipazc mtcnn's networks as graphs** (:func:`mtcnn_stages_as_graphs`: each stage's private ``_model``
   replaced by ``tf.function(model, reduce_retracing=True)``).  Why: mtcnn 1.0 calls its Keras networks
   eagerly, once per pyramid level; on 250x250 LFW images that was 235 ms per image eagerly, 55 ms as graphs,
   with identical boxes (``tests/test_detection.py`` compares them).  Targets ``mtcnn`` 1.0:
   ``mtcnn/stages/base.py`` (``StageBase._model``), called as ``self._model(...)`` in the ``__call__`` of
   ``mtcnn/stages/stage_pnet.py``, ``stage_rnet.py`` and ``stage_onet.py``.  Tests:
   ``test_mtcnn_stages_still_hold_keras_models_called_through_model`` (applies),
   ``test_mtcnn_alone_runs_pnet_in_python_at_every_pyramid_level`` (still needed: counted calls, not times).
4. **nbval notices a dead kernel and caps a cell's output** (:func:`nbval_fail_fast`: replaces nbval's
   ``RunningKernel.await_reply`` and ``get_message`` and ``IPyNbCell.runtest``; the grader's pytest plugin,
   ``-p course_utils.tools.nbrun``, applies it).  Why: nbval waits for a reply on the shell channel for the whole
   ``--nbval-cell-timeout`` (120 s when grading) and checks ``is_alive()`` only before a cell starts, so a
   kernel killed by ``os._exit`` or a signal cost each submission the full timeout and was reported as a timeout;
   jupyter_client's channel ``get_msg`` only polls its socket.  nbval keeps everything a cell prints (a flood
   of megabytes stays in the grader's memory and its report); neither nbval nor jupyter_client has a limit.
   Targets ``nbval`` 0.11: ``nbval/kernel.py`` (``RunningKernel.await_reply``, ``get_message``, ``is_alive``),
   ``nbval/plugin.py`` (``IPyNbCell.runtest``, ``raise_cell_error``, ``IPyNbFile.get_kernel_message``).  Tests:
   ``test_nbval_methods_the_patch_replaces_keep_their_signatures`` and
   ``test_with_the_patch_a_dead_kernel_fails_its_cell_at_once_and_a_flood_is_cut`` (applies),
   ``test_nbval_alone_waits_out_the_cell_timeout_for_a_dead_kernel_and_keeps_a_flood`` (still needed).

5. **mtcnn's closed lz4 files on Python 3.13** (:func:`closed_file_finalizers_dropped`: ``sys.unraisablehook``
   replaced while ipazc's MTCNN is built, then put back).  Why: mtcnn 1.0 reads each stage's weights with
   ``joblib.load`` from an lz4 file; on Python 3.13 the lz4 reader's finalizer then flushes a file already
   closed and Python prints "Exception ignored in: <_io.BufferedReader> ... ValueError: I/O operation on closed
   file." three times under the lesson's first detection (the weights are read whole: nothing is lost).
   Targets ``mtcnn`` 1.0: ``mtcnn/utils/tensorflow.py`` ``load_weights`` (``joblib.load(path)`` of
   ``mtcnn/assets/weights/*.lz4``).  Tests: ``test_the_closed_file_hook_drops_that_message_only`` (applies),
   ``test_mtcnn_still_reads_its_weights_from_lz4_files_with_joblib`` (still needed: the code that causes it;
   the message itself shows on Python 3.13 only, where
   ``test_building_mtcnn_reports_closed_files_without_the_hook`` runs).

Dropped, because a public setting does the job (each with a test that shows it):

- LiteRT's converter log ("Ignored output_format.", "Reading SavedModel from ..."), once filtered with every
  other line native code wrote while converting: ``TF_CPP_MIN_LOG_LEVEL=3``, which :func:`course_utils.env.
  quiet_tensorflow` sets before TensorFlow is imported, hides it in TensorFlow 2.21
  (``test_tf_cpp_min_log_level_hides_the_litert_converter_log``).

Public settings (environment variables, logger levels, warning filters in ``env.quiet_tensorflow``) are
configuration, not patches, and stay in :mod:`course_utils.env`.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """What a patch was written against: the distribution (the first of ``packages`` that is installed),
    the versions it was checked on (a PEP 440 specifier) and the upstream code it touches."""

    packages: tuple[str, ...]
    versions: str
    upstream: str


#: Each intervention's upstream; ``tests/test_patches.py`` fails when an installed version is outside ``versions``
#: (run that file against the new version, then widen the range or change the patch).
TARGETS = {
    "tensorflow_start_up_lines": Target(
        ("tensorflow-cpu", "tensorflow"), ">=2.16,<2.22",
        "tensorflow/__init__.py (importing pywrap_tensorflow); tensorflow/core/util/port.cc and "
        "cpu_feature_guard.cc log the lines to file descriptor 2 before absl::InitializeLog()"),
    "litert_xnnpack_notice": Target(
        ("ai-edge-litert",), ">=2.3,<2.4",
        "ai_edge_litert/interpreter.py Interpreter.allocate_tensors -> the lazily applied XNNPACK delegate "
        "(delegates/xnnpack/xnnpack_delegate.cc, TFLITE_LOG_PROD_ONCE through tflite's MinimalLogger)"),
    "mtcnn_graphs": Target(
        ("mtcnn",), ">=1.0,<1.1",
        "mtcnn/stages/base.py StageBase._model; mtcnn/stages/stage_pnet.py, stage_rnet.py, stage_onet.py "
        "__call__ (self._model(...)); mtcnn/mtcnn.py MTCNN.stages"),
    "mtcnn_closed_files": Target(
        ("mtcnn",), ">=1.0,<1.1",
        "mtcnn/utils/tensorflow.py load_weights: joblib.load of mtcnn/assets/weights/*.lz4 (the lz4 reader's "
        "finalizer flushes a closed file on Python 3.13)"),
    "nbval_fail_fast": Target(
        ("nbval",), ">=0.11,<0.12",
        "nbval/kernel.py RunningKernel.await_reply, get_message, is_alive; nbval/plugin.py IPyNbCell.runtest, "
        "raise_cell_error; IPyNbFile.get_kernel_message"),
}


# 1. TensorFlow's native start-up lines ----------------------------------------------------------------------

#: Lines that TensorFlow's native libraries write straight to file descriptor 2 while it is
#: imported, whatever ``TF_CPP_MIN_LOG_LEVEL`` says (absl logs them before its own set-up):
#: oneDNN's notice on CPUs where it is on by default, the CPU-feature note, and the GPU builds'
#: "factory already registered" lines.  Anything else written during the import is passed on.
_NOISY_SOURCES = r"(port|cpu_feature_guard|cuda_fft|cuda_dnn|cuda_blas|computation_placer|py_utils)\.cc:\d+\]"
TF_START_UP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|WARNING: Logging before InitGoogleLogging\(\) is written to STDERR"
    # absl's format (TensorFlow 2.16+): I0000 00:00:1796134105.687317    3077 port.cc:153] ...
    rf"|[IWE]\d{{4}} [\d:.]+ +\d+ {_NOISY_SOURCES}"
    # the older format (TensorFlow <= 2.15): 2024-03-01 10:00:00.123456: I tensorflow/core/util/port.cc:113] ...
    rf"|\d{{4}}-\d\d-\d\d [\d:.]+: [IWE] \S*?{_NOISY_SOURCES}"
    r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\."
    r"|Attempting to register factory for plugin cu(DNN|FFT|BLAS) when one has already been registered)")

#: Modules whose first import runs with file descriptor 2 filtered (see ``QuietImporter``).
QUIET_IMPORTS = ("tensorflow",)


def filter_start_up_noise(text: str) -> str:
    """``text`` without TensorFlow's start-up lines (``TF_START_UP_NOISE``)."""
    return "".join(line for line in text.splitlines(keepends=True) if not TF_START_UP_NOISE.match(line))


@contextlib.contextmanager
def filtered_stderr(keep=filter_start_up_noise):
    """Send what native code writes to file descriptor 2 to a temporary file, then write back
    what ``keep`` returns of it.  Python-level ``sys.stderr`` of a Jupyter kernel is untouched."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 (some embedded interpreters): nothing to filter
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            rest = keep(tmp.read().decode("utf-8", "replace"))
            if rest:
                sys.stderr.write(rest)
                sys.stderr.flush()


class _QuietLoader(importlib.abc.Loader):
    """Runs another loader's ``exec_module`` inside ``filtered_stderr``."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        with filtered_stderr(keep=filter_start_up_noise):  # looked up now: a test may wrap it
            self._loader.exec_module(module)

    def __getattr__(self, name):  # get_resource_reader, is_package, ... from the real loader
        return getattr(self._loader, name)


class QuietImporter(importlib.abc.MetaPathFinder):
    """Import hook: the first import of a module in ``QUIET_IMPORTS`` (by a lesson, a student's
    cell, keras or mtcnn) runs with TensorFlow's start-up lines filtered out of stderr.

    ``TF_CPP_MIN_LOG_LEVEL=3`` does not hide them in TensorFlow 2.16+: they are written by absl
    before it reads any setting, on CPUs where oneDNN is on by default (or with
    ``TF_ENABLE_ONEDNN_OPTS=1``), so they came and went with the machine.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in QUIET_IMPORTS:
            return None
        for finder in sys.meta_path:
            if finder is self or isinstance(finder, QuietImporter) or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _QuietLoader(spec.loader)
                return spec
        return None


def install_quiet_imports() -> None:
    """Put a ``QuietImporter`` first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, QuietImporter) for f in sys.meta_path):
        sys.meta_path.insert(0, QuietImporter())


# 2. LiteRT's XNNPACK notice ---------------------------------------------------------------------------------

#: The one line LiteRT prints, once per process, when the first interpreter allocates its tensors.
LITERT_NOTICE = re.compile(r"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.$")


def drop_litert_notice(text: str) -> str:
    """``text`` without :data:`LITERT_NOTICE` (every other line kept)."""
    return "".join(line for line in text.splitlines(keepends=True) if not LITERT_NOTICE.match(line.rstrip("\n")))


def litert_notice_filtered():
    """A block in which LiteRT's XNNPACK notice is dropped from file descriptor 2 and all else is passed on:
    build the interpreter and allocate its tensors inside it."""
    return filtered_stderr(keep=drop_litert_notice)


# 3. ipazc mtcnn's networks as graphs ------------------------------------------------------------------------

def mtcnn_stages_as_graphs(detector):
    """Make each stage of ipazc's ``MTCNN`` ``detector`` call its Keras network as a traced TensorFlow graph
    (``tf.function``, ``reduce_retracing``: a graph per input rank, not per pyramid size); return ``detector``.

    A stage whose ``_model`` is not a Keras model (another mtcnn) is left as it is: the detector still works,
    only slower; ``tests/test_patches.py`` fails on such an mtcnn."""
    import tensorflow as tf

    for stage in getattr(detector, "stages", []):
        model = getattr(stage, "_model", None)
        if callable(model) and hasattr(model, "layers"):  # a Keras model, not yet wrapped
            stage._model = tf.function(model, reduce_retracing=True)
    return detector


# 5. mtcnn's closed lz4 files on Python 3.13 -------------------------------------------------------------------

#: The one unraisable message :func:`closed_file_finalizers_dropped` drops.
CLOSED_FILE_MESSAGE = "I/O operation on closed file."


@contextlib.contextmanager
def closed_file_finalizers_dropped():
    """While building ipazc's MTCNN, drop the "I/O operation on closed file." ``ValueError`` that Python 3.13
    reports from mtcnn's lz4 weight files (item 5 above); every other unraisable exception reaches the hook
    that was there before, which is put back (after a garbage collection) on the way out."""
    import gc

    previous = sys.unraisablehook

    def hook(unraisable):
        exc = unraisable.exc_value
        if not (isinstance(exc, ValueError) and str(exc) == CLOSED_FILE_MESSAGE):
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        gc.collect()
        sys.unraisablehook = previous


# 4. nbval: a dead kernel fails its cell at once; a cell's output is capped -----------------------------------

#: How often a cell waiting for its reply checks that the kernel still lives (seconds).
KERNEL_POLL_SECONDS = 1.0


def nbval_fail_fast(*, kernel_died: str, output_cap: int, flood_error: str) -> bool:
    """Patch nbval in this process (the grader's pytest run): a cell whose kernel dies fails within
    :data:`KERNEL_POLL_SECONDS` with ``RuntimeError(kernel_died)`` instead of waiting out
    ``--nbval-cell-timeout``; stream text past ``output_cap`` characters per cell is dropped and the cell then
    fails with ``flood_error``.  Returns False when nbval was already patched."""
    from queue import Empty

    from nbval.kernel import RunningKernel
    from nbval.plugin import IPyNbCell

    if getattr(RunningKernel, "_course_patched", False):
        return False
    original_reply, original_message = RunningKernel.await_reply, RunningKernel.get_message

    def await_reply(self, msg_id, timeout=None):
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        while True:
            step = KERNEL_POLL_SECONDS if deadline is None else min(KERNEL_POLL_SECONDS, deadline - time.monotonic())
            if step <= 0:
                raise Empty
            try:
                return original_reply(self, msg_id, timeout=step)
            except Empty:
                if not self.is_alive():
                    raise RuntimeError(kernel_died) from None

    printed: dict[str, int] = {}
    cut: set[str] = set()

    def get_message(self, stream, timeout=None):
        msg = original_message(self, stream, timeout=timeout)
        if msg.get("msg_type") == "stream":
            parent = msg.get("parent_header", {}).get("msg_id", "")
            text = msg["content"].get("text", "")
            seen = printed.get(parent, 0)
            printed[parent] = seen + len(text)
            if seen + len(text) > output_cap:
                msg["content"]["text"] = text[:max(0, output_cap - seen)]
                cut.add(parent)
        return msg

    original_runtest = IPyNbCell.runtest

    def runtest(self):
        before = len(cut)
        original_runtest(self)
        if len(cut) > before:
            self.raise_cell_error(flood_error)

    RunningKernel.await_reply, RunningKernel.get_message = await_reply, get_message
    IPyNbCell.runtest = runtest
    RunningKernel._course_patched = True
    return True
