package io.onceflow.kafka.internal;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Initialises the Kafka client library's costliest classes on a thread of their own, once per process, as soon
 * as a job builds a Kafka source or sink. A process's first Kafka client otherwise initialises them on its network
 * thread when it first connects: {@link ApiKeys} (every request and response schema of the wire protocol) and
 * {@link Errors} took a restarted job's first client (the sink's start check) about half a second of a cold JVM,
 * right on the way to its first output, while the second core sat partly idle during the graph's building and the
 * state's restore. Done here the same work runs beside those; a client that needs a class being initialised waits
 * for it (the JVM initialises a class once, whichever thread asks first), so nothing is done twice. Spring Boot's
 * background pre-initialiser does the same for its own start.
 */
public final class KafkaClassesWarmUp {

    private static final Logger LOG = LoggerFactory.getLogger(KafkaClassesWarmUp.class);

    /** What is initialised, in this order: the protocol's classes first, as every client's first request needs them. */
    static final List<Class<?>> CLASSES = List.of(ApiKeys.class, Errors.class, AdminClientConfig.class,
            ProducerConfig.class, ConsumerConfig.class);

    private static final AtomicBoolean STARTED = new AtomicBoolean();
    private static final CountDownLatch DONE = new CountDownLatch(1);

    private KafkaClassesWarmUp() {
    }

    /** Starts the warm-up unless it was started before in this process; returns at once. */
    public static void start() {
        if (!STARTED.compareAndSet(false, true)) {
            return;
        }
        Thread t = new Thread(() -> {
            try {
                initialise();
            } finally {
                DONE.countDown();
            }
        }, "onceflow kafka classes warm-up");
        t.setDaemon(true);
        try {
            t.start();
        } catch (RuntimeException | OutOfMemoryError e) {
            // no thread to spare: each client initialises what it needs when it needs it, as without the warm-up
            LOG.debug("the Kafka classes' warm-up could not start: {}", e.toString());
            DONE.countDown();
        }
    }

    /** Initialises {@link #CLASSES}; returns how many were initialised here (those failing are left to the clients). */
    static int initialise() {
        int initialised = 0;
        for (Class<?> c : CLASSES) {
            try {
                Class.forName(c.getName(), true, c.getClassLoader());
                initialised++;
            } catch (ClassNotFoundException | LinkageError e) {
                // the client that needs the class meets the same error and reports it where it matters
                LOG.debug("the Kafka classes' warm-up could not initialise {}: {}", c.getName(), e.toString());
            }
        }
        return initialised;
    }

    /** Waits for the warm-up's thread to end (for the tests); false if none ended within the timeout. */
    static boolean awaitDone(long timeout, TimeUnit unit) throws InterruptedException {
        return DONE.await(timeout, unit);
    }
}
