package io.onceflow.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.JobClient;
import io.onceflow.api.JobExecutionException;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.functions.MapFunction;
import io.onceflow.api.functions.RichFunction;
import io.onceflow.api.functions.RuntimeContext;
import io.onceflow.api.state.ValueStateDescriptor;
import io.onceflow.testing.CommittedStore;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceSource;
import io.onceflow.testing.TransactionalTestSink;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Misconfiguration fails early, with a message that names the problem and what to change. */
class ConfigurationErrorsTest {

    @TempDir
    Path dir;

    private static StreamEnvironment countJob(StreamEnvironment env, String sinkUid) {
        env.fromSource(SequenceSource.bounded(2, 2_000, 10), "sequence").uid("source")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(new TransactionalTestSink(CommittedStore.inMemory())).uid(sinkUid);
        return env;
    }

    @Test
    void duplicateUid() {
        StreamEnvironment env = countJob(StreamEnvironment.create(), "count");
        JobConfigurationException e = assertThrows(JobConfigurationException.class, () -> env.executeAsync("dup"));
        assertTrue(e.getMessage().contains("Duplicate uid 'count'"), e.getMessage());
    }

    static final class UsesKeyedState implements MapFunction<String, String>, RichFunction {
        @Override
        public void open(RuntimeContext context) {
            context.getState(new ValueStateDescriptor<>("count", Long.class));
        }

        @Override
        public String map(String value) {
            return value;
        }
    }

    @Test
    void keyedStateOutsideAKeyedStream() {
        StreamEnvironment env = StreamEnvironment.create();
        env.fromSource(SequenceSource.bounded(1, 10, 2), "sequence")
                .map(new UsesKeyedState()).uid("not-keyed")
                .sinkTo(new TransactionalTestSink(CommittedStore.inMemory()));
        JobExecutionException e = assertThrows(JobExecutionException.class, () -> env.execute("keyed-outside"));
        assertTrue(e.getMessage().contains("keyed state is only available on a keyed stream: call keyBy(...)"), e.getMessage());
    }

    @Test
    void exactlyOnceWithCheckpointsOnlyInMemoryIsRefusedUnlessAskedFor() throws Exception {
        StreamEnvironment env = countJob(StreamEnvironment.create(), "sink");
        env.enableCheckpointing(Duration.ofSeconds(1));
        JobConfigurationException e = assertThrows(JobConfigurationException.class, () -> env.executeAsync("in-memory"));
        assertTrue(e.getMessage().contains("is EXACTLY_ONCE but has no checkpoint storage")
                && e.getMessage().contains("write its output a second time")
                && e.getMessage().contains("setCheckpointStorage(\"memory:\")"), e.getMessage());

        env.getCheckpointConfig().setCheckpointStorage("memory:");
        try (JobClient job = env.executeAsync("in-memory")) {
            assertEquals(io.onceflow.api.JobStatus.FINISHED, job.awaitTermination(Duration.ofSeconds(30)),
                    "explicitly asked for, memory is accepted");
        }
        StreamEnvironment atLeastOnce = countJob(StreamEnvironment.create(), "sink");
        atLeastOnce.enableCheckpointing(Duration.ofSeconds(1), io.onceflow.api.CheckpointingMode.AT_LEAST_ONCE);
        try (JobClient job = atLeastOnce.executeAsync("at-least-once-in-memory")) {
            assertEquals(io.onceflow.api.JobStatus.FINISHED, job.awaitTermination(Duration.ofSeconds(30)),
                    "AT_LEAST_ONCE promises no more than memory gives");
        }
    }

    @Test
    void checkpointDirectoryNotWritable() throws Exception {
        Path file = Files.writeString(dir.resolve("a-file"), "not a directory");
        StreamEnvironment env = countJob(StreamEnvironment.create(), "sink");
        env.enableCheckpointing(Duration.ofSeconds(1));
        env.getCheckpointConfig().setCheckpointStorage(file.resolve("checkpoints").toString());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> env.executeAsync("unwritable"));
        assertTrue(e.getMessage().contains("is not writable") && e.getMessage().contains("a-file"), e.getMessage());
    }

    @Test
    void unsupportedStorageScheme() {
        StreamEnvironment env = countJob(StreamEnvironment.create(), "sink");
        env.getCheckpointConfig().setCheckpointStorage("s3://bucket/checkpoints");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> env.executeAsync("s3"));
        assertTrue(e.getMessage().contains("scheme 's3'"), e.getMessage());
    }

    @Test
    void invalidCheckpointSettingsAreRejectedAtOnce() {
        StreamEnvironment env = StreamEnvironment.create();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> env.enableCheckpointing(Duration.ofMillis(1)));
        assertTrue(e.getMessage().contains("use at least 10 ms"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> env.getCheckpointConfig().setMaxConcurrentCheckpoints(0));
        assertThrows(IllegalArgumentException.class, () -> env.getCheckpointConfig().setNumRetainedCheckpoints(0));
        assertThrows(IllegalArgumentException.class, () -> env.getCheckpointConfig().setTolerableCheckpointFailureNumber(-1));
        assertThrows(IllegalArgumentException.class, () -> env.setParallelism(0));
    }

    @Test
    void functionThatCannotBeCopied() {
        Object notSerializable = new Object();
        StreamEnvironment env = StreamEnvironment.create();
        var stream = env.fromSource(SequenceSource.bounded(1, 10, 2), "sequence");
        JobConfigurationException e = assertThrows(JobConfigurationException.class,
                () -> stream.map(w -> w + notSerializable.hashCode()));
        assertTrue(e.getMessage().contains("cannot be copied for each parallel subtask"), e.getMessage());
    }

    record Point(int x, int y) {
    }

    @Test
    void keyTypeWithoutSerializerFailsTheCheckpointWithAHint() {
        StreamEnvironment env = StreamEnvironment.create();
        env.enableCheckpointing(Duration.ofMillis(20));
        env.getCheckpointConfig().setCheckpointStorage("memory:");
        env.setRestartStrategy(RestartStrategies.noRestart());
        env.fromSource(SequenceSource.bounded(1, 1_000_000, 5).throttled(1_000), "sequence")
                .keyBy(w -> new Point(w.length(), 1))
                .count()
                .map(kv -> kv.toString())
                .sinkTo(new TransactionalTestSink(CommittedStore.inMemory()));
        JobClient job = env.executeAsync("point-keys");
        JobExecutionException e = assertThrows(JobExecutionException.class, () -> job.awaitTermination(Duration.ofSeconds(30)));
        assertTrue(e.getMessage().contains("pass a TypeSerializer for it"), e.getMessage());
    }

    /** Runs the count job to its end with file checkpoints whose state lives in files. */
    private Path runToCompletion(String job) throws Exception {
        StreamEnvironment env = countJob(StreamEnvironment.create(), "sink");
        env.enableCheckpointing(Duration.ofMillis(20));
        env.getCheckpointConfig().setCheckpointStorage(dir.toString());
        env.getCheckpointConfig().setInlineStateThresholdBytes(0);
        env.execute(job);
        return dir.resolve(job);
    }

    private static Path latestCheckpoint(Path jobDir) throws Exception {
        try (Stream<Path> s = Files.list(jobDir)) {
            List<Path> dirs = s.filter(p -> Files.exists(p.resolve("_metadata"))).toList();
            assertEquals(1, dirs.size(), "one retained checkpoint");
            return dirs.get(0);
        }
    }

    /**
     * A checkpoint's keyed state (a heap chain, a RocksDB database) is refused by an operator of the same uid
     * that is no longer keyed: not dropped.
     */
    @Test
    void keyedStateOfAnOperatorNoLongerOnAKeyedStream() throws Exception {
        for (io.onceflow.api.StateBackend backend : List.of(new io.onceflow.api.HeapStateBackend(),
                io.onceflow.api.RocksDBStateBackend.create().withLocalDirectory(dir.resolve("rocksdb")))) {
            String job = "unkeyed-" + backend.getClass().getSimpleName();
            StreamEnvironment keyed = countJob(StreamEnvironment.create(), "sink");
            keyed.setStateBackend(backend);
            keyed.enableCheckpointing(Duration.ofMillis(20));
            keyed.getCheckpointConfig().setCheckpointStorage(dir.toString());
            keyed.execute(job);

            StreamEnvironment env = StreamEnvironment.create();
            env.enableCheckpointing(Duration.ofMillis(20));
            env.getCheckpointConfig().setCheckpointStorage(dir.toString());
            env.setRestartStrategy(RestartStrategies.noRestart());
            env.fromSource(SequenceSource.bounded(2, 2_000, 10), "sequence").uid("source")
                    .map(w -> w).uid("count")
                    .sinkTo(new TransactionalTestSink(CommittedStore.inMemory())).uid("sink");
            JobExecutionException e = assertThrows(JobExecutionException.class, () -> env.execute(job), job);
            assertTrue(e.getMessage().contains("has keyed state for operator 'count', which is not on a keyed stream "
                    + "any more: keep keyBy(...) before it or start fresh"), job + ": " + e.getMessage());
        }
    }

    @Test
    void stateFileOfUnknownFormatVersion() throws Exception {
        Path chk = latestCheckpoint(runToCompletion("versioned"));
        Path stateFile;
        try (Stream<Path> s = Files.list(chk)) {
            stateFile = s.filter(p -> p.getFileName().toString().startsWith("count")).findFirst().orElseThrow();
        }
        try (RandomAccessFile f = new RandomAccessFile(stateFile.toFile(), "rw")) {
            f.seek(4);
            f.writeInt(99);
        }
        StreamEnvironment env = countJob(StreamEnvironment.create(), "sink");
        env.enableCheckpointing(Duration.ofMillis(20));
        env.getCheckpointConfig().setCheckpointStorage(dir.toString());
        long start = System.nanoTime();
        JobExecutionException e = assertThrows(JobExecutionException.class, () -> env.execute("versioned"));
        assertTrue(e.getMessage().contains("format version 99") && e.getMessage().contains("start the job fresh"),
                e.getMessage());
        assertTrue(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start) < 10,
                "an incompatible checkpoint fails at once instead of restarting");
    }

    @Test
    void metadataOfUnknownFormatVersion() throws Exception {
        Path chk = latestCheckpoint(runToCompletion("meta"));
        try (RandomAccessFile f = new RandomAccessFile(chk.resolve("_metadata").toFile(), "rw")) {
            f.seek(4);
            f.writeInt(7);
        }
        StreamEnvironment env = countJob(StreamEnvironment.create(), "sink");
        env.getCheckpointConfig().setCheckpointStorage(dir.toString());
        JobConfigurationException e = assertThrows(JobConfigurationException.class, () -> env.executeAsync("meta"));
        assertTrue(e.getMessage().contains("metadata format version 7"), e.getMessage());
    }

    /** Claims a name in the job's shared validation map; a second sink with the same name is refused. */
    static final class ClaimingSink extends TransactionalTestSink implements io.onceflow.api.ValidatesConfiguration {
        private final String name;

        ClaimingSink(String name) {
            super(CommittedStore.inMemory());
            this.name = name;
        }

        @Override
        public void validate(Context context) {
            Object other = context.shared().putIfAbsent("claim:" + name, context.operatorUid());
            if (other != null) {
                throw new IllegalArgumentException("Sinks '" + other + "' and '" + context.operatorUid()
                        + "' both claim '" + name + "'");
            }
            if (context.checkpointConfig().getCheckpointTimeout().toMinutes() > 5) {
                throw new IllegalArgumentException("checkpoint timeout too long for sink '" + context.operatorUid() + "'");
            }
        }
    }

    @Test
    void sinksValidateTheirConfigurationBeforeTheJobRuns() {
        StreamEnvironment env = StreamEnvironment.create();
        var words = env.fromSource(SequenceSource.bounded(1, 10, 2), "sequence");
        words.sinkTo(new ClaimingSink("x")).uid("first");
        words.sinkTo(new ClaimingSink("x")).uid("second");
        env.getCheckpointConfig().setCheckpointTimeout(Duration.ofMinutes(1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> env.executeAsync("claims"));
        assertEquals("Sinks 'first' and 'second' both claim 'x'", e.getMessage());

        StreamEnvironment env2 = StreamEnvironment.create();
        env2.fromSource(SequenceSource.bounded(1, 10, 2), "sequence").sinkTo(new ClaimingSink("y")).uid("only");
        IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class, () -> env2.executeAsync("timeout"));
        assertTrue(e2.getMessage().contains("checkpoint timeout too long for sink 'only'"), e2.getMessage());
    }

    @Test
    void jobWithoutSink() {
        StreamEnvironment env = StreamEnvironment.create();
        env.fromSource(SequenceSource.bounded(1, 10, 2), "sequence").map(w -> w);
        JobConfigurationException e = assertThrows(JobConfigurationException.class, () -> env.executeAsync("no-sink"));
        assertTrue(e.getMessage().contains("has no sink"), e.getMessage());
    }
}
