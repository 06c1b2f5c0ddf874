package io.onceflow.kafka.sink.internal;

import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.AbortTransactionSpec;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.admin.internals.AbortTransactionHandler;
import org.apache.kafka.clients.admin.internals.PartitionLeaderStrategy;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.requests.WriteTxnMarkersRequest;
import org.apache.kafka.common.utils.LogContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes sure a committed transaction's commit markers are in every partition it wrote to, and writes those the
 * broker dropped.
 *
 * <p>The transaction coordinator reports a commit once its decision is durable and writes the markers afterwards.
 * A broker has been seen to drop them for good: a single broker restarted after {@code kill -9} acted on its old
 * metadata, could not reach itself, was then fenced by its own controller, and skipped the markers of every
 * partition that had no leader at that moment ("Couldn't find leader endpoint … can be skipped"), while recording
 * the transaction as complete. Such a partition still counts the committed records as an open transaction of the
 * producer id: {@code read_committed} consumers stop at them (the last stable offset no longer moves) and the next
 * transaction of the same producer id that touches the partition decides their fate, which loses them if that one
 * is aborted.
 *
 * <p>{@link #verifyCommitted} runs after every commit, before the producer id writes again (the sink's, at the
 * writer's next barrier: {@link BarrierChecks}): it asks each partition the transaction wrote to where the
 * producer's open transaction begins ({@code DescribeProducers}); if one still begins at the transaction's first
 * record there, it waits for the coordinator to finish the commit and, if the
 * partition still holds it open then, writes the commit marker itself: the {@code WriteTxnMarkers} request the
 * coordinator would have sent, for that partition alone. The public Admin API can only write abort markers
 * ({@code abortTransaction}, KIP-664), so this uses its request handler with the result flipped to commit.
 */
public final class CommitMarkers {
    private static final Logger LOG = LoggerFactory.getLogger(CommitMarkers.class);

    private CommitMarkers() {
    }

    /**
     * Checks that the committed transaction {@code t} is no longer open in any partition it wrote to, and writes the
     * commit marker where it is. Does nothing for a transaction without recorded first offsets (one read from a
     * checkpoint written before they were kept).
     *
     * @throws KafkaException if the partitions or the coordinator cannot be asked within {@code max.block.ms}, if a
     *                        partition holds the producer's records open from before the transaction's first record
     *                        (their fate cannot be told), or if a written marker did not close the transaction
     */
    public static void verifyCommitted(Admin admin, ResumableTransaction t, Properties producerProperties) {
        verifyCommitted(admin, t, producerProperties, null);
    }

    /**
     * The same, starting from what the transaction's partitions said after the commit ({@link OpenTransactions#all}),
     * or asking them if {@code asked} is null.
     */
    static void verifyCommitted(Admin admin, ResumableTransaction t, Properties producerProperties,
                                Map<TopicPartition, List<ProducerState>> asked) {
        if (t.firstOffsets().isEmpty()) {
            return;
        }
        long timeoutMs = TransactionalProducer.maxBlockMs(producerProperties);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        Map<TopicPartition, ProducerState> open = asked != null ? stillOpen(t, OpenTransactions.of(asked, t.producerId()))
                : stillOpen(admin, t, timeoutMs);
        if (open.isEmpty()) {
            return;
        }
        // usually the coordinator is still writing the markers: wait until it says the commit is complete
        TransactionDescription done = awaitCompleteCommit(admin, t, deadline);
        open = stillOpen(admin, t, remaining(deadline, t));
        if (open.isEmpty()) {
            return;
        }
        LOG.warn("{} is committed (the coordinator shows state {} at epoch {}), but the broker never wrote its commit "
                + "marker to {}: their records are hidden from read_committed consumers and would be lost with the next "
                + "abort of producer id {} there. Writing the commit marker(s) now", t, done.state(),
                done.producerEpoch(), open.keySet(), t.producerId());
        for (Map.Entry<TopicPartition, ProducerState> e : open.entrySet()) {
            // the partition's own view of the producer: the epoch it last saw and the coordinator epoch of its last
            // marker, which the new marker must not be older than (as kafka-transactions.sh find-hanging reports them)
            ProducerState state = e.getValue();
            writeCommitMarker(admin, e.getKey(), t.producerId(), (short) state.producerEpoch(),
                    state.coordinatorEpoch().orElse(0), remaining(deadline, t));
        }
        Map<TopicPartition, ProducerState> after = stillOpen(admin, t, remaining(deadline, t));
        if (!after.isEmpty()) {
            throw new KafkaException(t + ": the commit marker written to " + after.keySet() + " did not close the "
                    + "transaction there; its records stay hidden from read_committed consumers");
        }
        LOG.warn("{}: commit marker(s) written to {}; their records are visible now", t, open.keySet());
    }

    /**
     * The partitions of {@code t} whose open transaction of its producer id begins at {@code t}'s first record
     * there: those still waiting for its commit marker.
     */
    static Map<TopicPartition, ProducerState> stillOpen(Admin admin, ResumableTransaction t, long timeoutMs) {
        return stillOpen(t, OpenTransactions.of(admin, t.producerId(), t.firstOffsets().keySet(), timeoutMs, t
                + " was committed, but the partitions it wrote to could not be asked whether its commit markers "
                + "arrived"));
    }

    /** The same, from the states of the producer id's open transactions in the transaction's partitions. */
    private static Map<TopicPartition, ProducerState> stillOpen(ResumableTransaction t,
                                                                Map<TopicPartition, ProducerState> states) {
        Map<TopicPartition, ProducerState> open = new LinkedHashMap<>();
        List<String> older = new ArrayList<>();
        for (Map.Entry<TopicPartition, Long> e : t.firstOffsets().entrySet()) {
            ProducerState p = states.get(e.getKey());
            if (p == null) {
                continue;
            }
            long start = p.currentTransactionStartOffset().getAsLong();
            if (start == e.getValue()) {
                open.put(e.getKey(), p);
            } else if (start < e.getValue()) {
                older.add(e.getKey() + " from offset " + start + " (the transaction's first record there: "
                        + e.getValue() + ")");
            }
            // a later start: a newer transaction of the producer id is open there, not this one
        }
        if (!older.isEmpty()) {
            throw new KafkaException(t + " was committed, but its partitions still hold records of producer id "
                    + t.producerId() + " open from before its first record: " + String.join(", ", older) + ". Whether "
                    + "they were meant to be committed cannot be told here; list them with kafka-transactions.sh "
                    + "find-hanging and decide before the job writes there again");
        }
        return open;
    }

    private static TransactionDescription awaitCompleteCommit(Admin admin, ResumableTransaction t, long deadline) {
        long left = remaining(deadline, t);
        TransactionDescription d = OpenTransactions.coordinators(admin, Set.of(t.transactionalId()), left, left,
                t + " was committed, but whether the commit is complete could not be asked").get(t.transactionalId());
        boolean ours = d != null && d.producerId() == t.producerId();
        if (ours && d.state() == TransactionState.COMPLETE_COMMIT) {
            return d;
        }
        if (ours && d.state() == TransactionState.PREPARE_COMMIT) {
            throw new org.apache.kafka.common.errors.TimeoutException(t + " was committed, but checking that its "
                    + "commit markers arrived took longer than max.block.ms");
        }
        throw new KafkaException(t + " is still open in some partitions it wrote to, and the coordinator does not "
                + "show it committed (" + (d == null ? "it does not know the id" : "state " + d.state()
                + " at producer id " + d.producerId() + ", epoch " + d.producerEpoch()) + "): no commit marker is "
                + "written for it");
    }

    private static long remaining(long deadline, ResumableTransaction t) {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
            throw new org.apache.kafka.common.errors.TimeoutException(t + " was committed, but checking that its "
                    + "commit markers arrived took longer than max.block.ms");
        }
        return left;
    }

    /**
     * Writes a commit marker for {@code producerId} to one partition, as the coordinator does: closes the producer's
     * open transaction there and makes its records visible.
     */
    static void writeCommitMarker(Admin admin, TopicPartition partition, long producerId, short producerEpoch,
                                  int coordinatorEpoch, long timeoutMs) {
        AbortTransactionSpec spec = new AbortTransactionSpec(partition, producerId, producerEpoch, coordinatorEpoch);
        KafkaFuture<Void> written = AdminDriver.of(admin).writeCommitMarker(spec, timeoutMs);
        try {
            written.get(timeoutMs, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new KafkaException("writing the commit marker of producer id " + producerId + " to " + partition
                    + " failed (" + e.getCause() + ")", e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            throw new KafkaException("writing the commit marker of producer id " + producerId + " to " + partition
                    + " took more than " + timeoutMs + " ms", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new org.apache.kafka.common.errors.InterruptException(e);
        }
    }

    /** The request handler of {@code Admin.abortTransaction}, writing a commit marker instead of an abort marker. */
    private static final class CommitMarkerHandler extends AbortTransactionHandler {
        CommitMarkerHandler(AbortTransactionSpec spec, LogContext logContext) {
            super(spec, logContext);
        }

        @Override
        public String apiName() {
            return "writeCommitMarker";
        }

        @Override
        public WriteTxnMarkersRequest.Builder buildBatchedRequest(int brokerId, Set<TopicPartition> partitions) {
            WriteTxnMarkersRequest.Builder builder = super.buildBatchedRequest(brokerId, partitions);
            builder.data.markers().forEach(m -> m.setTransactionResult(true));
            return builder;
        }
    }

    /** Runs a request handler on a KafkaAdminClient, as its own {@code abortTransaction} does. */
    private record AdminDriver(Admin admin, Method invokeDriver, Object partitionLeaderCache, LogContext logContext) {
        static AdminDriver of(Admin admin) {
            try {
                Class<?> type = admin.getClass();
                Method invoke = type.getDeclaredMethod("invokeDriver",
                        org.apache.kafka.clients.admin.internals.AdminApiHandler.class,
                        org.apache.kafka.clients.admin.internals.AdminApiFuture.class, Integer.class);
                invoke.setAccessible(true);
                Field cache = type.getDeclaredField("partitionLeaderCache");
                cache.setAccessible(true);
                Field log = type.getDeclaredField("logContext");
                log.setAccessible(true);
                return new AdminDriver(admin, invoke, cache.get(admin), (LogContext) log.get(admin));
            } catch (ReflectiveOperationException | RuntimeException e) {
                throw new UnsupportedKafkaClientsException(ProducerInternals.VERSION,
                        ProducerInternals.SUPPORTED_VERSIONS, "writing a commit marker the broker dropped needs the "
                        + "internals of org.apache.kafka.clients.admin.KafkaAdminClient (invokeDriver, "
                        + "partitionLeaderCache, logContext) as in kafka-clients 4.x; the Admin client here is "
                        + admin.getClass().getName() + " (" + e + ")");
            }
        }

        KafkaFuture<Void> writeCommitMarker(AbortTransactionSpec spec, long timeoutMs) {
            PartitionLeaderStrategy.PartitionLeaderFuture<Void> future = AbortTransactionHandler.newFuture(
                    Set.of(spec.topicPartition()),
                    (org.apache.kafka.clients.admin.internals.PartitionLeaderCache) partitionLeaderCache);
            try {
                invokeDriver.invoke(admin, new CommitMarkerHandler(spec, logContext), future,
                        (int) Math.min(Integer.MAX_VALUE, timeoutMs));
            } catch (IllegalAccessException e) {
                throw new UnsupportedKafkaClientsException(ProducerInternals.VERSION,
                        ProducerInternals.SUPPORTED_VERSIONS, "KafkaAdminClient.invokeDriver cannot be called (" + e + ")");
            } catch (InvocationTargetException e) {
                throw e.getCause() instanceof RuntimeException r ? r : new KafkaException(e.getCause());
            }
            return future.all().get(spec.topicPartition());
        }
    }
}
