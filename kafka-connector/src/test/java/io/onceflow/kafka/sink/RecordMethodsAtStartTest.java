package io.onceflow.kafka.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.kafka.testing.KafkaTestCluster;
import io.onceflow.testing.ChildJvm;
import io.onceflow.testing.KillDashNine;
import io.onceflow.testing.SequenceChecker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A job's start and its restart after {@code kill -9} call no method a Java record generates. A record's
 * {@code equals}, {@code hashCode} and {@code toString} are linked at their first call through method handles
 * ({@code java.lang.runtime.ObjectMethods}), in every process anew: 13-34 ms of CPU for the five records a start
 * and a restart of the comparison benchmark's job hashed (some of it on the thread that builds the job, which a
 * restart waits for; see "Records' own methods kept off a start" in the benchmark history). The runtime's and the
 * Kafka connector's records that serve as map keys on those paths write the two methods out. The Kafka count
 * pipeline (with dead letters), on the heap backend and on RocksDB, runs in a child JVM that logs the classes it
 * loads, is killed once it committed output, and runs again to the end of its input; neither process may have loaded
 * {@code ObjectMethods}, and the output, read by an independent read_committed consumer, must be exact (so the paths
 * did run).
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class RecordMethodsAtStartTest {

    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster();

    @TempDir
    Path dir;

    private Process start(String backend, String input, String output, String deadLetters, Path log) throws Exception {
        List<String> jvm = List.of("-Xmx256m", "-Dslf4j.provider=org.slf4j.simple.SimpleServiceProvider",
                "-Dorg.slf4j.simpleLogger.log.org.apache.kafka=warn",
                "-Xlog:class+load=info:file=" + dir.resolve("classes-%p.log"));
        return ChildJvm.of(KafkaCountJobMain.class, jvm, kafka.bootstrapServers(), input, output,
                        dir.resolve("checkpoints").toString(), "2", "dead-letters=" + deadLetters, backend)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"heap", "rocksdb"})
    void aStartAndARestartLinkNoRecordMethods(String backend) throws Exception {
        String input = Pipelines.createTopic(kafka, "in", 4);
        String output = Pipelines.createTopic(kafka, "out", 4);
        String deadLetters = Pipelines.createTopic(kafka, "dlq", 2);
        Map<String, Integer> poison = new java.util.HashMap<>();
        Map<String, Long> expected = Pipelines.writeWordsWithPoison(kafka, input, 60_000, 200, 499, poison);
        Path log = dir.resolve("child.log");

        KillDashNine.killAfterProgress(() -> start(backend, input, output, deadLetters, log),
                () -> Pipelines.committedCount(kafka, output), new Random(11), 300, "the first run",
                () -> ChildJvm.tail(log));
        Process restarted = start(backend, input, output, deadLetters, log);
        assertTrue(restarted.waitFor(120, TimeUnit.SECONDS),
                "the restarted run did not finish:\n" + ChildJvm.tail(log));
        assertEquals(0, restarted.exitValue(), "the restarted run failed:\n" + ChildJvm.tail(log));
        assertTrue(Files.readAllLines(log).stream().anyMatch(l -> l.contains("resumes from checkpoint")),
                "the second run did not restore a checkpoint:\n" + ChildJvm.tail(log));
        SequenceChecker.Result result = SequenceChecker.check(Pipelines.readCommitted(kafka, output), expected);
        assertTrue(result.exact(), result.toString());
        Pipelines.assertEachPoisonRecordOnce(kafka, deadLetters, input, poison);

        List<Path> classLogs;
        try (Stream<Path> files = Files.list(dir)) {
            classLogs = files.filter(p -> p.getFileName().toString().startsWith("classes-")).sorted().toList();
        }
        assertEquals(2, classLogs.size(), "one class log per process: " + classLogs);
        for (Path classes : classLogs) {
            List<String> lines = Files.readAllLines(classes);
            String backendClass = backend.equals("rocksdb")
                    ? "io.onceflow.runtime.state.rocksdb.RocksDBKeyedStateBackend"
                    : "io.onceflow.runtime.state.HeapKeyedStateBackend";
            assertTrue(lines.stream().anyMatch(l -> l.contains(" " + backendClass + " ")),
                    classes + " is not the log of a job's process on the " + backend + " backend");
            int at = 0;
            while (at < lines.size() && !lines.get(at).contains(" java.lang.runtime.ObjectMethods ")) {
                at++;
            }
            assertEquals(lines.size(), at, "a record's generated equals, hashCode or toString was called (" + classes
                    + "), most likely one of a record among the classes loaded just before ObjectMethods "
                    + "(below): write that method out on the record\n"
                    + String.join("\n", lines.subList(Math.max(0, at - 30), Math.min(lines.size(), at + 5))));
        }
    }
}
