package org.pytorch.executorch;

/**
 * SIGNATURE STUB for a host-side compile check only; never packaged into the app (the app gets the
 * real class from org.pytorch:executorch-android). Lists just the members ExecuTorchBackend uses, as
 * declared by org.pytorch.executorch.Module in the ExecuTorch Android library (Module.java, and the
 * later Module.kt whose @JvmStatic/@JvmOverloads give Java the same signatures).
 */
public class Module {
  public static final int LOAD_MODE_FILE = 0;
  public static final int LOAD_MODE_MMAP = 1;

  private Module() {}

  public static Module load(String modelPath, int loadMode, int numThreads) {
    throw new UnsupportedOperationException("stub");
  }

  public static Module load(String modelPath) {
    throw new UnsupportedOperationException("stub");
  }

  public EValue[] forward(EValue... inputs) {
    throw new UnsupportedOperationException("stub");
  }

  /** Returns an error code in Module.java, Unit (throws) in Module.kt: ExecuTorchBackend ignores the result. */
  public void loadMethod(String methodName) {
    throw new UnsupportedOperationException("stub");
  }

  public void destroy() {
    throw new UnsupportedOperationException("stub");
  }
}
