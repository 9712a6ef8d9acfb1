"""Instructor and maintainer tooling of the course: no lesson and no homework notebook imports it.

* :mod:`.build`: run the lessons headless (``python3 course.py run``);
* :mod:`.authoring`: homework folders, templates generated from the solutions, drift
  (``python3 course.py grade make-template`` / ``check-drift``), on :mod:`.notebook` (cell tags,
  sources, check names, volatile metadata);
* :mod:`.grading`: grade submissions (``python3 course.py grade``), one job a module:
  :mod:`.rebuild` (the notebook that runs), :mod:`.kit` (what a run sees), :mod:`.nbrun` (running
  nbval; also its pytest plugin), :mod:`.sandbox` / :mod:`.sandbox_init` (where it runs),
  :mod:`.verdict` (the grader's own judgement of each check), :mod:`.results` (grades, feedback,
  gradebook);
* :mod:`.release`: write the student edition (``python3 course.py release``).

What a homework notebook needs at run time (``cu.check``) stays in :mod:`course_utils.homework`.
Grading copies this package with the rest of ``course_utils`` into each run's library: the run's
pytest loads :mod:`.nbrun` from there.
"""
