package io.onceflow.kafka.sink;

import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.kafka.sink.internal.ResumableTransaction;
import io.onceflow.kafka.sink.internal.TransactionalProducer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.kafka.common.TopicPartition;

/**
 * One Kafka transaction of an EXACTLY_ONCE sink: its transactional id, and once pre-committed the
 * producer id, epoch and protocol version a later process needs to commit it, and where its records begin in each
 * partition (to check after the commit that its markers arrived). While the transaction's
 * own producer is alive in this process it is kept here (never written into a checkpoint). With it go the topics
 * its sink had written to when it began, so that a restored run sweeps them for abort markers the broker dropped.
 */
final class KafkaTransaction {

    final String transactionalId;
    transient TransactionalProducer producer;
    ResumableTransaction resumable;
    final Set<String> writerTopics;

    KafkaTransaction(String transactionalId, TransactionalProducer producer, ResumableTransaction resumable) {
        this(transactionalId, producer, resumable, Set.of());
    }

    KafkaTransaction(String transactionalId, TransactionalProducer producer, ResumableTransaction resumable,
                     Set<String> writerTopics) {
        this.transactionalId = transactionalId;
        this.producer = producer;
        this.resumable = resumable;
        this.writerTopics = Set.copyOf(writerTopics);
    }

    @Override
    public String toString() {
        return resumable != null ? resumable.toString() : "open transaction on " + transactionalId;
    }

    /**
     * Version 3: id (UTF), pre-committed flag, then producer id (long), epoch (short), transactions v2 (bool), the
     * number of partitions written (int) and for each its topic (UTF), partition (int) and the offset of the
     * transaction's first record there (long); then, pre-committed or not, the number of the writer's topics (int)
     * and each (UTF), in order. Versions 2 (no writer's topics) and 1 (ending after the transactions-v2 flag: its
     * transactions' commit markers are then not verified) are still read.
     */
    static final class Serializer implements VersionedSerializer<KafkaTransaction> {
        private static final Comparator<Map.Entry<TopicPartition, Long>> PARTITION_ORDER = Comparator
                .comparing((Map.Entry<TopicPartition, Long> e) -> e.getKey().topic())
                .thenComparingInt(e -> e.getKey().partition());

        @Override
        public int getVersion() {
            return 3;
        }

        @Override
        public byte[] serialize(KafkaTransaction t) throws IOException {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeUTF(t.transactionalId);
            out.writeBoolean(t.resumable != null);
            if (t.resumable != null) {
                out.writeLong(t.resumable.producerId());
                out.writeShort(t.resumable.epoch());
                out.writeBoolean(t.resumable.transactionV2());
                out.writeInt(t.resumable.firstOffsets().size());
                // in a fixed order, so that the same transaction always gives the same bytes
                for (var e : t.resumable.firstOffsets().entrySet().stream().sorted(PARTITION_ORDER).toList()) {
                    out.writeUTF(e.getKey().topic());
                    out.writeInt(e.getKey().partition());
                    out.writeLong(e.getValue());
                }
            }
            out.writeInt(t.writerTopics.size());
            for (String topic : new TreeSet<>(t.writerTopics)) {
                out.writeUTF(topic);
            }
            out.flush();
            return bytes.toByteArray();
        }

        @Override
        public KafkaTransaction deserialize(int version, byte[] serialized) throws IOException {
            if (version < 1 || version > 3) {
                throw new IOException("A Kafka transaction of format version " + version + " cannot be read by this "
                        + "Onceflow (it reads versions 1 to 3): restore with the version that wrote the checkpoint");
            }
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized));
            String id = in.readUTF();
            ResumableTransaction r = null;
            if (in.readBoolean()) {
                long producerId = in.readLong();
                short epoch = in.readShort();
                boolean v2 = in.readBoolean();
                Map<TopicPartition, Long> firstOffsets = new HashMap<>();
                if (version >= 2) {
                    int partitions = in.readInt();
                    for (int i = 0; i < partitions; i++) {
                        firstOffsets.put(new TopicPartition(in.readUTF(), in.readInt()), in.readLong());
                    }
                }
                r = new ResumableTransaction(id, producerId, epoch, v2, firstOffsets);
            }
            Set<String> writerTopics = new HashSet<>();
            if (version >= 3) {
                int topics = in.readInt();
                for (int i = 0; i < topics; i++) {
                    writerTopics.add(in.readUTF());
                }
            }
            return new KafkaTransaction(id, null, r, writerTopics);
        }
    }
}
