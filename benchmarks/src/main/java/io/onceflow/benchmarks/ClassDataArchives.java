package io.onceflow.benchmarks;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

/**
 * Class-data sharing for the systems' JVMs ({@code --class-data-sharing}): each system gets an archive of the
 * classes it loaded in a training run of its own ({@code -XX:ArchiveClassesAtExit}, written as the JVM exits
 * after SIGTERM), and its measured runs map that archive in ({@code -XX:SharedArchiveFile}) instead of loading,
 * parsing and verifying each class anew — what the Docker image does for an Onceflow job. JDK 17 archives only
 * classes from jars, so every class directory on a system's class path is packed into a jar first, and the
 * system runs on those jars, in training as in the measured runs.
 *
 * <p>With {@link Kind#AOT_CACHE} ({@code --aot-cache}, JDK 25 and later) the training run writes an ahead-of-time
 * cache instead ({@code -XX:AOTCacheOutput}, JEP 483 and 514: its JVM assembles the cache in a child JVM as it
 * exits), which also holds the classes linked and the methods' profiles from training (JEP 515), and the measured
 * runs start from it ({@code -XX:AOTCache}).
 */
final class ClassDataArchives implements AutoCloseable {
    /** What the training run writes and the measured runs start from. */
    enum Kind {
        /** A dynamic class-data archive: JDK 13 and later. */
        DYNAMIC_ARCHIVE("--class-data-sharing", "class-data archive", ".jsa", "-XX:ArchiveClassesAtExit=",
                "-XX:SharedArchiveFile=", 13),
        /** An ahead-of-time cache: JDK 25 and later. */
        AOT_CACHE("--aot-cache", "ahead-of-time cache", ".aot", "-XX:AOTCacheOutput=", "-XX:AOTCache=", 25);

        /** The benchmark's option that asks for it. */
        final String option;
        /** What the progress lines call it. */
        final String label;
        final String suffix;
        final String trainingOption;
        final String runOption;
        final int sinceJdk;

        Kind(String option, String label, String suffix, String trainingOption, String runOption, int sinceJdk) {
            this.option = option;
            this.label = label;
            this.suffix = suffix;
            this.trainingOption = trainingOption;
            this.runOption = runOption;
            this.sinceJdk = sinceJdk;
        }
    }

    private final Kind kind;
    private final Path dir;
    private final Map<String, Path> jarOfDirectory = new HashMap<>();
    private final Map<BenchSystem, Path> archives = new EnumMap<>(BenchSystem.class);

    ClassDataArchives() throws IOException {
        this(Kind.DYNAMIC_ARCHIVE);
    }

    ClassDataArchives(Kind kind) throws IOException {
        this.kind = kind;
        this.dir = Files.createTempDirectory("onceflow-bench-cds-");
    }

    /** The command for training {@code system}: jars for class directories, the archive written at exit. */
    List<String> forTraining(BenchSystem system, List<String> command) {
        return rewrite(command, kind.trainingOption + archive(system));
    }

    /** Whether the training run of {@code system} left an archive; from now on its runs use it. */
    boolean trained(BenchSystem system) throws IOException {
        Path a = archive(system);
        if (Files.isRegularFile(a) && Files.size(a) > 0) {
            archives.put(system, a);
            return true;
        }
        return false;
    }

    /** The command for a measured run: with the system's archive, once it has one; else unchanged. */
    List<String> forRun(BenchSystem system, List<String> command) {
        Path a = archives.get(system);
        return a == null ? command : rewrite(command, kind.runOption + a);
    }

    /** What the training runs write: "class-data archive" or "ahead-of-time cache". */
    String name() {
        return kind.label;
    }

    private Path archive(BenchSystem system) {
        return dir.resolve(system.id() + kind.suffix);
    }

    /** {@code java <option> ...} with every directory of the {@code -cp} value replaced by its jar. */
    private List<String> rewrite(List<String> command, String option) {
        List<String> out = new ArrayList<>(command);
        out.add(1, option);
        int cp = out.indexOf("-cp");
        if (cp < 0) {
            throw new IllegalStateException("no -cp in " + command);
        }
        List<String> entries = new ArrayList<>();
        for (String entry : out.get(cp + 1).split(File.pathSeparator)) {
            entries.add(Files.isDirectory(Path.of(entry)) ? jarOf(entry).toString() : entry);
        }
        out.set(cp + 1, String.join(File.pathSeparator, entries));
        return out;
    }

    private synchronized Path jarOf(String directory) {
        return jarOfDirectory.computeIfAbsent(directory, d -> {
            Path jar = dir.resolve("classes-" + jarOfDirectory.size() + ".jar");
            Path root = Path.of(d);
            try (OutputStream file = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(file)) {
                Files.walkFileTree(root, new SimpleFileVisitor<>() {
                    @Override
                    public FileVisitResult visitFile(Path f, BasicFileAttributes attributes) throws IOException {
                        out.putNextEntry(new JarEntry(root.relativize(f).toString().replace(File.separatorChar, '/')));
                        Files.copy(f, out);
                        out.closeEntry();
                        return FileVisitResult.CONTINUE;
                    }
                });
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot pack " + d + " into a jar for class-data sharing", e);
            }
            return jar;
        });
    }

    @Override
    public void close() throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
