package io.onceflow.kafka.sink.internal;

import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.AbortTransactionOptions;
import org.apache.kafka.clients.admin.AbortTransactionSpec;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Aborts, in a sink's output partitions, transactions of the sink's producer ids that their coordinator has
 * already ended: those whose abort marker the broker never wrote there.
 *
 * <p>A broker has been seen to skip the markers of partitions that had no leader at the moment it wrote them (a
 * single broker restarted after {@code kill -9} and fenced by its own controller), while recording the transaction
 * as complete. A commit marker skipped that way is written by the sink right after the commit ({@link
 * CommitMarkers}); an abort marker skipped that way leaves the aborted records open in the partition, and the
 * partition's last stable offset, with every {@code read_committed} reader of it, waits until that producer id's
 * next transaction there is aborted ({@link HangingTransactionCheck}) or someone aborts it by hand. A partition
 * the producer id does not write to again (a dead-letter topic's, say) would wait for good.
 *
 * <p>The sweep asks the partitions ({@code DescribeProducers}) which producers hold a transaction open, keeps those
 * of the sink's own transactional ids (listed from the coordinators), and asks each id's coordinator
 * ({@code DescribeTransactions}) whether that id has a transaction in progress. Only where it has none (state
 * {@code Empty}, {@code CompleteAbort} or {@code CompleteCommit}, or the id has moved to another producer id) is the
 * partition's open transaction over, and it is aborted there ({@code Admin.abortTransaction}, KIP-664, with the
 * producer epoch the partition itself last saw, so that no newer transaction can be touched). Two cases are left
 * alone: an id with a transaction in progress (its pre-commit check aborts what is stale if it writes there), and
 * an open transaction that may be the id's last, committed one (state {@code CompleteCommit} at the same or the next
 * epoch: its commit marker is {@link CommitMarkers}' business, never an abort). An id whose transaction is being
 * committed or aborted at that moment is waited for (up to {@value #SETTLE_MS} ms), then judged.
 *
 * <p>Why an open transaction of an id with none in progress was aborted and not committed: every commit of the sink
 * is checked for its markers, and a dropped one written, before its producer id may write again, and commits
 * restored from a checkpoint before the first checkpoint of a run completes, which is when the sink sweeps first.
 * Run it on the sink's task thread, so that none of its producers begins a transaction meanwhile.
 */
public final class EndedTransactionSweep {
    private static final Logger LOG = LoggerFactory.getLogger(EndedTransactionSweep.class);

    /** How long the sweep waits for transactions being committed or aborted to complete. */
    private static final long SETTLE_MS = 2_000;
    /** How long partitions outside the sink's own topics are waited for; those that do not answer are left out. */
    private static final long OTHERS_TIMEOUT_MS = 5_000;
    private static final Set<TransactionState> OVER = EnumSet.of(TransactionState.EMPTY,
            TransactionState.COMPLETE_ABORT, TransactionState.COMPLETE_COMMIT);

    /** A transaction the sweep aborted in one partition. */
    public record Aborted(TopicPartition partition, String transactionalId, long producerId, int producerEpoch,
                          long firstOffset) {
        @Override
        public String toString() {
            return partition + " from offset " + firstOffset + " (" + transactionalId + ", producer id " + producerId
                    + ", epoch " + producerEpoch + ")";
        }
    }

    private EndedTransactionSweep() {
    }

    /**
     * Aborts the ended transactions left open in every partition of {@code topics}, and in {@code more}, by the
     * transactional ids that match {@code idPattern} (a regular expression) and {@code ours}.
     *
     * @param producerProperties the sink's producer properties: the sweep takes at most their {@code max.block.ms}
     * @return what was aborted, in no particular order
     * @throws KafkaException if the cluster cannot be asked, or an abort fails, within {@code max.block.ms}
     */
    public static List<Aborted> abortEnded(Admin admin, String idPattern, Predicate<String> ours,
                                           Collection<String> topics, Collection<TopicPartition> more,
                                           java.util.Properties producerProperties) {
        if (topics.isEmpty() && more.isEmpty()) {
            return List.of();
        }
        long timeoutMs = TransactionalProducer.maxBlockMs(producerProperties);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        Pattern pattern = Pattern.compile(idPattern);
        Map<Long, String> idsByProducer = new HashMap<>();
        for (TransactionListing l : LingeringTransactionAborter.list(admin, idPattern, List.of(), timeoutMs)) {
            if (pattern.matcher(l.transactionalId()).matches() && ours.test(l.transactionalId())) {
                idsByProducer.put(l.producerId(), l.transactionalId());
            }
        }
        if (idsByProducer.isEmpty()) {
            return List.of();
        }
        // several of the ids may hold a transaction open in the same partition
        List<Map.Entry<TopicPartition, ProducerState>> open = new ArrayList<>();
        Set<TopicPartition> asked = topics.isEmpty() ? Set.of() : partitions(admin, topics, remaining(deadline));
        Map<TopicPartition, List<ProducerState>> producers = new HashMap<>(OpenTransactions.all(admin, asked,
                remaining(deadline), "cannot ask the partitions of " + topics + " for open transactions"));
        Set<TopicPartition> others = new java.util.HashSet<>(more);
        others.removeAll(asked);
        // a partition of a topic deleted since it was found is not answered but retried until the timeout: not long
        producers.putAll(OpenTransactions.allThatAnswer(admin, others, Math.min(remaining(deadline) / 2,
                OTHERS_TIMEOUT_MS)));
        producers.forEach((tp, states) -> states.stream()
                .filter(p -> idsByProducer.containsKey(p.producerId()))
                .forEach(p -> open.add(Map.entry(tp, p))));
        if (open.isEmpty()) {
            return List.of();
        }
        Set<String> ids = new TreeSet<>();
        open.forEach(e -> ids.add(idsByProducer.get(e.getValue().producerId())));
        // a transaction being ended is usually done in a few milliseconds: wait for it rather than skip its id
        Map<String, TransactionDescription> coordinators = OpenTransactions.coordinators(admin, ids,
                Math.min(SETTLE_MS, timeoutMs), remaining(deadline), "cannot tell which transactions ended");

        List<Aborted> aborted = new ArrayList<>();
        for (Map.Entry<TopicPartition, ProducerState> e : open) {
            ProducerState p = e.getValue();
            String id = idsByProducer.get(p.producerId());
            TransactionDescription d = coordinators.get(id);
            if (d == null) {
                continue; // the id is gone from its coordinator: nothing tells what became of its transaction
            }
            boolean sameProducer = d.producerId() == p.producerId();
            if (sameProducer && !OVER.contains(d.state())) {
                continue; // a transaction in progress: the pre-commit check handles what it finds stale
            }
            if (sameProducer && d.state() == TransactionState.COMPLETE_COMMIT && p.producerEpoch() >= d.producerEpoch() - 1) {
                LOG.warn("{} holds a transaction of {} (producer id {}, epoch {}) open from offset {}, which may be "
                        + "its last one, committed (the coordinator shows {} at epoch {}): not aborted. The sink writes "
                        + "a commit marker the broker dropped right after its commit; if this stays, see "
                        + "kafka-transactions.sh find-hanging", e.getKey(), id, p.producerId(), p.producerEpoch(),
                        p.currentTransactionStartOffset().getAsLong(), d.state(), d.producerEpoch());
                continue;
            }
            Aborted a = new Aborted(e.getKey(), id, p.producerId(), p.producerEpoch(),
                    p.currentTransactionStartOffset().getAsLong());
            abort(admin, a, p.coordinatorEpoch().orElse(0), remaining(deadline));
            LOG.warn("aborted a transaction the broker left open after it ended: {}; the coordinator shows {} at "
                    + "producer id {}, epoch {}. Its abort marker had never been written there, which held back the "
                    + "partition's last stable offset and every read_committed reader of it", a, d.state(),
                    d.producerId(), d.producerEpoch());
            aborted.add(a);
        }
        return aborted;
    }

    /**
     * The partitions of the cluster, internal topics aside, whose last stable offset is behind their high watermark:
     * a transaction is open there, whoever's it is. Where a sink whose serializer names no topics looks once per
     * process for abort markers dropped in topics it cannot know of (one that a killed process first wrote to after
     * its last checkpoint): two offset lookups per broker, and only these partitions asked for their producers. A
     * topic or partition that cannot be asked (deleted meanwhile, no leader) is left out.
     *
     * @param producerProperties the sink's producer properties: the look takes at most their {@code max.block.ms}
     * @throws KafkaException if the topics cannot be listed in that time
     */
    public static Set<TopicPartition> partitionsWithOpenTransactions(Admin admin,
                                                                     java.util.Properties producerProperties) {
        long timeoutMs = TransactionalProducer.maxBlockMs(producerProperties);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        Set<String> names = await(admin.listTopics(new ListTopicsOptions().timeoutMs(intMillis(timeoutMs))).names(),
                timeoutMs, "listing the cluster's topics");
        if (names.isEmpty()) {
            return Set.of();
        }
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        for (TopicPartition tp : partitions(admin, names, remaining(deadline))) {
            latest.put(tp, OffsetSpec.latest());
        }
        int timeout = intMillis(remaining(deadline));
        ListOffsetsResult stable = admin.listOffsets(latest,
                new ListOffsetsOptions(IsolationLevel.READ_COMMITTED).timeoutMs(timeout));
        ListOffsetsResult high = admin.listOffsets(latest,
                new ListOffsetsOptions(IsolationLevel.READ_UNCOMMITTED).timeoutMs(timeout));
        Set<TopicPartition> held = new java.util.HashSet<>();
        for (TopicPartition tp : latest.keySet()) {
            var stableEnd = OpenTransactions.answerBy(stable.partitionResult(tp), deadline, tp);
            var highEnd = stableEnd == null ? null : OpenTransactions.answerBy(high.partitionResult(tp), deadline, tp);
            if (highEnd != null && stableEnd.offset() < highEnd.offset()) {
                held.add(tp);
            }
        }
        return held;
    }

    private static Set<TopicPartition> partitions(Admin admin, Collection<String> topics, long timeoutMs) {
        Map<String, KafkaFuture<TopicDescription>> futures = admin.describeTopics(topics,
                new DescribeTopicsOptions().timeoutMs(intMillis(timeoutMs))).topicNameValues();
        Set<TopicPartition> partitions = new java.util.HashSet<>();
        for (Map.Entry<String, KafkaFuture<TopicDescription>> f : futures.entrySet()) {
            try {
                f.getValue().get(timeoutMs, TimeUnit.MILLISECONDS).partitions()
                        .forEach(p -> partitions.add(new TopicPartition(f.getKey(), p.partition())));
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) {
                    throw new KafkaException("cannot describe topic " + f.getKey() + " (" + e.getCause() + ")",
                            e.getCause());
                }
            } catch (java.util.concurrent.TimeoutException e) {
                throw new KafkaException("describing topic " + f.getKey() + " took more than " + timeoutMs + " ms", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new org.apache.kafka.common.errors.InterruptException(e);
            }
        }
        return partitions;
    }

    private static void abort(Admin admin, Aborted a, int coordinatorEpoch, long timeoutMs) {
        AbortTransactionSpec spec = new AbortTransactionSpec(a.partition(), a.producerId(), (short) a.producerEpoch(),
                coordinatorEpoch);
        await(admin.abortTransaction(spec, new AbortTransactionOptions().timeoutMs(intMillis(timeoutMs))).all(),
                timeoutMs, "aborting the transaction left open in " + a);
    }

    /** The answer of a call to the cluster, or a {@link KafkaException} saying {@code what} failed or timed out. */
    private static <T> T await(KafkaFuture<T> answer, long timeoutMs, String what) {
        try {
            return answer.get(timeoutMs, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new KafkaException(what + " failed (" + e.getCause() + ")", e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            throw new KafkaException(what + " took more than " + timeoutMs + " ms", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new org.apache.kafka.common.errors.InterruptException(e);
        }
    }

    private static long remaining(long deadline) {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
            throw new org.apache.kafka.common.errors.TimeoutException("looking for transactions the broker left open "
                    + "took longer than max.block.ms");
        }
        return left;
    }

    private static int intMillis(long ms) {
        return (int) Math.min(Integer.MAX_VALUE, ms);
    }
}
