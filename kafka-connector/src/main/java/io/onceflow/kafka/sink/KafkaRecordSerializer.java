package io.onceflow.kafka.sink;

import java.io.Serializable;
import java.util.Objects;
import java.util.Set;
import org.apache.kafka.clients.producer.ProducerRecord;

/** Turns a record of the stream into a Kafka record: topic, key, value, headers, partition. */
@FunctionalInterface
public interface KafkaRecordSerializer<T> extends Serializable {

    ProducerRecord<byte[], byte[]> serialize(T element) throws Exception;

    /**
     * The topics this serializer writes to, if it knows them; empty if the topic depends on the record. An
     * EXACTLY_ONCE sink looks in these topics (and in those it has written to in this run, or knows an earlier run
     * wrote to) for transactions of its producer ids that the broker left open after they ended, and aborts them (see
     * the README's "At the edges"); with a serializer that names none it also looks, once per process, in every topic
     * of the cluster where a transaction is open.
     */
    default Set<String> topics() {
        return Set.of();
    }

    /** Extracts the bytes of a key or value. */
    @FunctionalInterface
    interface Bytes<T> extends Serializable {
        byte[] of(T element) throws Exception;
    }

    /** Records for one topic with the given key (may return null) and value. */
    static <T> KafkaRecordSerializer<T> forTopic(String topic, Bytes<T> key, Bytes<T> value) {
        Objects.requireNonNull(value, "value");
        return writingTo(topic, element -> new ProducerRecord<>(topic, key == null ? null : key.of(element),
                value.of(element)));
    }

    /** {@code serializer}, declaring that every record it makes goes to {@code topic} (see {@link #topics()}). */
    static <T> KafkaRecordSerializer<T> writingTo(String topic, KafkaRecordSerializer<T> serializer) {
        Objects.requireNonNull(topic, "topic");
        Objects.requireNonNull(serializer, "serializer");
        return new KafkaRecordSerializer<>() {
            @Override
            public ProducerRecord<byte[], byte[]> serialize(T element) throws Exception {
                return serializer.serialize(element);
            }

            @Override
            public Set<String> topics() {
                return Set.of(topic);
            }
        };
    }
}
