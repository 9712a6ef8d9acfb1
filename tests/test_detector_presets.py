"""One table of detector settings (issue 31): every caller builds its detector from detection.PRESETS, and a
built Detector given options beside it is an error instead of options silently ignored."""
from __future__ import annotations

import numpy as np
import pytest

import course_utils as cu
from course_utils import demo, detection, face_finder, mask
from course_utils.detection import PRESETS, DetectorPreset

pytestmark = pytest.mark.slow  # the tests build detectors (TensorFlow's and PyTorch's MTCNN)

HAAR = DetectorPreset("haar", None, 20, "a backend no default uses, so that the test sees where a detector came from")


def test_presets_hold_the_courses_settings_each_with_its_reason():
    assert list(PRESETS) == ["default", "mask", "retry"]
    assert all(len(p.why) > 40 and p.backend in cu.BACKENDS and p.min_face_size == 20 for p in PRESETS.values())
    default = cu.get_detector()
    assert default is cu.get_detector("default") is cu.get_detector("mtcnn")  # MTCNN at its own thresholds
    assert default.name == "mtcnn" and default.thresholds == detection.DEFAULT_THRESHOLDS["mtcnn"] == (0.6, 0.7, 0.8)
    masked = mask.get_mask_detector()
    assert masked is cu.get_detector("mask") and masked.name == "facenet"
    assert list(masked.model.thresholds) == [0.5, 0.6, 0.6] == list(PRESETS["mask"].thresholds)
    retry = cu.get_detector("retry")
    assert retry.name == "facenet" and list(retry.model.thresholds) == [0.3, 0.4, 0.4]
    bigger = cu.get_detector("mask", min_face_size=40)  # the preset's thresholds, another smallest face
    assert bigger.min_face_size == 40 and list(bigger.model.thresholds) == [0.5, 0.6, 0.6]
    with pytest.raises(ValueError, match="choose a preset \\(default, mask, retry\\) or a backend \\(mtcnn, facenet"):
        cu.get_detector("masks")


def test_the_defaults_of_detect_faces_find_face_and_the_demos_come_from_the_table(monkeypatch, astronaut):
    monkeypatch.setitem(PRESETS, "default", HAAR)
    assert [f.backend for f in cu.detect_faces(astronaut)] == ["haar"]
    assert cu.find_face(astronaut, retry=False).backend == "haar"
    drawn, faces = demo.make_annotator("detect")(astronaut)
    assert [f.backend for f in faces] == ["haar"] and drawn.shape == astronaut.shape
    monkeypatch.setitem(PRESETS, "mask", HAAR)
    assert mask.get_mask_detector().name == "haar"


def test_find_faces_framed_retry_asks_for_the_retry_preset(monkeypatch):
    asked = []
    real = face_finder.get_detector

    def recording(name="default", **options):
        asked.append(name)
        return real(name, **options)

    monkeypatch.setattr(face_finder, "get_detector", recording)
    monkeypatch.setattr(face_finder, "_centerface_face", lambda image: None)
    flat = np.full((120, 100, 3), 127, np.uint8)  # no face: the detector, then the framed retry, both find none
    assert face_finder.find_face(flat) is None
    assert asked == ["default", "retry"]


def test_a_built_detector_with_more_options_is_an_error_not_ignored(astronaut):
    det = cu.get_detector("mtcnn")
    assert cu.get_detector(det) is det
    with pytest.raises(ValueError, match="min_face_size=80 given with a MTCNNDetector .*options go to the detector "
                                         "when it is built \\(get_detector\\(NAME, min_face_size=80\\)"):
        cu.detect_faces(astronaut, detector=det, min_face_size=80)
    with pytest.raises(ValueError, match="thresholds=\\(0.5, 0.5, 0.5\\) given with a MTCNNDetector"):
        cu.detect_faces(astronaut, detector=det, thresholds=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="backend='facenet' given with a detector .*pass one or the other"):
        cu.detect_faces(astronaut, backend="facenet", detector=det)
    with pytest.raises(ValueError, match="options go to the detector when it is built"):
        cu.get_detector(det, min_face_size=40)
    assert cu.detect_faces(astronaut, detector=det) == cu.detect_faces(astronaut, backend="mtcnn")
