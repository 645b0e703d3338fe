"""The main job is a library function: called directly, its first stage reports the shift's cost and a real
ImageNet prediction through STSM."""

from stsm_edge.app.demo import run_demo


def test_run_demo_first_stage_called_from_python(tmp_path):
    lines: list[str] = []
    assert run_demo(tmp_path / "out", skip_export=True, log=lines.append) == 0
    text = "\n".join(lines)
    assert "shift adds 0 params and 0 FLOPs (equal)" in text
    assert "streaming (causal) states: 10," in text  # one state per shifted MobileNetV2 block
    stsm = text.split("STSM-MobileNetV2, still clip of 8 (ImageNet weights):\n")[1]
    assert "espresso" in stsm.splitlines()[0], text  # STSM's top-1 on a still clip of the coffee photo
    assert not (tmp_path / "out").exists()  # the first stage writes nothing
