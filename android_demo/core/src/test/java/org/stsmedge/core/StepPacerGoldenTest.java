package org.stsmedge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.Test;

/** The Java StepPacer against Python's StepPacer: the same frames become model steps, frame for frame. */
public class StepPacerGoldenTest {
  static StepPacer pacer(Object stepSeconds) {
    return stepSeconds == null ? StepPacer.everyFrame() : new StepPacer(Golden.number(stepSeconds));
  }

  @Test
  public void stepFlagsEqualPythonExactly() throws Exception {
    Map<String, Object> index = Golden.json("pacing", "cases.json");
    assertEquals(StepPacer.EARLY_TOLERANCE_DIVISOR, Golden.integer(index.get("early_tolerance_divisor")));
    assertEquals(StepPacer.DEFAULT_STEP_SECONDS, Golden.number(index.get("default_step_seconds")), 0.0);
    List<Object> cases = Golden.list(index.get("cases"));
    assertTrue(cases.size() >= 12);
    int frames = 0;
    int steps = 0;
    for (Object item : cases) {
      Map<String, Object> c = Golden.map(item);
      StepPacer pacer = pacer(c.get("step_seconds"));
      String name = c.get("name") + " at " + c.get("step_seconds") + " s";
      Object stepNs = c.get("step_ns");
      assertEquals(name, stepNs == null ? 0L : Json.integer(stepNs, "step_ns"), pacer.stepNanos());
      List<Object> stamps = Golden.list(c.get("timestamps_ns"));
      List<Object> expected = Golden.list(c.get("steps"));
      assertEquals(name, stamps.size(), expected.size());
      for (int i = 0; i < stamps.size(); i++) {
        boolean step = pacer.isStep(Json.integer(stamps.get(i), "timestamp"));
        assertEquals(name + " frame " + i, expected.get(i), step);
        steps += step ? 1 : 0;
      }
      frames += stamps.size();
    }
    System.out.println("GOLDEN pacing cases=" + cases.size() + " frames=" + frames + " steps=" + steps);
  }

  @Test
  public void resetStartsANewSchedule() {
    StepPacer pacer = new StepPacer(StepPacer.DEFAULT_STEP_SECONDS);
    assertTrue(pacer.isStep(1_000_000_000L));
    assertFalse(pacer.isStep(1_033_333_333L));
    pacer.reset();
    assertTrue(pacer.isStep(1_066_666_667L));
    assertFalse(pacer.isStep(1_100_000_000L));
  }

  @Test
  public void stepsRoundToNanosecondsAsPythonDoes() {
    assertEquals(166_666_667L, new StepPacer(1.0 / 6).stepNanos());
    assertEquals(2L, new StepPacer(2.5e-9).stepNanos()); // half to even, as Python's round
    assertEquals(4L, new StepPacer(3.5e-9).stepNanos());
    assertFalse(StepPacer.everyFrame().isPaced());
  }

  @Test(expected = IllegalArgumentException.class)
  public void aStepThatRoundsToZeroIsRefused() {
    new StepPacer(4e-10);
  }

  @Test(expected = IllegalArgumentException.class)
  public void aNegativeStepIsRefused() {
    new StepPacer(-0.1);
  }
}
