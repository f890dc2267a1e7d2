"""Worker process of ``mbrl-course autograde``: ``python -m mbrl_helpers.grading.worker SPEC``.

SPEC is a JSON file written by :func:`mbrl_helpers.grading.autograde`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mbrl_helpers.grading.autograde import grade_shard
from mbrl_helpers.grading.nbgrader_course import GradingConfig
from mbrl_helpers.grading.submissions import Submission


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    subs = [Submission(**{**s, "path": Path(s["path"]) if s["path"] else None})
            for s in spec["subs"]]
    grade_shard(
        Path(spec["root"]), Path(spec["course_dir"]), subs, Path(spec["out_dir"]),
        GradingConfig(**{**spec["settings"],
                         "feedback_only": tuple(spec["settings"].get("feedback_only", ()))}),
        Path(spec["results"]), spec.get("deny"),
        spec.get("warm_cache", ""),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
