package org.stsmedge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/** The Java Smoother against Python's Smoother on a 60-frame logit sequence, per config. */
public class SmootherGoldenTest {
  static float[][] logits(Map<String, Object> index) throws Exception {
    int frames = Golden.integer(index.get("frames"));
    int classes = Golden.integer(index.get("classes"));
    float[] flat = Golden.floats("smoothing", (String) index.get("logits"));
    assertEquals(frames * classes, flat.length);
    float[][] rows = new float[frames][];
    for (int t = 0; t < frames; t++) {
      rows[t] = Arrays.copyOfRange(flat, t * classes, (t + 1) * classes);
    }
    return rows;
  }

  static SmoothingConfig config(Map<String, Object> c) {
    return new SmoothingConfig(Golden.integer(c.get("window")), Golden.integer(c.get("vote")),
        Golden.integer(c.get("min_hold")), Golden.number(c.get("threshold")), Golden.number(c.get("margin")));
  }

  static SmoothingSeconds seconds(Map<String, Object> c) {
    return new SmoothingSeconds(Golden.number(c.get("smooth_s")), Golden.number(c.get("min_hold_s")),
        Golden.number(c.get("vote_s")), Golden.number(c.get("threshold")), Golden.number(c.get("margin")));
  }

  @Test
  public void secondsSettingsBecomePythonsStepsAndLabels() throws Exception {
    Map<String, Object> index = Golden.json("smoothing", "cases.json");
    float[][] rows = logits(index);
    List<Object> cases = Golden.list(index.get("seconds"));
    assertTrue(cases.size() >= 4);
    for (Object item : cases) {
      Map<String, Object> c = Golden.map(item);
      double step = Golden.number(c.get("step_seconds"));
      SmoothingConfig config = seconds(Golden.map(c.get("seconds"))).steps(step);
      assertEquals("step " + step, config(Golden.map(c.get("steps"))), config);
      List<Object> indices = Golden.list(c.get("index"));
      List<Object> scores = Golden.list(c.get("score"));
      Smoother smoother = new Smoother(config);
      for (int t = 0; t < rows.length; t++) {
        Smoother.Smoothed s = smoother.update(rows[t]);
        assertEquals(config + " frame " + t, Golden.integer(indices.get(t)), s.index);
        assertEquals(config + " frame " + t, Golden.number(scores.get(t)), s.score, 1e-12);
      }
    }
  }

  @Test
  public void sidecarDefaultsArePythonsSteps() throws Exception {
    Map<String, Object> sidecars = Golden.map(Golden.json("index.json").get("metadata"));
    assertTrue(sidecars.size() >= 5);
    for (Map.Entry<String, Object> entry : sidecars.entrySet()) {
      Metadata m = Metadata.parse(Golden.text("metadata", entry.getKey()), entry.getKey());
      SmoothingConfig expected = config(Golden.map(Golden.map(entry.getValue()).get("smoothing_steps")));
      assertEquals(entry.getKey(), expected, SmoothingConfig.forModel(m));
    }
  }

  @Test
  public void shownLabelsEqualPythonExactly() throws Exception {
    Map<String, Object> index = Golden.json("smoothing", "cases.json");
    float[][] rows = logits(index);
    List<Object> configs = Golden.list(index.get("configs"));
    assertTrue(configs.size() >= 5);
    double worstScore = 0;
    int changes = 0;
    for (Object item : configs) {
      Map<String, Object> c = Golden.map(item);
      SmoothingConfig config = config(Golden.map(c.get("config")));
      List<Object> indices = Golden.list(c.get("index"));
      List<Object> scores = Golden.list(c.get("score"));
      List<Object> tops = Golden.list(c.get("top3"));
      Smoother smoother = new Smoother(config);
      int previous = Integer.MIN_VALUE;
      for (int t = 0; t < rows.length; t++) {
        Smoother.Smoothed s = smoother.update(rows[t]);
        assertEquals(config + " frame " + t, Golden.integer(indices.get(t)), s.index);
        double diff = Math.abs(s.score - Golden.number(scores.get(t)));
        worstScore = Math.max(worstScore, diff);
        assertTrue(config + " frame " + t + " score diff " + diff, diff <= 1e-12);
        List<Labels.Scored> top = Labels.topK(s.probs, Arrays.asList(classNames(s.probs.length)), 3);
        List<Object> expected = Golden.list(tops.get(t));
        for (int k = 0; k < 3; k++) {
          List<Object> pair = Golden.list(expected.get(k));
          assertEquals(config + " frame " + t + " top" + k, Golden.integer(pair.get(0)), top.get(k).index);
          assertEquals(Golden.number(pair.get(1)), top.get(k).score, 1e-7);
        }
        if (s.index != previous) {
          changes++;
        }
        previous = s.index;
      }
    }
    assertTrue("the golden sequence exercises label changes", changes > 20);
    System.out.println("GOLDEN smoothing configs=" + configs.size() + " frames=" + rows.length
        + " max_score_diff=" + worstScore);
  }

  static String[] classNames(int n) {
    String[] names = new String[n];
    for (int i = 0; i < n; i++) {
      names[i] = Integer.toString(i);
    }
    return names;
  }

  @Test
  public void resetForgetsHistory() throws Exception {
    Map<String, Object> index = Golden.json("smoothing", "cases.json");
    float[][] rows = logits(index);
    Smoother a = new Smoother(SmoothingConfig.defaults());
    for (float[] row : rows) {
      a.update(row);
    }
    a.reset();
    Smoother b = new Smoother(SmoothingConfig.defaults());
    for (int t = 0; t < 10; t++) {
      Smoother.Smoothed x = a.update(rows[t]);
      Smoother.Smoothed y = b.update(rows[t]);
      assertEquals(y.index, x.index);
      assertEquals(y.score, x.score, 0.0);
    }
  }

  @Test
  public void majorityTiesGoToTheMostRecent() {
    assertEquals(4, Smoother.majority(new ArrayDeque<>(Arrays.asList(3, 4))));
    assertEquals(3, Smoother.majority(new ArrayDeque<>(Arrays.asList(4, 3, 3, 4, 3))));
    assertEquals(5, Smoother.majority(new ArrayDeque<>(Arrays.asList(3, 4, 5))));
  }

  @Test
  public void numpyPairwiseSumOrder() {
    // 1e16 + 1 + ... : sequential and pairwise sums differ; NumPy's pairwise order is the reference.
    double[] a = new double[20];
    a[0] = 1e16;
    for (int i = 1; i < a.length; i++) {
      a[i] = 1.0;
    }
    double r0 = 1e16 + 1.0; // lanes: r0 = a0 + a8, r1..r7 = a1..a7 + a9..a15 (= 2.0 each)
    double expected = ((r0 + 2.0) + (2.0 + 2.0)) + ((2.0 + 2.0) + (2.0 + 2.0));
    for (int i = 16; i < 20; i++) {
      expected += 1.0;
    }
    assertEquals(expected, NumpyMath.sum(a), 0.0);
  }

  @Test(expected = IllegalArgumentException.class)
  public void badConfigIsRefused() {
    new SmoothingConfig(12, 1, 2, 1.0);
  }
}
