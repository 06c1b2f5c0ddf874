package io.onceflow.kafka.source;

import java.io.Serializable;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * Turns a Kafka record into the source's output. Throwing fails the job with a message naming the
 * topic, partition and offset of the record (nothing is skipped silently).
 */
@FunctionalInterface
public interface KafkaRecordDeserializer<T> extends Serializable {

    T deserialize(ConsumerRecord<byte[], byte[]> record) throws Exception;

    /** Uses only the record's value, with a Kafka {@link Deserializer}. */
    static <V> KafkaRecordDeserializer<V> valueOnly(Deserializer<V> deserializer) {
        return record -> deserializer.deserialize(record.topic(), record.headers(), record.value());
    }

    /** The value as a UTF-8 string. */
    static KafkaRecordDeserializer<String> utf8Values() {
        return record -> record.value() == null ? null
                : new String(record.value(), java.nio.charset.StandardCharsets.UTF_8);
    }
}
