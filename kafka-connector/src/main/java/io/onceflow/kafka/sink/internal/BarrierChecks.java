package io.onceflow.kafka.sink.internal;

import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.KafkaException;
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
 */
public final class BarrierChecks {

    private BarrierChecks() {
    }

    /**
     * @param committed    transactions committed since the last barrier whose markers are not yet checked, oldest
     *                     first; each is removed once its markers are found (or written), so that what is left after
     *                     a failure is checked again at the next barrier
     * @param preCommitted the transaction being pre-committed, its records all acknowledged, or null (a barrier with
     *                     nothing to pre-commit)
     * @throws KafkaException as {@link CommitMarkers#verifyCommitted} and {@link HangingTransactionCheck#verify} do
     */
    public static void run(Admin admin, List<ResumableTransaction> committed, ResumableTransaction preCommitted,
                           Properties producerProperties) {
        Set<TopicPartition> partitions = new HashSet<>();
        committed.forEach(t -> partitions.addAll(t.firstOffsets().keySet()));
        if (preCommitted != null) {
            partitions.addAll(preCommitted.firstOffsets().keySet());
        }
        if (partitions.isEmpty()) {
            committed.clear();
            return;
        }
        Map<TopicPartition, List<ProducerState>> asked = OpenTransactions.all(admin, partitions,
                TransactionalProducer.maxBlockMs(producerProperties), "the partitions the sink wrote to could not be "
                        + "checked for " + (preCommitted != null ? "hanging transactions and " : "")
                        + "the commit markers of its last commits");
        for (Iterator<ResumableTransaction> it = committed.iterator(); it.hasNext(); ) {
            CommitMarkers.verifyCommitted(admin, it.next(), producerProperties, asked);
            it.remove();
        }
        if (preCommitted != null) {
            HangingTransactionCheck.verify(preCommitted, asked);
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
