package io.onceflow.kafka.internal;

import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.kafka.clients.admin.Admin;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Admin client shared in a process by the users of Kafka sources and sinks ({@link #of}). An exactly-once sink's is
 * shared by its start check (the broker's transaction limit), its subtasks (the hanging-transaction checks and sweeps)
 * and the calls of a restart (resuming restored commits, aborting lingering transactions); a source's by the listing
 * of its partitions and starting offsets as a job starts afresh and by its readers (the check of their topics'
 * identity, the looks for new partitions). Created in the background at the first {@link #acquire}; closed {@link
 * #LINGER} after its last user {@linkplain #release released} it, unless someone acquires it again by then: the start
 * check, the tasks' start and a restart's calls follow each other with short gaps, and each would otherwise open its
 * own client, with its own connections, metadata and network thread. An Admin client is thread-safe; a client whose
 * creation failed is forgotten, so that the next {@link #get} tries again.
 *
 * <p>{@link #of} hands the users of a process one shared client per role and Admin settings: a job's Kafka sinks on one
 * cluster share one client, its Kafka sources another. Not one for both: an Admin client sends a broker one request at
 * a time (kafka-clients opens its connections with one request in flight), and at every checkpoint the sinks' barrier
 * checks, sent as the barrier arrives so that their round trip overlaps the flush, would queue behind the sources'
 * questions about their topics: a checkpoint committed its output 54-103 ms after its trigger at the median with one
 * client for both, against 40-51 ms with one each (measured on one hour; the benchmark history has the figures).
 */
public final class SharedAdmin {

    private static final Logger LOG = LoggerFactory.getLogger(SharedAdmin.class);

    public static final Duration LINGER = Duration.ofSeconds(10);

    private static final ScheduledExecutorService CLOSER = closer();

    /** The process's shared clients by role and Admin settings ({@link #of}); a few entries, one per cluster and role. */
    private static final Map<Key, SharedAdmin> BY_ROLE_AND_SETTINGS = new ConcurrentHashMap<>();

    private record Key(String role, Map<Object, Object> settings) {
        // equals and hashCode written out: a record's own are linked through method handles at their first call,
        // milliseconds of a cold JVM each (a job's sources and sinks look their client up as the job is built); see
        // RecordMethodsAtStartTest
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.role.equals(role) && k.settings.equals(settings);
        }

        @Override
        public int hashCode() {
            return role.hashCode() * 31 + settings.hashCode();
        }
    }

    private final Supplier<Properties> properties;
    private final Executor creator;
    private final Duration linger;
    private CompletableFuture<Admin> client;
    private int users;
    private int created;
    private ScheduledFuture<?> closing;

    /**
     * The process's shared client for {@code role} and these Admin settings (see {@code
     * TransactionalProducer.adminProperties}): the same object for every caller of that role whose settings are equal,
     * key for key and value for value ({@code equals}: a password compares by its value, not by how it prints), so that
     * a job's sinks on one cluster share a client, and its sources another. The first caller's {@code creator} creates
     * it, with a copy of the settings.
     *
     * @param role who uses the client ("source", "sink"): callers of different roles get different clients
     */
    public static SharedAdmin of(String role, Properties adminProperties, Executor creator) {
        Map<Object, Object> settings = Map.copyOf(adminProperties);
        return BY_ROLE_AND_SETTINGS.computeIfAbsent(new Key(role, settings), k -> {
            Properties copy = new Properties();
            copy.putAll(settings);
            return new SharedAdmin(() -> copy, creator);
        });
    }

    /**
     * @param properties the Admin client's properties (see {@code TransactionalProducer.adminProperties}), asked for
     *                   each time a client is created
     * @param creator    where the client is created: off the calling task thread
     */
    public SharedAdmin(Supplier<Properties> properties, Executor creator) {
        this(properties, creator, LINGER);
    }

    public SharedAdmin(Supplier<Properties> properties, Executor creator, Duration linger) {
        this.properties = properties;
        this.creator = creator;
        this.linger = linger;
    }

    /** Counts one more user and starts creating the client if there is none; pair with {@link #release}. */
    public synchronized void acquire() {
        users++;
        if (closing != null) {
            closing.cancel(false);
            closing = null;
        }
        if (client == null) {
            client = create();
        }
    }

    /** The client, waiting for its creation if need be; only between {@link #acquire} and {@link #release}. */
    public Admin get() {
        CompletableFuture<Admin> c;
        synchronized (this) {
            if (users == 0) {
                throw new IllegalStateException("the shared Admin client was used without being acquired");
            }
            if (client == null) {
                client = create();
            }
            c = client;
        }
        try {
            return c.join();
        } catch (CompletionException e) {
            synchronized (this) {
                if (client == c) {
                    client = null; // the next get tries again
                }
            }
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
    }

    /** What a one-off user does with the client. */
    @FunctionalInterface
    public interface Call<R> {
        R apply(Admin admin) throws Exception;
    }

    /** Holds the client for one call: {@link #acquire}, {@link #get}, the call, {@link #release}. */
    public <R> R use(Call<R> call) throws Exception {
        acquire();
        try {
            return call.apply(get());
        } finally {
            release();
        }
    }

    private CompletableFuture<Admin> create() {
        created++;
        return CompletableFuture.supplyAsync(() -> Admin.create(properties.get()), creator);
    }

    /** Counts one user less; the last one's release closes the client after the linger unless acquired again. */
    public synchronized void release() {
        if (users == 0) {
            throw new IllegalStateException("the shared Admin client was released more often than acquired");
        }
        if (--users == 0 && client != null) {
            CompletableFuture<Admin> c = client;
            closing = CLOSER.schedule(() -> closeIfUnused(c), linger.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private void closeIfUnused(CompletableFuture<Admin> c) {
        synchronized (this) {
            if (users > 0 || client != c) {
                return;
            }
            client = null;
            closing = null;
        }
        c.thenAccept(admin -> {
            try {
                admin.close(Duration.ofSeconds(5));
            } catch (RuntimeException e) {
                LOG.debug("closing a shared Admin client failed: {}", e.toString());
            }
        });
    }

    /**
     * Whether {@link #get} would return at once: the client is created (not being created, not failed). A barrier
     * that finds it not ready asks its checks after the flush rather than make the flush wait for the client.
     */
    public synchronized boolean ready() {
        return client != null && client.isDone() && !client.isCompletedExceptionally();
    }

    /** Whether a client exists or is being created (for the tests). */
    public synchronized boolean isOpen() {
        return client != null;
    }

    /** How many clients were created so far (for the tests). */
    public synchronized int created() {
        return created;
    }

    private static ScheduledExecutorService closer() {
        ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "onceflow kafka admin closer");
            t.setDaemon(true);
            return t;
        });
        executor.setRemoveOnCancelPolicy(true);
        executor.setKeepAliveTime(60, TimeUnit.SECONDS);
        executor.allowCoreThreadTimeOut(true);
        return executor;
    }
}
