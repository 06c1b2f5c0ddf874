package io.onceflow.kafka.source;

import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
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
            // the String constructor's decoder is the fast one, and it replaces every malformed sequence with
            // U+FFFD: text without one was valid; with one, the strict decoder says whether it was in the input
            String text = new String(record.value(), StandardCharsets.UTF_8);
            if (text.indexOf('\uFFFD') < 0) {
                return text;
            }
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(record.value())).toString();
        };
    }

    /** The value as a UTF-8 string (invalid bytes become U+FFFD). */
    static KafkaRecordDeserializer<String> utf8Values() {
        return record -> record.value() == null ? null
                : new String(record.value(), StandardCharsets.UTF_8);
    }
}
