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

    /**
     * The value as UTF-8 text, refusing what is not: bytes that are not valid UTF-8, or a null value,
     * throw, so the record fails the job or goes to the dead letters instead of becoming garbage text.
     */
    static KafkaRecordDeserializer<String> strictUtf8Values() {
        return record -> {
            if (record.value() == null) {
                throw new IllegalArgumentException("the record has no value (null)");
            }
            return java.nio.charset.StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                    .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(record.value())).toString();
        };
    }

    /** The value as a UTF-8 string (invalid bytes become U+FFFD). */
    static KafkaRecordDeserializer<String> utf8Values() {
        return record -> record.value() == null ? null
                : new String(record.value(), java.nio.charset.StandardCharsets.UTF_8);
    }
}
