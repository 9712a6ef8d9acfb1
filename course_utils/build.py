"""Moved to :mod:`course_utils.tools.build` (issue 20).  Only forwards the old command line,
``python -m course_utils.build run ...``; import :mod:`course_utils.tools.build` instead."""
if __name__ == "__main__":
    import sys

    from course_utils.tools.build import main

    sys.exit(main())
