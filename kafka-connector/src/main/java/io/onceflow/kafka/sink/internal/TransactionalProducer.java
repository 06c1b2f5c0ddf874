package io.onceflow.kafka.sink.internal;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InvalidPidMappingException;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.InvalidTxnStateException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.TransactionalIdNotFoundException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A transactional {@link KafkaProducer} of byte arrays for a two-phase-commit sink: begin, send, pre-commit
 * (flush, and hand out a {@link ResumableTransaction}), commit or abort; and, in another producer instance or
 * process after a crash, {@link #resumeAndCommit resume and commit} a pre-committed transaction.
 *
 * <h2>Life cycle</h2>
 * {@link #create} makes the producer and calls {@code initTransactions()}, which fences older producers of
 * the same transactional id and aborts a transaction they left open. Then, any number of times:
 * {@link #beginTransaction()}, {@link #send}s, {@link #preCommit()} (at the checkpoint barrier: the
 * transaction's records are all acknowledged and part of the transaction, and the returned committable goes
 * into the checkpoint), then {@link #commitTransaction()} once the checkpoint completed. An empty transaction
 * (nothing sent) cannot be pre-committed: {@link #commitTransaction()} it, which sends no request
 * (FLINK-31363). Not thread-safe: one thread drives it.
 *
 * <h2>Flush and partitions</h2>
 * {@link #flush()} returns once every record sent so far was acknowledged, and throws if any of them failed
 * (a transaction missing a record must be aborted, never committed). During a transaction it also makes
 * sure every partition written is part of the transaction at the coordinator, so that a resumed transaction
 * needs no client-side partition state:
 * <ul>
 *   <li>transactions v2 (KIP-890, the default of Kafka 4 brokers): the producer sends no AddPartitionsToTxn;
 *       the partition leader adds the partition to the transaction at the coordinator before it appends and
 *       acknowledges the first batch, so acknowledged records imply added partitions (checked by a test with
 *       {@code describeTransactions});</li>
 *   <li>transactions v1: the producer does not drain a partition's batches before its AddPartitionsToTxn
 *       succeeded; flush additionally waits until no AddPartitionsToTxn is pending.</li>
 * </ul>
 *
 * <h2>Resuming after a crash</h2>
 * {@link #resumeAndCommit} creates a producer for the transactional id WITHOUT {@code initTransactions()}
 * (which would abort the transaction), sets the recorded producer id, epoch and protocol version into its
 * transaction manager ({@link ProducerInternals}, the one class touching kafka-clients internals), begins a
 * transaction marked as started and commits it, which sends EndTxn(commit) with the recorded epoch. It first
 * asks the coordinator ({@code Admin.describeTransactions}) where the transaction stands, so that a
 * transaction committed before is reported as {@link CommitResult.Outcome#ALREADY_COMMITTED} (harmless),
 * and one the broker aborted or another producer fenced as {@link CommitResult.Outcome#FENCED_OR_EXPIRED}
 * with the likely cause.
 *
 * <h2>Epochs under transactions v2</h2>
 * The coordinator bumps the producer epoch at the end of every transaction, commit or abort, and returns the
 * new one in the EndTxn response; the producer uses it for its next transaction. So the epoch that commits
 * an open transaction is the one the producer holds while the transaction is open, which {@link #preCommit()}
 * reads: the epoch after the last bump, not the epoch {@code initTransactions()} returned. Once committed, the
 * coordinator shows {@code COMPLETE_COMMIT} at epoch + 1, and accepts a retried EndTxn(commit) at the old
 * epoch as a retry, but only in protocol v5+ (a v1-style EndTxn at the old epoch is fenced), which is why the
 * committable records the protocol version. At epoch 32766 the bump rolls over to a new producer id at epoch 0.
 * Each transaction of a transactional id therefore has its own epoch, so a committable can never commit a later
 * transaction of the same id. Under transactions v1 the epoch stays the same from one transaction to the next
 * of a producer instance, so a (producer id, epoch) names the producer, not the transaction (FLINK-8132): there,
 * as with v2 for a clear report, an id must not be reused while a checkpoint that can still be restored holds a
 * committable of it (see {@link TransactionalIdPool}).
 *
 * <p>Verified against a Kafka 4.3.1 broker (transactions v2, and v1 after a feature downgrade) by
 * {@code TransactionalProducerTest} and {@code TransactionsV1Test}.
 */
public final class TransactionalProducer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TransactionalProducer.class);
    private static final Duration RESUMED_CLOSE_TIMEOUT = Duration.ofSeconds(5);

    /**
     * {@code retry.backoff.ms} of the sink's producers and of the sink's and source's own Admin clients, unless set:
     * 20 ms, as the producer itself waits before retrying a transaction's requests, not the client's default 100.
     */
    public static final String RETRY_BACKOFF_MS = "20";

    private enum State {
        READY,
        IN_TRANSACTION,
        PRE_COMMITTED,
        CLOSED
    }

    private final String transactionalId;
    private final KafkaProducer<byte[], byte[]> producer;
    private final long maxBlockMs;
    private final AtomicReference<Throwable> sendError = new AtomicReference<>();
    private final AtomicLong recordsInTransaction = new AtomicLong();
    /** The topics of the records sent in the open transaction, and the last one (to skip the set for a repeat). */
    private final Set<String> topicsSent = new HashSet<>();
    private String lastTopicSent;
    /** Per partition, the lowest offset of a record of the open transaction the broker acknowledged. */
    private final FirstOffsets firstOffsets = new FirstOffsets();
    /** The callback of every record sent without one of its own: one object, not one per record. */
    private final Callback acknowledged = this::acknowledged;
    private volatile State state = State.READY;

    private TransactionalProducer(String transactionalId, KafkaProducer<byte[], byte[]> producer, long maxBlockMs) {
        this.transactionalId = transactionalId;
        this.producer = producer;
        this.maxBlockMs = maxBlockMs;
    }

    /**
     * A producer for {@code transactionalId}, initialised ({@code initTransactions()}: fences older producers of
     * this id and aborts a transaction they left open).
     *
     * @param properties producer properties ({@code bootstrap.servers}, {@code transaction.timeout.ms}, security,
     *                   ...); {@code transactional.id}, the serializers and {@code enable.idempotence} are set here
     * @throws UnsupportedKafkaClientsException if the kafka-clients on the classpath cannot resume transactions
     */
    public static TransactionalProducer create(String transactionalId, Properties properties) {
        return create(transactionalId, properties, () -> { });
    }

    /**
     * The same, running {@code beforeInit} between the producer's construction and its {@code initTransactions()}:
     * for what must happen before the abort of a transaction the id may hold open, overlapping the construction.
     */
    public static TransactionalProducer create(String transactionalId, Properties properties, Runnable beforeInit) {
        ProducerInternals.verify();
        Properties p = producerProperties(transactionalId, properties);
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p);
        try {
            beforeInit.run();
            producer.initTransactions();
        } catch (RuntimeException e) {
            producer.close(Duration.ZERO);
            throw e;
        }
        return new TransactionalProducer(transactionalId, producer, maxBlockMs(p));
    }

    public String transactionalId() {
        return transactionalId;
    }

    /**
     * Fetches the partitions of {@code topics} now, waiting for them (up to {@code max.block.ms}), so that the first
     * send to each does not wait for that round trip: after a restart it is the first new output that would. Meant
     * to run off the task thread while the producer is otherwise idle; a failure (the producer closed meanwhile, a
     * topic not there) is left to the sends to report.
     */
    public void fetchMetadata(java.util.Collection<String> topics) {
        for (String topic : topics) {
            try {
                producer.partitionsFor(topic);
            } catch (RuntimeException e) {
                LOG.debug("fetching the metadata of {} for {} failed: {}", topic, transactionalId, e.toString());
                return;
            }
        }
    }

    /**
     * The producer's {@code metadata-wait-time-ns-total}: how long its sends (and {@link #fetchMetadata}) waited for
     * topic metadata so far. A send to a topic whose metadata the producer holds adds nothing.
     */
    public double metadataWaitNanos() {
        for (var e : producer.metrics().entrySet()) {
            if (e.getKey().name().equals("metadata-wait-time-ns-total") && e.getKey().group().equals("producer-metrics")) {
                return ((Number) e.getValue().metricValue()).doubleValue();
            }
        }
        throw new IllegalStateException("kafka-clients has no producer metric metadata-wait-time-ns-total");
    }

    public void beginTransaction() {
        requireState(State.READY, "begin a transaction");
        sendError.set(null);
        recordsInTransaction.set(0);
        firstOffsets.clear();
        topicsSent.clear();
        lastTopicSent = null;
        producer.beginTransaction();
        state = State.IN_TRANSACTION;
    }

    public Future<RecordMetadata> send(ProducerRecord<byte[], byte[]> record) {
        return send(record, null);
    }

    /**
     * Sends a record in the open transaction. A failure, reported here or later to the callback, makes
     * {@link #flush()} and {@link #preCommit()} throw: the transaction must then be aborted.
     */
    public Future<RecordMetadata> send(ProducerRecord<byte[], byte[]> record, Callback callback) {
        requireState(State.IN_TRANSACTION, "send");
        String topic = record.topic();
        if (!topic.equals(lastTopicSent)) { // the same object as a rule: a reference compare
            topicsSent.add(topic); // before the send: a record whose send fails may still have been appended
            lastTopicSent = topic;
        }
        try {
            Future<RecordMetadata> f = producer.send(record, callback == null ? acknowledged : (metadata, exception) -> {
                acknowledged(metadata, exception);
                callback.onCompletion(metadata, exception);
            });
            recordsInTransaction.incrementAndGet();
            return f;
        } catch (RuntimeException e) {
            sendError.compareAndSet(null, e);
            throw e;
        }
    }

    /** The topics records were sent to in the open (or last) transaction, acknowledged or not. */
    public Set<String> topicsSent() {
        return Set.copyOf(topicsSent);
    }

    private void acknowledged(RecordMetadata metadata, Exception exception) {
        if (exception != null) {
            sendError.compareAndSet(null, exception);
        } else if (metadata != null && metadata.hasOffset()) {
            firstOffsets.acknowledged(metadata.topic(), metadata.partition(), metadata.offset());
        }
    }

    /**
     * Per partition written in the open transaction, the offset of its first record there (complete after
     * {@link #flush()}): what {@link HangingTransactionCheck} compares with where the broker says the
     * transaction begins.
     */
    public Map<org.apache.kafka.common.TopicPartition, Long> firstOffsets() {
        return firstOffsets.toMap();
    }

    /**
     * The partitions where a record of the open transaction has been acknowledged so far, before any
     * {@link #flush()}: those the barrier's check may ask while the pre-commit flushes ({@link BarrierChecks#ask}).
     */
    public java.util.Set<org.apache.kafka.common.TopicPartition> acknowledgedPartitions() {
        return firstOffsets.toMap().keySet();
    }

    /**
     * The lowest acknowledged offset per partition, kept per topic in an array indexed by partition: the
     * producer's I/O thread calls {@link #acknowledged} once per record, which must then cost a compare with the
     * partition acknowledged last (a lookup of the topic and a compare for a batch's first record), no object per
     * record.
     */
    static final class FirstOffsets {
        /** Per topic and partition, the lowest offset + 1; 0 where nothing was acknowledged. */
        private final ConcurrentHashMap<String, AtomicLongArray> byTopic =
                new ConcurrentHashMap<>();

        /** Bumped by {@link #clear}: what {@link #acknowledged} remembers of the last transaction no longer counts. */
        private volatile int generation;
        /**
         * The partition of the last acknowledgement that went the long way, and its lowest offset then. The I/O
         * thread acknowledges a batch's records one after another, all of one partition in increasing order, so that
         * each after the batch's first is a compare with this rather than a lookup. Immutable, so that a thread that
         * sees an older one (only the I/O thread acknowledges records that were written) merely goes the long way.
         */
        private Lowest last;

        private record Lowest(String topic, int partition, long offset, int generation) {
        }

        void acknowledged(String topic, int partition, long offset) {
            int g = generation;
            Lowest l = last;
            // the topic by reference: a batch's records share its name's object; another one goes the long way
            if (l != null && l.generation == g && l.partition == partition && l.topic == topic && offset >= l.offset) {
                return;
            }
            AtomicLongArray a = byTopic.get(topic);
            if (a == null || partition >= a.length()) {
                a = widen(topic, partition);
            }
            long v = offset + 1;
            long current;
            while (true) {
                current = a.get(partition);
                if (current != 0 && current <= v) {
                    break;
                }
                if (a.compareAndSet(partition, current, v)) {
                    current = v;
                    break;
                }
            }
            last = new Lowest(topic, partition, current - 1, g);
        }

        /** The topic's array, made long enough for {@code partition} (rare: a topic's or partition's first record). */
        private synchronized AtomicLongArray widen(String topic, int partition) {
            AtomicLongArray a = byTopic.get(topic);
            if (a != null && partition < a.length()) {
                return a;
            }
            AtomicLongArray wider =
                    new AtomicLongArray(Math.max(partition + 1, a == null ? 8 : a.length() * 2));
            for (int i = 0; a != null && i < a.length(); i++) {
                wider.set(i, a.get(i));
            }
            byTopic.put(topic, wider);
            return wider;
        }

        synchronized void clear() {
            byTopic.clear();
            generation++;
        }

        Map<org.apache.kafka.common.TopicPartition, Long> toMap() {
            Map<org.apache.kafka.common.TopicPartition, Long> m = new java.util.HashMap<>();
            byTopic.forEach((topic, a) -> {
                for (int p = 0; p < a.length(); p++) {
                    long v = a.get(p);
                    if (v != 0) {
                        m.put(new org.apache.kafka.common.TopicPartition(topic, p), v - 1);
                    }
                }
            });
            return Map.copyOf(m);
        }
    }

    /** Records sent in the open transaction so far (0 outside a transaction). */
    public long recordsInTransaction() {
        return state == State.IN_TRANSACTION || state == State.PRE_COMMITTED ? recordsInTransaction.get() : 0;
    }

    public boolean isInTransaction() {
        return state == State.IN_TRANSACTION || state == State.PRE_COMMITTED;
    }

    public boolean isPreCommitted() {
        return state == State.PRE_COMMITTED;
    }

    /**
     * Waits until every record sent so far is acknowledged and, in a transaction, part of the transaction at the
     * coordinator (see the class comment).
     *
     * @throws KafkaException if a record of the open transaction failed; abort the transaction
     */
    public void flush() {
        requireOpen();
        producer.flush();
        if (state == State.IN_TRANSACTION) {
            if (!ProducerInternals.state(producer).transactionV2()) {
                awaitPartitionsAdded();
            }
            Throwable failed = sendError.get();
            if (failed != null) {
                throw new KafkaException("a record of transaction " + transactionalId + " could not be written ("
                        + failed + "); the transaction must be aborted, not committed", failed);
            }
        }
    }

    /**
     * Flushes and returns what is needed to commit the open transaction later from another process. The
     * transaction stays open; commit it with {@link #commitTransaction()} (or, after a crash,
     * {@link #resumeAndCommit}) once the checkpoint completed.
     *
     * @throws IllegalStateException if no record was sent in the transaction: commit it instead, no request is
     *                               sent for an empty transaction
     * @throws KafkaException        if a record failed; abort the transaction
     */
    public ResumableTransaction preCommit() {
        requireState(State.IN_TRANSACTION, "pre-commit");
        if (recordsInTransaction.get() == 0) {
            throw new IllegalStateException("transaction " + transactionalId + " is empty: there is nothing to"
                    + " pre-commit; commit it right away (no request is sent for an empty transaction)");
        }
        flush();
        ProducerInternals.ProducerState s = ProducerInternals.state(producer);
        if (!"IN_TRANSACTION".equals(s.managerState())) {
            throw new KafkaException("transaction " + transactionalId + " cannot be pre-committed: its producer is in"
                    + " state " + s.managerState() + "; abort it");
        }
        ResumableTransaction t = new ResumableTransaction(transactionalId, s.producerId(), s.epoch(), s.transactionV2(),
                firstOffsets());
        state = State.PRE_COMMITTED;
        LOG.debug("pre-committed {} with {} records", t, recordsInTransaction.get());
        return t;
    }

    /** Commits the open (usually pre-committed) transaction. */
    public void commitTransaction() {
        requireOpen();
        if (!isInTransaction()) {
            throw new IllegalStateException("no transaction is open on " + transactionalId);
        }
        producer.commitTransaction();
        state = State.READY;
        recordsInTransaction.set(0);
        firstOffsets.clear();
    }

    /** Aborts the open transaction (pre-committed or not). */
    public void abortTransaction() {
        requireOpen();
        if (!isInTransaction()) {
            throw new IllegalStateException("no transaction is open on " + transactionalId);
        }
        producer.abortTransaction();
        state = State.READY;
        recordsInTransaction.set(0);
        firstOffsets.clear();
        sendError.set(null);
    }

    /** Producer id, epoch and protocol version the producer holds now (for diagnostics and tests). */
    ProducerInternals.ProducerState producerState() {
        return ProducerInternals.state(producer);
    }

    /**
     * Closes the producer. An open transaction that was not pre-committed is aborted (the producer does so when
     * closed gracefully); a pre-committed one is left open for its committer: the producer is then closed
     * without waiting ({@code close(Duration.ZERO)}), which sends no EndTxn (kafka-clients 4.3: a forced close
     * skips the abort of the open transaction; everything was flushed at pre-commit).
     */
    @Override
    public void close() {
        close(Duration.ofMillis(maxBlockMs));
    }

    public void close(Duration timeout) {
        State s = state;
        if (s == State.CLOSED) {
            return;
        }
        state = State.CLOSED;
        producer.close(s == State.PRE_COMMITTED ? Duration.ZERO : timeout);
    }

    // ------------------------------------------------------------------------------------------ resume

    /**
     * Commits a transaction pre-committed by another producer instance (usually of a crashed process): see the
     * class comment. Idempotent: a transaction committed before is reported as
     * {@link CommitResult.Outcome#ALREADY_COMMITTED}, without any effect. Logs a
     * {@link CommitResult.Outcome#FENCED_OR_EXPIRED} outcome as an error.
     *
     * @param properties producer properties as given to {@link #create} (bootstrap servers, security, timeouts);
     *                   the Admin client used to describe the transaction gets those of them it knows
     * @throws TimeoutException  if the coordinator could not be reached in time (retry later)
     * @throws KafkaException    for any other failure (authorization, ...), whose outcome is unknown
     * @throws UnsupportedKafkaClientsException if the kafka-clients on the classpath cannot resume transactions
     */
    public static CommitResult resumeAndCommit(ResumableTransaction transaction, Properties properties) {
        ProducerInternals.verify();
        try (Admin admin = Admin.create(adminProperties(properties))) {
            return resumeAndCommit(transaction, properties, admin);
        }
    }

    /** {@link #resumeAndCommit(ResumableTransaction, Properties)} with the caller's Admin client. */
    public static CommitResult resumeAndCommit(ResumableTransaction transaction, Properties properties, Admin admin) {
        ProducerInternals.verify();
        Objects.requireNonNull(transaction, "transaction");
        Properties p = producerProperties(transaction.transactionalId(), properties);
        long timeoutMs = maxBlockMs(p);
        Coordinator before = Coordinator.describe(admin, transaction.transactionalId(), timeoutMs);
        CommitResult result = switch (before.classify(transaction)) {
            case OPEN -> commitResumed(transaction, p, admin, timeoutMs, CommitResult.Outcome.COMMITTED, before);
            case COMMITTING, MAYBE_COMMITTED -> commitResumed(transaction, p, admin, timeoutMs,
                    CommitResult.Outcome.ALREADY_COMMITTED, before);
            case UNKNOWN -> commitResumed(transaction, p, admin, timeoutMs, CommitResult.Outcome.COMMITTED, before);
            case COMMITTED -> new CommitResult(CommitResult.Outcome.ALREADY_COMMITTED, transaction,
                    transaction + " had been committed already (the coordinator shows " + before + "); nothing to do");
            case ABORTED, FENCED, NOT_FOUND -> new CommitResult(CommitResult.Outcome.FENCED_OR_EXPIRED, transaction,
                    before.explainLost(transaction, p));
        };
        if (result.outcome().isDataPossiblyLost()) {
            LOG.error("{}", result.message());
        } else {
            LOG.info("{}", result.message());
        }
        return result;
    }

    private static CommitResult commitResumed(ResumableTransaction t, Properties p, Admin admin, long timeoutMs,
            CommitResult.Outcome ifAccepted, Coordinator before) {
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p);
        boolean committed = false;
        try {
            ProducerInternals.resume(producer, t.producerId(), t.epoch(), t.transactionV2());
            producer.beginTransaction();
            ProducerInternals.markTransactionStarted(producer);
            producer.commitTransaction(); // EndTxn(commit) at the recorded producer id and epoch
            committed = true;
            String how = switch (ifAccepted) {
                case COMMITTED -> before.known() ? "committed it (the coordinator showed " + before + ")"
                        : "committed it (or it had been committed already: describing it failed: " + before + ")";
                default -> "it had been committed already (the coordinator showed " + before
                        + " and accepted the commit as a retry)";
            };
            return new CommitResult(ifAccepted, t, "resumed " + t + " and " + how);
        } catch (ProducerFencedException | InvalidProducerEpochException | InvalidTxnStateException
                | InvalidPidMappingException e) {
            Coordinator after = Coordinator.describe(admin, t.transactionalId(), timeoutMs);
            return new CommitResult(CommitResult.Outcome.FENCED_OR_EXPIRED, t, after.explainLost(t, p)
                    + " (EndTxn failed with " + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
        } finally {
            // after a commit the producer is READY and closes at once; after a failure nothing is left to send
            producer.close(committed ? RESUMED_CLOSE_TIMEOUT : Duration.ZERO);
        }
    }

    // ------------------------------------------------------------------------------------------ helpers

    static Properties producerProperties(String transactionalId, Properties properties) {
        Objects.requireNonNull(transactionalId, "transactionalId");
        Properties p = new Properties();
        p.putAll(properties);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return p;
    }

    /** The entries of producer (or other client) properties that an Admin client knows. */
    public static Properties adminProperties(Properties properties) {
        Properties a = new Properties();
        for (Map.Entry<Object, Object> e : properties.entrySet()) {
            String key = String.valueOf(e.getKey());
            if (AdminClientConfig.configNames().contains(key) && !key.equals(AdminClientConfig.CLIENT_ID_CONFIG)) {
                a.put(key, e.getValue());
            }
        }
        // the sink's and source's own Admin clients ask a few questions; nobody watches their metrics, and a JMX bean
        // per metric and the push of client metrics (KIP-714, its protobuf classes) cost a restarted process's first
        // client, the start check's, a few hundred milliseconds on its way to the first output. Unless set otherwise.
        a.putIfAbsent(AdminClientConfig.METRIC_REPORTER_CLASSES_CONFIG, "");
        a.putIfAbsent(AdminClientConfig.ENABLE_METRICS_PUSH_CONFIG, "false");
        // as the sink's producers retry (KafkaSink.producerProperties): a question answered "try again" (a restart's
        // abort still being written, say) is asked again after 20 ms, not the client's default 100
        a.putIfAbsent(AdminClientConfig.RETRY_BACKOFF_MS_CONFIG, RETRY_BACKOFF_MS);
        return a;
    }

    static long maxBlockMs(Properties p) {
        Object v = p.get(ProducerConfig.MAX_BLOCK_MS_CONFIG);
        return v == null ? 60_000L : Long.parseLong(v.toString().trim());
    }

    static long transactionTimeoutMs(Properties p) {
        Object v = p.get(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG);
        return v == null ? 60_000L : Long.parseLong(v.toString().trim());
    }

    private void awaitPartitionsAdded() {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(maxBlockMs);
        while (ProducerInternals.hasPartitionsToAdd(producer)) {
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("partitions of transaction " + transactionalId + " were not added to it"
                        + " within max.block.ms (" + maxBlockMs + " ms)");
            }
            producer.flush(); // wakes the sender, which sends the pending AddPartitionsToTxn
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new org.apache.kafka.common.errors.InterruptException(e);
            }
        }
    }

    private void requireState(State expected, String action) {
        State s = state;
        if (s != expected) {
            throw new IllegalStateException("cannot " + action + " on " + transactionalId + " in state " + s);
        }
    }

    private void requireOpen() {
        if (state == State.CLOSED) {
            throw new IllegalStateException("producer " + transactionalId + " is closed");
        }
    }

    /** Where the coordinator says a transactional id stands, from {@code describeTransactions}. */
    private record Coordinator(TransactionDescription description, boolean notFound, Exception failure) {
        enum Verdict {
            /** ONGOING at the recorded producer id and epoch: commit it. */
            OPEN,
            /** PREPARE_COMMIT after the recorded epoch: a commit is in progress; EndTxn waits for it. */
            COMMITTING,
            /** COMPLETE_COMMIT right after the recorded epoch. */
            COMMITTED,
            /** COMPLETE_COMMIT at a new producer id, epoch 0, after epoch 32766: ours if the broker says so. */
            MAYBE_COMMITTED,
            /** PREPARE_ABORT or COMPLETE_ABORT at the recorded epoch or the next. */
            ABORTED,
            /** anything else: another producer epoch or producer id. */
            FENCED,
            /** the transactional id is unknown to the coordinator. */
            NOT_FOUND,
            /** describing failed: let EndTxn decide. */
            UNKNOWN
        }

        static Coordinator describe(Admin admin, String transactionalId, long timeoutMs) {
            try {
                TransactionDescription d = admin.describeTransactions(List.of(transactionalId))
                        .description(transactionalId).get(timeoutMs, TimeUnit.MILLISECONDS);
                return new Coordinator(d, false, null);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof TransactionalIdNotFoundException) {
                    return new Coordinator(null, true, null);
                }
                return new Coordinator(null, false, e.getCause() instanceof Exception c ? c : e);
            } catch (java.util.concurrent.TimeoutException e) {
                return new Coordinator(null, false, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new org.apache.kafka.common.errors.InterruptException(e);
            }
        }

        boolean known() {
            return description != null || notFound;
        }

        Verdict classify(ResumableTransaction t) {
            if (notFound) {
                return Verdict.NOT_FOUND;
            }
            if (description == null) {
                return Verdict.UNKNOWN;
            }
            TransactionState s = description.state();
            long pid = description.producerId();
            int epoch = description.producerEpoch();
            // the epoch the coordinator holds once the transaction has ended: v2 bumps it at commit and abort
            int endedEpoch = t.transactionV2() ? t.epoch() + 1 : t.epoch();
            boolean samePid = pid == t.producerId();
            if (samePid && epoch == t.epoch() && s == TransactionState.ONGOING) {
                return Verdict.OPEN;
            }
            if (samePid && epoch == endedEpoch && s == TransactionState.PREPARE_COMMIT) {
                return Verdict.COMMITTING;
            }
            if (samePid && epoch == endedEpoch && s == TransactionState.COMPLETE_COMMIT) {
                return Verdict.COMMITTED;
            }
            if (!samePid && t.transactionV2() && t.epoch() == Short.MAX_VALUE - 1 && epoch == 0
                    && (s == TransactionState.COMPLETE_COMMIT || s == TransactionState.PREPARE_COMMIT)) {
                return Verdict.MAYBE_COMMITTED;
            }
            // aborted by the broker as timed out: v2 and v1 (whose abort fences the epoch) both show epoch + 1
            if (samePid && (epoch == endedEpoch || epoch == t.epoch() + 1)
                    && (s == TransactionState.PREPARE_ABORT || s == TransactionState.COMPLETE_ABORT)) {
                return Verdict.ABORTED;
            }
            return Verdict.FENCED;
        }

        String explainLost(ResumableTransaction t, Properties p) {
            String timeout = "transaction.timeout.ms ("
                    + (description != null ? description.transactionTimeoutMs() : transactionTimeoutMs(p)) + " ms)";
            String advice = " The time from pre-commit to this commit (checkpoint duration, plus failure detection and"
                    + " restart after a crash) must stay well below " + timeout + "; raise it (up to the broker's"
                    + " transaction.max.timeout.ms, 15 min by default) or checkpoint more often.";
            String lost = " Its records are not visible to read_committed consumers: POSSIBLE DATA LOSS.";
            Verdict v = classify(t);
            return switch (v) {
                case ABORTED -> t + " cannot be committed: the broker aborted it (the coordinator shows " + this + ")."
                        + " Most likely it stayed open longer than " + timeout + " and the coordinator aborted it as"
                        + " timed out." + advice + lost;
                case NOT_FOUND -> t + " cannot be committed: the coordinator does not know the transactional id"
                        + " (it expired after transactional.id.expiration.ms without use, 7 days by default, or the"
                        + " cluster is not the one the transaction was written to)." + lost;
                case FENCED -> t + " cannot be committed: the coordinator shows " + this + ", a newer producer epoch or"
                        + " another producer id than the recorded one, so this transaction has ended and whether it"
                        + " was committed can no longer be told. Likely causes: it stayed open longer than " + timeout
                        + " and the broker aborted it; another producer took over the transactional id (a second"
                        + " sink or job with the same transactional-id prefix, or a restore from a checkpoint older"
                        + " than the latest one); or the id was reused for a newer transaction before a later"
                        + " checkpoint completed." + advice + " Its records may be missing for read_committed"
                        + " consumers: POSSIBLE DATA LOSS.";
                default -> t + " could not be committed (the coordinator shows " + this + ")." + advice + lost;
            };
        }

        @Override
        public String toString() {
            if (notFound) {
                return "no such transactional id";
            }
            if (description == null) {
                return "unknown (" + failure + ")";
            }
            Optional<Long> started = description.transactionStartTimeMs().isPresent()
                    ? Optional.of(description.transactionStartTimeMs().getAsLong()) : Optional.empty();
            return "state " + description.state() + " at producerId " + description.producerId() + ", epoch "
                    + description.producerEpoch() + ", transaction.timeout.ms " + description.transactionTimeoutMs()
                    + started.map(s -> ", started " + (System.currentTimeMillis() - s) + " ms ago").orElse("");
        }
    }
}
