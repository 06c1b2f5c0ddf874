package io.onceflow.kafka.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.kafka.sink.internal.ResumableTransaction;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/**
 * The committable's format in checkpoints: version 3 keeps the first offsets and the writer's topics; versions 2 and 1
 * are still read.
 */
class KafkaTransactionSerializerTest {

    private final KafkaTransaction.Serializer serializer = new KafkaTransaction.Serializer();

    @Test
    void aPreCommittedTransactionKeepsItsFirstOffsets() throws IOException {
        ResumableTransaction r = new ResumableTransaction("sink-p2-1-3", 42L, (short) 7, true,
                Map.of(new TopicPartition("out", 0), 10L, new TopicPartition("out.dlq", 3), 12_345_678_901L));
        KafkaTransaction read = serializer.deserialize(serializer.getVersion(),
                serializer.serialize(new KafkaTransaction("sink-p2-1-3", null, r)));
        assertEquals(3, serializer.getVersion());
        assertEquals("sink-p2-1-3", read.transactionalId);
        assertEquals(r, read.resumable);
        assertEquals(Set.of(), read.writerTopics);
    }

    @Test
    void theTopicsItsWriterHadWrittenToGoWithATransactionOpenOrPreCommitted() throws IOException {
        Set<String> topics = Set.of("out", "out.dlq", "per-record-7");
        KafkaTransaction open = serializer.deserialize(3, serializer.serialize(new KafkaTransaction("sink-p1-0-2", null,
                null, topics)));
        assertNull(open.resumable);
        assertEquals(topics, open.writerTopics);
        ResumableTransaction r = new ResumableTransaction("sink-p1-0-1", 9L, (short) 2, true,
                Map.of(new TopicPartition("out", 1), 4L));
        KafkaTransaction preCommitted = serializer.deserialize(3, serializer.serialize(new KafkaTransaction(
                "sink-p1-0-1", null, r, topics)));
        assertEquals(r, preCommitted.resumable);
        assertEquals(topics, preCommitted.writerTopics);
    }

    /** What every version begins a pre-committed transaction with: id, flag, producer id 5, epoch 3, protocol. */
    private static DataOutputStream preCommittedHead(ByteArrayOutputStream bytes, boolean transactionV2)
            throws IOException {
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeUTF("sink-p2-0-1");
        out.writeBoolean(true);
        out.writeLong(5L);
        out.writeShort(3);
        out.writeBoolean(transactionV2);
        return out;
    }

    @Test
    void versionTwoCheckpointsAreReadWithoutTheWritersTopics() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = preCommittedHead(bytes, true);
        out.writeInt(1);
        out.writeUTF("out");
        out.writeInt(0);
        out.writeLong(17L);
        out.flush();
        KafkaTransaction read = serializer.deserialize(2, bytes.toByteArray());
        assertEquals(new ResumableTransaction("sink-p2-0-1", 5L, (short) 3, true, Map.of(new TopicPartition("out", 0),
                17L)), read.resumable);
        assertEquals(Set.of(), read.writerTopics);
    }

    @Test
    void partitionsAreWrittenInOrderSoTheSameTransactionGivesTheSameBytes() throws IOException {
        Map<TopicPartition, Long> offsets = new java.util.HashMap<>();
        for (int p = 0; p < 40; p++) {
            offsets.put(new TopicPartition(p % 2 == 0 ? "a" : "b", p), (long) p);
        }
        byte[] bytes = serializer.serialize(new KafkaTransaction("x", null,
                new ResumableTransaction("x", 1L, (short) 0, true, offsets)));
        java.io.DataInputStream in = new java.io.DataInputStream(new java.io.ByteArrayInputStream(bytes));
        in.readUTF();
        in.readBoolean();
        in.readLong();
        in.readShort();
        in.readBoolean();
        assertEquals(40, in.readInt());
        java.util.List<String> written = new java.util.ArrayList<>();
        for (int i = 0; i < 40; i++) {
            TopicPartition tp = new TopicPartition(in.readUTF(), in.readInt());
            assertEquals(offsets.get(tp), in.readLong());
            written.add(tp.topic() + "-" + String.format("%02d", tp.partition()));
        }
        assertEquals(written.stream().sorted().toList(), written);
    }

    @Test
    void anOpenTransactionHasNoProducerState() throws IOException {
        KafkaTransaction read = serializer.deserialize(serializer.getVersion(), serializer.serialize(
                new KafkaTransaction("sink-p1-0-0", null, null)));
        assertEquals("sink-p1-0-0", read.transactionalId);
        assertNull(read.resumable);
        assertEquals(Set.of(), read.writerTopics);
    }

    @Test
    void versionOneCheckpointsAreReadWithoutFirstOffsets() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        preCommittedHead(bytes, false).flush();
        KafkaTransaction read = serializer.deserialize(1, bytes.toByteArray());
        assertEquals(new ResumableTransaction("sink-p2-0-1", 5L, (short) 3, false), read.resumable);
        assertEquals(Map.of(), read.resumable.firstOffsets());
    }

    @Test
    void anUnknownVersionSaysWhatToDo() {
        IOException e = assertThrows(IOException.class, () -> serializer.deserialize(4, new byte[0]));
        assertTrue(e.getMessage().contains("reads versions 1 to 3"), e.getMessage());
    }
}
