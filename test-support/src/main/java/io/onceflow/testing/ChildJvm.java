package io.onceflow.testing;

import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Starting a class's {@code main} in a JVM of its own, for tests and benchmarks that kill a process,
 * give it its own heap, or measure its CPU time and memory alone.
 */
public final class ChildJvm {

    private ChildJvm() {
    }

    /**
     * A process builder for {@code java [jvmOptions] -cp <the classpath of main> main [args]} with the
     * running JVM's {@code java}.
     */
    public static ProcessBuilder of(Class<?> main, List<String> jvmOptions, String... args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmOptions);
        command.add("-cp");
        command.add(classpath(main));
        command.add(main.getName());
        command.addAll(List.of(args));
        return new ProcessBuilder(command);
    }

    /**
     * The classpath {@code type} was loaded from: its loader's URLs when it is a URL class loader (as
     * under {@code mvn exec:java}, where {@code java.class.path} is Maven's own), else {@code java.class.path}.
     */
    public static String classpath(Class<?> type) {
        if (type.getClassLoader() instanceof URLClassLoader loader) {
            List<String> paths = new ArrayList<>();
            for (URL url : loader.getURLs()) {
                try {
                    paths.add(Path.of(url.toURI()).toString());
                } catch (URISyntaxException e) {
                    throw new IllegalStateException("Not a file on the classpath: " + url, e);
                }
            }
            return String.join(File.pathSeparator, paths);
        }
        return System.getProperty("java.class.path");
    }

    /** Deletes a directory a child worked in, with everything below it. */
    public static void deleteRecursively(Path directory) throws IOException {
        if (!Files.exists(directory)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(directory)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** The last 40 lines of a child's log, for a failure message; says so when there is none yet. */
    public static String tail(Path log) {
        List<String> lines;
        try {
            lines = Files.exists(log) ? Files.readAllLines(log) : List.of("(no output yet)");
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e + ")";
        }
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }
}
