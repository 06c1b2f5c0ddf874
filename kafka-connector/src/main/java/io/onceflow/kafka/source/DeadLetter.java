package io.onceflow.kafka.source;

import io.onceflow.kafka.sink.KafkaRecordSerializer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * A Kafka record the source could not turn into a stream element, with where it came from and why:
 * the side output {@link KafkaSource#DEAD_LETTERS} of a source with dead letters enabled. Write them
 * to a dead-letter topic with an EXACTLY_ONCE {@code KafkaSink} and {@link #toTopic(String)}: they are
 * then committed with the same checkpoints as the job's main output, so the dead-letter topic is
 * exactly-once too.
 *
 * <p>{@link #toTopic(String)} keeps the original key, value and headers and adds, in the manner of
 * Kafka Connect's dead-letter queue:
 * <table>
 * <caption>Headers added to a dead letter</caption>
 * <tr><td>{@value #HEADER_PREFIX}topic, .partition, .offset</td><td>where the record was read</td></tr>
 * <tr><td>{@value #HEADER_PREFIX}job, .operator</td><td>the job and the source's operator uid</td></tr>
 * <tr><td>{@value #HEADER_PREFIX}exception.class, .exception.message</td><td>why it was refused</td></tr>
 * </table>
 */
public record DeadLetter(String topic, int partition, long offset, long timestamp, byte[] key, byte[] value,
                         List<Header> headers, String jobName, String operatorUid, String exceptionClass,
                         String exceptionMessage) {

    public static final String HEADER_PREFIX = "__onceflow.errors.";

    public DeadLetter {
        Objects.requireNonNull(topic, "topic");
        headers = List.copyOf(headers);
    }

    /** The dead letter of {@code record}, which failed with {@code error}. */
    static DeadLetter of(ConsumerRecord<byte[], byte[]> record, Throwable error, String jobName, String operatorUid) {
        List<Header> headers = new ArrayList<>();
        for (Header h : record.headers()) {
            headers.add(new RecordHeader(h.key(), h.value()));
        }
        return new DeadLetter(record.topic(), record.partition(), record.offset(), record.timestamp(), record.key(),
                record.value(), headers, jobName, operatorUid, error.getClass().getName(),
                String.valueOf(error.getMessage()));
    }

    /** Where it came from, for messages: {@code topic-partition@offset}. */
    public String origin() {
        return topic + "-" + partition + "@" + offset;
    }

    /** Serializes dead letters to {@code deadLetterTopic}: original key, value and headers, plus the error headers. */
    public static KafkaRecordSerializer<DeadLetter> toTopic(String deadLetterTopic) {
        Objects.requireNonNull(deadLetterTopic, "deadLetterTopic");
        return KafkaRecordSerializer.writingTo(deadLetterTopic, d -> {
            RecordHeaders headers = new RecordHeaders();
            d.headers().forEach(headers::add);
            headers.add(HEADER_PREFIX + "topic", utf8(d.topic()));
            headers.add(HEADER_PREFIX + "partition", utf8(Integer.toString(d.partition())));
            headers.add(HEADER_PREFIX + "offset", utf8(Long.toString(d.offset())));
            headers.add(HEADER_PREFIX + "job", utf8(d.jobName()));
            headers.add(HEADER_PREFIX + "operator", utf8(d.operatorUid()));
            headers.add(HEADER_PREFIX + "exception.class", utf8(d.exceptionClass()));
            headers.add(HEADER_PREFIX + "exception.message", utf8(d.exceptionMessage()));
            return new ProducerRecord<>(deadLetterTopic, null, d.timestamp() >= 0 ? d.timestamp() : null, d.key(),
                    d.value(), headers);
        });
    }

    /**
     * Serializes the records a user function threw on ({@code DataStream.catchFailures}) to
     * {@code deadLetterTopic}: the record's bytes by {@code value}, with the headers
     * {@value #HEADER_PREFIX}operator, .exception.class and .exception.message.
     */
    public static <T> KafkaRecordSerializer<io.onceflow.api.FailedRecord<T>> failedRecordsToTopic(String deadLetterTopic,
            KafkaRecordSerializer.Bytes<T> value) {
        Objects.requireNonNull(deadLetterTopic, "deadLetterTopic");
        Objects.requireNonNull(value, "value");
        return KafkaRecordSerializer.writingTo(deadLetterTopic, f -> {
            RecordHeaders headers = new RecordHeaders();
            headers.add(HEADER_PREFIX + "operator", utf8(f.operatorUid()));
            headers.add(HEADER_PREFIX + "exception.class", utf8(f.exceptionClass()));
            headers.add(HEADER_PREFIX + "exception.message", utf8(f.exceptionMessage()));
            return new ProducerRecord<>(deadLetterTopic, null, null, null, value.of(f.record()), headers);
        });
    }

    private static byte[] utf8(String s) {
        return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return "DeadLetter(" + origin() + ", " + exceptionClass + ": " + exceptionMessage + ")";
    }
}
