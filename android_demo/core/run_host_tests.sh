#!/usr/bin/env bash
# Compile the Android demo's plain-Java core (main + tests) with javac and run its JUnit 4 tests on the
# host: no Gradle, no Android SDK, no network. Needs a JDK (>= 11) and JUnit 4 + Hamcrest jars
# (Debian: apt-get install default-jdk-headless junit4; override with JUNIT_JAR / HAMCREST_JAR).
#
#   python -m stsm_edge.app.golden /tmp/golden        # golden vectors from the Python references
#   android_demo/core/run_host_tests.sh /tmp/golden
#
# Also compiles the app's ExecuTorchBackend against signature stubs of the pinned ExecuTorch Java API
# (android_demo/tools/executorch-api-stubs), so a call that does not exist there fails here, and
# parses (syntax only) the Android-only app sources, which need the Android SDK to compile.
# Exit status: 0 only if everything compiled and every test passed.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 GOLDEN_DIR   (write it with: python -m stsm_edge.app.golden GOLDEN_DIR)" >&2
  exit 2
fi
GOLDEN_DIR=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
DEMO=$(cd "$HERE/.." && pwd)
JUNIT_JAR=${JUNIT_JAR:-/usr/share/java/junit4.jar}
HAMCREST_JAR=${HAMCREST_JAR:-/usr/share/java/hamcrest-core.jar}

for tool in javac java; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found (install a JDK, e.g. default-jdk-headless)" >&2; exit 3; }
done
for jar in "$JUNIT_JAR" "$HAMCREST_JAR"; do
  [ -f "$jar" ] || { echo "error: $jar not found (install junit4, or set JUNIT_JAR / HAMCREST_JAR)" >&2; exit 3; }
done

BUILD=$(mktemp -d "${TMPDIR:-/tmp}/stsm-core-build.XXXXXX")
trap 'rm -rf "$BUILD"' EXIT
mkdir -p "$BUILD/main" "$BUILD/test" "$BUILD/apicheck"

echo "== compiling core (main)"
find "$HERE/src/main/java" -name '*.java' > "$BUILD/main.txt"
javac -Xlint:all -Werror --release 11 -encoding UTF-8 -d "$BUILD/main" @"$BUILD/main.txt"

echo "== compiling the app's ExecuTorchBackend against the ExecuTorch API stubs"
find "$DEMO/tools/executorch-api-stubs" -name '*.java' > "$BUILD/apicheck.txt"
echo "$DEMO/app/src/main/java/org/stsmedge/demo/ExecuTorchBackend.java" >> "$BUILD/apicheck.txt"
javac -Xlint:all --release 11 -encoding UTF-8 -cp "$BUILD/main" -d "$BUILD/apicheck" @"$BUILD/apicheck.txt"

echo "== parsing the Android-only app sources (syntax only: no Android SDK here to compile them)"
find "$DEMO/app/src/main" \( -name '*.java' -o -name '*.xml' \) -print0 | xargs -0 java "$DEMO/tools/ParseCheck.java"

echo "== compiling core (tests)"
find "$HERE/src/test/java" -name '*.java' > "$BUILD/test.txt"
CP="$BUILD/main:$JUNIT_JAR:$HAMCREST_JAR"
javac -Xlint:all --release 11 -encoding UTF-8 -cp "$CP" -d "$BUILD/test" @"$BUILD/test.txt"

CLASSES=$(cd "$HERE/src/test/java" && find . -name '*Test.java' | sed -e 's|^\./||' -e 's|\.java$||' -e 's|/|.|g' | sort)
echo "== running JUnit: $(echo $CLASSES | wc -w) test classes, golden files from $GOLDEN_DIR"
# shellcheck disable=SC2086
java -Dgolden.dir="$GOLDEN_DIR" -cp "$BUILD/test:$CP" org.junit.runner.JUnitCore $CLASSES
