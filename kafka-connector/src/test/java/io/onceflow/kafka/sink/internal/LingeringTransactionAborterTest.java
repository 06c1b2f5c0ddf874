package io.onceflow.kafka.sink.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What {@link LingeringTransactionAborter} does when no broker answers (the cases with a broker are in
 * {@link TransactionalProducerTest}).
 */
class LingeringTransactionAborterTest {

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void askingForTheTopicsOfTransactionsOfAnUnreachableClusterGivesNoneWithinTheProducersMaxBlock() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort(); // closed again: nothing listens there
        }
        Properties admin = new Properties();
        admin.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:" + port);
        Properties producer = new Properties();
        producer.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "1500");
        Admin unreachable = Admin.create(admin);
        try {
            long begin = System.nanoTime();
            Set<String> topics = LingeringTransactionAborter.topicsOf(unreachable, List.of("sink-p1-0-0"), producer);
            long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begin);
            assertEquals(Set.of(), topics, "no answer: no topics, and no exception for the abort that follows");
            // the Admin client itself would keep trying for its default.api.timeout.ms, a minute
            assertTrue(tookMs < LingeringTransactionAborter.TOPICS_TIMEOUT_MS,
                    "gave up after the producer's max.block.ms of 1500 ms: " + tookMs + " ms");
        } finally {
            unreachable.close(Duration.ZERO); // its own close would wait for the question it still retries
        }
    }
}
