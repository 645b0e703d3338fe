import com.sun.source.util.JavacTask;
import java.io.File;
import java.util.ArrayList;
import java.util.List;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

/**
 * Syntax-only check of Java sources that cannot be compiled on this host (the Android app needs the
 * Android SDK, CameraX and AndroidX): parses every .java file, resolves nothing; checks that every
 * .xml file is well-formed. Usage: java ParseCheck.java FILE...
 */
public class ParseCheck {
  private static int xmlErrors;

  public static void main(String[] args) throws Exception {
    JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
    DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
    try (StandardJavaFileManager files = compiler.getStandardFileManager(diagnostics, null, null)) {
      List<File> sources = new ArrayList<>();
      for (String arg : args) {
        if (arg.endsWith(".xml")) { // manifest and resources: well-formed XML
          try {
            javax.xml.parsers.DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(new File(arg));
          } catch (Exception exc) {
            xmlErrors++;
            System.err.println(arg + ": " + exc.getMessage());
          }
        } else {
          sources.add(new File(arg));
        }
      }
      JavacTask task = (JavacTask) compiler.getTask(null, files, diagnostics, List.of("-proc:none"), null,
          files.getJavaFileObjectsFromFiles(sources));
      task.parse();
    }
    int errors = xmlErrors;
    for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
      if (d.getKind() == Diagnostic.Kind.ERROR) {
        errors++;
        System.err.println(d);
      }
    }
    System.out.println("parsed " + args.length + " files (Java syntax, XML well-formedness), " + errors + " errors");
    System.exit(errors == 0 ? 0 : 1);
  }
}
