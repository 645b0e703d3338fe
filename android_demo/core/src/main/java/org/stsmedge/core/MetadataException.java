package org.stsmedge.core;

/** A metadata sidecar the core cannot use: the message names the first problem, like Python's ArtifactError. */
public class MetadataException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public MetadataException(String message) {
    super(message);
  }
}
