package org.stsmedge.demo;

import android.Manifest;
import android.content.Intent;
import android.content.pm.PackageManager;
import android.net.Uri;
import android.os.Build;
import android.os.Bundle;
import android.os.SystemClock;
import android.util.Log;
import android.util.Size;
import android.view.View;
import android.widget.Button;
import android.widget.TextView;
import androidx.activity.result.ActivityResultLauncher;
import androidx.activity.result.contract.ActivityResultContracts;
import androidx.appcompat.app.AppCompatActivity;
import androidx.camera.core.CameraSelector;
import androidx.camera.core.ImageAnalysis;
import androidx.camera.core.ImageProxy;
import androidx.camera.core.Preview;
import androidx.camera.core.resolutionselector.ResolutionSelector;
import androidx.camera.core.resolutionselector.ResolutionStrategy;
import androidx.camera.lifecycle.ProcessCameraProvider;
import androidx.camera.view.PreviewView;
import androidx.core.content.ContextCompat;
import androidx.core.graphics.Insets;
import androidx.core.view.ViewCompat;
import androidx.core.view.WindowInsetsCompat;
import com.google.common.util.concurrent.ListenableFuture;
import java.io.File;
import java.io.FileOutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.text.SimpleDateFormat;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import java.util.TimeZone;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import org.stsmedge.core.Benchmark;
import org.stsmedge.core.BenchmarkReport;
import org.stsmedge.core.BenchmarkStats;
import org.stsmedge.core.FpsMeter;
import org.stsmedge.core.Labels;
import org.stsmedge.core.Metadata;
import org.stsmedge.core.Prediction;
import org.stsmedge.core.Preprocessor;
import org.stsmedge.core.SmoothingConfig;
import org.stsmedge.core.StepPacer;
import org.stsmedge.core.StreamingSession;
import org.stsmedge.core.YuvPlanes;

/**
 * Live recognition: CameraX ImageAnalysis (YUV_420_888, KEEP_ONLY_LATEST) -> the core's
 * StreamingSession on ExecuTorch, paced by the frames' camera timestamps to the model's time step ->
 * top-3 with scores, ms/step, FPS and model steps/s. Every model operation (load, step, reset,
 * benchmark) runs on one single-thread executor, so the session is never shared.
 *
 * <p>Intent extras (adb shell am start -n org.stsmedge.demo/.MainActivity ...): {@code model} (path of
 * a .pte with its .pte.json beside it), {@code threads} (int, 0 = ExecuTorch's default), {@code
 * step_ms} (float: the time step to pace at instead of the sidecar's, as {@code --step-ms}), {@code
 * pacing} (boolean, default true; false: a model step per analysed frame), {@code benchmark} (boolean:
 * run the benchmark once the first camera frame arrives), {@code frames} (timed iterations, default
 * 200), {@code warmup} (default 20).
 */
public class MainActivity extends AppCompatActivity {
  private static final String TAG = "stsm-edge";
  private static final int[] THREAD_CHOICES = {0, 1, 2, 4, 8};
  private static final int TOP_K = 3;

  private final ExecutorService worker = Executors.newSingleThreadExecutor();
  private final AtomicBoolean resetRequested = new AtomicBoolean(false);
  private final ImageProxyPlanes planes = new ImageProxyPlanes();
  private final FpsMeter fps = new FpsMeter(30);
  private final FpsMeter stepRate = new FpsMeter(7); // about a second of model steps at the default 6/s

  // Owned by the worker thread.
  private StreamingSession session;
  private ModelFiles.Model model;
  private YuvPlanes lastFrame;
  private int lastRotation;
  private boolean benchmarkPending;

  private volatile int threads;
  private Float stepMsOverride; // null: the sidecar's time step
  private boolean pacing;
  private int benchFrames;
  private int benchWarmup;
  private PreviewView preview;
  private TextView labelsView;
  private TextView statsView;
  private TextView statusView;
  private Button threadsButton;

  private final ActivityResultLauncher<String> cameraPermission =
      registerForActivityResult(new ActivityResultContracts.RequestPermission(), granted -> {
        if (granted) {
          startCamera();
        } else {
          statusView.setText(R.string.no_camera_permission);
        }
      });

  private final ActivityResultLauncher<String[]> pickModel =
      registerForActivityResult(new ActivityResultContracts.OpenMultipleDocuments(), this::onPicked);

  @Override
  protected void onCreate(Bundle savedInstanceState) {
    super.onCreate(savedInstanceState);
    setContentView(R.layout.activity_main);
    applySystemBarInsets();
    preview = findViewById(R.id.preview);
    labelsView = findViewById(R.id.labels);
    statsView = findViewById(R.id.stats);
    statusView = findViewById(R.id.status);
    threadsButton = findViewById(R.id.threads);

    Intent intent = getIntent();
    threads = intent.getIntExtra("threads", 0);
    stepMsOverride = intent.hasExtra("step_ms") ? intent.getFloatExtra("step_ms", 0f) : null;
    pacing = intent.getBooleanExtra("pacing", true);
    benchmarkPending = intent.getBooleanExtra("benchmark", false);
    benchFrames = Math.max(1, intent.getIntExtra("frames", 200));
    benchWarmup = Math.max(0, intent.getIntExtra("warmup", 20));
    String explicitModel = intent.getStringExtra("model");
    showThreads();

    findViewById(R.id.reset).setOnClickListener(v -> resetRequested.set(true));
    threadsButton.setOnClickListener(v -> {
      threads = nextThreadChoice(threads);
      showThreads();
      worker.execute(() -> loadModel(explicitModel));
    });
    findViewById(R.id.benchmark).setOnClickListener(v -> worker.execute(() -> runBenchmark(benchFrames, benchWarmup)));
    findViewById(R.id.pick).setOnClickListener(v -> pickModel.launch(new String[] {"*/*"}));

    worker.execute(() -> loadModel(explicitModel));
    if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
      startCamera();
    } else {
      cameraPermission.launch(Manifest.permission.CAMERA);
    }
  }

  /**
   * targetSdk 35: Android 15 draws the window edge to edge, under the status and navigation bars. The camera
   * preview should fill the whole screen, bars included, so neither the root nor the preview is padded
   * ({@code fitsSystemWindows} on the root would shrink the preview and leave black bands at the top and
   * bottom). Only the two overlay panels are padded, by the system bars' and the display cutout's insets: their
   * translucent backgrounds still reach the screen's edges, their text and buttons sit clear of the bars. One
   * listener on the root pads both panels: {@code fitsSystemWindows} on each panel would not do, because before
   * API 30 insets consumed by one child of a FrameLayout are not dispatched to its siblings. Where the window is
   * not edge to edge (before Android 15) the system already keeps the content clear of the bars, and the insets
   * are zero here.
   */
  private void applySystemBarInsets() {
    View root = findViewById(R.id.root);
    View top = findViewById(R.id.top_panel);
    View bottom = findViewById(R.id.bottom_panel);
    // The layout's own padding, kept under the insets (the listener runs again on every insets change).
    int[] topPadding = {top.getPaddingLeft(), top.getPaddingTop(), top.getPaddingRight(), top.getPaddingBottom()};
    int[] bottomPadding = {bottom.getPaddingLeft(), bottom.getPaddingTop(), bottom.getPaddingRight(),
        bottom.getPaddingBottom()};
    ViewCompat.setOnApplyWindowInsetsListener(root, (v, windowInsets) -> {
      Insets bars = windowInsets.getInsets(
          WindowInsetsCompat.Type.systemBars() | WindowInsetsCompat.Type.displayCutout());
      top.setPadding(topPadding[0] + bars.left, topPadding[1] + bars.top, topPadding[2] + bars.right, topPadding[3]);
      bottom.setPadding(bottomPadding[0] + bars.left, bottomPadding[1], bottomPadding[2] + bars.right,
          bottomPadding[3] + bars.bottom);
      return WindowInsetsCompat.CONSUMED;
    });
  }

  private static int nextThreadChoice(int current) {
    for (int i = 0; i < THREAD_CHOICES.length; i++) {
      if (THREAD_CHOICES[i] == current) {
        return THREAD_CHOICES[(i + 1) % THREAD_CHOICES.length];
      }
    }
    return THREAD_CHOICES[0];
  }

  private void showThreads() {
    threadsButton.setText(threads == 0 ? "threads: auto" : "threads: " + threads);
  }

  private void status(String text) {
    Log.i(TAG, text);
    runOnUiThread(() -> statusView.setText(text));
  }

  // ---- model (worker thread) ------------------------------------------------------------------

  private void loadModel(String explicitPath) {
    closeSession();
    try {
      model = ModelFiles.find(this, explicitPath);
      Metadata m = model.metadata;
      if (!m.isStream()) {
        throw new IllegalArgumentException(m.artifact + " is a " + m.form + " artifact; this demo runs stream artifacts"
            + " (stsm-edge export --form stream)");
      }
      long start = SystemClock.elapsedRealtimeNanos();
      ExecuTorchBackend backend = new ExecuTorchBackend(model.pte.getAbsolutePath(), threads, m.statesInside);
      session = new StreamingSession(m, backend, SmoothingConfig.forModel(m), TOP_K, pacer(m));
      fps.reset();
      stepRate.reset();
      status(String.format(Locale.US, "%s (%s, %s %s) from %s, %d states %s, %s, %s, loaded in %.0f ms", m.artifact,
          m.target, m.form, m.precision, model.origin, m.states.size(), m.statesInside ? "inside" : "carried",
          backend.describe(),
          describePacing(session.pacer(), m), (SystemClock.elapsedRealtimeNanos() - start) / 1e6));
    } catch (Exception | LinkageError exc) {
      session = null;
      Log.e(TAG, "model load failed", exc);
      status("cannot load the model: " + exc.getMessage());
    }
  }

  private StepPacer pacer(Metadata m) {
    if (!pacing) {
      return StepPacer.everyFrame();
    }
    return stepMsOverride != null ? new StepPacer(stepMsOverride / 1e3) : StepPacer.forModel(m);
  }

  private String describePacing(StepPacer pacer, Metadata m) {
    if (!pacer.isPaced()) {
      return "pacing off (a model step per frame)";
    }
    String source = stepMsOverride != null ? "step_ms" : m.timeStepSeconds.isPresent() ? "the sidecar's"
        : "default: the sidecar records no time step";
    return String.format(Locale.US, "paced at %.1f steps/s (%s)", 1e9 / pacer.stepNanos(), source);
  }

  private void closeSession() {
    if (session != null) {
      session.close();
      session = null;
    }
  }

  private void onPicked(List<Uri> uris) {
    if (uris == null || uris.isEmpty()) {
      return;
    }
    worker.execute(() -> {
      try {
        ModelFiles.importPicked(this, uris);
        loadModel(null);
      } catch (Exception exc) {
        status("cannot import the picked files: " + exc.getMessage());
      }
    });
  }

  // ---- camera -----------------------------------------------------------------------------------

  private void startCamera() {
    ListenableFuture<ProcessCameraProvider> future = ProcessCameraProvider.getInstance(this);
    future.addListener(() -> {
      try {
        ProcessCameraProvider provider = future.get();
        Preview previewUseCase = new Preview.Builder().build();
        previewUseCase.setSurfaceProvider(preview.getSurfaceProvider());
        ImageAnalysis analysis = new ImageAnalysis.Builder()
            .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
            .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_YUV_420_888)
            .setResolutionSelector(new ResolutionSelector.Builder()
                .setResolutionStrategy(new ResolutionStrategy(new Size(640, 480),
                    ResolutionStrategy.FALLBACK_RULE_CLOSEST_HIGHER_THEN_LOWER))
                .build())
            .build();
        analysis.setAnalyzer(worker, this::analyze);
        provider.unbindAll();
        provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, previewUseCase, analysis);
      } catch (Exception exc) {
        Log.e(TAG, "camera start failed", exc);
        status("cannot start the camera: " + exc.getMessage());
      }
    }, ContextCompat.getMainExecutor(this));
  }

  /** Runs on the worker thread, one frame at a time; frames arriving meanwhile are dropped (KEEP_ONLY_LATEST). */
  private void analyze(ImageProxy image) {
    try {
      YuvPlanes frame = planes.copy(image);
      lastRotation = image.getImageInfo().getRotationDegrees();
      lastFrame = frame;
      if (session == null) {
        return;
      }
      if (resetRequested.getAndSet(false)) {
        session.reset();
        fps.reset();
        stepRate.reset();
      }
      // The sensor's capture time (ns): the pacer turns a frame into a model step when a time step has passed.
      Prediction p = session.step(frame, lastRotation, image.getImageInfo().getTimestamp());
      double rate = fps.tick(SystemClock.elapsedRealtimeNanos());
      double steps = p.modelStep ? stepRate.tick(p.timestampNanos) : stepRate.fps();
      show(p, rate, steps);
      if (benchmarkPending) {
        benchmarkPending = false;
        runBenchmark(benchFrames, benchWarmup);
      }
    } catch (Exception exc) {
      Log.e(TAG, "frame failed", exc);
      status("frame failed: " + exc.getMessage());
    } finally {
      image.close();
    }
  }

  private void show(Prediction p, double rate, double stepsPerSecond) {
    StringBuilder text = new StringBuilder(p.label).append('\n');
    for (Labels.Scored s : p.top) {
      text.append(s).append('\n');
    }
    String stats = Labels.timing(p.latencyMs, rate) + String.format(Locale.US,
        "  %.1f steps/s\n(model %.1f ms, preprocess %.1f ms)", stepsPerSecond, p.modelMs, p.preprocessMs);
    runOnUiThread(() -> {
      labelsView.setText(text.toString().trim());
      statsView.setText(stats);
    });
  }

  // ---- benchmark mode (worker thread) -------------------------------------------------------------

  private void runBenchmark(int frames, int warmup) {
    if (session == null) {
      status("benchmark: no model loaded");
      return;
    }
    try {
      Metadata m = session.metadata();
      Preprocessor pre = new Preprocessor(m.preprocess);
      float[] input = lastFrame != null
          ? pre.preprocess(ImageProxyPlanes.snapshot(lastFrame), lastRotation)
          : new float[pre.outputSize()]; // no camera frame yet: a zero frame (latency does not depend on pixels)
      status(String.format(Locale.US, "benchmark: %d warmup + %d frames, %s...", warmup, frames,
          session.backend().describe()));
      BenchmarkStats stats = Benchmark.run(m, session.backend(), input, warmup, frames);
      BenchmarkReport report = new BenchmarkReport(BenchmarkReport.device(Build.MODEL, Build.MANUFACTURER,
          Build.SUPPORTED_ABIS.length > 0 ? Build.SUPPORTED_ABIS[0] : "unknown",
          Runtime.getRuntime().availableProcessors(), Build.VERSION.SDK_INT));
      report.add(m, "executorch", threads, stats, warmup)
          .put("created", isoNow())
          .put("app", getPackageName())
          .put("device_detail", deviceDetail())
          .put("input", lastFrame != null ? "last camera frame" : "zero frame");
      File dir = getExternalFilesDir("benchmarks");
      if (dir == null || (!dir.isDirectory() && !dir.mkdirs())) {
        throw new IllegalStateException("no external files directory for the results");
      }
      String stem = m.artifact.replaceAll("\\.[^.]*$", "");
      File out = new File(dir, String.format(Locale.US, "bench-%s-t%d-%d.json", stem, threads,
          System.currentTimeMillis()));
      try (Writer w = new OutputStreamWriter(new FileOutputStream(out), StandardCharsets.UTF_8)) {
        w.write(report.toJson());
      }
      session.reset(); // the benchmark paused the live stream: start its history afresh
      fps.reset();
      stepRate.reset();
      status(String.format(Locale.US, "benchmark: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, mean %.2f ms -> %s",
          stats.p50, stats.p90, stats.p99, stats.mean, out.getAbsolutePath()));
    } catch (Exception exc) {
      Log.e(TAG, "benchmark failed", exc);
      status("benchmark failed: " + exc.getMessage());
    }
  }

  private static String isoNow() {
    SimpleDateFormat format = new SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss'Z'", Locale.US);
    format.setTimeZone(TimeZone.getTimeZone("UTC"));
    return format.format(new Date());
  }

  private static java.util.Map<String, Object> deviceDetail() {
    java.util.Map<String, Object> d = new java.util.LinkedHashMap<>();
    d.put("brand", Build.BRAND);
    d.put("device", Build.DEVICE);
    d.put("hardware", Build.HARDWARE);
    d.put("soc_model", Build.VERSION.SDK_INT >= 31 ? Build.SOC_MODEL : "unknown");
    d.put("release", Build.VERSION.RELEASE);
    d.put("fingerprint", Build.FINGERPRINT);
    List<Object> abis = new ArrayList<>();
    for (String abi : Build.SUPPORTED_ABIS) {
      abis.add(abi);
    }
    d.put("abis", abis);
    return d;
  }

  @Override
  protected void onDestroy() {
    super.onDestroy();
    worker.execute(this::closeSession);
    worker.shutdown();
  }
}
