package io.onceflow.kafka.sink;

import java.time.Duration;
import java.util.Properties;

/** For the benchmarks outside this package: the producer properties an exactly-once Kafka sink gives its producers. */
public final class SinkProducerProperties {

    private SinkProducerProperties() {
    }

    /** Those of an exactly-once sink on {@code bootstrapServers} with that transaction timeout, for a client id. */
    public static Properties exactlyOnce(String bootstrapServers, Duration transactionTimeout, String clientId) {
        KafkaSinkBuilder<byte[]> b = KafkaSink.<byte[]>builder().setBootstrapServers(bootstrapServers)
                .setRecordSerializer(KafkaRecordSerializer.forTopic("unused", v -> null, v -> v))
                .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE).setTransactionalIdPrefix("unused")
                .setTransactionTimeout(transactionTimeout);
        return new KafkaSink<>(b).producerProperties(clientId);
    }
}
