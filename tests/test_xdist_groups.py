"""The suite's speed rests on xdist's loadgroup: the tests that check one set of session exports share a worker
(tests/conftest.py). If the grouping stops working (the hook running after xdist's, or a pytest release xdist cannot
group under), nothing fails: every worker just exports the artifacts again. This runs conftest.py's own hook in a
small project of two files, which that hook groups file by file, and checks where each test ran."""

import subprocess
import sys
from pathlib import Path

CONFTEST = f'''
import importlib.util

_spec = importlib.util.spec_from_file_location("suite_conftest", {str(Path(__file__).with_name("conftest.py"))!r})
_suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_suite)
pytest_collection_modifyitems = _suite.pytest_collection_modifyitems  # the suite's hook, as it is
'''

TESTS = '''
import os
import pathlib
import time


def record(name):
    time.sleep(0.2)  # long enough that two idle workers would both take tests of one file
    pathlib.Path(name).write_text(os.environ["PYTEST_XDIST_WORKER"])
''' + "".join(f"\n\ndef test_{i}():\n    record(__name__ + '_{i}')\n" for i in range(6))


def test_the_suites_groups_each_run_on_one_worker(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    for name in ("alpha", "beta"):
        (tmp_path / f"test_{name}.py").write_text(TESTS)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
                          "--dist", "loadgroup", "-o", "addopts=", "-o", "pythonpath=", str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:]
    workers = {path.name: path.read_text() for path in tmp_path.iterdir() if path.name.startswith("test_")
               and not path.name.endswith(".py")}
    assert len(workers) == 12
    for name in ("alpha", "beta"):
        assert len({w for test, w in workers.items() if test.startswith(f"test_{name}")}) == 1, workers
    assert len(set(workers.values())) == 2, "both workers ran tests"  # so one worker per file is not chance
