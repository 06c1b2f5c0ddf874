package io.onceflow.benchmarks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How {@code --class-data-sharing} changes a system's command: class directories become jars (JDK 17 archives
 * classes from jars only), the training run writes the archive, the measured runs map it in once it exists.
 */
class ClassDataArchivesTest {

    /** A process that says it is ready, then waits to be stopped. */
    public static final class Sleeper {
        public static void main(String[] args) throws Exception {
            System.out.println("ready");
            System.out.flush();
            Thread.sleep(120_000);
        }
    }

    @Test
    void aJvmStoppedWithSigtermWritesTheArchiveAndTheNextOneMapsIt(@TempDir Path tmp) throws Exception {
        String classes = Path.of(Sleeper.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        assertTrue(Files.isDirectory(Path.of(classes)), "the test runs from a class directory: " + classes);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = List.of(java, "-cp", classes, Sleeper.class.getName());
        BenchSystem system = BenchSystem.RAW_TRANSACTIONAL;
        try (ClassDataArchives archives = new ClassDataArchives()) {
            Path log = tmp.resolve("training.log");
            Process training = new ProcessBuilder(archives.forTraining(system, command)).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.readString(log).contains("ready")) {
                assertTrue(training.isAlive() && System.nanoTime() < deadline, "not ready: " + Files.readString(log));
                Thread.sleep(20);
            }
            training.destroy(); // SIGTERM, as the benchmark stops a training run
            assertTrue(training.waitFor(60, TimeUnit.SECONDS), "the training JVM exits on SIGTERM");
            assertTrue(archives.trained(system), "no archive written; the JVM said: " + Files.readString(log));

            List<String> run = new ArrayList<>(archives.forRun(system, command));
            run.add(1, "-Xlog:class+load=info");
            Process measured = new ProcessBuilder(run).redirectErrorStream(true).start();
            try {
                List<String> loaded = untilReady(measured);
                assertTrue(loaded.stream().anyMatch(l -> l.contains(Sleeper.class.getName())
                        && l.contains("shared objects file")), "the run maps the archived class: " + loaded.stream()
                        .filter(l -> l.contains("Sleeper")).toList());
            } finally {
                measured.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void theOptionRefusesClassDataOptionsOfItsOwnBeforeStartingAnything() {
        String err = refused("--class-data-sharing", "--child-jvm-option=-XX:SharedArchiveFile=mine.jsa");
        assertTrue(err.contains("leave class-data options out of --child-jvm-option"), err);
    }

    @Test
    void theTrainingRunIsAskedForAnAotCacheAndTheMeasuredRunsStartFromIt(@TempDir Path tmp) throws Exception {
        Path lib = Files.write(tmp.resolve("lib.jar"), new byte[] {1});
        List<String> command = List.of("java", "-cp", lib.toString(), "io.example.Main");
        try (ClassDataArchives archives = new ClassDataArchives(ClassDataArchives.Kind.AOT_CACHE)) {
            List<String> training = archives.forTraining(BenchSystem.ONCEFLOW_EXACTLY_ONCE, command);
            assertTrue(training.get(1).startsWith("-XX:AOTCacheOutput=") && training.get(1).endsWith(".aot"),
                    training.toString());
            Path cache = Path.of(training.get(1).substring("-XX:AOTCacheOutput=".length()));
            Files.write(cache, new byte[] {1, 2});
            assertTrue(archives.trained(BenchSystem.ONCEFLOW_EXACTLY_ONCE));
            assertEquals("-XX:AOTCache=" + cache, archives.forRun(BenchSystem.ONCEFLOW_EXACTLY_ONCE, command).get(1));
        }
    }

    @Test
    void theAotCacheOptionSaysWhichJdkItNeedsOrWhatItCannotBeCombinedWith() {
        String both = refused("--aot-cache", "--class-data-sharing");
        assertTrue(both.contains("Choose one of --class-data-sharing and --aot-cache"), both);
        String own = refused("--aot-cache", "--child-jvm-option=-XX:AOTCache=mine.aot");
        assertTrue(own.contains("leave class-data options out of --child-jvm-option, or drop --aot-cache"), own);
        if (Runtime.version().feature() < 25) {
            String jdk = refused("--aot-cache");
            assertTrue(jdk.contains("--aot-cache needs JDK 25 or later") && jdk.contains("JAVA_HOME"), jdk);
        }
    }

    /**
     * What the command says on its standard error (where it reports its parameter errors) as it refuses {@code args}
     * with exit code 2.
     */
    private static String refused(String... args) {
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        java.io.PrintStream original = System.err;
        int exit;
        System.setErr(new java.io.PrintStream(err, true));
        try {
            exit = new picocli.CommandLine(new CompareBenchmark()).execute(args);
        } finally {
            System.setErr(original);
        }
        assertEquals(2, exit, err.toString());
        return err.toString();
    }

    /** The process's output lines up to its "ready". */
    private static List<String> untilReady(Process p) throws Exception {
        List<String> lines = new ArrayList<>();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()));
        for (String l = out.readLine(); l != null; l = out.readLine()) {
            lines.add(l);
            if (l.equals("ready")) {
                return lines;
            }
        }
        throw new AssertionError("the process ended without saying it was ready: " + lines);
    }

    @Test
    void directoriesBecomeJarsAndTheArchiveIsUsedOnceTrained(@TempDir Path tmp) throws Exception {
        Path classes = Files.createDirectories(tmp.resolve("classes/io/example"));
        byte[] bytes = {(byte) 0xCA, (byte) 0xFE, 1, 2, 3};
        Files.write(classes.resolve("Main.class"), bytes);
        Files.writeString(tmp.resolve("classes/app.properties"), "a=1");
        Path lib = Files.write(tmp.resolve("lib.jar"), new byte[] {1});
        String cp = tmp.resolve("classes") + File.pathSeparator + lib;
        List<String> command = List.of("java", "-Xmx1g", "-cp", cp, "io.example.Main", "arg");

        Path archive;
        try (ClassDataArchives archives = new ClassDataArchives()) {
            List<String> training = archives.forTraining(BenchSystem.ONCEFLOW_EXACTLY_ONCE, command);
            assertEquals("java", training.get(0));
            assertTrue(training.get(1).startsWith("-XX:ArchiveClassesAtExit="), training.toString());
            assertEquals(List.of("-Xmx1g", "-cp"), training.subList(2, 4));
            assertEquals(List.of("io.example.Main", "arg"), training.subList(5, 7));
            String[] entries = training.get(4).split(File.pathSeparator);
            assertEquals(2, entries.length);
            assertEquals(lib.toString(), entries[1], "jars stay as they are");
            try (JarFile jar = new JarFile(entries[0])) {
                assertNotNull(jar.getEntry("io/example/Main.class"), "the directory's classes are in the jar");
                assertArrayEquals(bytes, jar.getInputStream(jar.getEntry("io/example/Main.class")).readAllBytes());
                assertNotNull(jar.getEntry("app.properties"), "and its resources");
            }

            assertEquals(command, archives.forRun(BenchSystem.ONCEFLOW_EXACTLY_ONCE, command),
                    "no archive yet: the run goes as it would without class-data sharing");
            assertFalse(archives.trained(BenchSystem.ONCEFLOW_EXACTLY_ONCE), "the training wrote nothing");

            archive = Path.of(training.get(1).substring("-XX:ArchiveClassesAtExit=".length()));
            Files.write(archive, new byte[] {1, 2});
            assertTrue(archives.trained(BenchSystem.ONCEFLOW_EXACTLY_ONCE));
            List<String> run = archives.forRun(BenchSystem.ONCEFLOW_EXACTLY_ONCE, command);
            assertEquals("-XX:SharedArchiveFile=" + archive, run.get(1));
            assertEquals(training.get(4), run.get(4), "the same jars as in training: an archive maps only those");
            assertEquals(command, archives.forRun(BenchSystem.RAW_TRANSACTIONAL, command), "each system its own");
            assertTrue(Files.exists(archive));
        }
        assertFalse(Files.exists(archive.getParent()), "closed: the archives and jars are gone");
    }
}
