"""`python -m stsm_edge.benchmarks run|report|validate|android ...` (what `stsm-edge bench` forwards to).

    python -m stsm_edge.benchmarks run [options]        # this machine: results file + report (see harness.py)
    python -m stsm_edge.benchmarks report [options]     # markdown table + PNG plots from benchmarks/results/*.json
    python -m stsm_edge.benchmarks validate FILE...     # check results files against benchmarks/schema.json
    python -m stsm_edge.benchmarks android [options]    # a phone over adb (see benchmarks/android/README.md)
"""

from __future__ import annotations

import sys

COMMANDS = ("run", "report", "validate", "android")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    command = argv.pop(0) if argv and argv[0] in COMMANDS else "run"
    if command == "run":
        from stsm_edge.benchmarks.harness import main as run_main

        return run_main(argv)
    if command == "report":
        from stsm_edge.benchmarks.report import main as report_main

        return report_main(argv)
    if command == "validate":
        from stsm_edge.benchmarks.schema import ResultsError, load

        if not argv:
            print("usage: python -m stsm_edge.benchmarks validate FILE...", file=sys.stderr)
            return 2
        status = 0
        for path in argv:
            try:
                load(path)
                print(f"{path}: ok")
            except ResultsError as exc:
                print(f"error: {exc}", file=sys.stderr)
                status = 1
        return status
    from stsm_edge.benchmarks.android.adb_bench import main as android_main

    return android_main(argv)


if __name__ == "__main__":
    sys.exit(main())
