package io.onceflow.benchmarks;

import io.onceflow.testing.ChildJvm;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The systems the benchmark compares, and how each one's process is started. */
public enum BenchSystem {
    RAW_AT_LEAST_ONCE("raw-alo", "raw loop, at-least-once (1 thread)"),
    RAW_TRANSACTIONAL("raw-tx", "raw loop, transactions (1 thread)"),
    ONCEFLOW_EXACTLY_ONCE("onceflow-eo", "Onceflow EXACTLY_ONCE"),
    ONCEFLOW_AT_LEAST_ONCE("onceflow-alo", "Onceflow AT_LEAST_ONCE"),
    /** Exactly-once with the heap's full checkpoints instead of incremental ones: not run unless asked for. */
    ONCEFLOW_EXACTLY_ONCE_FULL("onceflow-eo-full", "Onceflow EXACTLY_ONCE, full heap checkpoints"),
    FLINK_EXACTLY_ONCE("flink-eo", "Flink 2.2 EXACTLY_ONCE"),
    KAFKA_STREAMS_EXACTLY_ONCE("kstreams-eo", "Kafka Streams exactly_once_v2");

    /** Where the Flink job module's build output is: its classes and {@code flink-classpath.txt}. */
    public static final String FLINK_BUILD_PROPERTY = "onceflow.benchmarks.flink";

    /**
     * The JVM systems that run on the benchmark's own class path log through slf4j-simple at WARN, as an Onceflow
     * app does: that class path also holds the broker's log4j, whose start-up (about half a second, more on a busy
     * machine) is no part of any of them. Flink runs on its own class path with its own logging. They come before
     * {@code --child-jvm-option}s, so that one of those can set a logger's level.
     */
    private static final List<String> CHILD_LOGGING = List.of("-Dslf4j.provider=org.slf4j.simple.SimpleServiceProvider",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");

    /**
     * What Flink's own start scripts open of the JDK on Java 17 (its {@code env.java.opts.all} default);
     * without them its serializers fail on JDK internals.
     */
    private static final List<String> FLINK_JVM_OPTIONS = List.of(
            "--add-exports=java.base/sun.net.util=ALL-UNNAMED",
            "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
            "--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
            "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-opens=java.base/java.net=ALL-UNNAMED",
            "--add-opens=java.base/java.io=ALL-UNNAMED",
            "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
            "--add-opens=java.base/java.text=ALL-UNNAMED",
            "--add-opens=java.base/java.time=ALL-UNNAMED",
            "--add-opens=java.base/java.util=ALL-UNNAMED",
            "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
            "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
            "--add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED");

    private final String id;
    private final String label;

    BenchSystem(String id, String label) {
        this.id = id;
        this.label = label;
    }

    public String id() {
        return id;
    }

    public String label() {
        return label;
    }

    public boolean exactlyOnce() {
        return this != RAW_AT_LEAST_ONCE && this != ONCEFLOW_AT_LEAST_ONCE;
    }

    /** Whether the benchmark runs it when no systems are named. */
    public boolean byDefault() {
        return this != ONCEFLOW_EXACTLY_ONCE_FULL;
    }

    /** Whether a restart resumes from what the killed process left (checkpoints, changelog); raw loops do not. */
    public boolean restores() {
        return this != RAW_AT_LEAST_ONCE && this != RAW_TRANSACTIONAL;
    }

    /**
     * Whether the recovery phase restarts it: the systems that restore, and the raw transactional loop, whose restart
     * (a cold JVM's clients, the open transaction aborted, the committed offsets read, the first transaction
     * committed, no state) is the floor the others' restarts are measured against.
     */
    public boolean inRecovery() {
        return restores() || this == RAW_TRANSACTIONAL;
    }

    public static BenchSystem byId(String id) {
        for (BenchSystem s : values()) {
            if (s.id.equals(id)) {
                return s;
            }
        }
        List<String> ids = new ArrayList<>();
        for (BenchSystem s : values()) {
            ids.add(s.id);
        }
        throw new IllegalArgumentException("Unknown system '" + id + "'; choose from " + String.join(", ", ids));
    }

    /**
     * The command that runs this system's word count from {@code input} into {@code output}.
     *
     * @param run  a name unique to this run (group id, transactional id prefix, application id)
     * @param work a fresh directory the run may write in (checkpoints, state)
     */
    ProcessBuilder command(String bootstrap, String input, String output, String run, long intervalMillis,
                           int parallelism, Path work, List<String> jvmOptions) {
        String interval = Long.toString(intervalMillis);
        String p = Integer.toString(parallelism);
        List<String> flinkOptions = jvmOptions;
        jvmOptions = new ArrayList<>(CHILD_LOGGING);
        jvmOptions.addAll(flinkOptions);
        return switch (this) {
            case RAW_AT_LEAST_ONCE -> ChildJvm.of(RawLoop.class, jvmOptions, "at-least-once", bootstrap, input, output,
                    run, interval);
            case RAW_TRANSACTIONAL -> ChildJvm.of(RawLoop.class, jvmOptions, "transactional", bootstrap, input, output,
                    run, interval);
            case ONCEFLOW_EXACTLY_ONCE, ONCEFLOW_AT_LEAST_ONCE, ONCEFLOW_EXACTLY_ONCE_FULL -> ChildJvm.of(
                    OnceflowWordCount.class, jvmOptions, switch (this) {
                        case ONCEFLOW_EXACTLY_ONCE -> "exactly-once";
                        case ONCEFLOW_EXACTLY_ONCE_FULL -> "exactly-once-full";
                        default -> "at-least-once";
                    }, bootstrap, input, output, run, interval, p, work.resolve("checkpoints").toString());
            case KAFKA_STREAMS_EXACTLY_ONCE -> ChildJvm.of(KafkaStreamsWordCount.class, jvmOptions, bootstrap, input,
                    output, run, interval, p, work.resolve("state").toString());
            case FLINK_EXACTLY_ONCE -> flink(flinkOptions, bootstrap, input, output, run, interval, p,
                    work.resolve("checkpoints").toString());
        };
    }

    private static ProcessBuilder flink(List<String> jvmOptions, String... args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmOptions);
        command.addAll(FLINK_JVM_OPTIONS);
        command.add("-cp");
        command.add(flinkClasspath());
        command.add("io.onceflow.benchmarks.flink.FlinkWordCount");
        command.addAll(List.of(args));
        return new ProcessBuilder(command);
    }

    /** The Flink job's classes and its own dependencies (with the kafka-clients its connector was built on). */
    static String flinkClasspath() {
        String dir = System.getProperty(FLINK_BUILD_PROPERTY);
        if (dir == null) {
            throw new IllegalStateException("Where the Flink job was built is not set: run the benchmark through Maven "
                    + "(mvn -pl benchmarks exec:java), or set -D" + FLINK_BUILD_PROPERTY + "=benchmarks/flink-job/target");
        }
        Path target = Path.of(dir);
        Path file = target.resolve("flink-classpath.txt");
        if (!Files.isRegularFile(file) || !Files.isDirectory(target.resolve("classes"))) {
            throw new IllegalStateException("The Flink job is not built (no " + file + "): run "
                    + "mvn -q -B install -DskipTests from the project's root first");
        }
        try {
            return target.resolve("classes") + java.io.File.pathSeparator + Files.readString(file).trim();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
