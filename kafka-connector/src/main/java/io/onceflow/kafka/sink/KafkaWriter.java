package io.onceflow.kafka.sink;

import io.onceflow.api.sink.SinkWriter;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * The writer of a NONE or AT_LEAST_ONCE sink: one idempotent producer per subtask. With AT_LEAST_ONCE
 * every barrier waits until all records so far are acknowledged, and a failed send fails the job
 * rather than being dropped.
 */
final class KafkaWriter<T> implements SinkWriter<T> {

    private final KafkaProducer<byte[], byte[]> producer;
    private final KafkaRecordSerializer<T> serializer;
    private final DeliveryGuarantee guarantee;
    private final AtomicReference<Exception> failure = new AtomicReference<>();

    KafkaWriter(Properties properties, KafkaRecordSerializer<T> serializer, DeliveryGuarantee guarantee) {
        this.producer = new KafkaProducer<>(properties);
        this.serializer = serializer;
        this.guarantee = guarantee;
    }

    @Override
    public void write(T element) throws Exception {
        checkFailure();
        ProducerRecord<byte[], byte[]> record = serializer.serialize(element);
        producer.send(record, (metadata, e) -> {
            if (e != null && guarantee != DeliveryGuarantee.NONE) {
                failure.compareAndSet(null, e);
            }
        });
    }

    @Override
    public void flush(boolean endOfInput) throws Exception {
        if (guarantee != DeliveryGuarantee.NONE || endOfInput) {
            producer.flush();
        }
        checkFailure();
    }

    private void checkFailure() throws Exception {
        Exception e = failure.get();
        if (e != null) {
            throw new IllegalStateException("A record could not be written to Kafka: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(5));
    }
}
