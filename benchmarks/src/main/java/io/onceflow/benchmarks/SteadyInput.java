package io.onceflow.benchmarks;

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
    private final LongFunction<String> line;
    private final AtomicLong sent = new AtomicLong();
    private final AtomicReference<Exception> failure = new AtomicReference<>();
    private final Thread thread;
    private volatile boolean stopRequested;

    private SteadyInput(KafkaProducer<byte[], String> producer, String topic, double linesPerSecond, long durationNanos,
                        LongFunction<String> line) {
        this.producer = producer;
        this.topic = topic;
        this.linesPerSecond = linesPerSecond;
        this.durationNanos = durationNanos;
        this.line = line;
        this.thread = new Thread(this::send, "steady-input-" + topic);
    }

    /** Lines of three words never seen before, each carrying the time it was sent: {@code t<epoch ms>x<i>a}. */
    static SteadyInput timestamped(KafkaProducer<byte[], String> producer, String topic, double linesPerSecond,
                                   long durationNanos) {
        return new SteadyInput(producer, topic, linesPerSecond, durationNanos, i -> {
            String t = "t" + System.currentTimeMillis() + "x" + i;
            return t + "a " + t + "b " + t + "c";
        });
    }

    /**
     * Lines of 3 to 6 words drawn from {@code vocabulary} ({@link RandomLines}); {@link Words#expected()} says
     * how often each word was written.
     */
    static Words words(KafkaProducer<byte[], String> producer, String topic, double linesPerSecond, long durationNanos,
                       int vocabulary, long seed) {
        RandomLines lines = new RandomLines(vocabulary, seed);
        return new Words(new SteadyInput(producer, topic, linesPerSecond, durationNanos, i -> lines.next()), lines);
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
                    producer.send(new ProducerRecord<>(topic, line.apply(i)), (m, e) -> {
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
