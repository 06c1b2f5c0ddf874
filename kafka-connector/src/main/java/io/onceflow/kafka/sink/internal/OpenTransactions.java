package io.onceflow.kafka.sink.internal;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeProducersOptions;
import org.apache.kafka.clients.admin.DescribeProducersResult.PartitionProducerState;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;

/**
 * Where a producer id's open transaction begins in each of some partitions, as the partitions themselves say
 * ({@code DescribeProducers}, one request per broker): what {@link HangingTransactionCheck} compares with a
 * transaction's first records before its commit, and {@link CommitMarkers} after it.
 */
final class OpenTransactions {

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
        Map<TopicPartition, PartitionProducerState> states;
        try {
            states = admin.describeProducers(partitions,
                    new DescribeProducersOptions().timeoutMs((int) Math.min(Integer.MAX_VALUE, timeoutMs)))
                    .all().get(timeoutMs, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new KafkaException(failure + " (" + e.getCause() + ")", e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            throw new KafkaException(failure + ": asking the partitions took more than " + timeoutMs + " ms", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new org.apache.kafka.common.errors.InterruptException(e);
        }
        Map<TopicPartition, ProducerState> open = new HashMap<>();
        states.forEach((partition, state) -> state.activeProducers().stream()
                .filter(p -> p.producerId() == producerId && p.currentTransactionStartOffset().isPresent())
                .findFirst().ifPresent(p -> open.put(partition, p)));
        return open;
    }
}
