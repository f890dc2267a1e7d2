"""The ``mbrl-course`` command: the TA's and maintainer's tools, kept apart from the helpers
the notebooks import.

* :mod:`~mbrl_helpers.grading.course` - where the course's notebooks live.
* :mod:`~mbrl_helpers.grading.release`, :mod:`~mbrl_helpers.grading.execute` - the student
  release and executed solutions.
* :mod:`~mbrl_helpers.grading.autograde` - grade a class (workers, grades.csv, feedback);
  :mod:`~mbrl_helpers.grading.submissions` finds the students' files (and
  :mod:`~mbrl_helpers.grading.zips` unpacks LMS archives safely);
  :mod:`~mbrl_helpers.grading.metadata` repairs or matches their nbgrader metadata.
* :mod:`~mbrl_helpers.grading.sandbox` - the operating-system sandbox of every grading kernel;
  :mod:`~mbrl_helpers.grading.executor` runs a notebook in it;
  :mod:`~mbrl_helpers.grading.kernel_guard` is the only module loaded inside the kernel.
* :mod:`~mbrl_helpers.grading.integrity`, :mod:`~mbrl_helpers.grading.code_scan` - flags for
  the TA; :mod:`~mbrl_helpers.grading.feedback` - the feedback students receive.
* :mod:`~mbrl_helpers.grading.mutants` - the maintainer's grading harness.
* :mod:`~mbrl_helpers.grading.cli` - the ``mbrl-course`` entry point.
"""
