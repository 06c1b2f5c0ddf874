package io.onceflow.benchmarks;

import io.onceflow.testing.RandomLines;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongFunction;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Input lines written at a steady rate for a while, by a thread of its own, as a live source would write
 * them: line {@code i} is due at {@code i / rate} seconds after the start.
 */
final class SteadyInput {
    private final KafkaProducer<byte[], String> producer;
    private final String topic;
    private final double linesPerSecond;
    private final long durationNanos;
    private final LongFunction<ProducerRecord<byte[], String>> record;
    private final AtomicLong sent = new AtomicLong();
    private final AtomicReference<Exception> failure = new AtomicReference<>();
    private final Thread thread;
    private volatile boolean stopRequested;

    private SteadyInput(KafkaProducer<byte[], String> producer, String topic, double linesPerSecond, long durationNanos,
                        LongFunction<ProducerRecord<byte[], String>> record) {
        this.producer = producer;
        this.topic = topic;
        this.linesPerSecond = linesPerSecond;
        this.durationNanos = durationNanos;
        this.record = record;
        this.thread = new Thread(this::send, "steady-input-" + topic);
    }

    /**
     * Lines of three words drawn from {@code vocabulary}, which is split into one class per input partition:
     * a line's words all come from one class and the line goes to that class's partition, so every occurrence
     * of a word is read from one partition, in the order it was sent. A running count's n-th output for a word
     * is then that word's n-th occurrence, whose send time {@link Recurring#sentAt} knows: latency without
     * unbounded state (every word new would make the state, and so every checkpoint, grow all along).
     */
    static Recurring recurring(KafkaProducer<byte[], String> producer, String topic, double linesPerSecond,
                               long durationNanos, int vocabulary, int partitions, long seed) {
        Recurring sent = new Recurring();
        java.util.Random random = new java.util.Random(seed);
        int perClass = Math.max(1, vocabulary / partitions);
        SteadyInput input = new SteadyInput(producer, topic, linesPerSecond, durationNanos, i -> {
            int partition = (int) (i % partitions);
            long now = System.currentTimeMillis();
            StringBuilder line = new StringBuilder();
            for (int w = 0; w < 3; w++) {
                String word = "w" + Integer.toString(partition + partitions * random.nextInt(perClass), 36);
                sent.add(word, now);
                line.append(w == 0 ? "" : " ").append(word);
            }
            return new ProducerRecord<>(topic, partition, null, line.toString());
        });
        sent.input = input;
        return sent;
    }

    /** Recurring-word input, and when each occurrence of each word was sent (safe to read while it is written). */
    static final class Recurring {
        private final Map<String, Occurrences> words = new java.util.concurrent.ConcurrentHashMap<>();
        private SteadyInput input;

        SteadyInput input() {
            return input;
        }

        private void add(String word, long now) {
            words.computeIfAbsent(word, w -> new Occurrences()).add(now);
        }

        /** When the {@code n}-th occurrence (from 1) of {@code word} was sent, or -1 if it was not. */
        long sentAt(String word, long n) {
            Occurrences o = words.get(word);
            return o == null ? -1 : o.get(n);
        }

        /** How often each word was sent (complete once the input was joined). */
        Map<String, Long> expected() {
            Map<String, Long> counts = new java.util.HashMap<>();
            words.forEach((w, o) -> counts.put(w, o.count()));
            return counts;
        }
    }

    /** The send times of one word's occurrences, in order. */
    private static final class Occurrences {
        private long[] times = new long[4];
        private int size;

        synchronized void add(long time) {
            if (size == times.length) {
                times = java.util.Arrays.copyOf(times, 2 * size);
            }
            times[size++] = time;
        }

        synchronized long get(long n) {
            return n >= 1 && n <= size ? times[(int) (n - 1)] : -1;
        }

        synchronized long count() {
            return size;
        }
    }

    /**
     * Lines of 3 to 6 words drawn from {@code vocabulary} ({@link RandomLines}); {@link Words#expected()} says
     * how often each word was written.
     */
    static Words words(KafkaProducer<byte[], String> producer, String topic, double linesPerSecond, long durationNanos,
                       int vocabulary, long seed) {
        RandomLines lines = new RandomLines(vocabulary, seed);
        return new Words(new SteadyInput(producer, topic, linesPerSecond, durationNanos,
                i -> new ProducerRecord<>(topic, lines.next())), lines);
    }

    /** Random-word input and what it wrote (complete once {@link SteadyInput#join()} returned). */
    record Words(SteadyInput input, RandomLines lines) {
        Map<String, Long> expected() {
            return lines.counts();
        }

        long words() {
            return lines.words();
        }
    }

    void start() {
        thread.start();
    }

    /** Ends the input now, before its duration is over. */
    void stop() {
        stopRequested = true;
    }

    boolean isAlive() {
        return thread.isAlive();
    }

    /** Waits until every line is written and acknowledged; returns how many. */
    long join() throws InterruptedException, Comparison.RunFailed {
        thread.join();
        if (failure.get() != null) {
            throw new Comparison.RunFailed("writing the input failed: " + failure.get());
        }
        return sent.get();
    }

    private void send() {
        long start = System.nanoTime();
        long i = 0;
        try {
            for (long now = start; now - start < durationNanos && !stopRequested; now = System.nanoTime()) {
                long due = (long) ((now - start) / 1e9 * linesPerSecond);
                for (; i < due; i++) {
                    producer.send(record.apply(i), (m, e) -> {
                        if (e != null) {
                            failure.compareAndSet(null, e);
                        }
                    });
                }
                Thread.sleep(1);
            }
            producer.flush();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            failure.compareAndSet(null, e);
        } finally {
            sent.set(i);
        }
    }
}
