package io.onceflow.kafka.sink.internal;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeProducersResult.PartitionProducerState;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartition;

/**
 * The partition checks a sink subtask makes at a barrier, in one {@code DescribeProducers} request per broker: the
 * commit markers of the transactions it committed since its last barrier ({@link CommitMarkers}) and the
 * hanging-transaction check of the transaction it pre-commits ({@link HangingTransactionCheck}).
 *
 * <p>A commit's markers are checked here rather than right after the commit because the rule they serve is
 * "before the producer id writes again", and a committed transaction's producer is not used again before a
 * checkpoint taken after the commit has completed: that checkpoint's barrier runs these checks first, and if they
 * fail it is declined. Right after a commit the coordinator is usually still writing the markers, and checking then
 * took two or three round trips on the task thread (asking the partitions, waiting for the coordinator, asking
 * again); at the next barrier they are long written and the check shares the pre-commit's request.
 *
 * <h2>Asked while the pre-commit flushes</h2>
 * The request goes out as the barrier arrives ({@link #ask}), before the pre-commit's flush, so that its round trip
 * and the flush's overlap instead of following each other in the barrier's synchronous part; a partition the
 * transaction wrote to whose first acknowledgement came only during the flush is asked after it, in a second
 * request ({@link Asked#verify}). Asking a partition before the transaction's own records reached it finds what
 * asking after would: the records the check looks for, those of an earlier transaction of the same producer id left
 * open by a missing abort marker, are there before this transaction writes. Once one of its records has been
 * acknowledged the transaction before it has been ended at the coordinator (a transaction adds no partition while
 * the one before it is being ended), so from then on a partition shows nothing open for the producer id, this
 * transaction's own records, or such leftovers, which begin before its first record. A partition is therefore asked
 * early only once one of the transaction's records has been acknowledged
 * ({@link TransactionalProducer#acknowledgedPartitions}).
 */
public final class BarrierChecks {

    private BarrierChecks() {
    }

    /**
     * Both checks at once, once the pre-commit's flush is done: {@link #ask} and {@link Asked#verify} in one.
     *
     * @param committed    transactions committed since the last barrier whose markers are not yet checked, oldest
     *                     first; each is removed once its markers are found (or written), so that what is left after
     *                     a failure is checked again at the next barrier
     * @param preCommitted the transaction being pre-committed, its records all acknowledged, or null (a barrier with
     *                     nothing to pre-commit)
     * @throws KafkaException as {@link CommitMarkers#verifyCommitted} and {@link HangingTransactionCheck#verify} do
     */
    public static void run(Admin admin, List<ResumableTransaction> committed, ResumableTransaction preCommitted,
                           Properties producerProperties) {
        ask(admin, committed, preCommitted == null ? Set.of() : preCommitted.firstOffsets().keySet(),
                producerProperties).verify(preCommitted);
    }

    /**
     * Sends the barrier's request and returns at once; {@link Asked#verify} the transaction once pre-committed.
     *
     * @param committed    as in {@link #run}
     * @param written      partitions the transaction to pre-commit wrote to whose first record is already
     *                     acknowledged ({@link TransactionalProducer#acknowledgedPartitions}), or none
     */
    public static Asked ask(Admin admin, List<ResumableTransaction> committed, Set<TopicPartition> written,
                            Properties producerProperties) {
        Set<TopicPartition> partitions = new HashSet<>(written);
        committed.forEach(t -> partitions.addAll(t.firstOffsets().keySet()));
        long timeoutMs = TransactionalProducer.maxBlockMs(producerProperties);
        return new Asked(admin, committed, producerProperties, partitions,
                OpenTransactions.ask(admin, partitions, timeoutMs), timeoutMs);
    }

    /** A barrier's request on its way: what the partitions said is checked by {@link #verify}. */
    public static final class Asked {
        private final Admin admin;
        private final List<ResumableTransaction> committed;
        private final Properties producerProperties;
        private final Set<TopicPartition> partitions;
        private final KafkaFuture<Map<TopicPartition, PartitionProducerState>> answer;
        private final long timeoutMs;

        private Asked(Admin admin, List<ResumableTransaction> committed, Properties producerProperties,
                      Set<TopicPartition> partitions, KafkaFuture<Map<TopicPartition, PartitionProducerState>> answer,
                      long timeoutMs) {
            this.admin = admin;
            this.committed = committed;
            this.producerProperties = producerProperties;
            this.partitions = partitions;
            this.answer = answer;
            this.timeoutMs = timeoutMs;
        }

        /**
         * Checks the committed transactions' markers and, unless null, {@code preCommitted} (its records all
         * acknowledged), asking the partitions it wrote to that were not asked yet.
         *
         * @throws KafkaException as {@link CommitMarkers#verifyCommitted} and {@link HangingTransactionCheck#verify} do
         */
        public void verify(ResumableTransaction preCommitted) {
            String failure = "the partitions the sink wrote to could not be checked for "
                    + (preCommitted != null ? "hanging transactions and " : "")
                    + "the commit markers of its last commits";
            Set<TopicPartition> later = new HashSet<>();
            if (preCommitted != null) {
                later.addAll(preCommitted.firstOffsets().keySet());
                later.removeAll(partitions);
            }
            var second = OpenTransactions.ask(admin, later, timeoutMs);
            Map<TopicPartition, List<ProducerState>> asked = new HashMap<>(OpenTransactions.await(answer, timeoutMs,
                    failure));
            asked.putAll(OpenTransactions.await(second, timeoutMs, failure));
            if (partitions.isEmpty() && later.isEmpty()) {
                committed.clear();
                return;
            }
            for (Iterator<ResumableTransaction> it = committed.iterator(); it.hasNext(); ) {
                CommitMarkers.verifyCommitted(admin, it.next(), producerProperties, asked);
                it.remove();
            }
            if (preCommitted != null) {
                HangingTransactionCheck.verify(preCommitted, asked);
            }
        }
    }

    /** A copy of the producer properties whose {@code max.block.ms}, which bounds the checks, is at most {@code ms}. */
    public static Properties blockingAtMost(Properties producerProperties, long ms) {
        Properties p = new Properties();
        p.putAll(producerProperties);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, String.valueOf(Math.min(ms,
                TransactionalProducer.maxBlockMs(producerProperties))));
        return p;
    }
}
