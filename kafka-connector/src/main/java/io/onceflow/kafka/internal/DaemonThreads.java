package io.onceflow.kafka.internal;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/** Executors for the Kafka clients' work off the task threads. */
public final class DaemonThreads {

    private DaemonThreads() {
    }

    /**
     * As many daemon threads named {@code name} as there are tasks at once, each gone after a minute unused: for
     * blocking client calls (creating a client, waiting for a broker's answer), which a bounded pool would queue.
     */
    public static ExecutorService cached(String name) {
        return new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
    }
}
