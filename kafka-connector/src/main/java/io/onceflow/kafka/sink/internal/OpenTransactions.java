package io.onceflow.kafka.sink.internal;

import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeProducersOptions;
import org.apache.kafka.clients.admin.DescribeProducersResult.PartitionProducerState;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TransactionalIdNotFoundException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the partitions ({@code DescribeProducers}, one request per broker) and the transaction coordinators
 * ({@code DescribeTransactions}) say about open transactions: what {@link HangingTransactionCheck} compares with a
 * transaction's first records before its commit, {@link CommitMarkers} after it, and {@link EndedTransactionSweep}
 * with what the coordinators say has ended.
 */
final class OpenTransactions {

    private static final Logger LOG = LoggerFactory.getLogger(OpenTransactions.class);

    /** Coordinator states of a transaction being committed or aborted: its markers are being written. */
    static final Set<TransactionState> ENDING = EnumSet.of(TransactionState.PREPARE_COMMIT,
            TransactionState.PREPARE_ABORT);

    private OpenTransactions() {
    }

    /**
     * @param failure what could not be done if the partitions cannot be asked, the start of the exception's message
     * @return per partition where {@code producerId} has an open transaction, its state there (with
     *         {@code currentTransactionStartOffset} present); partitions without one are left out
     * @throws KafkaException if the partitions cannot be asked within {@code timeoutMs}
     */
    static Map<TopicPartition, ProducerState> of(Admin admin, long producerId, Set<TopicPartition> partitions,
                                                 long timeoutMs, String failure) {
        return of(all(admin, partitions, timeoutMs, failure), producerId);
    }

    /** From what {@link #all} returned: per partition where {@code producerId} has an open transaction, its state. */
    static Map<TopicPartition, ProducerState> of(Map<TopicPartition, List<ProducerState>> all, long producerId) {
        Map<TopicPartition, ProducerState> open = new HashMap<>();
        all.forEach((partition, producers) -> producers.stream()
                .filter(p -> p.producerId() == producerId)
                .findFirst().ifPresent(p -> open.put(partition, p)));
        return open;
    }

    /**
     * @return per partition, the producers that have a transaction open there ({@code currentTransactionStartOffset}
     *         present); partitions without one are left out
     * @throws KafkaException if the partitions cannot be asked within {@code timeoutMs}
     */
    static Map<TopicPartition, List<ProducerState>> all(Admin admin, Set<TopicPartition> partitions, long timeoutMs,
                                                        String failure) {
        return await(ask(admin, partitions, timeoutMs), timeoutMs, failure);
    }

    /**
     * Sends what {@link #all} asks and returns at once: {@link #await} the answer. Null for no partitions.
     */
    static KafkaFuture<Map<TopicPartition, PartitionProducerState>> ask(Admin admin, Set<TopicPartition> partitions,
                                                                        long timeoutMs) {
        if (partitions.isEmpty()) {
            return null;
        }
        return admin.describeProducers(partitions,
                new DescribeProducersOptions().timeoutMs((int) Math.min(Integer.MAX_VALUE, timeoutMs))).all();
    }

    /**
     * The answer of {@link #ask} (null: nothing asked), as {@link #all} returns it.
     *
     * @throws KafkaException if it did not come within {@code timeoutMs}
     */
    static Map<TopicPartition, List<ProducerState>> await(
            KafkaFuture<Map<TopicPartition, PartitionProducerState>> asked, long timeoutMs, String failure) {
        if (asked == null) {
            return Map.of();
        }
        Map<TopicPartition, PartitionProducerState> states;
        try {
            states = asked.get(timeoutMs, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new KafkaException(failure + " (" + e.getCause() + ")", e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            throw new KafkaException(failure + ": asking the partitions took more than " + timeoutMs + " ms", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new org.apache.kafka.common.errors.InterruptException(e);
        }
        Map<TopicPartition, List<ProducerState>> open = new HashMap<>();
        states.forEach((partition, state) -> addOpen(open, partition, state));
        return open;
    }

    /**
     * As {@link #all}, leaving out the partitions that cannot be asked (a topic deleted meanwhile, one without a
     * leader, one the client may not read): for partitions the sink looks in on the off chance, never its own topics.
     */
    static Map<TopicPartition, List<ProducerState>> allThatAnswer(Admin admin, Set<TopicPartition> partitions,
                                                                  long timeoutMs) {
        if (partitions.isEmpty()) {
            return Map.of();
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        var asked = admin.describeProducers(partitions,
                new DescribeProducersOptions().timeoutMs((int) Math.min(Integer.MAX_VALUE, timeoutMs)));
        Map<TopicPartition, List<ProducerState>> open = new HashMap<>();
        for (TopicPartition tp : partitions) {
            PartitionProducerState state = answerBy(asked.partitionResult(tp), deadline, tp);
            if (state != null) {
                addOpen(open, tp, state);
            }
        }
        return open;
    }

    /**
     * A partition's answer once it came, or null if it failed or did not come by {@code deadline}
     * ({@link System#nanoTime()}): for questions asked on the off chance, where a partition that does not answer is
     * left out.
     */
    static <T> T answerBy(KafkaFuture<T> answer, long deadline, TopicPartition partition) {
        try {
            return answer.get(Math.max(0, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())),
                    TimeUnit.MILLISECONDS);
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            LOG.debug("{} did not answer ({}): left out", partition, String.valueOf(e.getCause()));
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new org.apache.kafka.common.errors.InterruptException(e);
        }
    }

    private static void addOpen(Map<TopicPartition, List<ProducerState>> open, TopicPartition partition,
                                PartitionProducerState state) {
        List<ProducerState> producers = state.activeProducers().stream()
                .filter(p -> p.currentTransactionStartOffset().isPresent()).toList();
        if (!producers.isEmpty()) {
            open.put(partition, producers);
        }
    }

    /**
     * What the coordinators say of {@code ids}, asked again every 5 ms while one of them is {@linkplain #ENDING being
     * committed or aborted}, for at most {@code waitMs}: usually a matter of milliseconds after the end of a
     * transaction. Ids the coordinator does not know are left out.
     *
     * @param failure what could not be done if a coordinator cannot be asked, the start of the exception's message
     * @throws KafkaException if a coordinator cannot be asked within {@code timeoutMs}
     */
    static Map<String, TransactionDescription> coordinators(Admin admin, Set<String> ids, long waitMs, long timeoutMs,
                                                            String failure) {
        long settle = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
        Map<String, TransactionDescription> descriptions = describe(admin, ids, timeoutMs, failure);
        while (System.nanoTime() - settle < 0) {
            Set<String> ending = new TreeSet<>();
            descriptions.forEach((id, d) -> {
                if (ENDING.contains(d.state())) {
                    ending.add(id);
                }
            });
            if (ending.isEmpty()) {
                break;
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new org.apache.kafka.common.errors.InterruptException(e);
            }
            descriptions.putAll(describe(admin, ending, timeoutMs, failure));
        }
        return descriptions;
    }

    /**
     * Each id's transaction as its coordinator describes it; an id the coordinators do not know is left out.
     *
     * @throws KafkaException naming {@code failure} if a coordinator cannot be asked within {@code timeoutMs}
     */
    static Map<String, TransactionDescription> describe(Admin admin, Set<String> ids, long timeoutMs,
                                                                String failure) {
        Map<String, TransactionDescription> descriptions = new HashMap<>();
        var result = admin.describeTransactions(ids);
        for (String id : ids) {
            try {
                descriptions.put(id, result.description(id).get(timeoutMs, TimeUnit.MILLISECONDS));
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TransactionalIdNotFoundException)) {
                    throw new KafkaException(failure + ": the coordinator of " + id + " could not be asked ("
                            + e.getCause() + ")", e.getCause());
                }
            } catch (java.util.concurrent.TimeoutException e) {
                throw new KafkaException(failure + ": the coordinator of " + id + " did not answer within "
                        + timeoutMs + " ms", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new org.apache.kafka.common.errors.InterruptException(e);
            }
        }
        return descriptions;
    }
}
