package io.onceflow.kafka.sink.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/**
 * The per-partition first offsets a transactional producer records from its acknowledgements (what the
 * hanging-transaction check and the commit-marker repair start from); against a real broker in
 * {@code TransactionMarkersTest}.
 */
class FirstOffsetsTest {

    @Test
    void keepsTheLowestOffsetOfEveryPartitionOfEveryTopic() {
        TransactionalProducer.FirstOffsets offsets = new TransactionalProducer.FirstOffsets();
        Map<TopicPartition, Long> expected = new HashMap<>();
        Random random = new Random(7);
        for (int i = 0; i < 10_000; i++) {
            // partitions past the first array's length, acknowledgements in any order (the lowest counts)
            String topic = "topic-" + random.nextInt(3);
            int partition = random.nextInt(40);
            long offset = random.nextInt(1_000_000);
            offsets.acknowledged(topic, partition, offset);
            expected.merge(new TopicPartition(topic, partition), offset, Math::min);
        }
        offsets.acknowledged("topic-0", 200, 0);
        expected.put(new TopicPartition("topic-0", 200), 0L);
        assertEquals(expected, offsets.toMap());
    }

    @Test
    void startsEmptyAndIsEmptyAgainAfterClear() {
        TransactionalProducer.FirstOffsets offsets = new TransactionalProducer.FirstOffsets();
        assertEquals(Map.of(), offsets.toMap());
        offsets.acknowledged("out", 1, 5);
        offsets.acknowledged("out", 1, 6);
        assertEquals(Map.of(new TopicPartition("out", 1), 5L), offsets.toMap(), "partition 0 was never written");
        offsets.clear();
        assertEquals(Map.of(), offsets.toMap());
        offsets.acknowledged("out", 1, 9);
        assertEquals(Map.of(new TopicPartition("out", 1), 9L), offsets.toMap(), "the next transaction's own offsets");
    }

    @Test
    void batchesOfOnePartitionAfterAnotherKeepEachPartitionsLowestAlsoWhenOneComesLate() {
        TransactionalProducer.FirstOffsets offsets = new TransactionalProducer.FirstOffsets();
        for (long o = 10; o <= 20; o++) {
            offsets.acknowledged("out", 0, o); // a batch's records, in order
        }
        for (long o = 5; o <= 8; o++) {
            offsets.acknowledged("out", 1, o);
        }
        offsets.acknowledged("out", 1, 3); // acknowledged after higher ones of its partition: it still counts
        offsets.acknowledged("out", 1, 4);
        offsets.acknowledged("other", 1, 2); // the same partition number of another topic
        offsets.acknowledged("other", 1, 1);
        offsets.acknowledged("out", 1, 9);
        offsets.acknowledged(new String("out"), 0, 7); // the same topic by another object: the same partition
        offsets.acknowledged("out", 0, 8);
        assertEquals(Map.of(new TopicPartition("out", 0), 7L, new TopicPartition("out", 1), 3L,
                new TopicPartition("other", 1), 1L), offsets.toMap());
        offsets.acknowledged("out", 1, 3); // the partition acknowledged last before the transaction ends
        offsets.clear();
        offsets.acknowledged("out", 1, 30); // above what the last transaction saw there: the next one's own first
        offsets.acknowledged("out", 1, 31);
        assertEquals(Map.of(new TopicPartition("out", 1), 30L), offsets.toMap());
    }
}
