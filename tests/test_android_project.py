"""The Android demo's project, checked on the host (no Android SDK, no Gradle download here).

- The Gradle wrapper is in the repo: gradlew (executable, also in git's index), gradlew.bat, the wrapper jar
  (Gradle's official one, by its published SHA-256) and its properties, whose Gradle version satisfies the
  minimum of the Android Gradle plugin the build declares and whose distribution checksum is Gradle's published
  one for that version.
- With targetSdk 35 the app is drawn edge to edge on Android 15: the full-screen camera preview stays unpadded,
  and each overlay panel of the layout is kept clear of the system bars, by MainActivity's window-insets
  listener or by fitsSystemWindows.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import stat
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "android_demo"
WRAPPER_JAR = DEMO / "gradle" / "wrapper" / "gradle-wrapper.jar"
WRAPPER_PROPERTIES = DEMO / "gradle" / "wrapper" / "gradle-wrapper.properties"
LAYOUT = DEMO / "app" / "src" / "main" / "res" / "layout" / "activity_main.xml"
ACTIVITY = DEMO / "app" / "src" / "main" / "java" / "org" / "stsmedge" / "demo" / "MainActivity.java"
ANDROID = "{http://schemas.android.com/apk/res/android}"

# Minimum Gradle for each Android Gradle plugin (major.minor), from the plugin's release notes (AGP 8.7.0:
# "Gradle: minimum 8.9"). A plugin bump must add its row here, so its minimum is looked up, not assumed.
AGP_MIN_GRADLE = {
    "8.0": "8.0", "8.1": "8.0", "8.2": "8.2", "8.3": "8.4", "8.4": "8.6", "8.5": "8.7", "8.6": "8.7",
    "8.7": "8.9", "8.8": "8.10.2", "8.9": "8.11.1",
}
# Gradle's published SHA-256 sums (https://gradle.org/release-checksums/): the -bin.zip per Gradle version, and
# the wrapper jar. Gradle 8.10.2, 8.11 and 8.11.1 write the same wrapper jar.
GRADLE_BIN_SHA256 = {"8.11.1": "f397b287023acdba1e9f6fc5ea72d22dd63669d59ed4a289a29b1a76eee151c6"}
WRAPPER_JAR_SHA256 = "2db75c40782f5e8ba1fc278a5574bab070adccb2d21ca5a6e5ed840888448046"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _properties(path: Path) -> dict[str, str]:
    props = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, value = line.split("=", 1)
            props[key.strip()] = value.strip().replace("\\:", ":")
    return props


def _agp_version() -> str:
    found = re.search(r"id\s*\(?\s*['\"]com\.android\.application['\"]\s*\)?\s*version\s*\(?\s*['\"]([\d.]+)['\"]",
                      (DEMO / "build.gradle").read_text())
    assert found, "android_demo/build.gradle declares no com.android.application plugin version"
    return found.group(1)


# ---- the Gradle wrapper ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gradlew", "gradlew.bat", "gradle/wrapper/gradle-wrapper.jar",
                                  "gradle/wrapper/gradle-wrapper.properties"])
def test_wrapper_file_exists(name):
    path = DEMO / name
    assert path.is_file() and path.stat().st_size > 0, f"android_demo/{name} is missing"


def test_gradlew_is_executable_on_disk_and_in_git():
    gradlew = DEMO / "gradlew"
    mode = gradlew.stat().st_mode
    assert mode & stat.S_IXUSR and mode & stat.S_IXGRP and mode & stat.S_IXOTH, oct(mode)
    assert gradlew.read_bytes().startswith(b"#!/bin/sh\n")
    assert "gradle/wrapper/gradle-wrapper.jar" in gradlew.read_text()
    if shutil.which("git") is None:
        pytest.skip("no git to read the index mode")  # the on-disk mode is checked above
    result = subprocess.run(["git", "-C", str(REPO), "ls-files", "--stage", "--", "android_demo/gradlew"],
                            check=False, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"not a git checkout: {result.stderr.strip()}")
    assert result.stdout.split()[:1] == ["100755"], result.stdout


def test_gradlew_is_valid_shell():
    if shutil.which("sh") is None:
        pytest.skip("no sh")
    result = subprocess.run(["sh", "-n", str(DEMO / "gradlew")], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_wrapper_jar_is_gradles_published_one():
    data = WRAPPER_JAR.read_bytes()
    assert hashlib.sha256(data).hexdigest() == WRAPPER_JAR_SHA256, "gradle-wrapper.jar is not Gradle's published jar"
    with zipfile.ZipFile(WRAPPER_JAR) as jar:
        assert "org/gradle/wrapper/GradleWrapperMain.class" in jar.namelist()


def test_wrapper_gradle_version_satisfies_the_android_gradle_plugin():
    props = _properties(WRAPPER_PROPERTIES)
    url = props.get("distributionUrl", "")
    found = re.fullmatch(r"https://services\.gradle\.org/distributions/gradle-([\d.]+)-(bin|all)\.zip", url)
    assert found, f"unexpected distributionUrl {url!r}"
    gradle, flavour = found.groups()
    agp = _agp_version()
    agp_minor = ".".join(agp.split(".")[:2])
    assert agp_minor in AGP_MIN_GRADLE, f"AGP {agp}: add its minimum Gradle to AGP_MIN_GRADLE (see its release notes)"
    minimum = AGP_MIN_GRADLE[agp_minor]
    assert _version(gradle) >= _version(minimum), f"AGP {agp} needs Gradle >= {minimum}, the wrapper has {gradle}"
    # The wrapper checks the downloaded distribution against Gradle's published sum.
    assert flavour == "bin" and gradle in GRADLE_BIN_SHA256, f"no published -bin.zip sum recorded for Gradle {gradle}"
    assert props.get("distributionSha256Sum") == GRADLE_BIN_SHA256[gradle]
    assert props.get("validateDistributionUrl") == "true"


def test_readme_gives_the_wrapper_build_command():
    readme = (DEMO / "README.md").read_text()
    build = readme.split("\n## Build\n", 1)[1]
    block = re.search(r"```bash\n(.*?)```", build, re.DOTALL)
    assert block, "README's Build section has no command block"
    commands = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    assert [c for c in commands if c] == ["./gradlew assembleDebug"], "one build command, through the wrapper"
    assert WRAPPER_JAR_SHA256 in readme


# ---- edge to edge: window insets ------------------------------------------------------------------------------


def _target_sdk() -> int:
    found = re.search(r"targetSdk\s*=?\s*(\d+)", (DEMO / "app" / "build.gradle").read_text())
    assert found
    return int(found.group(1))


def _method_body(source: str, name: str) -> str:
    """The body of the Java method `name` (brace-matched, comments and strings not special-cased)."""
    found = re.search(r"\b(?:void|[\w<>\[\]]+)\s+" + re.escape(name) + r"\s*\([^)]*\)\s*(?:throws [\w., ]+)?\{",
                      source)
    assert found, f"MainActivity has no method {name}"
    depth, start = 1, found.end()
    for i in range(start, len(source)):
        depth += {"{": 1, "}": -1}.get(source[i], 0)
        if depth == 0:
            return source[start:i]
    raise AssertionError(f"unbalanced braces in {name}")


def _split_args(text: str) -> list[str]:
    args, depth, current = [], 0, []
    for ch in text:
        if ch == "," and depth == 0:
            args.append("".join(current).strip())
            current = []
            continue
        depth += {"(": 1, ")": -1}.get(ch, 0)
        current.append(ch)
    args.append("".join(current).strip())
    return args


def _method_body_or_empty(source: str, name: str) -> str:
    try:
        return _method_body(source, name)
    except AssertionError:
        return ""


def _inset_padding(source: str) -> dict[str, list[str]]:
    """View id -> the four setPadding arguments applied to it in onCreate's window-insets listener."""
    on_create = _method_body(source, "onCreate")
    calls = re.findall(r"\b(\w+)\(\);", on_create)
    listeners = [name for name in calls if "setOnApplyWindowInsetsListener" in _method_body_or_empty(source, name)]
    if "ViewCompat.setOnApplyWindowInsetsListener(" in on_create:
        listeners.append("onCreate")
    padded: dict[str, list[str]] = {}
    for name in listeners:
        body = _method_body(source, name)
        if "WindowInsetsCompat.Type.systemBars()" not in body:
            continue
        views = dict(re.findall(r"(\w+)\s*=\s*findViewById\(R\.id\.(\w+)\)", body))  # variable -> view id
        listener = body[body.index("setOnApplyWindowInsetsListener("):]
        for call in re.finditer(r"\b(\w+)\.setPadding\(", listener):
            depth, i = 1, call.end()
            while depth:
                depth += {"(": 1, ")": -1}.get(listener[i], 0)
                i += 1
            if call.group(1) in views:
                padded[views[call.group(1)]] = _split_args(listener[call.end():i - 1])
    return padded


def test_overlay_panels_are_kept_clear_of_the_system_bars():
    assert _target_sdk() >= 35  # edge to edge is enforced from targetSdk 35 on Android 15
    root = ET.parse(LAYOUT).getroot()
    assert root.tag == "FrameLayout"
    padded = _inset_padding(ACTIVITY.read_text())
    children = list(root)
    previews = [child for child in children if child.tag.endswith("PreviewView")]
    assert len(previews) == 1
    # The preview fills the screen, bars included: neither it nor the root may be inset.
    for view in (root, previews[0]):
        assert view.get(ANDROID + "fitsSystemWindows") != "true", view.tag
        assert view.get(ANDROID + "id", "").removeprefix("@+id/") not in padded, view.tag
    overlays = [child for child in children if child is not previews[0]]
    assert {child.get(ANDROID + "layout_gravity") for child in overlays} == {"top", "bottom"}
    for panel in overlays:
        if panel.get(ANDROID + "fitsSystemWindows") == "true":
            continue
        view_id = panel.get(ANDROID + "id", "").removeprefix("@+id/")
        assert view_id in padded, f"overlay panel {view_id or panel.tag} is not padded by the system bars' insets"
        left, top, right, bottom = padded[view_id]
        assert ".left" in left and ".right" in right, (view_id, padded[view_id])
        edge = panel.get(ANDROID + "layout_gravity")
        assert (".top" in top) == (edge == "top") and (".bottom" in bottom) == (edge == "bottom"), \
            (view_id, padded[view_id])


def test_inset_check_notices_a_missing_listener():
    source = ACTIVITY.read_text()
    assert _inset_padding(source), "MainActivity pads no view by the window insets"
    without_call = re.sub(r"\n\s*applySystemBarInsets\(\);", "\n", source, count=1)
    assert without_call != source
    assert _inset_padding(without_call) == {}
