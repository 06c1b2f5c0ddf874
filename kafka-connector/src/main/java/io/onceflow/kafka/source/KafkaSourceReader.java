package io.onceflow.kafka.source;

import io.onceflow.api.source.InputStatus;
import io.onceflow.api.source.ReaderOutput;
import io.onceflow.api.source.SourceReader;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the partitions of one source subtask with an assigned (not subscribed) consumer. The next
 * offset of each partition is {@code last emitted offset + 1}; a bounded partition is done when the
 * consumer's position reaches its stopping offset (position, not the last record's offset: a
 * transaction marker follows the last record of a transaction).
 */
final class KafkaSourceReader<T> implements SourceReader<T, KafkaPartitionSplit> {

    private static final Logger LOG = LoggerFactory.getLogger(KafkaSourceReader.class);
    private static final Duration POLL_TIMEOUT = Duration.ofMillis(50);
    private static final int MAX_RECORDS_PER_CALL = 1000;

    private final Properties properties;
    private final KafkaRecordDeserializer<T> deserializer;
    private final boolean commitOffsets;
    private final Map<TopicPartition, Position> positions = new LinkedHashMap<>();
    private final TreeMap<Long, Map<TopicPartition, OffsetAndMetadata>> offsetsToCommit = new TreeMap<>();
    private KafkaConsumer<byte[], byte[]> consumer;
    private Iterator<ConsumerRecord<byte[], byte[]>> buffered = Collections.emptyIterator();

    private static final class Position {
        final String topic;
        final int partition;
        long next;
        final long stop;
        boolean finished;

        Position(KafkaPartitionSplit split) {
            this.topic = split.topic();
            this.partition = split.partition();
            this.next = split.nextOffset();
            this.stop = split.stoppingOffset();
            this.finished = split.isBounded() && next >= stop;
        }

        boolean bounded() {
            return stop != KafkaPartitionSplit.NO_STOPPING_OFFSET;
        }
    }

    KafkaSourceReader(Properties properties, KafkaRecordDeserializer<T> deserializer, boolean commitOffsets) {
        this.properties = properties;
        this.deserializer = deserializer;
        this.commitOffsets = commitOffsets;
    }

    @Override
    public void addSplits(List<KafkaPartitionSplit> splits) {
        for (KafkaPartitionSplit s : splits) {
            positions.put(s.topicPartition(), new Position(s));
        }
    }

    @Override
    public void start() {
        consumer = new KafkaConsumer<>(properties);
        List<TopicPartition> active = new ArrayList<>();
        positions.forEach((tp, p) -> {
            if (!p.finished) {
                active.add(tp);
            }
        });
        consumer.assign(active);
        for (TopicPartition tp : active) {
            consumer.seek(tp, positions.get(tp).next);
        }
        LOG.info("Kafka source reader {} reads {} from {}", properties.get("client.id"), active,
                positions.isEmpty() ? "(no partitions)" : describe());
    }

    private String describe() {
        StringBuilder sb = new StringBuilder();
        positions.forEach((tp, p) -> sb.append(tp).append('@').append(p.next).append(p.bounded() ? "<" + p.stop : "").append(' '));
        return sb.toString().trim();
    }

    @Override
    public InputStatus pollNext(ReaderOutput<T> output) throws Exception {
        if (allFinished()) {
            return InputStatus.END_OF_INPUT;
        }
        if (!buffered.hasNext()) {
            if (consumer.assignment().isEmpty()) {
                // an unbounded reader without partitions: nothing will ever come
                Thread.sleep(POLL_TIMEOUT.toMillis());
                return InputStatus.NOTHING_AVAILABLE;
            }
            buffered = consumer.poll(POLL_TIMEOUT).iterator();
        }
        int emitted = 0;
        while (emitted < MAX_RECORDS_PER_CALL && buffered.hasNext()) {
            ConsumerRecord<byte[], byte[]> r = buffered.next();
            Position p = positions.get(new TopicPartition(r.topic(), r.partition()));
            if (p == null || p.finished || (p.bounded() && r.offset() >= p.stop)) {
                continue;
            }
            T value;
            try {
                value = deserializer.deserialize(r);
            } catch (Exception e) {
                throw new IllegalStateException("Cannot deserialize the Kafka record at " + r.topic() + "-" + r.partition()
                        + " offset " + r.offset() + ": " + e + ". The job stops rather than skip it: fix the "
                        + "deserializer or the data, then start the job again (it resumes at this record)", e);
            }
            p.next = r.offset() + 1;
            output.collect(value);
            emitted++;
        }
        if (!buffered.hasNext()) {
            checkBoundedEnds();
        }
        if (allFinished()) {
            return InputStatus.END_OF_INPUT;
        }
        return emitted > 0 || buffered.hasNext() ? InputStatus.MORE_AVAILABLE : InputStatus.NOTHING_AVAILABLE;
    }

    private void checkBoundedEnds() {
        List<TopicPartition> done = new ArrayList<>();
        positions.forEach((tp, p) -> {
            if (p.bounded() && !p.finished && consumer.position(tp) >= p.stop) {
                p.finished = true;
                done.add(tp);
            }
        });
        if (!done.isEmpty()) {
            consumer.pause(done);
        }
    }

    private boolean allFinished() {
        if (positions.isEmpty()) {
            return false;
        }
        for (Position p : positions.values()) {
            if (!p.finished) {
                return false;
            }
        }
        return true;
    }

    @Override
    public List<KafkaPartitionSplit> snapshotState(long checkpointId) {
        List<KafkaPartitionSplit> splits = new ArrayList<>(positions.size());
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        positions.forEach((tp, p) -> {
            splits.add(new KafkaPartitionSplit(p.topic, p.partition, p.next, p.stop));
            offsets.put(tp, new OffsetAndMetadata(p.next));
        });
        if (commitOffsets && !offsets.isEmpty()) {
            offsetsToCommit.put(checkpointId, offsets);
        }
        return splits;
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) {
        Map.Entry<Long, Map<TopicPartition, OffsetAndMetadata>> latest = offsetsToCommit.floorEntry(checkpointId);
        if (latest == null) {
            return;
        }
        offsetsToCommit.headMap(checkpointId, true).clear();
        // for lag monitoring only: a failure here never affects correctness
        consumer.commitAsync(latest.getValue(), (offsets, e) -> {
            if (e != null) {
                LOG.debug("Committing offsets of checkpoint {} to the consumer group failed: {}", checkpointId, e.toString());
            }
        });
    }

    @Override
    public void close() {
        if (consumer != null) {
            consumer.close(Duration.ofSeconds(5));
        }
    }
}
