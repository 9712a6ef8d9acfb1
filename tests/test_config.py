"""course_utils.config is the one list of the course's ``COURSE_*`` settings: every name the code
uses is in it, README.md's table is its table, the code reads them through it (issue 20)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from course_utils import config, env
from course_utils.config import REPO_ROOT, SETTINGS

NAME = re.compile(r"\bCOURSE_[A-Z0-9]+(?:_[A-Z0-9]+)*\b")
#: Where a COURSE_* name may appear: the code, the notebooks, the docs, CI.
SCANNED = ["course.py", ".ci/run", "course_utils/**/*.py", "scripts/**/*.py", "benchmarks/**/*.py", "tests/**/*.py",
           "notebooks/*.ipynb", "homework/**/*.ipynb", "*.md", "homework/**/*.md", "data/**/*.md", "*.yml"]
#: Code that must read COURSE_* variables through course_utils.config (course.py runs before the
#: environment exists and reads its own).
READ_THROUGH_CONFIG = ["course_utils/**/*.py", "scripts/**/*.py", "benchmarks/**/*.py"]
#: Files another change owns that still read a variable directly (to be moved to config.shared_data_dir).
KNOWN_DIRECT_READS: set[str] = set()


def _files(patterns: list[str]) -> list[Path]:
    found = {p for pat in patterns for p in REPO_ROOT.glob(pat) if p.is_file()}
    return sorted(p for p in found if not {".venv", "build", "__pycache__"} & set(p.relative_to(REPO_ROOT).parts)
                  and p != Path(__file__).resolve())  # this file names made-up settings


def _readme_table() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## Settings (environment variables)\n", 1)[1].split("\n## ", 1)[0]
    return "".join(line + "\n" for line in section.splitlines() if line.startswith("|"))


def _rows(table: str) -> dict[str, str]:
    """name -> default of a settings table (its first and third columns)."""
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[2]
    return rows


def test_every_course_name_in_the_code_and_docs_is_a_setting():
    unknown = [f"{p.relative_to(REPO_ROOT)}:{i}: {name}"
               for p in _files(SCANNED)
               for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
               for name in NAME.findall(line) if name not in SETTINGS]
    assert not unknown, "COURSE_* names that course_utils/config.py does not list:\n" + "\n".join(unknown)


def test_the_scan_sees_the_names_of_every_part():
    names = {name for p in _files(SCANNED) for name in NAME.findall(p.read_text(errors="replace"))}
    assert {"COURSE_VENV", "COURSE_TEST_WORKERS", "COURSE_DATA_DIR", "COURSE_SHARED_DATA", "COURSE_REPO_URL",
            "COURSE_EMOTION_MODEL", "COURSE_FACENET_WEIGHTS"} <= names


def test_readme_table_is_the_modules_table():
    readme = _rows(_readme_table())
    module = _rows(config.readme_table())
    assert not sorted(set(module) - set(readme)), f"settings missing from README.md's table: {sorted(set(module) - set(readme))}"
    assert not sorted(set(readme) - set(module)), f"README.md lists settings config.py lacks: {sorted(set(readme) - set(module))}"
    differ = {n: (readme[n], module[n]) for n in module if readme[n] != module[n]}
    assert not differ, f"defaults differ (README, config.py): {differ}"
    assert _readme_table() == config.readme_table(), \
        "README.md's settings table is not config.py's: run `python -m course_utils.config --write-readme`"


def test_literal_defaults_in_the_code_are_the_tables():
    """``os.environ.get("COURSE_X", "literal")`` (course.py reads its own) agrees with config.py."""
    found = []
    for p in _files(["course.py", *READ_THROUGH_CONFIG]):
        for node in ast.walk(ast.parse(p.read_text())):
            if (isinstance(node, ast.Call) and len(node.args) == 2 and all(isinstance(a, ast.Constant) for a in node.args)
                    and isinstance(node.args[0].value, str) and node.args[0].value in SETTINGS):
                found.append((node.args[0].value, node.args[1].value))
    assert ("COURSE_TEST_WORKERS", "2") in found
    for name, default in found:
        assert SETTINGS[name].default == default, f"{name}: the code's default {default!r}, the table's {SETTINGS[name].default!r}"


def _direct_reads(source: str, label: str) -> list[str]:
    """The places in ``source`` that read a COURSE_* variable from the environment by its name."""
    reads = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = ast.unparse(node.func)
            if func in ("os.environ.get", "os.getenv", "environ.get", "env.get") and NAME.fullmatch(str(node.args[0].value)):
                reads.append(f"{label}:{node.lineno}: {func}({node.args[0].value!r})")
        if (isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ"
                and isinstance(node.ctx, ast.Load) and NAME.fullmatch(str(getattr(node.slice, "value", "")))):
            reads.append(f"{label}:{node.lineno}: os.environ[{node.slice.value!r}]")
    return reads


def test_library_scripts_and_benchmarks_read_settings_through_config():
    reads = [r for p in _files(READ_THROUGH_CONFIG) if str(p.relative_to(REPO_ROOT)) not in KNOWN_DIRECT_READS
             for r in _direct_reads(p.read_text(), str(p.relative_to(REPO_ROOT)))]
    assert not reads, "read these through course_utils.config (config.get / config.path / config.shared_data_dir):\n" \
        + "\n".join(reads)


def test_the_direct_read_check_sees_direct_reads():
    source = ('import os\nx = os.environ.get("COURSE_SHARED_DATA", "/d")\ny = os.environ["COURSE_DATA_DIR"]\n'
              'z = os.environ.get("HOME")\nos.environ["COURSE_DATA_DIR"] = "/w"\n')
    assert _direct_reads(source, "f.py") == ["f.py:2: os.environ.get('COURSE_SHARED_DATA')",
                                             "f.py:3: os.environ['COURSE_DATA_DIR']"]


def test_get_refuses_names_it_does_not_list_and_treats_empty_as_unset():
    with pytest.raises(KeyError, match="COURSE_NOPE is not a course setting"):
        config.get("COURSE_NOPE")
    assert config.get("COURSE_DATA_DIR", {"COURSE_DATA_DIR": ""}) is None
    assert config.get("COURSE_DATA_DIR", {"COURSE_DATA_DIR": "/x"}) == "/x"
    assert config.path("COURSE_DATA_DIR", {"COURSE_DATA_DIR": "~/d"}) == Path("~/d").expanduser()


def test_shared_data_dir_default_and_override(tmp_path):
    assert config.shared_data_dir({}) == REPO_ROOT.parent / "shared" / "data"
    assert config.shared_data_dir({"COURSE_SHARED_DATA": str(tmp_path)}) == tmp_path


def test_model_var_names_a_setting_for_each_model_kind():
    assert [config.model_var(k) for k in config.MODEL_KINDS] == ["COURSE_EMOTION_MODEL", "COURSE_MASK_MODEL"]
    with pytest.raises(ValueError, match="no model kind 'face'"):
        config.model_var("face")


def test_dataset_variables_are_settings():
    from course_utils.datasets import DATASETS

    assert all(info.env_var in SETTINGS for info in DATASETS.values())


def test_env_reads_the_data_folder_through_config(tmp_path):
    assert env.REPO_ROOT == REPO_ROOT
    assert env.choose_data_dir("local", {env.DATA_ENV_VAR: str(tmp_path)}) == tmp_path
    assert env.choose_data_dir("local", {env.DATA_ENV_VAR: ""}) == REPO_ROOT / "data" / "cache"


def test_write_readme_replaces_only_the_table():
    readme = "# T\n\n## Settings (environment variables)\n\nWords.\n\n| old |\n| --- |\n\n## Next\n"
    out = config.with_readme_table(readme)
    assert out == "# T\n\n## Settings (environment variables)\n\nWords.\n\n" + config.readme_table() + "\n## Next\n"
    assert config.with_readme_table(out) == out
    with pytest.raises(ValueError, match="no section"):
        config.with_readme_table("# T\n")


def test_main_prints_the_table_and_the_values(capsys, monkeypatch):
    assert config.main([]) == 0
    assert capsys.readouterr().out == config.readme_table()
    monkeypatch.setenv("COURSE_SHARED_DATA", "/somewhere")
    assert config.main(["--values"]) == 0
    assert "/somewhere" in capsys.readouterr().out
    assert config.main(["--bad"]) == 2
