package io.onceflow.kafka.audit;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListTransactionsOptions;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.common.TopicPartition;

/**
 * Finds the transactions open on a cluster: a transaction that stays open holds back the last stable
 * offset of every partition it wrote to, so every {@code read_committed} consumer of those partitions
 * waits for it (a "hanging transaction"). Reports each with its age and timeout.
 */
public final class TransactionProbe {

    private static final long TIMEOUT_SECONDS = 30;

    private TransactionProbe() {
    }

    /** One open transaction; {@code age} is how long ago it began. */
    public record OpenTransaction(String transactionalId, long producerId, int producerEpoch, Duration age,
                                  Duration timeout, Set<TopicPartition> partitions) {
        /** Open for longer than its own timeout: the broker should have aborted it already. */
        public boolean overdue() {
            return age.compareTo(timeout) > 0;
        }
    }

    /**
     * The transactions open now whose transactional id starts with {@code prefix} (every one when
     * null or empty), oldest first.
     */
    public static List<OpenTransaction> open(Properties client, String prefix) {
        try (Admin admin = Admin.create(ExactlyOnceAudit.adminProperties(client))) {
            List<String> ids = new ArrayList<>();
            for (TransactionListing l : admin.listTransactions(new ListTransactionsOptions()
                    .filterStates(List.of(TransactionState.ONGOING))).all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                if (prefix == null || prefix.isEmpty() || l.transactionalId().startsWith(prefix)) {
                    ids.add(l.transactionalId());
                }
            }
            if (ids.isEmpty()) {
                return List.of();
            }
            Map<String, TransactionDescription> described = admin.describeTransactions(ids).all()
                    .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            long now = System.currentTimeMillis();
            List<OpenTransaction> open = new ArrayList<>();
            described.forEach((id, d) -> {
                if (d.state() == TransactionState.ONGOING) {
                    long start = d.transactionStartTimeMs().orElse(now);
                    open.add(new OpenTransaction(id, d.producerId(), d.producerEpoch(), Duration.ofMillis(now - start),
                            Duration.ofMillis(d.transactionTimeoutMs()), d.topicPartitions()));
                }
            });
            open.sort(Comparator.comparing(OpenTransaction::age).reversed());
            return open;
        } catch (ExecutionException e) {
            throw new IllegalStateException("Cannot list the transactions: " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("The brokers did not answer within " + TIMEOUT_SECONDS + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
