package io.onceflow.kafka.sink;

import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.kafka.sink.internal.CommitResult;
import io.onceflow.kafka.sink.internal.HangingTransactionCheck;
import io.onceflow.kafka.sink.internal.LingeringTransactionAborter;
import io.onceflow.kafka.sink.internal.TransactionalIdPool;
import io.onceflow.kafka.sink.internal.TransactionalProducer;
import io.onceflow.twophase.TransactionContext;
import io.onceflow.twophase.TransactionHandler;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.admin.Admin;
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
 * <p>One instance serves every subtask, each from its own thread: per-subtask state lives in
 * {@link Subtask} objects, each touched by one thread at a time.
 */
final class KafkaTransactionHandler<T> implements TransactionHandler<T, KafkaTransaction> {

    private static final Logger LOG = LoggerFactory.getLogger(KafkaTransactionHandler.class);

    private final KafkaSink<T> sink;
    private final Map<Integer, Subtask> subtasks = new ConcurrentHashMap<>();
    /** Ids committed from a restored checkpoint, to keep out of the pools until a checkpoint completes. */
    private final Set<String> recovered = ConcurrentHashMap.newKeySet();

    KafkaTransactionHandler(KafkaSink<T> sink) {
        this.sink = sink;
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
        /** For the hanging-transaction check at every pre-commit; created on first use. */
        private Admin admin;

        Admin admin() {
            if (admin == null) {
                admin = Admin.create(TransactionalProducer.adminProperties(producerProperties(index)));
            }
            return admin;
        }

        Subtask(int index, int parallelism) {
            this.index = index;
            this.namespace = namespace(parallelism);
            this.pool = new TransactionalIdPool(namespace, index, 100);
        }

        void cool(String id, TransactionalProducer producer, long releaseAfter) {
            cooling.add(new Object[] {id, producer, releaseAfter});
        }

        /** Closes every producer: idle ones gracefully, pre-committed ones without aborting their transaction. */
        void close() {
            for (TransactionalProducer p : all) {
                try {
                    p.close(p.isInTransaction() ? java.time.Duration.ZERO : java.time.Duration.ofSeconds(5));
                } catch (RuntimeException e) {
                    LOG.debug("closing a producer of an ended writer failed: {}", e.toString());
                }
            }
            all.clear();
            idle.clear();
            if (admin != null) {
                admin.close(java.time.Duration.ofSeconds(5));
                admin = null;
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
            subtasks.put(context.subtaskIndex(), st);
        }
        TransactionalProducer producer = st.idle.poll();
        if (producer == null) {
            String id = st.pool.acquire();
            producer = TransactionalProducer.create(id, producerProperties(st.index));
            st.all.add(producer);
        }
        producer.beginTransaction();
        return new KafkaTransaction(producer.transactionalId(), producer, null);
    }

    @Override
    public void write(KafkaTransaction transaction, T value) throws Exception {
        transaction.producer.send(sink.serializer.serialize(value));
    }

    @Override
    public KafkaTransaction preCommit(KafkaTransaction transaction, long checkpointId) {
        transaction.resumable = transaction.producer.preCommit();
        Subtask st = owner(transaction.transactionalId);
        if (st != null) {
            HangingTransactionCheck.verify(st.admin(), transaction.resumable, transaction.producer.firstOffsets(),
                    producerProperties(st.index));
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
        if (st != null) {
            st.cool(transaction.transactionalId, transaction.producer, st.lastSnapshot);
        }
        transaction.producer = null;
    }

    @Override
    public void recoverAndCommit(KafkaTransaction transaction) throws Exception {
        if (transaction.resumable == null) {
            throw new IllegalStateException("Cannot commit " + transaction + ": it was never pre-committed");
        }
        CommitResult result = TransactionalProducer.resumeAndCommit(transaction.resumable,
                producerProperties(-1));
        if (result.outcome() == CommitResult.Outcome.FENCED_OR_EXPIRED) {
            throw new io.onceflow.twophase.TransactionLostException(result.message() + "; the broker most likely "
                    + "aborted it when the sink's transaction timeout of " + sink.transactionTimeout().toMillis()
                    + " ms passed while the job was down (transactional id " + transaction.transactionalId + ")");
        }
        LOG.info("Committed {} restored from a checkpoint: {}", transaction, result.outcome());
        recovered.add(transaction.transactionalId);
    }

    @Override
    public void abort(KafkaTransaction transaction) {
        TransactionalProducer producer = transaction.producer;
        if (producer == null) {
            recoverAndAbort(transaction);
            return;
        }
        Subtask st = owner(transaction.transactionalId);
        try {
            producer.abortTransaction();
            if (st != null) {
                st.idle.add(producer);
            }
        } catch (RuntimeException e) {
            LOG.warn("Aborting {} failed ({}); closing its producer, the broker aborts it at its timeout or the next "
                    + "run fences it", transaction, e.toString());
            producer.close(java.time.Duration.ZERO);
            if (st != null) {
                st.all.remove(producer);
                st.pool.release(transaction.transactionalId);
            }
        }
        transaction.producer = null;
    }

    @Override
    public void recoverAndAbort(KafkaTransaction transaction) {
        // initTransactions() on the id fences whoever holds it and aborts its open transaction
        TransactionalProducer.create(transaction.transactionalId, producerProperties(-1)).close();
        LOG.info("Aborted {} that was open at the restored checkpoint", transaction);
    }

    @Override
    public void abortLingeringTransactions(SinkInitContext context) throws Exception {
        sweepOwn(context.getIndexOfSubtask(), namespace(context.getParallelism()), Set.of());
    }

    private void sweepOwn(int subtask, String namespace, Set<String> keepOpen) {
        Properties p = producerProperties(subtask);
        try (Admin admin = Admin.create(TransactionalProducer.adminProperties(p))) {
            new LingeringTransactionAborter(p, admin).abortLingering(namespace, subtask, keepOpen);
        }
    }

    @Override
    public void checkpointTaken(int subtaskIndex, long checkpointId) {
        Subtask st = subtasks.get(subtaskIndex);
        if (st != null) {
            st.lastSnapshot = checkpointId;
        }
    }

    @Override
    public void checkpointCompleted(int subtaskIndex, long checkpointId) {
        Subtask st = subtasks.get(subtaskIndex);
        if (st == null) {
            return;
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
        if (!st.swept) {
            // every restored committable was committed before this run's first checkpoint could complete
            st.swept = true;
            sweepOwn(st.index, st.namespace, st.pool.inUse());
            if (st.index == 0) {
                String current = st.namespace;
                Properties p = producerProperties(0);
                try (Admin admin = Admin.create(TransactionalProducer.adminProperties(p))) {
                    new LingeringTransactionAborter(p, admin).abortMatching(
                            LingeringTransactionAborter.escape(sink.transactionalIdPrefix) + "-p[0-9]+-[0-9]+-[0-9]+",
                            id -> !id.startsWith(current + "-"));
                }
            }
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
