package io.onceflow.kafka.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.Properties;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.junit.jupiter.api.Test;

/** The producer properties a sink gives its producers: its defaults per guarantee, and the user's over them. */
class KafkaSinkProducerPropertiesTest {

    private static KafkaSinkBuilder<String> builder(DeliveryGuarantee guarantee) {
        KafkaSinkBuilder<String> b = KafkaSink.<String>builder().setBootstrapServers("localhost:9092")
                .setRecordSerializer(KafkaRecordSerializer.forTopic("out", v -> null,
                        v -> v.getBytes(StandardCharsets.UTF_8)))
                .setDeliveryGuarantee(guarantee);
        return guarantee == DeliveryGuarantee.EXACTLY_ONCE ? b.setTransactionalIdPrefix("t") : b;
    }

    private static Properties producerProperties(KafkaSinkBuilder<String> b) {
        b.build(); // validated as a user's would be
        return new KafkaSink<>(b).producerProperties("client");
    }

    @Test
    void transactionalProducersLingerLongerThanTheOthers() {
        // a record in a transaction is visible at the commit, whenever it was sent: fuller batches cost no latency
        assertEquals("20", producerProperties(builder(DeliveryGuarantee.EXACTLY_ONCE))
                .getProperty(ProducerConfig.LINGER_MS_CONFIG));
        assertEquals("5", producerProperties(builder(DeliveryGuarantee.AT_LEAST_ONCE))
                .getProperty(ProducerConfig.LINGER_MS_CONFIG));
        assertEquals("5", producerProperties(builder(DeliveryGuarantee.NONE))
                .getProperty(ProducerConfig.LINGER_MS_CONFIG));
    }

    @Test
    void theUsersLingerAndBatchSizeWin() {
        Properties p = producerProperties(builder(DeliveryGuarantee.EXACTLY_ONCE)
                .setProperty(ProducerConfig.LINGER_MS_CONFIG, "1")
                .setProperty(ProducerConfig.BATCH_SIZE_CONFIG, "16384"));
        assertEquals("1", p.getProperty(ProducerConfig.LINGER_MS_CONFIG));
        assertEquals("16384", p.getProperty(ProducerConfig.BATCH_SIZE_CONFIG));
        assertEquals("all", p.getProperty(ProducerConfig.ACKS_CONFIG));
    }
}
