"""Moved to :mod:`course_utils.tools.grading` (issue 20).  Only forwards the old command line,
``python -m course_utils.grading ARGS``; import :mod:`course_utils.tools.grading` instead."""
if __name__ == "__main__":
    import sys

    from course_utils.tools.grading import main

    sys.exit(main())
