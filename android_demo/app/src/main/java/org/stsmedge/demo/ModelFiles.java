package org.stsmedge.demo;

import android.content.Context;
import android.content.res.AssetManager;
import android.database.Cursor;
import android.net.Uri;
import android.provider.OpenableColumns;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.stsmedge.core.Metadata;

/**
 * Where the streaming .pte and its sidecar come from, first found wins: an explicit path (intent
 * extra "model"); else the newest .pte among those pushed to
 * /sdcard/Android/data/org.stsmedge.demo/files/models/ (adb push) and those picked on the device;
 * else assets/model.pte + assets/model.pte.json bundled in the APK. ExecuTorch loads from a file path, so
 * assets and picked documents are copied into the app's private files first.
 */
final class ModelFiles {
  static final String ASSET_MODEL = "model.pte";
  static final String ASSET_METADATA = "model.pte.json";

  /** A .pte file on disk and its parsed sidecar. */
  static final class Model {
    final File pte;
    final Metadata metadata;
    final String origin;

    Model(File pte, Metadata metadata, String origin) {
      this.pte = pte;
      this.metadata = metadata;
      this.origin = origin;
    }
  }

  private ModelFiles() {}

  static File pushedDir(Context context) {
    return new File(context.getExternalFilesDir(null), "models");
  }

  static File pickedDir(Context context) {
    return new File(context.getFilesDir(), "picked");
  }

  /** The sidecar of {@code x.pte} is {@code x.pte.json} (stsm_edge.sidecar.sidecar_path). */
  static File sidecarOf(File pte) {
    return new File(pte.getParentFile(), pte.getName() + ".json");
  }

  static Model find(Context context, String explicitPath) throws IOException {
    if (explicitPath != null) {
      return fromFile(new File(explicitPath), "intent extra");
    }
    File pushed = newestPte(pushedDir(context));
    File picked = newestPte(pickedDir(context));
    File newest = pushed == null || (picked != null && picked.lastModified() > pushed.lastModified()) ? picked : pushed;
    if (newest != null) {
      return fromFile(newest, newest.getParent());
    }
    return fromAssets(context);
  }

  private static File newestPte(File dir) {
    File[] files = dir.listFiles((d, name) -> name.endsWith(".pte"));
    File best = null;
    if (files != null) {
      for (File f : files) {
        if (best == null || f.lastModified() > best.lastModified()) {
          best = f;
        }
      }
    }
    return best;
  }

  static Model fromFile(File pte, String origin) throws IOException {
    File sidecar = sidecarOf(pte);
    if (!pte.isFile()) {
      throw new IOException(pte + ": no such model file");
    }
    if (!sidecar.isFile()) {
      throw new IOException(pte.getName() + ": its metadata sidecar " + sidecar.getName() + " is missing");
    }
    try (InputStream in = new FileInputStream(sidecar)) {
      return new Model(pte, Metadata.read(in, sidecar.getName()), origin);
    }
  }

  static Model fromAssets(Context context) throws IOException {
    AssetManager assets = context.getAssets();
    File dir = new File(context.getFilesDir(), "bundled");
    File pte = new File(dir, ASSET_MODEL);
    File sidecar = sidecarOf(pte);
    try (InputStream in = assets.open(ASSET_MODEL)) {
      copy(in, pte);
    } catch (IOException exc) {
      throw new IOException("no model: push one to " + pushedDir(context) + ", pick one, or bundle assets/"
          + ASSET_MODEL + " + assets/" + ASSET_METADATA, exc);
    }
    try (InputStream in = assets.open(ASSET_METADATA)) {
      copy(in, sidecar);
    }
    return fromFile(pte, "assets");
  }

  /** Copies picked documents (a .pte and its .pte.json) into the private picked/ folder. */
  static void importPicked(Context context, Iterable<Uri> uris) throws IOException {
    File dir = pickedDir(context);
    for (Uri uri : uris) {
      String name = displayName(context, uri);
      try (InputStream in = context.getContentResolver().openInputStream(uri)) {
        if (in == null) {
          throw new IOException("cannot read " + uri);
        }
        copy(in, new File(dir, name));
      }
    }
  }

  /** The document's file name (OpenableColumns.DISPLAY_NAME), so x.pte keeps its x.pte.json beside it. */
  static String displayName(Context context, Uri uri) throws IOException {
    try (Cursor cursor = context.getContentResolver().query(uri, new String[] {OpenableColumns.DISPLAY_NAME},
        null, null, null)) {
      if (cursor != null && cursor.moveToFirst() && !cursor.isNull(0)) {
        return new File(cursor.getString(0)).getName();
      }
    }
    throw new IOException("cannot tell the file name of " + uri);
  }

  static void copy(InputStream in, File target) throws IOException {
    File dir = target.getParentFile();
    if (dir != null && !dir.isDirectory() && !dir.mkdirs()) {
      throw new IOException("cannot create " + dir);
    }
    File tmp = new File(target.getPath() + ".part");
    try (OutputStream out = new FileOutputStream(tmp)) {
      byte[] buffer = new byte[1 << 16];
      int n;
      while ((n = in.read(buffer)) > 0) {
        out.write(buffer, 0, n);
      }
    }
    if (!tmp.renameTo(target)) {
      throw new IOException("cannot move " + tmp + " to " + target);
    }
  }
}
