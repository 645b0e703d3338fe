"""The suite's speed rests on xdist's loadgroup: the tests that check one set of session exports share a worker
(tests/conftest.py). If a pytest or xdist release stops honouring the groups, nothing fails: every worker just exports
the artifacts again. This checks the mechanism itself, as conftest.py uses it."""

import subprocess
import sys
import textwrap

CONFTEST = textwrap.dedent('''
    import pytest

    @pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks
    def pytest_collection_modifyitems(items):
        for item in items:
            item.add_marker(pytest.mark.xdist_group("exports" if "grouped" in item.name else item.path.name))
''')

TESTS = textwrap.dedent('''
    import os
    import pathlib
    import time

    def record(name):
        time.sleep(0.2)  # long enough that two idle workers would both take tests
        pathlib.Path(name).write_text(os.environ["PYTEST_XDIST_WORKER"])
''') + "".join(f"\ndef test_grouped_{i}():\n    record('grouped_{i}')\n\ndef test_free_{i}():\n    record('free_{i}')\n"
               for i in range(6))


def test_tests_of_one_group_run_on_one_worker(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_parts.py").write_text(TESTS)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
                          "--dist", "loadgroup", "-o", "addopts=", "-o", "pythonpath=", str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    workers = {path.name: path.read_text() for path in tmp_path.iterdir() if path.name.startswith(("grouped", "free"))}
    assert len(workers) == 12
    assert len({w for name, w in workers.items() if name.startswith("grouped")}) == 1, workers
    assert len(set(workers.values())) == 2, "both workers ran tests"  # so one worker for the group is not chance
