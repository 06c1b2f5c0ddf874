package io.onceflow.kafka.torture;

import io.onceflow.kafka.broker.Topics;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.onceflow.kafka.broker.KafkaBrokerLauncher;
import io.onceflow.kafka.broker.RunningKafkaBroker;
import io.onceflow.testing.SequenceChecker;
import io.onceflow.testing.ChildJvm;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.ListTransactionsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The torture suite: one exactly-once job ({@link TortureJobMain}) in child JVMs against a broker this
 * test owns, while input keeps arriving, through
 * <ul>
 * <li>{@code kill -9} of the job at random moments, every third one aimed at the window between a
 * checkpoint's metadata being durable and its transactions being committed;</li>
 * <li>{@code kill -9} of the broker while the job runs with transactions open, then a restart of it;</li>
 * <li>the broker paused (SIGSTOP) for longer than the job's request timeouts;</li>
 * <li>checkpoint storage failing about one write in eight ("No space left on device").</li>
 * </ul>
 * Then the input stops, the job drains and is stopped with SIGTERM, and an independent read_committed
 * consumer checks every word's counts are exactly 1..n and every poison record is in the dead-letter
 * topic exactly once (once per copy of it on the input topic: the input's writer is not idempotent, so a
 * batch it retried after the broker's kill can land twice). Prints a summary.
 *
 * <p>The default is the short form CI runs. The long form:
 * {@code mvn -pl kafka-connector test -Dtest=TortureTest -Dtorture.kills=200 -Dtorture.brokerKills=5 -Dtorture.brokerPauses=5}.
 */
class TortureTest {

    private static final int KILLS = Integer.getInteger("torture.kills", 20);
    private static final int BROKER_KILLS = Integer.getInteger("torture.brokerKills", 1);
    private static final int BROKER_PAUSES = Integer.getInteger("torture.brokerPauses", 1);
    private static final int PAUSE_SECONDS = Integer.getInteger("torture.pauseSeconds", 12);
    private static final long SEED = Long.getLong("torture.seed", 20261129L);
    private static final int LINES_PER_ROUND = 3_000;
    private static final int WORDS = 500;

    @TempDir(cleanup = CleanupMode.ON_SUCCESS) // a failed run keeps the job's log for a look
    Path dir;

    private RunningKafkaBroker broker;
    private int brokerPort;
    private final Random random = new Random(SEED);
    private int lineNumber;
    /** The job's child JVM now running, killed when the test ends however it ends. */
    private Process running;
    private long failedInputSends;

    private RunningKafkaBroker startBroker() {
        return new KafkaBrokerLauncher().dataDirectory(dir.resolve("kafka")).port(brokerPort)
                .brokerProperty("num.partitions", "4").start();
    }

    @Test
    void exactlyOnceThroughKillsBrokerFaultsAndStorageFaults() throws Exception {
        long started = System.nanoTime();
        broker = startBroker();
        brokerPort = broker.port();
        String suffix = UUID.randomUUID().toString().substring(0, 6);
        String input = "torture-in-" + suffix;
        String output = "torture-out-" + suffix;
        String deadLetters = "torture-dlq-" + suffix;
        try (Admin admin = admin()) {
            Topics.create(admin, 4, input, output);
            Topics.create(admin, 2, deadLetters);
        }
        Path log = dir.resolve("job.log");
        int kills = 0;
        int aimed = 0;
        int brokerKills = 0;
        int brokerPauses = 0;
        List<String> plan = new ArrayList<>();
        for (int i = 0; i < KILLS; i++) {
            plan.add(i % 3 == 2 ? "aimed" : "random");
        }
        // broker faults in the middle of the run
        for (int i = 0; i < BROKER_KILLS; i++) {
            plan.add(Math.min(plan.size(), KILLS / 2 + i), "broker-kill");
        }
        for (int i = 0; i < BROKER_PAUSES; i++) {
            plan.add(Math.min(plan.size(), KILLS / 2 + BROKER_KILLS + i), "broker-pause");
        }
        int inputPartitions = 4;
        try {
            for (String step : plan) {
                long stepStart = System.nanoTime();
                if (kills == 2 * KILLS / 3) {
                    // partitions added while the job is down: the next start finds them
                    inputPartitions = addPartitions(input, inputPartitions + 2);
                }
                writeInput(input, LINES_PER_ROUND);
                long before = committedOffsets(output);
                boolean stall = step.equals("aimed");
                Process job = startJob(input, output, deadLetters, log, stall);
                if (!stall) {
                    // an aimed run stalls at its second completed checkpoint, maybe before anything new committed
                    awaitOutputBeyond(output, before, job, log);
                }
                if (kills == KILLS / 3) {
                    // partitions added while the job runs: it finds them within a second, and the kill may come
                    // before a checkpoint holds them
                    inputPartitions = addPartitions(input, inputPartitions + 2);
                    writeInput(input, LINES_PER_ROUND);
                }
                switch (step) {
                    case "aimed" -> {
                        long window = awaitWindow(log, job);
                        assertTrue(Files.exists(dir.resolve("checkpoints/torture/chk-" + window + "/_metadata")),
                                "checkpoint " + window + " is complete when the kill comes");
                        aimed++;
                    }
                    case "random" -> Thread.sleep(random.nextInt(700));
                    case "broker-kill" -> {
                        Thread.sleep(random.nextInt(500));
                        kill(broker.pid(), "KILL");
                        Thread.sleep(2_000);
                        broker = startBroker();
                        brokerKills++;
                        // the job may have read the round's input before the kill: give it more to write,
                        // measuring the output before, since the job may be done with the new input first
                        long beforeInput = committedOffsets(output);
                        writeInput(input, LINES_PER_ROUND);
                        awaitOutputBeyond(output, beforeInput, job, log);
                    }
                    case "broker-pause" -> {
                        kill(broker.pid(), "STOP");
                        Thread.sleep(TimeUnit.SECONDS.toMillis(PAUSE_SECONDS));
                        kill(broker.pid(), "CONT");
                        brokerPauses++;
                        long beforeInput = committedOffsets(output);
                        writeInput(input, LINES_PER_ROUND);
                        awaitOutputBeyond(output, beforeInput, job, log);
                    }
                    default -> throw new IllegalStateException(step);
                }
                kill(job.pid(), "KILL");
                assertTrue(job.waitFor(30, TimeUnit.SECONDS));
                assertEquals(137, job.exitValue(), "killed with SIGKILL");
                kills++;
                System.out.printf(Locale.ROOT, "torture step %d: %s, %.1f s%n", kills, step, (System.nanoTime() - stepStart) / 1e9);
            }

            // the input stops; the last run drains it and is stopped gracefully
            Process last = startJob(input, output, deadLetters, log, false);
            awaitInputCheckpointed(input, last, log);
            last.destroy(); // SIGTERM
            assertTrue(last.waitFor(90, TimeUnit.SECONDS), "SIGTERM stops the job:\n" + ChildJvm.tail(log));
            String text = Files.readString(log);
            // a job that had already failed would also end here, printing "STOPPED after checkpoint -1"
            assertTrue(java.util.regex.Pattern.compile("(?m)^STOPPED after checkpoint [0-9]+$").matcher(text).find(),
                    "a graceful stop, with a final checkpoint:\n" + ChildJvm.tail(log));
            assertEquals(143, last.exitValue(), "the job ran until SIGTERM:\n" + ChildJvm.tail(log));

            // judged against what the input topic holds: a line whose send failed was never input
            Map<String, Long> expected = new HashMap<>();
            // a poison record's copies on the input topic: each must come out as one dead letter
            Map<String, Integer> poison = new HashMap<>();
            long inputRecords = inputOnBroker(input, expected, poison);
            SequenceChecker.Result result = SequenceChecker.check(readCommitted(output, false), expected);
            List<String> letters = readCommitted(deadLetters, true);
            Map<String, Integer> seen = new HashMap<>();
            letters.forEach(l -> seen.merge(l, 1, Integer::sum));
            long duplicateLetters = seen.entrySet().stream()
                    .mapToLong(e -> Math.max(0, e.getValue() - poison.getOrDefault(e.getKey(), 0))).sum();
            long lostLetters = poison.entrySet().stream()
                    .mapToLong(e -> Math.max(0, e.getValue() - seen.getOrDefault(e.getKey(), 0))).sum();
            long poisonRecords = poison.values().stream().mapToLong(Integer::longValue).sum();
            long storageFaults = text.lines().filter(l -> l.startsWith("STORAGE-FAULT")).count();
            long expectedRecords = expected.values().stream().mapToLong(Long::longValue).sum();
            // after a graceful stop nothing may be left open: an open transaction holds back the partition's last
            // stable offset, so read_committed consumers see nothing written after it
            List<String> open = new ArrayList<>(openTransactions(output));
            open.addAll(openTransactions(deadLetters));

            System.out.printf(Locale.ROOT, "%nTorture summary (seed %d, %.0f s)%n", SEED, (System.nanoTime() - started) / 1e9);
            System.out.printf(Locale.ROOT, "  job kill -9 survived       %d (%d aimed between metadata and commit)%n", kills, aimed);
            System.out.printf(Locale.ROOT, "  broker kill -9 + restart   %d%n", brokerKills);
            System.out.printf(Locale.ROOT, "  broker paused %2d s         %d%n", PAUSE_SECONDS, brokerPauses);
            System.out.printf(Locale.ROOT, "  storage faults injected    %d%n", storageFaults);
            System.out.printf(Locale.ROOT, "  input partitions           4, then %d (added as the job ran, then while "
                    + "down)%n", inputPartitions);
            System.out.printf(Locale.ROOT, "  input lines on the broker  %d (%d sends failed, %d written twice)%n",
                    lineNumber - failedInputSends, failedInputSends, inputRecords - (lineNumber - failedInputSends));
            System.out.printf(Locale.ROOT, "  records checked            %d counts + %d dead letters%n", result.records(), letters.size());
            System.out.printf(Locale.ROOT, "  duplicates                 %d%n", result.duplicates() + duplicateLetters);
            System.out.printf(Locale.ROOT, "  lost                       %d%n", result.lost() + lostLetters);
            System.out.printf(Locale.ROOT, "  transactions left open     %d %s%n", open.size(), open);
            System.out.printf(Locale.ROOT, "  markers the broker skipped %d%n", logLines(dir.resolve("kafka/broker.log"),
                    "Couldn't find leader endpoint"));
            System.out.printf(Locale.ROOT, "  markers the sink wrote     %d commit, %d abort%n",
                    logLines(log, "commit marker(s) written to"), logLines(log, "aborted a transaction the broker left open"));

            assertEquals(KILLS + BROKER_KILLS + BROKER_PAUSES, kills);
            assertEquals(KILLS >= 3 ? 8 : 4, inputPartitions, "input partitions added twice");
            assertTrue(storageFaults > 0, "storage faults were injected");
            assertTrue(result.exact(), () -> result + "\nwhat the job logged about failures and commits ("
                    + log + "):\n" + incidents(log));
            assertEquals(expectedRecords, result.records());
            assertEquals(0, duplicateLetters, "dead letters repeated");
            assertEquals(0, lostLetters, () -> "dead letters lost: " + lostLetterReport(deadLetters, poison.entrySet().stream()
                            .filter(e -> seen.getOrDefault(e.getKey(), 0) < e.getValue()).map(Map.Entry::getKey).sorted()
                            .toList())
                    + "\nwhat the job logged about failures and commits (" + log + "):\n" + incidents(log));
            assertEquals(poisonRecords, letters.size());
            assertEquals(List.of(), open, "transactions left open after the job stopped");
        } finally {
            if (running != null && running.isAlive()) {
                running.destroyForcibly();
                running.waitFor(30, TimeUnit.SECONDS);
            }
            broker.stop();
        }
    }

    private int addPartitions(String topic, int total) throws Exception {
        try (Admin admin = admin()) {
            admin.createPartitions(Map.of(topic, org.apache.kafka.clients.admin.NewPartitions.increaseTo(total))).all()
                    .get(30, TimeUnit.SECONDS);
            Topics.awaitLeaders(admin, total, topic);
        }
        return total;
    }

    private Process startJob(String input, String output, String deadLetters, Path log, boolean stall) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx384m", "-Dslf4j.provider=org.slf4j.simple.SimpleServiceProvider",
                "-Dorg.slf4j.simpleLogger.log.org.apache.kafka=error", "-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-cp", System.getProperty("java.class.path"), TortureJobMain.class.getName(), broker.bootstrapServers(),
                input, output, deadLetters, dir.resolve("checkpoints").toString(), Long.toString(SEED)));
        if (stall) {
            cmd.add("stall");
        }
        Files.writeString(log, "===== start" + (stall ? " (stall)" : "") + "\n", StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        running = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
        return running;
    }

    /**
     * Lines of 1-6 words, and now and then one that is not UTF-8 (a poison record). A send can fail (the
     * broker was just paused or killed): the test then counts on what the input topic holds, see
     * {@link #inputOnBroker}, and says how many failed.
     */
    private void writeInput(String topic, int lines) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        // not idempotent: after a broker kill -9 the broker has been seen to reject a new idempotent producer's
        // batches as out of sequence until they expire. A retried batch may then land twice, which is only more
        // input: the expected counts are read back from the topic.
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "1");
        AtomicLong failed = new AtomicLong();
        AtomicReference<Exception> firstFailure = new AtomicReference<>();
        Callback callback = (metadata, e) -> {
            if (e != null) {
                failed.incrementAndGet();
                firstFailure.compareAndSet(null, e);
            }
        };
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < lines; i++) {
                int n = lineNumber++;
                if (n % 499 == 498) {
                    String id = "poison-" + n;
                    ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(topic, null, new byte[] {(byte) 0xff, (byte) 0xfe});
                    r.headers().add("poison", id.getBytes(StandardCharsets.UTF_8));
                    producer.send(r, callback);
                    continue;
                }
                StringBuilder line = new StringBuilder();
                for (int w = 0, words = 1 + random.nextInt(6); w < words; w++) {
                    line.append("w").append(random.nextInt(WORDS)).append(' ');
                }
                producer.send(new ProducerRecord<>(topic, null, line.toString().getBytes(StandardCharsets.UTF_8)), callback);
            }
            producer.flush();
        }
        if (failed.get() > 0) {
            failedInputSends += failed.get();
            System.out.printf(Locale.ROOT, "torture input: %d of %d lines could not be written (%s)%n", failed.get(), lines,
                    firstFailure.get());
        }
    }

    /**
     * What the input topic really holds, read back: each word's number of occurrences (the count the output
     * must reach for it) into {@code words}, and each poison record's id with its number of copies into
     * {@code poison}. Returns the number of records read.
     */
    private long inputOnBroker(String topic, Map<String, Long> words, Map<String, Integer> poison) throws Exception {
        long records = 0;
        for (String line : readAll(topic, IsolationLevel.READ_UNCOMMITTED, r -> {
            Header h = r.headers().lastHeader("poison");
            return h != null ? "\u0000" + new String(h.value(), StandardCharsets.UTF_8)
                    : new String(r.value(), StandardCharsets.UTF_8);
        })) {
            records++;
            if (line.startsWith("\u0000")) {
                poison.merge(line.substring(1), 1, Integer::sum);
                continue;
            }
            for (String w : line.split("\\s+")) {
                if (!w.isEmpty()) {
                    words.merge(w, 1L, Long::sum);
                }
            }
        }
        return records;
    }

    private Admin admin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        return Admin.create(p);
    }

    /** The sum of the output's last stable offsets: grows when a transaction commits (markers included). */
    private long committedOffsets(String topic) throws Exception {
        try (Admin admin = admin()) {
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            for (int i = 0; i < 4; i++) {
                request.put(new TopicPartition(topic, i), OffsetSpec.latest());
            }
            return admin.listOffsets(request, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all()
                    .get(30, TimeUnit.SECONDS).values().stream().mapToLong(i -> i.offset()).sum();
        }
    }

    private void awaitOutputBeyond(String output, long than, Process job, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (true) {
            try {
                if (committedOffsets(output) > than) {
                    return;
                }
            } catch (Exception e) {
                // the broker is coming back
            }
            assertTrue(job.isAlive(), "the job ended:\n" + ChildJvm.tail(log));
            if (System.nanoTime() >= deadline) {
                fail("no new output within 120 s; " + stalledTransactions(output) + "\nthe job's lines about its sinks' "
                        + "transactions:\n" + transactionLines(log) + "\nthe end of its log:\n" + ChildJvm.tail(log));
            }
            Thread.sleep(100);
        }
    }

    /** For a stalled run: the transactions the broker still counts open on the output, and the ongoing ones by id. */
    private String stalledTransactions(String topic) {
        try (Admin admin = admin()) {
            List<String> ongoing = admin.listTransactions(new ListTransactionsOptions()
                            .filterStates(List.of(TransactionState.ONGOING)))
                    .all().get(30, TimeUnit.SECONDS).stream()
                    .map(t -> t.transactionalId() + " (producerId " + t.producerId() + ")").toList();
            return "open on the output: " + openTransactions(topic) + "; ongoing transactions: " + ongoing;
        } catch (Exception e) {
            return "the broker's open transactions could not be read: " + e;
        }
    }

    /** The job's log lines about transactions (aborts, commits, failures), the last 60. */
    private static String transactionLines(Path log) {
        try {
            List<String> lines = Files.readAllLines(log).stream()
                    .filter(l -> l.toLowerCase(Locale.ROOT).contains("transaction") || l.contains("ERROR")
                            || l.contains("attempt")).toList();
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e + ")";
        }
    }

    private long awaitWindow(Path log, Process job) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            List<String> lines = Files.readAllLines(log);
            for (int i = lines.size() - 1; i >= 0 && !lines.get(i).startsWith("===== start"); i--) {
                if (lines.get(i).startsWith("WINDOW ")) {
                    return Long.parseLong(lines.get(i).substring(7).trim());
                }
            }
            assertTrue(job.isAlive(), "the job ended:\n" + ChildJvm.tail(log));
            Thread.sleep(20);
        }
        throw new AssertionError("the job never reached a completed checkpoint:\n" + ChildJvm.tail(log));
    }

    /** Waits until the source's offsets, committed to its group when checkpoints complete, reach the input's end. */
    private void awaitInputCheckpointed(String input, Process job, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        try (Admin admin = admin()) {
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            partitions(admin, input).forEach(tp -> request.put(tp, OffsetSpec.latest()));
            Map<TopicPartition, Long> end = new HashMap<>();
            admin.listOffsets(request).all().get(30, TimeUnit.SECONDS).forEach((tp, i) -> end.put(tp, i.offset()));
            while (true) {
                Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets("torture-" + input)
                        .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
                boolean done = end.entrySet().stream().allMatch(e -> committed.get(e.getKey()) != null
                        && committed.get(e.getKey()).offset() >= e.getValue());
                if (done) {
                    return;
                }
                assertTrue(job.isAlive(), "the job ended:\n" + ChildJvm.tail(log));
                assertTrue(System.nanoTime() < deadline, "the input was not drained within 180 s:\n" + ChildJvm.tail(log));
                Thread.sleep(200);
            }
        }
    }

    /** A fresh read_committed consumer: "word,count" records, or the poison ids of dead letters. */
    private List<String> readCommitted(String topic, boolean deadLetters) throws Exception {
        return readAll(topic, IsolationLevel.READ_COMMITTED, r -> {
            if (deadLetters) {
                Header h = r.headers().lastHeader("poison");
                return h == null ? "?" : new String(h.value(), StandardCharsets.UTF_8);
            }
            return new String(r.key(), StandardCharsets.UTF_8) + "," + new String(r.value(), StandardCharsets.UTF_8);
        });
    }

    /** Every record of {@code topic} up to its end (the last stable offset under read_committed), mapped. */
    private List<String> readAll(String topic, IsolationLevel isolation,
                                 Function<ConsumerRecord<byte[], byte[]>, String> mapping) throws Exception {
        Map<TopicPartition, Long> end = new HashMap<>();
        try (Admin admin = admin()) {
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            partitions(admin, topic).forEach(tp -> request.put(tp, OffsetSpec.latest()));
            admin.listOffsets(request, new ListOffsetsOptions(isolation)).all()
                    .get(30, TimeUnit.SECONDS).forEach((tp, i) -> end.put(tp, i.offset()));
        }
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation.toString());
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        List<String> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            consumer.assign(end.keySet());
            consumer.seekToBeginning(end.keySet());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (end.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())) {
                assertTrue(System.nanoTime() < deadline, "could not read " + topic + " to its end");
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.offset() < end.get(new TopicPartition(r.topic(), r.partition()))) {
                        out.add(mapping.apply(r));
                    }
                }
            }
        }
        return out;
    }

    /**
     * How often the broker logged that it skipped transaction markers for a partition it did not know at that moment
     * (after a restart or while fenced): each is a partition whose transaction may be left open or end wrongly.
     */
    /** How many lines of a log contain {@code text} (each one printed), or -1 if there is no such log. */
    private static long logLines(Path log, String text) throws IOException {
        if (!Files.exists(log)) {
            return -1;
        }
        try (var lines = Files.lines(log, StandardCharsets.UTF_8)) {
            return lines.filter(l -> l.contains(text)).peek(System.out::println).count();
        }
    }

    /** Every partition of {@code topic}. */
    private static List<TopicPartition> partitions(Admin admin, String topic) throws Exception {
        return admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic).partitions()
                .stream().map(pi -> new TopicPartition(topic, pi.partition())).toList();
    }

    /** Per partition of {@code topic}, the producers whose transaction the partition still counts as open. */
    private List<String> openTransactions(String topic) throws Exception {
        try (Admin admin = admin()) {
            List<String> open = new ArrayList<>();
            admin.describeProducers(partitions(admin, topic)).all().get(30, TimeUnit.SECONDS).forEach((tp, state) ->
                    state.activeProducers().stream().filter(p -> p.currentTransactionStartOffset().isPresent())
                            .forEach(p -> open.add(tp + ": producerId " + p.producerId() + " epoch " + p.producerEpoch()
                                    + " from offset " + p.currentTransactionStartOffset().getAsLong())));
            return open;
        }
    }

    /**
     * What explains dead letters missing under read_committed: which ones, whether they are in the topic at all
     * (read_uncommitted, where), and each partition's last stable offset against its end with the open
     * transactions the partition still counts (a hanging transaction holds the last stable offset back).
     */
    private String lostLetterReport(String topic, List<String> lost) {
        StringBuilder b = new StringBuilder();
        b.append(lost.size()).append(" missing: ").append(lost.subList(0, Math.min(20, lost.size())));
        try (Admin admin = admin()) {
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            partitions(admin, topic).forEach(tp -> request.put(tp, OffsetSpec.latest()));
            var stable = admin.listOffsets(request, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all()
                    .get(30, TimeUnit.SECONDS);
            var end = admin.listOffsets(request, new ListOffsetsOptions(IsolationLevel.READ_UNCOMMITTED)).all()
                    .get(30, TimeUnit.SECONDS);
            for (TopicPartition tp : request.keySet()) {
                b.append("\n  ").append(tp).append(": last stable offset ").append(stable.get(tp).offset())
                        .append(", end ").append(end.get(tp).offset());
            }
            b.append("\n  open transactions: ").append(openTransactions(topic));
            List<String> where = readAll(topic, IsolationLevel.READ_UNCOMMITTED, r -> {
                Header h = r.headers().lastHeader("poison");
                return (h == null ? "?" : new String(h.value(), StandardCharsets.UTF_8)) + "@" + r.partition() + ":"
                        + r.offset();
            });
            b.append("\n  the missing ones read_uncommitted: ").append(where.stream()
                    .filter(w -> lost.contains(w.substring(0, w.indexOf('@')))).limit(40).toList());
        } catch (Exception e) {
            b.append("\n  (could not describe ").append(topic).append(": ").append(e).append(')');
        }
        return b.toString();
    }

    private static void kill(long pid, String signal) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start();
        assertEquals(0, kill.waitFor(), "kill -" + signal + " " + pid);
    }

    /** The job log's starts, failures, aborted checkpoints and stops: what explains a wrong result. */
    private static String incidents(Path log) {
        try {
            List<String> lines = Files.readAllLines(log).stream()
                    .filter(l -> l.startsWith("=====") || l.startsWith("WINDOW") || l.startsWith("STOP")
                            || l.contains("WARN") || l.contains("ERROR") || l.contains("resumes from")
                            || l.contains("Exception"))
                    .toList();
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 300), lines.size()));
        } catch (Exception e) {
            return "(could not read the job log: " + e + ")";
        }
    }
}
