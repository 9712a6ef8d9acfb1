"""Instructor and maintainer tooling of the course: no lesson and no homework notebook imports it.

* :mod:`.build`: run the lessons headless (``python3 course.py run``);
* :mod:`.grading`: grade homework submissions (``python3 course.py grade``), with
  :mod:`.sandbox` / :mod:`.sandbox_init` (where a submission runs) and :mod:`.verdict`
  (the grader's own judgement of each check);
* :mod:`.release`: write the student edition (``python3 course.py release``).

What a homework notebook needs at run time (``cu.check``) stays in :mod:`course_utils.homework`.
"""
