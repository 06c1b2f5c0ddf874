package io.onceflow.kafka.bench;

import io.onceflow.kafka.broker.KafkaBrokerLauncher;
import io.onceflow.kafka.broker.RunningKafkaBroker;
import io.onceflow.kafka.broker.Topics;
import io.onceflow.kafka.sink.internal.BarrierChecks;
import io.onceflow.kafka.sink.internal.ResumableTransaction;
import io.onceflow.kafka.sink.internal.TransactionalProducer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * The synchronous part of an exactly-once Kafka sink's barrier, measured on the launcher's broker: the pre-commit's
 * flush and the barrier's partition checks ({@code DescribeProducers}), one after the other (the baseline) and with
 * the checks' request sent before the flush, as the sink does ({@link BarrierChecks#ask}). Each barrier follows an
 * interval like a running sink's: a few thousand records sent, a pause, then a tail still lingering in the producer
 * when the barrier comes; two producers take turns, as a sink's pooled producers do, so that each barrier also checks
 * the commit markers of the transaction committed before it. The two ways alternate barrier by barrier on the same
 * broker, so that both meet the same machine; threads keeping the cores busy (two unless told) stand for a running
 * job's other threads.
 *
 * <p>Run: {@code mvn -q -pl kafka-connector test-compile exec:java -Dexec.classpathScope=test
 * -Dexec.mainClass=io.onceflow.kafka.bench.PreCommitBenchmark [-Dexec.args="BARRIERS_PER_WAY BUSY_THREADS"]}
 */
public final class PreCommitBenchmark {

    private static final int PARTITIONS = 4;
    private static final int RECORDS_PER_INTERVAL = 5_000;
    private static final int TAIL = 300;
    private static final long PAUSE_MS = 40;

    private PreCommitBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int barriers = (args.length > 0 ? Integer.parseInt(args[0]) : 200) / 2 * 2;
        int busy = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        System.out.printf(Locale.ROOT, "Pre-commit benchmark: %d barriers per way, %,d records per interval (the last"
                + " %d sent right before the barrier), %d partitions, %d cores, %d busy threads%n", barriers,
                RECORDS_PER_INTERVAL, TAIL, PARTITIONS, Runtime.getRuntime().availableProcessors(), busy);
        startBusyThreads(busy);
        try (RunningKafkaBroker broker = new KafkaBrokerLauncher().maxHeap("1g").start()) {
            Properties client = new Properties();
            client.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
            Properties producer = new Properties();
            producer.putAll(client);
            producer.put(ProducerConfig.LINGER_MS_CONFIG, "20");
            producer.put(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(128 * 1024));
            producer.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "60000");
            producer.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
            try (Admin admin = Admin.create(client)) {
                String topic = "precommit-bench";
                Topics.create(admin, PARTITIONS, topic);
                TransactionalProducer[] producers = {TransactionalProducer.create("precommit-bench-0", producer),
                        TransactionalProducer.create("precommit-bench-1", producer)};
                byte[] value = "a word and its count".getBytes(StandardCharsets.UTF_8);
                List<ResumableTransaction> committed = new ArrayList<>();
                long[][] total = new long[2][barriers];
                int[] measured = new int[2];
                long[] flush = new long[barriers];
                long[] check = new long[barriers];
                int warmUp = Math.max(20, barriers / 10);
                for (int i = -warmUp; i < 2 * barriers; i++) {
                    TransactionalProducer p = producers[Math.floorMod(i, 2)];
                    p.beginTransaction();
                    send(p, topic, value, RECORDS_PER_INTERVAL - TAIL);
                    Thread.sleep(PAUSE_MS);
                    send(p, topic, value, TAIL);
                    // two barriers (one per producer) each way in turn
                    boolean early = Math.floorMod(i / 2, 2) == 1;
                    int way = early ? 1 : 0;
                    long t0 = System.nanoTime();
                    ResumableTransaction t;
                    if (early) {
                        BarrierChecks.Asked asked = BarrierChecks.ask(admin, committed, p.acknowledgedPartitions(),
                                producer);
                        t = p.preCommit();
                        asked.verify(t);
                    } else {
                        t = p.preCommit();
                        long t1 = System.nanoTime();
                        BarrierChecks.run(admin, committed, t, producer);
                        if (i >= 0) {
                            flush[measured[way]] = t1 - t0;
                            check[measured[way]] = System.nanoTime() - t1;
                        }
                    }
                    long elapsed = System.nanoTime() - t0;
                    if (i >= 0) {
                        total[way][measured[way]++] = elapsed;
                    }
                    p.commitTransaction();
                    committed.add(t);
                    if (i >= 0 && (i + 1) % 100 == 0) {
                        System.out.printf(Locale.ROOT, "  %d of %d barriers%n", i + 1, 2 * barriers);
                    }
                }
                for (TransactionalProducer p : producers) {
                    p.close(Duration.ofSeconds(5));
                }
                System.out.println();
                System.out.println("| the barrier's synchronous part | p50 ms | p90 ms | p99 ms |");
                System.out.println("| --- | --- | --- | --- |");
                row("flush, then the checks (baseline)", total[0]);
                row("  of it the flush", flush);
                row("  of it the checks", check);
                row("the checks sent before the flush", total[1]);
                System.out.printf(Locale.ROOT, "%nthe checks sent before the flush, to the baseline: %.2f at the p50, "
                        + "%.2f at the p99%n", percentile(total[1], 50) / percentile(total[0], 50),
                        percentile(total[1], 99) / percentile(total[0], 99));
            }
        }
    }

    /**
     * Threads that keep the cores busy, as a running job's other tasks, the broker and the input do: what a barrier's
     * requests then wait for is a core for each thread they pass (the task's, the clients' network threads, the
     * broker's), and that is where sending two requests at once rather than one after the other counts.
     */
    private static void startBusyThreads(int n) {
        for (int i = 0; i < n; i++) {
            Thread t = new Thread(() -> {
                long x = 1;
                while (x != 0) {
                    x = x * 6364136223846793005L + 1442695040888963407L;
                }
            }, "busy-" + i);
            t.setDaemon(true);
            t.start();
        }
    }

    private static void send(TransactionalProducer p, String topic, byte[] value, int records) {
        for (int r = 0; r < records; r++) {
            p.send(new ProducerRecord<>(topic, r % PARTITIONS, null, value));
        }
    }

    private static void row(String name, long[] nanos) {
        System.out.printf(Locale.ROOT, "| %s | %.1f | %.1f | %.1f |%n", name, percentile(nanos, 50),
                percentile(nanos, 90), percentile(nanos, 99));
    }

    /** The percentile of {@code nanos}, in ms. */
    private static double percentile(long[] nanos, int p) {
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1)] / 1e6;
    }
}
