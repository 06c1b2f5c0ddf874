package io.onceflow.kafka.sink;

import java.io.Serializable;
import org.apache.kafka.clients.producer.ProducerRecord;

/** Turns a record of the stream into a Kafka record: topic, key, value, headers, partition. */
@FunctionalInterface
public interface KafkaRecordSerializer<T> extends Serializable {

    ProducerRecord<byte[], byte[]> serialize(T element) throws Exception;

    /** Extracts the bytes of a key or value. */
    @FunctionalInterface
    interface Bytes<T> extends Serializable {
        byte[] of(T element) throws Exception;
    }

    /** Records for one topic with the given key (may return null) and value. */
    static <T> KafkaRecordSerializer<T> forTopic(String topic, Bytes<T> key, Bytes<T> value) {
        return element -> new ProducerRecord<>(topic, key == null ? null : key.of(element), value.of(element));
    }
}
