package io.onceflow.kafka.sink;

import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.kafka.internal.DaemonThreads;
import io.onceflow.kafka.internal.SharedAdmin;
import io.onceflow.kafka.sink.internal.BarrierChecks;
import io.onceflow.kafka.sink.internal.CommitMarkers;
import io.onceflow.kafka.sink.internal.CommitResult;
import io.onceflow.kafka.sink.internal.EndedTransactionSweep;
import io.onceflow.kafka.sink.internal.LingeringTransactionAborter;
import io.onceflow.kafka.sink.internal.ResumableTransaction;
import io.onceflow.kafka.sink.internal.TransactionalIdPool;
import io.onceflow.kafka.sink.internal.TransactionalProducer;
import io.onceflow.twophase.TransactionContext;
import io.onceflow.twophase.TransactionHandler;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kafka transactions for the two-phase-commit template.
 *
 * <h2>Transactional ids</h2>
 * {@code <prefix>-p<parallelism>-<subtask>-<n>}, with {@code n} from a small pool per subtask: an id is
 * reused, never a new one per checkpoint. The parallelism is part of the name so that after a rescale
 * no subtask reuses an id whose committable another subtask may still have to commit. A committed
 * transaction's id goes back to the pool only once a checkpoint taken after the commit has completed:
 * until then a restore may commit it again, and must find that transaction, not a newer one.
 *
 * <h2>Never a hanging transaction</h2>
 * Open transactions are found by listing (not by probing ids): on a fresh start or a restore at the same
 * parallelism each subtask aborts whatever its ids left open, and once the first checkpoint of a run
 * completes (so every restored committable has been committed) each subtask sweeps its ids again and
 * subtask 0 sweeps the ids of every other parallelism.
 *
 * <h2>Every commit's markers checked</h2>
 * After a commit (and after a commit of a committable restored from a checkpoint) the partitions the transaction
 * wrote to are asked whether one still counts it open; a commit marker the broker dropped is written there before the
 * producer id writes again ({@link CommitMarkers}), so that no later abort of that producer id takes committed
 * records with it. A running writer's commits are checked at its next barrier, in the request of that barrier's
 * hanging-transaction check ({@link BarrierChecks}, sent as the barrier arrives, so that its round trip overlaps the
 * pre-commit's flush): the barrier of the first checkpoint that could hand the producer back, which the check
 * declines should it fail. A commit with no transaction open after it (the end of the input) is checked at once, and
 * so is what is left unchecked when the writer closes. An abort marker the broker dropped is written by a sweep of
 * the sink's topics, and of those earlier runs wrote to that this one knows of, at the first completed checkpoint
 * of a run and every {@value #ENDED_SWEEP_INTERVAL_SECONDS} s after ({@link EndedTransactionSweep}); a sink whose
 * serializer names no topics also looks, once per process, in every topic of the cluster where a transaction is open.
 *
 * <h2>No producer start on the way of the first output</h2>
 * Initialising a transactional producer is a round trip to the transaction coordinator (and a cold one
 * at start). A producer that aborted a transaction as a writer started is kept and writes that writer's
 * first transactions; once a writer has no idle producer left, the next one is initialised in the background,
 * so that a barrier's synchronous part takes a ready producer; the Admin client is created in the background
 * when the writer starts, unless the sink's start check, which asks the broker with it, left it open. The subtasks,
 * a restart's calls and the start check share one Admin client ({@link SharedAdmin}), not one each.
 *
 * <p>One instance serves every subtask, each from its own thread: per-subtask state lives in
 * {@link Subtask} objects, each touched by one thread at a time.
 */
final class KafkaTransactionHandler<T> implements TransactionHandler<T, KafkaTransaction> {

    private static final Logger LOG = LoggerFactory.getLogger(KafkaTransactionHandler.class);

    private static final int POOL_SIZE = 100;
    private static final long ENDED_SWEEP_INTERVAL_SECONDS = 60;
    private static final Duration SPARE_WAIT_ON_CLOSE = Duration.ofSeconds(5);

    private final KafkaSink<T> sink;
    private final Map<Integer, Subtask> subtasks = new ConcurrentHashMap<>();
    /** Ids committed from a restored checkpoint, to keep out of the pools until a checkpoint completes. */
    private final Set<String> recovered = ConcurrentHashMap.newKeySet();
    /**
     * Where the subtasks sweep for abort markers a broker dropped: the topics the serializer names, those the sink's
     * writers wrote to in this process (aborted transactions' included; a failover's writers' too), and those earlier
     * runs wrote to that this one knows of: of the transactions restored from a checkpoint and of their writers up to
     * it, and of the transactions aborted as the sink started (asked from their coordinator before the abort).
     */
    private final Set<String> topics = ConcurrentHashMap.newKeySet();
    /**
     * For a sink whose serializer names no topics: the cluster's partitions where a transaction is open, looked for
     * once per process as its first writer starts ({@link EndedTransactionSweep#partitionsWithOpenTransactions}), and
     * swept by each writer's first sweep that finds the look done. A process killed after an abort whose marker the
     * broker dropped, in a topic it had first written to after its last checkpoint, leaves that topic in no checkpoint
     * and in no coordinator's memory; the serializer cannot name it either. Null until started; never started for a
     * serializer that names its topics, to which every record goes. A writer whose first sweep ran before the look was
     * done sweeps again at the first checkpoint it completes after the look found partitions, not a minute later.
     */
    private final AtomicReference<CompletableFuture<Set<TopicPartition>>> held = new AtomicReference<>();
    /**
     * Producers whose {@code initTransactions()} aborted a transaction as a writer started (one open at the restored
     * checkpoint, or a lingering one), by transactional id: initialised and holding no transaction, so the new writer
     * of that id's subtask takes them over instead of initialising another producer for the same id.
     */
    private final Map<String, TransactionalProducer> warm = new ConcurrentHashMap<>();
    /** How many producers this handler initialised ({@code initTransactions()} round trips), for the tests. */
    private final AtomicInteger initialised = new AtomicInteger();
    /** How many of those a {@link #beginTransaction} had to initialise itself, having no idle or spare producer. */
    private final AtomicInteger initialisedInBegin = new AtomicInteger();

    /** Initialises spare producers and Admin clients off the task threads; daemon threads, gone after a minute unused. */
    private static final ExecutorService WARM_UP = DaemonThreads.cached("onceflow kafka sink warm-up");
    /** Where the look for the {@link #held} partitions runs: {@link #WARM_UP}, or a test's that holds it back. */
    Executor lookExecutor = WARM_UP;

    /**
     * The sink's one Admin client in this process, shared by its writers and its recovery calls, and with the job's
     * other Kafka sinks whose Admin settings are the same ({@link SharedAdmin#of}); not with its sources, whose
     * questions at a barrier would hold up the barrier's checks.
     */
    private final SharedAdmin sharedAdmin;

    KafkaTransactionHandler(KafkaSink<T> sink) {
        this.sink = sink;
        this.sharedAdmin = SharedAdmin.of("sink", TransactionalProducer.adminProperties(producerProperties(-1)),
                WARM_UP);
        this.topics.addAll(sink.serializer.topics());
    }

    /** The sink's Admin client in this process, which its start checks use too. */
    SharedAdmin sharedAdmin() {
        return sharedAdmin;
    }

    /** The pooled ids, producers and cooling-down ids of one subtask, for one writer's lifetime. */
    private final class Subtask {
        final int index;
        final String namespace;
        final TransactionalIdPool pool;
        final ArrayDeque<TransactionalProducer> idle = new ArrayDeque<>();
        final List<Object[]> cooling = new ArrayList<>();
        final List<TransactionalProducer> all = new ArrayList<>();
        long lastSnapshot = -1;
        boolean swept;
        /** Whether a sweep of this writer looked in the {@link #held} partitions. */
        boolean sweptHeld;
        /** Whether a sweep of this writer set out to look in them (which failed, if {@link #sweptHeld} is false). */
        boolean triedHeld;
        /**
         * Transactions committed and not yet checked for their commit markers, oldest first: checked at the next
         * barrier ({@link BarrierChecks}), before their producers can be used again.
         */
        final List<ResumableTransaction> unverified = new ArrayList<>();
        /** The transaction begun and not yet pre-committed or aborted, or null. */
        KafkaTransaction open;
        /** When the next sweep for ended transactions left open is due ({@link System#nanoTime()}). */
        long nextEndedSweep;
        /**
         * Whether this writer holds the sink's Admin client, for the hanging-transaction check at every pre-commit and
         * the sweeps once the first checkpoint completed; acquired when the writer starts (created in the background
         * if need be), so that the first barrier does not wait for it.
         */
        private boolean holdsAdmin;
        /**
         * A producer being initialised in the background for the next transaction that finds no idle producer, and
         * its id (in use in the pool), or null: {@code initTransactions()} takes a round trip to the transaction
         * coordinator, which would otherwise sit in the barrier's synchronous part whenever the pool grows.
         */
        private CompletableFuture<TransactionalProducer> spare;
        private String spareId;

        /** Takes hold of the sink's Admin client (its creation, if need be, starts off the task thread). */
        void prepareAdmin() {
            if (!holdsAdmin) {
                sharedAdmin.acquire();
                holdsAdmin = true;
            }
        }

        Admin admin() {
            prepareAdmin();
            return sharedAdmin.get();
        }

        Subtask(int index, int parallelism) {
            this.index = index;
            this.namespace = namespace(parallelism);
            this.pool = new TransactionalIdPool(namespace, index, POOL_SIZE);
        }

        void cool(String id, TransactionalProducer producer, long releaseAfter) {
            cooling.add(new Object[] {id, producer, releaseAfter});
        }

        /** Starts initialising a spare producer on the next free id, unless one is on its way or the pool is full. */
        void warmUpSpare() {
            if (spare != null) {
                return;
            }
            String id;
            try {
                id = pool.acquire();
            } catch (IllegalStateException full) {
                return; // the next transaction that needs a producer says so
            }
            spareId = id;
            spare = CompletableFuture.supplyAsync(() -> initialise(id, index), WARM_UP);
        }

        /** The spare producer once initialised (waiting for it if need be), or null if there is none or it failed. */
        TransactionalProducer takeSpare() {
            if (spare == null) {
                return null;
            }
            var pending = spare;
            String id = spareId;
            spare = null;
            spareId = null;
            try {
                TransactionalProducer producer = pending.join();
                all.add(producer);
                return producer;
            } catch (CompletionException | CancellationException e) {
                pool.release(id);
                LOG.debug("initialising a spare producer for {} failed ({}); initialising one now", id,
                        String.valueOf(e.getCause()));
                return null;
            }
        }

        /**
         * Waits a little for a spare producer still initialising and closes it: left running, its
         * {@code initTransactions()} could complete after the next attempt's producer of the same id and fence it
         * (which costs that attempt a restart, nothing more). Not longer than a producer's graceful close: with the
         * broker unreachable it would block for {@code max.block.ms}.
         */
        private void dropSpare() {
            if (spare == null) {
                return;
            }
            var pending = spare;
            spare = null;
            spareId = null;
            try {
                pending.get(SPARE_WAIT_ON_CLOSE.toMillis(), TimeUnit.MILLISECONDS)
                        .close(Duration.ZERO);
            } catch (ExecutionException e) {
                LOG.debug("the spare producer of an ended writer had failed: {}", String.valueOf(e.getCause()));
            } catch (TimeoutException e) {
                LOG.warn("the spare producer of sink subtask {} is still initialising; it is left to finish", index);
                pending.thenAccept(p -> p.close(Duration.ZERO));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                pending.thenAccept(p -> p.close(Duration.ZERO));
            }
        }

        /** Closes every producer: idle ones gracefully, pre-committed ones without aborting their transaction. */
        void close() {
            verifyLeftOnClose();
            dropSpare();
            for (TransactionalProducer p : all) {
                try {
                    p.close(p.isInTransaction() ? Duration.ZERO : Duration.ofSeconds(5));
                } catch (RuntimeException e) {
                    LOG.debug("closing a producer of an ended writer failed: {}", e.toString());
                }
            }
            all.clear();
            idle.clear();
            if (holdsAdmin) {
                holdsAdmin = false;
                sharedAdmin.release();
            }
        }

        /**
         * The barrier's partition checks ({@link BarrierChecks}): the commits not yet checked and {@code preCommitted}
         * (or null).
         */
        void check(ResumableTransaction preCommitted) {
            BarrierChecks.run(admin(), unverified, preCommitted, producerProperties(index));
        }

        /**
         * Sends the barrier's partition checks before the pre-commit's flush, asking the partitions {@code open}
         * already wrote to; {@link BarrierChecks.Asked#verify} it once pre-committed. Null while the Admin client is
         * still being created (a barrier right after the writer started): the flush does not wait for it, and the
         * checks are made after it ({@link #check}).
         */
        BarrierChecks.Asked ask(TransactionalProducer open) {
            prepareAdmin();
            if (!sharedAdmin.ready()) {
                return null;
            }
            return BarrierChecks.ask(admin(), unverified, open.acknowledgedPartitions(), producerProperties(index));
        }

        /**
         * Checks the commit markers of the commits no barrier checked (a graceful stop's last one, say), so that their
         * records are visible once the job has ended. Not for long: a writer closed on a failure may find the cluster
         * unreachable, and a start from the checkpoint holding those commits checks them again.
         */
        private void verifyLeftOnClose() {
            if (unverified.isEmpty() || !holdsAdmin) {
                return;
            }
            try {
                BarrierChecks.run(admin(), unverified, null, BarrierChecks.blockingAtMost(producerProperties(index),
                        SPARE_WAIT_ON_CLOSE.toMillis()));
            } catch (RuntimeException e) {
                LOG.warn("sink subtask {}: checking the commit markers of {} as its writer closes failed ({}); a start "
                        + "from the checkpoint that holds them checks them again", index, unverified, e.toString());
            }
        }
    }

    private String namespace(int parallelism) {
        return sink.transactionalIdPrefix + "-p" + parallelism;
    }

    private Properties producerProperties(int subtask) {
        return sink.producerProperties(sink.transactionalIdPrefix + "-" + subtask);
    }

    @Override
    public KafkaTransaction beginTransaction(TransactionContext context) {
        Subtask st = subtasks.get(context.subtaskIndex());
        if (context.sequenceNumber() == 0 || st == null || !st.namespace.equals(namespace(context.parallelism()))) {
            // a new writer: whatever an earlier writer of this subtask held belongs to a failed attempt
            if (st != null) {
                st.close();
            }
            st = new Subtask(context.subtaskIndex(), context.parallelism());
            for (String id : List.copyOf(recovered)) {
                var parsed = TransactionalIdPool.parse(id, st.namespace);
                if (parsed.isPresent() && parsed.get().subtask() == context.subtaskIndex()) {
                    st.pool.markInUse(id);
                    st.cool(id, null, Long.MIN_VALUE);
                    recovered.remove(id);
                }
            }
            adoptWarm(st);
            st.prepareAdmin();
            lookForHeld();
            subtasks.put(context.subtaskIndex(), st);
        }
        TransactionalProducer producer = st.idle.poll();
        if (producer == null) {
            producer = st.takeSpare();
        }
        if (producer == null) {
            producer = initialise(st.pool.acquire(), st.index);
            initialisedInBegin.incrementAndGet();
            st.all.add(producer);
        }
        producer.beginTransaction();
        if (st.idle.isEmpty()) {
            // the next barrier will need another producer: initialise it now, off the task thread
            st.warmUpSpare();
        }
        st.open = new KafkaTransaction(producer.transactionalId(), producer, null, topics);
        return st.open;
    }

    /**
     * Hands a new writer the producers that aborted its subtask's open or lingering transactions; closes those of
     * another parallelism (a rescale), which no subtask of this run uses.
     */
    private void adoptWarm(Subtask st) {
        for (String id : List.copyOf(warm.keySet())) {
            var parsed = TransactionalIdPool.parse(id, st.namespace);
            if (parsed.isPresent() && parsed.get().subtask() != st.index) {
                continue; // another subtask's, taken over when that one begins
            }
            TransactionalProducer producer = warm.remove(id);
            if (producer == null) {
                continue;
            }
            if (parsed.isPresent() && !st.pool.isInUse(id)) {
                st.pool.markInUse(id);
                st.idle.add(producer);
                st.all.add(producer);
            } else {
                producer.close(Duration.ZERO);
            }
        }
    }

    @Override
    public void write(KafkaTransaction transaction, T value) throws Exception {
        transaction.producer.send(sink.serializer.serialize(value));
    }

    @Override
    public KafkaTransaction preCommit(KafkaTransaction transaction, long checkpointId) {
        Subtask st = owner(transaction.transactionalId);
        // the checks' round trip beside the flush's, not after it
        BarrierChecks.Asked asked = st != null ? st.ask(transaction.producer) : null;
        transaction.resumable = transaction.producer.preCommit();
        if (st != null) {
            if (st.open == transaction) {
                st.open = null;
            }
            transaction.resumable.firstOffsets().keySet().forEach(tp -> topics.add(tp.topic()));
            if (asked != null) {
                asked.verify(transaction.resumable);
            } else {
                st.check(transaction.resumable);
            }
        }
        return transaction;
    }

    @Override
    public void commit(KafkaTransaction transaction) throws Exception {
        if (transaction.producer == null) {
            recoverAndCommit(transaction);
            return;
        }
        try {
            transaction.producer.commitTransaction();
        } catch (org.apache.kafka.common.errors.ProducerFencedException
                 | org.apache.kafka.common.errors.InvalidProducerEpochException e) {
            throw new io.onceflow.twophase.TransactionLostException("the broker no longer accepts transactional id "
                    + transaction.transactionalId + " (" + e.getClass().getSimpleName() + "): another process of this "
                    + "job took it over, or the transaction timeout of " + sink.transactionTimeout().toMillis()
                    + " ms passed before the commit", e);
        }
        Subtask st = owner(transaction.transactionalId);
        // before the producer id writes again: a commit marker the broker dropped is written then, not lost later
        if (st != null) {
            st.unverified.add(transaction.resumable);
            if (st.open == null) {
                // no barrier follows (the end of the input): check now
                st.check(null);
            }
            st.cool(transaction.transactionalId, transaction.producer, st.lastSnapshot);
        } else {
            Properties p = producerProperties(-1);
            sharedAdmin.use(admin -> {
                CommitMarkers.verifyCommitted(admin, transaction.resumable, p);
                return null;
            });
        }
        transaction.producer = null;
    }

    @Override
    public void recoverAndCommit(KafkaTransaction transaction) throws Exception {
        if (transaction.resumable == null) {
            throw new IllegalStateException("Cannot commit " + transaction + ": it was never pre-committed");
        }
        Properties p = producerProperties(-1);
        CommitResult result = sharedAdmin.use(admin -> {
            CommitResult r = TransactionalProducer.resumeAndCommit(transaction.resumable, p, admin);
            if (r.outcome() == CommitResult.Outcome.FENCED_OR_EXPIRED) {
                throw new io.onceflow.twophase.TransactionLostException(r.message() + "; the broker most likely "
                        + "aborted it when the sink's transaction timeout of " + sink.transactionTimeout().toMillis()
                        + " ms passed while the job was down (transactional id " + transaction.transactionalId + ")");
            }
            // committed now or before the crash: either way its markers may be missing (the broker may have died
            // writing them), and the id is about to be used again
            CommitMarkers.verifyCommitted(admin, transaction.resumable, p);
            return r;
        });
        LOG.info("Committed {} restored from a checkpoint: {}", transaction, result.outcome());
        recovered.add(transaction.transactionalId);
        transaction.resumable.firstOffsets().keySet().forEach(tp -> topics.add(tp.topic()));
        topics.addAll(transaction.writerTopics);
    }

    @Override
    public void abort(KafkaTransaction transaction) {
        TransactionalProducer producer = transaction.producer;
        if (producer == null) {
            recoverAndAbort(transaction);
            return;
        }
        Subtask st = owner(transaction.transactionalId);
        if (st != null && st.open == transaction) {
            st.open = null;
        }
        // should the broker drop the abort's marker in one of them, the sweeps look there
        topics.addAll(producer.topicsSent());
        try {
            producer.abortTransaction();
            if (st != null) {
                st.idle.add(producer);
            }
        } catch (RuntimeException e) {
            LOG.warn("Aborting {} failed ({}); closing its producer, the broker aborts it at its timeout or the next "
                    + "run fences it", transaction, e.toString());
            producer.close(Duration.ZERO);
            if (st != null) {
                st.all.remove(producer);
                st.pool.release(transaction.transactionalId);
            }
        }
        transaction.producer = null;
    }

    @Override
    public void recoverAndAbort(KafkaTransaction transaction) {
        // initTransactions() on the id fences whoever holds it and aborts its open transaction; the producer is
        // then ready for a new transaction, which the restored writer of that subtask begins with it. Its
        // coordinator is asked first which topics the transaction wrote to (the abort makes it forget them), the
        // question overlapping the producer's construction: the sweeps look there for an abort marker dropped.
        topics.addAll(transaction.writerTopics);
        String id = transaction.transactionalId;
        int subtask = subtaskOf(id);
        Properties properties = producerProperties(subtask);
        CompletableFuture<Set<String>> written = CompletableFuture.supplyAsync(() -> {
            try {
                return sharedAdmin.use(admin -> LingeringTransactionAborter.topicsOf(admin, List.of(id), properties));
            } catch (Exception e) {
                LOG.warn("cannot ask which topics {} wrote to ({}): an abort marker the broker drops there is not "
                        + "looked for by the sink's sweeps", transaction, e.toString());
                return Set.of();
            }
        }, WARM_UP);
        keepWarm(id, initialise(id, subtask, () -> topics.addAll(written.join())));
        LOG.info("Aborted {} that was open at the restored checkpoint", transaction);
    }

    /** A producer for the id, initialised: any earlier holder of the id is fenced and its open transaction aborted. */
    private TransactionalProducer initialise(String transactionalId, int subtask) {
        return initialise(transactionalId, subtask, () -> { });
    }

    /** The same, running {@code beforeInit} before the producer's {@code initTransactions()}. */
    private TransactionalProducer initialise(String transactionalId, int subtask, Runnable beforeInit) {
        TransactionalProducer producer = TransactionalProducer.create(transactionalId, producerProperties(subtask),
                beforeInit);
        initialised.incrementAndGet();
        Set<String> named = sink.serializer.topics();
        if (!named.isEmpty()) {
            // in the background: a producer that aborted a transaction at the sink's start is the restarted job's
            // first writer, whose first send would otherwise wait for the output topics' metadata
            WARM_UP.execute(() -> producer.fetchMetadata(named));
        }
        return producer;
    }

    /** How many producers this handler has initialised so far. */
    int producersInitialised() {
        return initialised.get();
    }

    /** How many producers a begin of a transaction had to initialise itself, on the task thread. */
    int producersInitialisedInBegin() {
        return initialisedInBegin.get();
    }

    /** The subtask index in an id {@code <prefix>-p<parallelism>-<subtask>-<n>}, or -1. */
    private int subtaskOf(String transactionalId) {
        String head = sink.transactionalIdPrefix + "-p";
        if (!transactionalId.startsWith(head)) {
            return -1;
        }
        int dash = transactionalId.indexOf('-', head.length());
        if (dash < 0) {
            return -1;
        }
        return TransactionalIdPool.parse(transactionalId, transactionalId.substring(0, dash))
                .map(TransactionalIdPool.Parsed::subtask).orElse(-1);
    }

    /**
     * Called as a writer starts, right before its first transaction begins: the producers that abort the lingering
     * transactions are kept for that writer, like those of {@link #recoverAndAbort}.
     */
    @Override
    public void abortLingeringTransactions(SinkInitContext context) throws Exception {
        int subtask = context.getIndexOfSubtask();
        Properties p = producerProperties(subtask);
        sharedAdmin.use(admin -> {
            new LingeringTransactionAborter(p, admin, id -> keepWarm(id, initialise(id, subtask)))
                    .withTopicsOfAborted(topics::addAll)
                    .abortLingering(namespace(context.getParallelism()), subtask, Set.of());
            return null;
        });
    }

    /** Keeps an initialised producer holding no transaction for the next writer of its id's subtask. */
    private void keepWarm(String transactionalId, TransactionalProducer producer) {
        TransactionalProducer fenced = warm.put(transactionalId, producer);
        if (fenced != null) {
            fenced.close(Duration.ZERO);
        }
    }

    @Override
    public void checkpointTaken(int subtaskIndex, long checkpointId) {
        Subtask st = subtasks.get(subtaskIndex);
        if (st != null) {
            st.lastSnapshot = checkpointId;
            if (!st.unverified.isEmpty()) {
                // a barrier with nothing to pre-commit: the commits' own check, which declines it if it fails
                st.check(null);
            }
        }
    }

    @Override
    public void checkpointCompleted(int subtaskIndex, long checkpointId) {
        Subtask st = subtasks.get(subtaskIndex);
        if (st == null) {
            return;
        }
        for (Object[] c : st.cooling) {
            if ((long) c[2] < checkpointId && st.unverified.stream().anyMatch(t -> t.transactionalId().equals(c[0]))) {
                // not expected (the barrier of that checkpoint checked them): never hand back an unchecked producer
                st.check(null);
                break;
            }
        }
        for (Iterator<Object[]> it = st.cooling.iterator(); it.hasNext(); ) {
            Object[] c = it.next();
            if ((long) c[2] < checkpointId) {
                it.remove();
                if (c[1] != null) {
                    st.idle.add((TransactionalProducer) c[1]);
                } else {
                    st.pool.release((String) c[0]);
                }
            }
        }
        if (st.swept && (System.nanoTime() - st.nextEndedSweep >= 0 || heldToSweep(st))) {
            sweepEnded(st);
        }
        if (!st.swept) {
            // every restored committable was committed before this run's first checkpoint could complete
            st.swept = true;
            Properties p = producerProperties(st.index);
            LingeringTransactionAborter aborter =
                    new LingeringTransactionAborter(p, st.admin()).withTopicsOfAborted(topics::addAll);
            aborter.abortLingering(st.namespace, st.index, st.pool.inUse());
            if (st.index == 0) {
                String current = st.namespace;
                aborter.abortMatching(
                        LingeringTransactionAborter.escape(sink.transactionalIdPrefix) + "-p[0-9]+-[0-9]+-[0-9]+",
                        id -> !id.startsWith(current + "-"));
            }
            sweepEnded(st);
        }
    }

    /** Starts the look for the {@link #held} partitions off the task thread, once per process, if need be. */
    private void lookForHeld() {
        if (!sink.serializer.topics().isEmpty() || held.get() != null) {
            return;
        }
        CompletableFuture<Set<TopicPartition>> look = new CompletableFuture<>();
        if (!held.compareAndSet(null, look)) {
            return;
        }
        Properties p = producerProperties(-1);
        lookExecutor.execute(() -> {
            try {
                look.complete(sharedAdmin.use(admin -> EndedTransactionSweep.partitionsWithOpenTransactions(admin, p)));
            } catch (Exception | LinkageError e) {
                LOG.warn("cannot look for partitions where transactions are open ({}): an abort marker the broker "
                        + "dropped in a topic this process does not know of is not looked for (kafka-transactions.sh "
                        + "find-hanging finds it)", e.toString());
                look.complete(Set.of());
            }
        });
    }

    /**
     * Whether the look is done, found partitions, and no sweep of this writer has set out to look in them yet: its
     * first sweep ran before the look was done (a restart whose first checkpoint completed within the look's round
     * trips), so it sweeps again now rather than at the next sweep a minute later.
     */
    private boolean heldToSweep(Subtask st) {
        if (st.triedHeld) {
            return false;
        }
        CompletableFuture<Set<TopicPartition>> look = held.get();
        return look != null && look.isDone() && !look.join().isEmpty();
    }

    /** The look for the {@link #held} partitions, or null if none was started (for the tests). */
    CompletableFuture<Set<TopicPartition>> heldLook() {
        return held.get();
    }

    /**
     * Aborts, in the sink's topics ({@link #topics}), transactions of its producer ids (subtask 0: also of the ids of
     * other parallelisms) that ended but whose abort marker the broker never wrote there ({@link
     * EndedTransactionSweep}); at the first completed checkpoint of a run and then every
     * {@value #ENDED_SWEEP_INTERVAL_SECONDS} s. A failure (the cluster unreachable, no permission to describe the
     * topics) is logged and the sweep tried again at that interval: the job goes on.
     */
    private void sweepEnded(Subtask st) {
        st.nextEndedSweep = System.nanoTime() + TimeUnit.SECONDS.toNanos(ENDED_SWEEP_INTERVAL_SECONDS);
        Set<String> swept = new TreeSet<>(topics);
        // once per writer, if the look is done by then (else at the first completed checkpoint after it is done)
        CompletableFuture<Set<TopicPartition>> look = held.get();
        boolean withHeld = !st.sweptHeld && look != null && look.isDone();
        Set<TopicPartition> heldPartitions = withHeld ? look.join() : Set.of();
        st.triedHeld |= withHeld;
        String own = st.namespace + "-" + st.index + "-";
        String current = st.namespace + "-";
        try {
            String pattern = st.index == 0
                    ? LingeringTransactionAborter.escape(sink.transactionalIdPrefix) + "-p[0-9]+-[0-9]+-[0-9]+"
                    : LingeringTransactionAborter.escape(own) + "[0-9]+";
            EndedTransactionSweep.abortEnded(st.admin(), pattern,
                    id -> id.startsWith(own) || (st.index == 0 && !id.startsWith(current)), swept, heldPartitions,
                    producerProperties(st.index));
            st.sweptHeld |= withHeld;
        } catch (RuntimeException e) {
            LOG.warn("sink subtask {}: looking for ended transactions left open in {} failed ({}); trying again in "
                    + "{} s", st.index, swept, e.toString(), ENDED_SWEEP_INTERVAL_SECONDS);
        }
    }

    private Subtask owner(String transactionalId) {
        for (Subtask st : subtasks.values()) {
            var parsed = TransactionalIdPool.parse(transactionalId, st.namespace);
            if (parsed.isPresent() && parsed.get().subtask() == st.index) {
                return st;
            }
        }
        return null;
    }

    @Override
    public void close(int subtaskIndex) {
        Subtask st = subtasks.remove(subtaskIndex);
        if (st != null) {
            st.close();
        }
    }

    @Override
    public VersionedSerializer<KafkaTransaction> getTransactionSerializer() {
        return new KafkaTransaction.Serializer();
    }
}
