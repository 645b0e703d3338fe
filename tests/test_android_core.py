"""The Android demo's plain-Java core against Python's golden vectors, on the host (javac + JUnit 4).

Writes the golden files with stsm_edge.app.golden, runs android_demo/core/run_host_tests.sh, and checks
that every JUnit test in the core's sources ran and passed. No JDK or JUnit is a failure, not a skip:
the core's parity with Python is part of what this repo promises.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from stsm_edge.app.golden import logit_sequence, write_golden
from stsm_edge.sidecar import SCHEMA_PATH

pytestmark = pytest.mark.slow  # compiles the Java core and runs its JUnit tests

REPO = Path(__file__).resolve().parent.parent
CORE = REPO / "android_demo" / "core"
SCRIPT = CORE / "run_host_tests.sh"
JUNIT_JARS = (Path("/usr/share/java/junit4.jar"), Path("/usr/share/java/hamcrest-core.jar"))


def _expected_test_count() -> int:
    sources = (CORE / "src" / "test" / "java").rglob("*Test.java")
    return sum(len(re.findall(r"^\s*@Test\b", path.read_text(), re.MULTILINE)) for path in sources)


@pytest.fixture(scope="module")
def golden(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("golden")
    write_golden(directory)
    return directory


def test_golden_files_are_deterministic(golden, tmp_path):
    a, b = golden, tmp_path / "again"
    write_golden(b)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) > 20
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert logit_sequence().dtype == np.float32
    index = json.loads((a / "index.json").read_text())
    assert index["preprocess"]["cases"] >= 5 and index["smoothing"]["configs"] >= 5
    assert index["pacing"]["cases"] >= 12


def test_java_core_matches_python(golden):
    missing = [tool for tool in ("javac", "java") if shutil.which(tool) is None]
    missing += [str(jar) for jar in JUNIT_JARS if not jar.exists()]
    assert not missing, f"the Android core's host tests need a JDK and Debian's junit4: missing {missing}"
    result = subprocess.run(["bash", str(SCRIPT), str(golden)], check=False, capture_output=True, text=True,
                            timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    ran = re.search(r"^OK \((\d+) tests?\)", output, re.MULTILINE)
    assert ran, output[-4000:]
    expected = _expected_test_count()
    assert expected >= 25
    assert int(ran.group(1)) == expected, output[-4000:]
    diffs = [float(x) for x in re.findall(r"GOLDEN preprocess max_abs_diff=(\S+)", output)]
    assert diffs and diffs[0] <= 1e-5
    assert "GOLDEN smoothing configs=" in output
    assert "GOLDEN pacing cases=" in output


def test_java_core_requires_what_the_sidecar_schema_requires():
    """The core's own list of required sidecar keys is the JSON Schema's (MetadataTest then parses a sidecar cut
    down to exactly those fields)."""
    schema = json.loads(SCHEMA_PATH.read_text())
    java = (CORE / "src" / "main" / "java" / "org" / "stsmedge" / "core" / "Metadata.java").read_text()
    listed = re.search(r"String\[\]\[\] required = \{(.*?)\};", java, re.DOTALL)
    assert listed, "Metadata.java no longer lists its required keys"
    assert set(re.findall(r'\{"(\w+)", "\w+"\}', listed.group(1))) == set(schema["required"])
