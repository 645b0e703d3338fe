package org.stsmedge.core;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * The metadata sidecar {@code <artifact>.json} ("stsm-edge/artifact", versions 1 and 2), read and checked
 * the way {@code stsm_edge.sidecar.validate_sidecar} checks it, with the same first-problem messages.
 */
public final class Metadata {
  public static final String SCHEMA = "stsm-edge/artifact";
  public static final int VERSION = 2;

  public final int version;
  public final String artifact;
  public final String target;
  public final String form; // "clip" or "stream"
  public final String precision;
  public final int numClasses;
  public final int nSegments;
  public final List<String> labels;
  public final PreprocessSpec preprocess;
  public final List<TensorSpec> inputs;
  public final List<TensorSpec> outputs;
  public final List<TensorSpec> states;
  /**
   * Where a stream keeps its states: false, the caller carries them (state inputs, new-state outputs); true, the
   * program keeps them inside (sidecar "state": "internal"), takes the frame alone and returns the logits alone,
   * and the backend's {@link Backend#reset()} starts a new stream.
   */
  public final boolean statesInside;
  /** The model's time step (time between two training frames) in seconds; empty when the sidecar records none. */
  public final OptionalDouble timeStepSeconds;
  /** The model's recommended smoothing in seconds; empty when the sidecar records none. */
  public final Optional<SmoothingSeconds> smoothing;
  /** Everything the file holds (model config, provenance, parity...), as parsed. */
  public final Map<String, Object> raw;

  private Metadata(Map<String, Object> data, String source) {
    raw = Collections.unmodifiableMap(data);
    String[][] required = {
      {"schema", "str"}, {"version", "int"}, {"artifact", "str"}, {"target", "str"}, {"form", "str"},
      {"precision", "str"}, {"model", "dict"}, {"labels", "list"}, {"preprocess", "dict"},
      {"inputs", "list"}, {"outputs", "list"}, {"states", "list"},
    };
    for (String[] entry : required) {
      String key = entry[0];
      if (!data.containsKey(key)) {
        throw new MetadataException(source + ": missing key '" + key + "'");
      }
      Object value = data.get(key);
      boolean ok;
      switch (entry[1]) {
        case "str": ok = value instanceof String; break;
        case "int": ok = value instanceof Long; break;
        case "dict": ok = value instanceof Map; break;
        default: ok = value instanceof List;
      }
      if (!ok) {
        throw new MetadataException(source + ": '" + key + "' must be a " + entry[1]);
      }
    }
    if (!SCHEMA.equals(data.get("schema"))) {
      throw new MetadataException(source + ": schema '" + data.get("schema") + "' is not '" + SCHEMA + "'");
    }
    version = (int) (long) (Long) data.get("version");
    if (version > VERSION) {
      throw new MetadataException(source + ": schema version " + version
          + " is newer than this stsm-edge reads (" + VERSION + ")");
    }
    form = (String) data.get("form");
    if (!form.equals("clip") && !form.equals("stream")) {
      throw new MetadataException(source + ": form must be 'clip' or 'stream', got '" + form + "'");
    }
    artifact = (String) data.get("artifact");
    target = (String) data.get("target");
    precision = (String) data.get("precision");
    inputs = tensors(data, "inputs", source);
    outputs = tensors(data, "outputs", source);
    states = tensors(data, "states", source);
    timeStepSeconds = timeStep(data.get("time_step"), source);
    smoothing = SmoothingSeconds.fromSidecar(data.get("smoothing"), source);
    statesInside = statesInside(data.get("state"), source);
    @SuppressWarnings("unchecked")
    Map<String, Object> model = (Map<String, Object>) data.get("model");
    List<?> rawLabels = (List<?>) data.get("labels");
    Object classes = model.get("num_classes");
    if (!(classes instanceof Long) || rawLabels.size() != (Long) classes) {
      throw new MetadataException(source + ": " + rawLabels.size() + " labels for " + classes + " classes");
    }
    numClasses = (int) (long) (Long) classes;
    Object segments = model.get("n_segments");
    nSegments = segments instanceof Long ? (int) (long) (Long) segments : 1;
    List<String> names = new ArrayList<>();
    for (Object label : rawLabels) {
      names.add(String.valueOf(label));
    }
    labels = Collections.unmodifiableList(names);
    @SuppressWarnings("unchecked")
    Map<String, Object> pre = (Map<String, Object>) data.get("preprocess");
    preprocess = PreprocessSpec.fromJson(pre);
    if (form.equals("stream")) {
      checkStream(source);
    }
  }

  private void checkStream(String source) {
    if (inputs.isEmpty() || outputs.isEmpty()) {
      throw new MetadataException(source + ": a stream artifact needs a frame input and a logits output");
    }
    if (statesInside && (inputs.size() != 1 || outputs.size() != 1)) {
      throw new MetadataException(source + ": a stream that keeps its states inside takes the frame alone and "
          + "returns the logits alone, but the sidecar lists " + inputs.size() + " inputs and " + outputs.size()
          + " outputs");
    }
    if (inputs.size() != outputs.size()) {
      throw new MetadataException(source + ": " + inputs.size() + " inputs but " + outputs.size()
          + " outputs; a stream artifact returns one new state per state input");
    }
    for (int i = 1; i < inputs.size(); i++) {
      if (inputs.get(i).numel() != outputs.get(i).numel()) {
        throw new MetadataException(source + ": state " + inputs.get(i).name + " has " + inputs.get(i).numel()
            + " elements but its output " + outputs.get(i).name + " has " + outputs.get(i).numel());
      }
    }
    for (int i = 1; i < inputs.size(); i++) {
      carried(i - 1); // a carried state quantized otherwise than its input and output is refused now
    }
    if (outputs.get(0).numel() != numClasses) {
      throw new MetadataException(source + ": logits output has " + outputs.get(0).numel() + " values for "
          + numClasses + " classes");
    }
  }

  private static List<TensorSpec> tensors(Map<String, Object> data, String group, String source) {
    List<TensorSpec> out = new ArrayList<>();
    for (Object item : (List<?>) data.get(group)) {
      if (!(item instanceof Map)) {
        throw new MetadataException(source + ": an entry of '" + group + "' is not an object");
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> spec = (Map<String, Object>) item;
      for (String key : new String[] {"name", "shape", "dtype"}) {
        if (!spec.containsKey(key)) {
          throw new MetadataException(source + ": an entry of '" + group + "' lacks '" + key + "'");
        }
      }
      String where = source + ": " + group + " " + spec.get("name");
      if (!(spec.get("shape") instanceof List)) {
        throw new MetadataException(where + ": shape must be a list");
      }
      List<?> dims = (List<?>) spec.get("shape");
      long[] shape = new long[dims.size()];
      for (int i = 0; i < shape.length; i++) {
        shape[i] = Json.integer(dims.get(i), where + " shape");
      }
      Quantization q = null;
      Object rawQ = spec.get("quantization");
      if (rawQ instanceof Map) {
        @SuppressWarnings("unchecked")
        Map<String, Object> qm = (Map<String, Object>) rawQ;
        Object qdtype = qm.containsKey("dtype") ? qm.get("dtype") : "int8";
        q = new Quantization(Json.number(Json.require(qm, "scale", where), where + " scale"),
            (int) Json.integer(Json.require(qm, "zero_point", where), where + " zero_point"), String.valueOf(qdtype));
      } else if (rawQ != null) {
        throw new MetadataException(where + ": quantization must be an object or null");
      }
      TensorSpec tensor = new TensorSpec(String.valueOf(spec.get("name")), shape, String.valueOf(spec.get("dtype")), q);
      tensor.numel(); // refuses negative or huge shapes now, not at the first frame
      out.add(tensor);
    }
    return Collections.unmodifiableList(out);
  }

  /** Optional ("explicit" when absent), so sidecars from before it stay valid. */
  private static boolean statesInside(Object value, String source) {
    if (value == null || "explicit".equals(value)) {
      return false;
    }
    if ("internal".equals(value)) {
      return true;
    }
    throw new MetadataException(source + ": 'state' must be 'explicit' or 'internal', got " + value);
  }

  /** Optional, so sidecars from before it and foreign checkpoints (which know no step) stay valid. */
  private static OptionalDouble timeStep(Object value, String source) {
    if (value == null) {
      return OptionalDouble.empty();
    }
    Object seconds = value instanceof Map ? ((Map<?, ?>) value).get("seconds") : null;
    if (!(seconds instanceof Long || seconds instanceof Double) || !(((Number) seconds).doubleValue() > 0)) {
      throw new MetadataException(source + ": 'time_step' must be null or an object with 'seconds' > 0");
    }
    return OptionalDouble.of(((Number) seconds).doubleValue());
  }

  public static Metadata parse(String json, String source) {
    Map<String, Object> data;
    try {
      data = Json.parseObject(json);
    } catch (IllegalArgumentException exc) {
      throw new MetadataException(source + ": not valid JSON (" + exc.getMessage() + ")");
    }
    return new Metadata(data, source);
  }

  public static Metadata read(InputStream in, String source) throws IOException {
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    byte[] chunk = new byte[8192];
    int n;
    while ((n = in.read(chunk)) > 0) {
      buffer.write(chunk, 0, n);
    }
    return parse(new String(buffer.toByteArray(), StandardCharsets.UTF_8), source);
  }

  public boolean isStream() {
    return form.equals("stream");
  }

  /** The state inputs of a stream artifact: inputs[1:], in order (the runner's {@code _state_shapes}). */
  public List<TensorSpec> stateInputs() {
    return inputs.subList(Math.min(1, inputs.size()), inputs.size());
  }

  /** The new-state outputs of a stream artifact: outputs[1:], in order. */
  public List<TensorSpec> stateOutputs() {
    return outputs.subList(Math.min(1, outputs.size()), outputs.size());
  }

  /**
   * Whether state {@code i} (input {@code i + 1}) is carried as the artifact's own integers (schema version 2: its
   * {@code states} entry has a quantization, shared exactly by the state input and its new-state output), so the
   * host hands the output back untouched and starts it at the zero point; else it is carried as float32 and
   * quantized on the way in (see {@code stsm_edge.sidecar._check_carried_states}).
   */
  public boolean carried(int i) {
    TensorSpec in = inputs.get(i + 1);
    TensorSpec entry = null;
    for (TensorSpec state : states) {
      if (state.name.equals(in.name)) {
        entry = state;
      }
    }
    if (entry == null || entry.quantization == null) {
      return false;
    }
    TensorSpec out = outputs.get(i + 1);
    for (TensorSpec tensor : new TensorSpec[] {in, out}) {
      if (!entry.quantization.equals(tensor.quantization) || !entry.dtype.equals(tensor.dtype)) {
        throw new MetadataException(artifact + ": state " + in.name + " is carried as " + entry.dtype + " with "
            + entry.quantization + ", but " + tensor.name + " is not quantized so");
      }
    }
    return true;
  }

  /** Bytes of state the host carries between frames (as stored on the host: float32, or one byte each for a carried
   * int8 state); none when kept inside. */
  public long stateBytes() {
    long total = 0;
    for (int i = 0; i < stateInputs().size(); i++) {
      total += (carried(i) ? 1L : 4L) * stateInputs().get(i).numel();
    }
    return total;
  }

  public String label(int index) {
    return index < 0 ? Labels.NO_ACTION : labels.get(index);
  }
}
