"""FaceNet as the lecture uses it (issue 17), end to end, without the real weights: a randomly initialised
InceptionResnetV1 saved under the file name the course looks for.  What is tested is the path (weights
found, FaceNet chosen, enrol, identify, the lecture's threshold 1.0, lesson 06 and hw3 running on it), not
accuracy: a random network cannot tell people apart."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import course_utils as cu
from course_utils import embedders
from course_utils import identification as ident
from course_utils.env import REPO_ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def facenet_weights(tmp_path_factory):
    import torch
    from facenet_pytorch import InceptionResnetV1

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / embedders.FACENET_FILES["vggface2"]
    torch.save(InceptionResnetV1(pretrained=None, classify=False).eval().state_dict(), path)
    return path


@pytest.fixture
def facenet_here(facenet_weights, monkeypatch):
    monkeypatch.setenv(embedders.FACENET_ENV_VAR, str(facenet_weights))
    embedders._cached_embedder.cache_clear()
    yield facenet_weights
    embedders._cached_embedder.cache_clear()


def test_weights_in_the_data_folder_are_found_too(facenet_weights, tmp_path):
    shutil.copyfile(facenet_weights, tmp_path / facenet_weights.name)
    found = ident.find_facenet_weights(environ={}, kaggle_input=tmp_path / "none", torch_home=tmp_path / "torch",
                                       data_dir=tmp_path, download=False)
    assert found == tmp_path / facenet_weights.name


def test_facenet_path_enrol_identify_threshold_one(facenet_here, tmp_path):
    assert embedders.available_backends() == ["dlib", "facenet"]
    emb = cu.get_embedder("facenet")
    assert emb.weights_path == facenet_here and emb.threshold == 1.0 and emb.dim == 512
    assert "distance < 1.0" in " ".join(ident.backend_note(emb).split())

    folder = ident.make_sample_gallery(tmp_path / "test_images")
    gallery = cu.enrol_folder(folder, emb)
    assert gallery.backend == "facenet" and gallery.people == sorted(ident.STARTER_PEOPLE)
    assert gallery.embeddings.shape == (5, 512)
    assert np.allclose(np.linalg.norm(gallery.embeddings, axis=1), 1.0, atol=1e-4)  # FaceNet's unit sphere

    # an enrolled photo is its own nearest face at distance ~0, below the lecture's 1.0
    matches = cu.identify(folder / "paul_rudd" / "1.jpg", gallery, emb)
    assert [m.name for m in matches] == ["paul_rudd"] and matches[0].distance < 1e-3

    # the real sample through the same rule: every answer is a name or unknown, decided at 1.0
    sample = ident.load_people_sample(2)
    few = sample.enrol[:4] + sample.held_back[:3] + sample.strangers[:2]
    vecs, _ = ident.embed_paths([p for _, p in few], emb)
    known = cu.Gallery([n for n, _ in few[:4]], vecs[:4], "facenet")
    scores = ident.score_identification(known, vecs[4:7], [n for n, _ in few[4:7]], vecs[7:], emb.threshold)
    assert scores.threshold == 1.0
    assert scores.known_right + scores.known_wrong + scores.known_unknown == 3
    assert scores.strangers_unknown + scores.strangers_named == 2
    for name, dist, nearest in known.search(vecs[4:], 1.0):
        assert name == (nearest if dist < 1.0 else cu.UNKNOWN) and 0 <= dist <= 2.0 + 1e-6
    with pytest.raises(cu.BackendMismatchError):
        cu.identify(folder / "paul_rudd" / "1.jpg", gallery, cu.get_embedder("dlib"))


def test_facenet_backend_embeds_as_facenet_pytorchs_own_pipeline(facenet_here, tmp_path):
    """cu.get_embedder("facenet") gives what facenet-pytorch's documented pipeline gives:
    MTCNN(image_size=160, margin=0) crops and standardises the face, InceptionResnetV1 embeds it."""
    import torch
    from facenet_pytorch import MTCNN, InceptionResnetV1

    emb = cu.get_embedder("facenet")
    net = InceptionResnetV1(pretrained=None, classify=False).eval()
    net.load_state_dict(torch.load(facenet_here, map_location="cpu", weights_only=True))
    photo = cu.load_image(ident.make_sample_gallery(tmp_path / "test_images") / "paul_rudd" / "1.jpg")
    with torch.inference_mode():
        want = net(MTCNN(image_size=160, margin=0)(photo)[None]).numpy()[0]
    faces, got = emb.embed_image(photo)
    assert len(faces) == 1 and np.abs(got[0] - want).max() < 1e-5


def _outputs(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                   if o.get("output_type") == "stream")


def test_lesson06_and_hw3_choose_facenet_when_its_weights_are_here(facenet_here, tmp_path):
    import nbformat
    import papermill as pm

    lesson = REPO_ROOT / "notebooks" / "06_face_identification.ipynb"
    out = tmp_path / "lesson.ipynb"
    pm.execute_notebook(str(lesson), str(out), kernel_name="python3", cwd=str(lesson.parent), progress_bar=False,
                        log_output=False, execution_timeout=600)
    text = _outputs(nbformat.read(out, as_version=4))
    assert "backend: facenet, 512-D embeddings, match below distance 1.0" in text
    assert "threshold 1.00: held-back photos named right" in text       # section 6, at the lecture's rule
    assert "dlib's ResNet descriptor stands in" not in text

    work = tmp_path / "hw3"
    work.mkdir()
    solution = REPO_ROOT / "homework" / "hw3_face_identification" / "solution.ipynb"
    if not solution.exists():
        pytest.skip("the reference solution is not in this edition of the course")
    pm.execute_notebook(str(solution), str(work / "hw3.ipynb"), kernel_name="python3", cwd=str(work),
                        progress_bar=False, log_output=False, execution_timeout=600,
                        parameters={"GALLERY_DIR": str(work / "data" / "test_images")})
    text = _outputs(nbformat.read(work / "hw3.ipynb", as_version=4))
    assert "backend facenet, 512-D embeddings, threshold 1.0" in text
    assert [f"q{i}: PASS" in text for i in range(1, 6)] == [True] * 5
