package io.onceflow.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.kafka.broker.KafkaBrokerLauncher;
import io.onceflow.kafka.broker.RunningKafkaBroker;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The comparison's short form: every system once on a small input, on a real broker. Each run's output
 * must pass the read_committed audit, which proves the jobs are the same job and the harness measures
 * what it says; the figures themselves are not asserted (speed is the long form's business).
 */
class CompareBenchmarkTest {

    @Test
    void everySystemCountsEveryWordExactlyOnce() throws Exception {
        Comparison.Settings settings = new Comparison.Settings(3_000, 400, 1, 500, 2, List.of(BenchSystem.values()), 4,
                Duration.ofMinutes(3), List.of("-Xmx512m"));
        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        try (RunningKafkaBroker broker = new KafkaBrokerLauncher().start()) {
            Comparison comparison = new Comparison(settings, broker, new PrintStream(progress, true, StandardCharsets.UTF_8));
            Comparison.Input input = comparison.writeInput();
            assertEquals(400, input.expected().size(), "3,000 lines of 3-6 words use the whole vocabulary of 400");
            List<Comparison.Run> runs = comparison.runAll(input);
            String log = progress.toString(StandardCharsets.UTF_8);
            assertEquals(BenchSystem.values().length, runs.size(), log);
            for (Comparison.Run r : runs) {
                assertNull(r.failure(), r.system().id() + " failed: " + r.failure());
                assertTrue(r.exact(), r.system().id() + ": " + r.audit());
                assertTrue(r.firstInput() > 0 && r.firstInput() < r.firstOutput() && r.firstOutput() <= r.allOutput(),
                        r.system().id() + ": the times come in order: " + r);
                assertTrue(r.jobCpu() > 0 && r.peakRssMb() > 0, r.system().id() + ": " + r);
                // a JVM compiles while it starts; the job takes more than its compilers and its collector
                assertTrue(r.jvmCpu().jit() > 0 && r.jvmCpu().jit() + r.jvmCpu().gc() < r.jobCpu(),
                        r.system().id() + ": " + r);
                // the job's own threads did work; the threads read one by one add up to no more than the process
                // (a clock tick of rounding per thread aside)
                Comparison.JvmCpu cpu = r.jvmCpu();
                assertTrue(cpu.jobThreads() > 0 && !cpu.busiest().isEmpty()
                        && cpu.jit() + cpu.gc() + cpu.jobThreads() <= r.jobCpu() + 0.5, r.system().id() + ": " + r);
            }
            assertTrue(log.contains("busiest threads: \""), log);
            String table = Comparison.table(settings, input, runs);
            assertTrue(table.contains("| job CPU s | of which JIT s | of which GC s | of which job threads s |"),
                    table);
            for (BenchSystem s : BenchSystem.values()) {
                assertTrue(table.contains("| " + s.label() + " | 1/1 |"), table);
            }
        }
    }

    @Test
    void everySystemRestartsAfterKillDashNineAsPromised() throws Exception {
        List<BenchSystem> systems = List.of(BenchSystem.RAW_TRANSACTIONAL, BenchSystem.ONCEFLOW_EXACTLY_ONCE,
                BenchSystem.ONCEFLOW_AT_LEAST_ONCE, BenchSystem.FLINK_EXACTLY_ONCE,
                BenchSystem.KAFKA_STREAMS_EXACTLY_ONCE);
        Comparison.Settings settings = new Comparison.Settings(1, 400, 1, 500, 2, systems, 4,
                Duration.ofMinutes(3), List.of("-Xmx512m"));
        try (RunningKafkaBroker broker = new KafkaBrokerLauncher().start()) {
            Comparison comparison = new Comparison(settings, broker, System.out);
            // 10 s of live input at 300 lines/s, the kill after 5 s
            List<Comparison.Recovery> runs = comparison.recoverAll(300, Duration.ofSeconds(10));
            assertEquals(systems.size(), runs.size());
            for (Comparison.Recovery r : runs) {
                assertNull(r.failure(), r.system().id() + " failed: " + r.failure());
                if (!r.system().restores()) {
                    // the raw loop's restart is the floor the others are compared with: it restores no state, and
                    // resuming at its committed offsets (one output record per input word in all) is checked
                    assertTrue(r.keptItsPromise() && !r.exact(), r.toString());
                } else if (r.system().exactlyOnce()) {
                    assertTrue(r.exact(), r.system().id() + " after kill -9 and restart: " + r.audit());
                } else {
                    assertEquals(0, r.lost(), r.system().id() + " lost output after kill -9 and restart: " + r.audit());
                    assertTrue(r.keptItsPromise(), r.toString());
                }
                assertTrue(r.toFirstNewOutput() > 0 && r.toFirstNewOutput() <= r.toAllOutput(), r.toString());
                // the restarted JVM compiles while it starts; it does more than that by its first new output
                assertTrue(r.jvmCpuToFirstNewOutput().jit() > 0
                        && r.jvmCpuToFirstNewOutput().jit() < r.cpuToFirstNewOutput(), r.toString());
                // its own threads (the start's, the clients') did work by then too
                assertTrue(r.jvmCpuToFirstNewOutput().jobThreads() > 0
                        && !r.jvmCpuToFirstNewOutput().busiest().isEmpty(), r.toString());
            }
        }
    }

    @Test
    void latencyIsMeasuredOnEveryOutputRecord() throws Exception {
        List<BenchSystem> systems = List.of(BenchSystem.RAW_TRANSACTIONAL, BenchSystem.ONCEFLOW_EXACTLY_ONCE);
        Comparison.Settings settings = new Comparison.Settings(1, 1, 1, 200, 2, systems, 4, Duration.ofMinutes(3),
                List.of("-Xmx512m"));
        try (RunningKafkaBroker broker = new KafkaBrokerLauncher().start()) {
            Comparison comparison = new Comparison(settings, broker, System.out);
            List<Comparison.Latency> runs = comparison.latencyAll(200, Duration.ofSeconds(5));
            for (Comparison.Latency r : runs) {
                assertNull(r.failure(), r.system().id() + " failed: " + r.failure());
                assertTrue(r.exact(), r.system().id() + ": " + r.audit());
                // 5 s at 200 lines/s of 3 words; the sender may stop a few lines short of 1,000 at the end
                assertTrue(r.samples() >= 2_940 && r.samples() <= 3_000, r.system().id() + ": " + r.samples() + " samples");
                assertTrue(r.p50() > 0 && r.p50() <= r.p99() && r.p99() <= r.max(), r.toString());
            }
            // Onceflow says where its checkpoints' time went: 200 ms checkpoints over 5 s, each committed
            Comparison.Latency onceflow = runs.stream().filter(r -> r.system() == BenchSystem.ONCEFLOW_EXACTLY_ONCE)
                    .findFirst().orElseThrow();
            assertTrue(onceflow.phases() != null && onceflow.phases().checkpoints() >= 10, String.valueOf(onceflow.phases()));
            for (int phase = 1; phase < CheckpointPhases.NAMES.size(); phase++) {
                assertTrue(onceflow.phases().p50(phase) >= onceflow.phases().p50(phase - 1), CheckpointPhases.NAMES.get(phase)
                        + " ends after " + CheckpointPhases.NAMES.get(phase - 1));
            }
            String table = Comparison.checkpointPhaseTable(settings, runs);
            assertTrue(table.contains("| Onceflow") && !table.contains("| raw"), table);
        }
    }
}
